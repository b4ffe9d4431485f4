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
