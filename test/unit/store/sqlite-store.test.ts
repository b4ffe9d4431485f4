import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isRackbootError } from '../../../server/errors.js';
import { openDatabase } from '../../../server/store/db.js';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';

test('a file database opens in WAL mode with foreign keys and the latest schema', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-store-'));
  try {
    const db = openDatabase(join(dir, 'sub', 'rackboot.db'));
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    db.close();
    // reopening applies nothing twice
    const again = openDatabase(join(dir, 'sub', 'rackboot.db'));
    assert.equal(again.pragma('user_version', { simple: true }), MIGRATIONS.length);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a database from a newer rackboot is refused with a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-store-'));
  try {
    const path = join(dir, 'rackboot.db');
    const raw = new Database(path);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    assert.throws(() => openDatabase(path), (e: unknown) => isRackbootError(e) && /newer than this rackboot/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('machines are found by every identifier, with their MACs in order', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  const added = store.addMachine(
    { name: 'blade-01', macs: ['52:54:00:00:00:02', '52:54:00:00:00:01'], ip: '10.0.0.11', role: 'dev', uuid: 'AAAAAAAA-0000-0000-0000-000000000001' },
    1000,
  );
  assert.deepEqual(added.macs, ['52:54:00:00:00:02', '52:54:00:00:00:01']);
  assert.equal(added.state, 'registered');
  assert.equal(store.machineByMac('52:54:00:00:00:01')?.name, 'blade-01');
  assert.equal(store.machineByIp('10.0.0.11')?.id, added.id);
  assert.equal(store.machineByUuid('aaaaaaaa-0000-0000-0000-000000000001')?.id, added.id);
  assert.equal(store.machineByName('nope'), null);
  store.setBootToken(added.id, 'tok');
  assert.equal(store.machineByBootToken('tok')?.id, added.id);
});

test('conflicting names, MACs, IPs and UUIDs are all reported and nothing is written', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  store.addMachine({ name: 'a', macs: ['52:54:00:00:00:01'], ip: '10.0.0.1', role: null, uuid: '11111111-1111-1111-1111-111111111111' }, 1);
  assert.throws(
    () => store.addMachine({ name: 'a', macs: ['52:54:00:00:00:01'], ip: '10.0.0.1', role: null, uuid: '11111111-1111-1111-1111-111111111111' }, 2),
    (e: unknown) => isRackbootError(e) && e.code === 'RACKBOOT_ERR_CONFLICT' && e.details.length === 4,
  );
  assert.equal(store.listMachines().length, 1);
});

test('leases are upserted per MAC and an IP has one holder', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  store.putLease({ mac: '52:54:00:00:00:01', ip: '10.0.0.5', machineId: null, expiresAt: 10, updatedAt: 1 });
  store.putLease({ mac: '52:54:00:00:00:01', ip: '10.0.0.6', machineId: null, expiresAt: 20, updatedAt: 2 });
  assert.equal(store.leaseByMac('52:54:00:00:00:01')?.ip, '10.0.0.6');
  assert.equal(store.leaseByIp('10.0.0.5'), null);
  assert.throws(() => store.putLease({ mac: '52:54:00:00:00:02', ip: '10.0.0.6', machineId: null, expiresAt: 20, updatedAt: 2 }));
  store.deleteLease('52:54:00:00:00:01');
  assert.equal(store.leaseByMac('52:54:00:00:00:01'), null);
});

test('events are append-only, ordered, filterable, and carry their data', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  const m = store.addMachine({ name: 'a', macs: ['52:54:00:00:00:01'], ip: null, role: null }, 1);
  store.appendEvent({ machineId: m.id, mac: null, type: 'dhcp', message: 'one', data: { ip: '10.0.0.1' } }, 5);
  store.appendEvent({ machineId: null, mac: '52:54:00:00:00:09', type: 'discovered', message: 'two' }, 6);
  store.appendEvent({ machineId: m.id, mac: null, type: 'ipxe', message: 'three' }, 7);
  const mine = store.listEvents({ machineId: m.id });
  assert.deepEqual(mine.map((e) => e.type), ['dhcp', 'ipxe']);
  assert.deepEqual(mine[0]?.data, { ip: '10.0.0.1' });
  const all = store.listEvents({});
  assert.equal(all.length, 3);
  assert.deepEqual(store.listEvents({ afterId: all[1]!.id }).map((e) => e.message), ['three']);
});

test('discovered MACs count sightings; only the first (or one after a long silence) is news', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  assert.equal(store.noteDiscovered('52:54:00:00:00:09', { arch: 0 }, 1000), true);
  assert.equal(store.noteDiscovered('52:54:00:00:00:09', { arch: 7 }, 5000), false);
  assert.equal(store.noteDiscovered('52:54:00:00:00:09', { arch: 7 }, 5000 + 2 * 3600_000), true);
  const [d] = store.listDiscovered();
  assert.equal(d?.sightings, 3);
  assert.deepEqual(d?.facts, { arch: 7 });
  store.addMachine({ name: 'x', macs: ['52:54:00:00:00:09'], ip: null, role: null }, 1);
  assert.equal(store.listDiscovered().length, 0, 'a registered MAC is no longer "discovered"');
});

test('listMachinesWithRoles returns only the machines of those roles', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  store.addMachine({ name: 'c1', macs: ['52:54:00:00:00:01'], ip: '10.0.0.1', role: 'production-central' }, 1);
  store.addMachine({ name: 'w1', macs: ['52:54:00:00:00:02'], ip: '10.0.0.2', role: 'production-worker' }, 1);
  store.addMachine({ name: 's1', macs: ['52:54:00:00:00:03'], ip: '10.0.0.3', role: 'small' }, 1);
  store.addMachine({ name: 'x', macs: ['52:54:00:00:00:04'], ip: null, role: null }, 1);
  assert.deepEqual(store.listMachinesWithRoles(['production-central', 'production-worker']).map((m) => m.name), ['c1', 'w1']);
  assert.deepEqual(store.listMachinesWithRoles(['small']).map((m) => m.macs), [['52:54:00:00:00:03']]);
  assert.deepEqual(store.listMachinesWithRoles([]), []);
});

test('newest: the last `limit` events (optionally of one machine), still oldest first; afterId paging is unchanged', () => {
  const store = new SqliteStore(openDatabase(':memory:'));
  const m = store.addMachine({ name: 'n1', macs: ['52:54:00:00:00:01'], ip: null, role: null }, 1);
  for (let i = 1; i <= 6; i++) store.appendEvent({ machineId: i % 2 === 0 ? m.id : null, mac: null, type: 't', message: `e${i}` }, i);
  assert.deepEqual(store.listEvents({ limit: 3, newest: true }).map((e) => e.message), ['e4', 'e5', 'e6']);
  assert.deepEqual(store.listEvents({ machineId: m.id, limit: 2, newest: true }).map((e) => e.message), ['e4', 'e6']);
  assert.deepEqual(store.listEvents({ limit: 3 }).map((e) => e.message), ['e1', 'e2', 'e3']);
  const all = store.listEvents({});
  assert.deepEqual(store.listEvents({ afterId: all[3]!.id, limit: 10, newest: true }).map((e) => e.message), ['e5', 'e6']);
});
