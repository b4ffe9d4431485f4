/**
 * The pool through the Provisioner and SQLite: leases are written in the transaction that decides
 * (before the reply leaves), survive a restart, DECLINE quarantines, exhaustion stays silent, and a
 * batch (group commit) keeps one failing packet from spoiling the others.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../server/catalog/catalog.js';
import type { DhcpSettings } from '../../../server/core/dhcp-decision.js';
import { Provisioner } from '../../../server/core/provisioner.js';
import { catalogDirs } from '../../../server/paths.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { ipv4Value } from '../../../server/protocol/dhcp/options.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { requestPacket, type RequestShape } from '../../helpers/dhcp-packets.js';
import { TEST_SETTINGS } from '../../helpers/provisioner.js';

const DHCP: DhcpSettings = {
  serverAddress: '10.99.0.1',
  subnets: [{ cidr: '10.99.0.0/24', dns: [], leaseSeconds: 600, pool: { start: '10.99.0.200', end: '10.99.0.202' } }],
  httpBaseUrl: 'http://10.99.0.1:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: false,
  chainWindowMs: 300_000,
  declineMs: 60_000,
};

function open(path: string) {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const db = openDatabase(path);
  const clock = { t: 1_700_000_000_000, now() { return this.t; } };
  const store = new SqliteStore(db);
  const provisioner = new Provisioner({ store, renderer: loaded.catalog, settings: { ...TEST_SETTINGS, dhcp: DHCP }, clock, newToken: () => 'token' });
  return { provisioner, store, clock, db };
}

const mac = (n: number): string => `52:54:00:aa:00:${n.toString(16).padStart(2, '0')}`;
const packet = (n: number, shape: RequestShape = {}) => requestPacket({ mac: mac(n), ...shape });
const yiaddr = (d: ReturnType<Provisioner['handleDhcp']>): string | null => (d.kind === 'reply' ? d.packet.yiaddr : null);

function dora(p: Provisioner, n: number): string | null {
  const offered = yiaddr(p.handleDhcp(packet(n)));
  if (offered === null) return null;
  return yiaddr(p.handleDhcp(packet(n, { type: T.Request, options: [[54, ipv4Value('10.99.0.1')], [50, ipv4Value(offered)]] })));
}

test('pool: DORA per client, distinct addresses, durable across a restart, exhaustion silent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-pool-'));
  try {
    const first = open(join(dir, 'db.sqlite'));
    assert.equal(dora(first.provisioner, 1), '10.99.0.200');
    assert.equal(dora(first.provisioner, 2), '10.99.0.201');
    // A third client holds an offer; a reserved machine inside the pool range is never offered.
    first.provisioner.registerMachine({ name: 'reserved', macs: [mac(9)], ip: '10.99.0.202', role: null });
    const exhausted = first.provisioner.handleDhcp(packet(3));
    assert.equal(exhausted.kind === 'ignore' && exhausted.code, 'pool-exhausted');
    assert.equal(first.store.listDiscovered().length, 3, 'pool clients are still reported as discovered');
    first.db.close();

    const again = open(join(dir, 'db.sqlite'));
    assert.equal(again.store.leaseByMac(mac(1))?.ip, '10.99.0.200', 'the lease survived the restart');
    assert.equal(yiaddr(again.provisioner.handleDhcp(packet(1))), '10.99.0.200', 'and the client gets the same address');
    const renew = again.provisioner.handleDhcp(packet(2, { type: T.Request, ciaddr: '10.99.0.201' }));
    assert.equal(yiaddr(renew), '10.99.0.201');
    const events = again.store.listEvents({}).filter((e) => e.type === 'dhcp-os');
    assert.ok(events.some((e) => e.data?.['pool'] === true));
    again.db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pool: a DECLINEd address is skipped until the quarantine ends; an expired lease is reusable', () => {
  const { provisioner, store, clock } = open(':memory:');
  assert.equal(dora(provisioner, 1), '10.99.0.200');
  const decline = provisioner.handleDhcp(packet(1, { type: T.Decline, options: [[54, ipv4Value('10.99.0.1')], [50, ipv4Value('10.99.0.200')]] }));
  assert.equal(decline.kind === 'ignore' && decline.code, 'declined');
  assert.equal(store.leaseByMac(mac(1)), null);
  assert.ok(store.unavailableAddresses(mac(5), clock.t).has('10.99.0.200'));
  assert.equal(yiaddr(provisioner.handleDhcp(packet(1))), '10.99.0.201', 'the declined address is not offered again');
  assert.equal(store.listEvents({}).filter((e) => e.type === 'dhcp-declined').length, 1);
  clock.t += 61_000;
  assert.equal(yiaddr(provisioner.handleDhcp(packet(2))), '10.99.0.200', 'quarantine over');
  // mac(1)'s hold on .201 expired long ago: a new client may take it, and the stale row gives way.
  clock.t += 700_000;
  assert.equal(dora(provisioner, 3), '10.99.0.200');
  assert.equal(dora(provisioner, 4), '10.99.0.201');
  assert.equal(store.leaseByMac(mac(1)), null);
});

test('a reservation wins over a pool lease on the same address', () => {
  const { provisioner, store } = open(':memory:');
  assert.equal(dora(provisioner, 1), '10.99.0.200');
  provisioner.registerMachine({ name: 'late', macs: [mac(7)], ip: '10.99.0.200', role: null });
  assert.equal(dora(provisioner, 7), '10.99.0.200');
  assert.equal(store.leaseByIp('10.99.0.200')?.mac, mac(7));
});

test('group commit: one transaction for a batch; a packet that throws fails alone', () => {
  const { provisioner, store } = open(':memory:');
  provisioner.registerMachine({ name: 'a', macs: [mac(1)], ip: '10.99.0.11', role: null });
  const good = packet(1, { type: T.Request, options: [[54, ipv4Value('10.99.0.1')], [50, ipv4Value('10.99.0.11')]] });
  const poison = { ...packet(2), get options(): never { throw new Error('poison'); } } as unknown as ReturnType<typeof packet>;
  const results = provisioner.handleDhcpBatch([{ packet: good }, { packet: poison }, { packet: packet(3) }]);
  assert.equal(results[0] instanceof Error ? 'error' : results[0]?.kind, 'reply');
  assert.ok(results[1] instanceof Error);
  assert.equal(results[2] instanceof Error ? 'error' : results[2]?.kind, 'reply');
  assert.equal(store.leaseByMac(mac(1))?.ip, '10.99.0.11', 'the good packet\'s lease was committed');
});

test('pool: 51 DECLINEs from random MACs hold at most 10% of the pool, one address per MAC, and a new client still gets one', () => {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const db = openDatabase(':memory:');
  const clock = { t: 1_700_000_000_000, now() { return this.t; } };
  const store = new SqliteStore(db);
  const wide: DhcpSettings = { ...DHCP, subnets: [{ ...DHCP.subnets[0]!, pool: { start: '10.99.0.100', end: '10.99.0.149' } }] };
  const provisioner = new Provisioner({ store, renderer: loaded.catalog, settings: { ...TEST_SETTINGS, dhcp: wide }, clock, newToken: () => 'token' });
  const decline = (n: number, ip: string) =>
    provisioner.handleDhcp(packet(n, { type: T.Decline, options: [[54, ipv4Value('10.99.0.1')], [50, ipv4Value(ip)]] }));
  const codes: string[] = [];
  for (let i = 0; i < 51; i += 1) {
    const d = decline(100 + i, `10.99.0.${100 + (i % 50)}`);
    codes.push(d.kind === 'ignore' ? d.code : 'reply');
  }
  // The 51st declines .100 again, already held: it takes that hold over (still five held).
  assert.equal(codes.filter((c) => c === 'declined').length, 6);
  assert.equal(codes.filter((c) => c === 'decline-over-budget').length, 45);
  assert.equal(store.activeDeclines(clock.t).length, 5);
  assert.equal(dora(provisioner, 1), '10.99.0.105', 'the first address no DECLINE holds');
  // One hold per MAC: a holder that declines another address moves its hold.
  decline(101, '10.99.0.140');
  assert.deepEqual(store.activeDeclines(clock.t).filter((h) => h.mac === mac(101)).map((h) => h.ip), ['10.99.0.140']);
  assert.equal(store.activeDeclines(clock.t).length, 5);
  // Holds of unknown MACs end after a minute (declineUnknownMs default), not declineMs.
  clock.t += 61_000;
  assert.equal(store.activeDeclines(clock.t).length, 0);
  db.close();
});
