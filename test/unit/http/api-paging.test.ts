/**
 * Every list route of the API is paged (issue 15): `limit` is bounded, `next` is the cursor for
 * `?after=`, and walking the pages returns every row exactly once. The responses keep their fields.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { PAGE_LIMITS } from '../../../server/http/api-model.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let app: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
const mac = (i: number) => `52:54:00:ab:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

before(async () => {
  t = testProvisioner();
  for (let i = 0; i < 7; i += 1) t.provisioner.registerMachine({ name: `blade-${String(i).padStart(2, '0')}`, macs: [mac(1000 + i)], ip: `10.99.0.${20 + i}`, role: 'dev' });
  // 25 discovered MACs; three share a sighting time, so the MAC breaks the tie
  for (let i = 0; i < 25; i += 1) t.store.noteDiscovered(mac(i), { vendor: 'test' }, 1_000 + Math.min(i, 22));
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false },
    ipmi: { bmcs: new BmcStore(t.db), inventory: t.provisioner, rule: null },
  });
});

after(async () => {
  await app.close();
});

async function walk<T>(path: string, key: string, limit: number): Promise<{ rows: T[]; pages: number }> {
  const rows: T[] = [];
  let cursor: string | number | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const url: string = `${path}${sep}limit=${limit}${cursor === null ? '' : `&after=${encodeURIComponent(String(cursor))}`}`;
    const res: { statusCode: number; body: string; json(): unknown } = await app.inject({ url });
    assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    const body = res.json() as Record<string, unknown>;
    rows.push(...(body[key] as T[]));
    cursor = body.next as string | number | null;
    pages += 1;
    assert.ok(pages < 100, 'the walk ends');
  } while (cursor !== null);
  return { rows, pages };
}

test('/machines pages by name; the default page holds up to 5,000 machines (the dashboard reads one)', async () => {
  const whole = (await app.inject({ url: '/api/v1/machines' })).json();
  assert.equal(whole.machines.length, 7);
  assert.equal(whole.next, null);
  assert.equal(typeof whole.latestEventId, 'number');
  assert.equal(PAGE_LIMITS.machines.default, 5000);
  const { rows, pages } = await walk<{ name: string }>('/api/v1/machines', 'machines', 3);
  assert.equal(pages, 3);
  assert.deepEqual(rows.map((m) => m.name), whole.machines.map((m: { name: string }) => m.name));
  assert.equal((await app.inject({ url: '/api/v1/machines?limit=5001' })).statusCode, 400);
});

test('/discovered pages newest first, ties broken by MAC, every client once', async () => {
  const first = (await app.inject({ url: '/api/v1/discovered' })).json();
  assert.equal(first.discovered.length, 25);
  assert.equal(first.next, null);
  const { rows } = await walk<{ mac: string }>('/api/v1/discovered', 'discovered', 4);
  assert.equal(rows.length, 25);
  assert.equal(new Set(rows.map((r) => r.mac)).size, 25);
  assert.deepEqual(rows.map((r) => r.mac), first.discovered.map((r: { mac: string }) => r.mac));
  assert.equal((await app.inject({ url: `/api/v1/discovered?limit=${PAGE_LIMITS.discovered.max + 1}` })).statusCode, 400);
  assert.equal((await app.inject({ url: '/api/v1/discovered?after=garbage' })).statusCode, 400);
});

test('/events and /machines/:ref/events give `next` while pages are full', async () => {
  const machine = t.store.machineByName('blade-00')!;
  for (let i = 0; i < 9; i += 1) t.provisioner.record(machine, 'progress', `step ${i}/9`);
  const all = (await app.inject({ url: '/api/v1/events?limit=10000' })).json();
  assert.equal(all.next, null);
  const { rows } = await walk<{ id: number }>('/api/v1/events', 'events', 4);
  assert.deepEqual(rows.map((e) => e.id), all.events.map((e: { id: number }) => e.id));
  const own = await walk<{ id: number; machineId: number }>('/api/v1/machines/blade-00/events', 'events', 2);
  assert.ok(own.rows.length >= 9);
  assert.ok(own.rows.every((e) => e.machineId === machine.id));
  assert.equal((await app.inject({ url: '/api/v1/events?limit=10001' })).statusCode, 400);
});

test('/bmcs pages by id', async () => {
  const bmcs = new BmcStore(t.db);
  for (let i = 0; i < 5; i += 1) {
    const address = `10.98.0.${10 + i}`;
    bmcs.recordObservation(
      { address, port: 623, username: 'admin', guid: null, bmcMac: null, bmcIp: address, lanChannel: 1, manufacturerId: 674, productId: 1, firmware: '1.0', ipmiVersion: '2.0', session: 'rmcp+ suite 17', hostMacs: [] },
      1_000,
    );
  }
  const total = (await app.inject({ url: '/api/v1/bmcs' })).json().bmcs.length;
  assert.equal(total, 5);
  const { rows, pages } = await walk<{ id: number }>('/api/v1/bmcs', 'bmcs', 2);
  assert.equal(rows.length, total);
  assert.ok(pages >= Math.ceil(total / 2));
});

test('list filters (issue 16): /machines by state and role, events by type, discovered by sighting time, BMCs by match and health', async () => {
  t.store.setState(t.store.machineByName('blade-03')!.id, 'failed', 2_000);
  t.store.setState(t.store.machineByName('blade-05')!.id, 'failed', 2_000);
  t.provisioner.registerMachine({ name: 'spare-01', macs: [mac(2000)], ip: '10.99.0.40', role: null });
  const failed = (await app.inject({ url: '/api/v1/machines?state=failed' })).json();
  assert.deepEqual(failed.machines.map((m: { name: string }) => m.name), ['blade-03', 'blade-05']);
  const paged = await walk<{ name: string }>('/api/v1/machines?state=failed', 'machines', 1);
  assert.deepEqual(paged.rows.map((m) => m.name), ['blade-03', 'blade-05']);
  const dev = (await app.inject({ url: '/api/v1/machines?role=dev' })).json();
  assert.ok(dev.machines.length >= 7 && dev.machines.every((m: { role: string }) => m.role === 'dev'));
  const none = (await app.inject({ url: '/api/v1/machines?role=none' })).json();
  assert.deepEqual(none.machines.map((m: { name: string }) => m.name), ['spare-01']);
  assert.equal((await app.inject({ url: '/api/v1/machines?state=failed&role=none' })).json().machines.length, 0);
  assert.equal((await app.inject({ url: '/api/v1/machines?state=melted' })).statusCode, 400);
  assert.equal((await app.inject({ url: '/api/v1/machines?role=wizard' })).statusCode, 400);

  const machine = t.store.machineByName('blade-01')!;
  t.provisioner.record(machine, 'stuck', 'no progress for 20 min');
  const stuck = (await app.inject({ url: '/api/v1/events?type=stuck' })).json();
  assert.ok(stuck.events.length >= 1 && stuck.events.every((e: { type: string }) => e.type === 'stuck'));
  const own = (await app.inject({ url: '/api/v1/machines/blade-01/events?type=stuck' })).json();
  assert.deepEqual(own.events.map((e: { message: string }) => e.message), ['no progress for 20 min']);
  assert.equal((await app.inject({ url: '/api/v1/events?type=DROP%20TABLE' })).statusCode, 400);

  // sightings at 1000..1022: since 1020 leaves the three newest times (1020, 1021 and the three at 1022)
  const recent = await walk<{ lastSeen: number }>('/api/v1/discovered?seenSince=1020', 'discovered', 2);
  assert.equal(recent.rows.length, 5);
  assert.ok(recent.rows.every((r) => r.lastSeen >= 1020));

  const bmcs = new BmcStore(t.db);
  bmcs.recordFailure({ address: '10.98.0.12', port: 623, username: 'admin', kind: 'timeout', message: 'no answer' }, 3_000);
  bmcs.linkMachine('10.98.0.10', machine.id);
  const failing = (await app.inject({ url: '/api/v1/bmcs?failing=true' })).json();
  assert.deepEqual(failing.bmcs.map((b: { address: string }) => b.address), ['10.98.0.12']);
  const healthy = (await app.inject({ url: '/api/v1/bmcs?failing=false' })).json();
  assert.ok(healthy.bmcs.every((b: { lastError: string | null }) => b.lastError === null));
  const matched = (await app.inject({ url: '/api/v1/bmcs?matched=true' })).json();
  assert.deepEqual(matched.bmcs.map((b: { address: string }) => b.address), ['10.98.0.10']);
  assert.equal((await app.inject({ url: '/api/v1/bmcs?matched=false' })).json().bmcs.length, 4);
  assert.equal((await app.inject({ url: '/api/v1/bmcs?matched=perhaps' })).statusCode, 400);
});
