import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SourceRateLimiter } from '../../../server/core/rate-limit.js';
import { buildApp } from '../../../server/http/app.js';
import { newWriteLimit } from '../../../server/http/write-limit.js';
import { silentLogger } from '../../../server/log.js';
import type { WriteGuardStats } from '../../../server/services/write-guards.js';
import { testProvisioner } from '../../helpers/provisioner.js';

async function app(options: { burst?: number; health?: () => { ok: true } | { ok: false; reason: string }; writes?: () => WriteGuardStats } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rb-wl-'));
  const t = testProvisioner();
  const writeLimit = newWriteLimit(new SourceRateLimiter({ perSecond: 1, burst: options.burst ?? 5, maxSources: 100 }));
  const built = await buildApp({
    provisioner: t.provisioner,
    assetsDir: dir,
    firmwareDir: dir,
    logger: silentLogger(),
    writeLimit,
    operator: { defaultMetrics: false, metrics: options.writes ? { writes: options.writes } : {} },
    ...(options.health ? { health: options.health } : {}),
  });
  return { app: built, t, writeLimit, close: async () => { await built.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('the boot routes that write are rate-limited per client address: 429 with Retry-After, nothing written', async () => {
  const { app: a, t, writeLimit, close } = await app({ burst: 5 });
  const codes: number[] = [];
  for (let i = 0; i < 20; i++) codes.push((await a.inject({ url: `/ipxe?mac=52-54-00-00-00-${String(i).padStart(2, '0')}`, remoteAddress: '10.99.0.66' })).statusCode);
  assert.deepEqual(codes, [...Array(5).fill(200), ...Array(15).fill(429)]);
  const refused = await a.inject({ method: 'POST', url: '/callback/forged', payload: { event: 'installed' }, remoteAddress: '10.99.0.66' });
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(refused.json().code, 'RACKBOOT_ERR_RATE_LIMITED');
  assert.equal(t.store.listEvents({}).length, 5, 'only the admitted requests wrote');
  // another address has its own budget; downloads and the chain script are not limited
  assert.equal((await a.inject({ url: '/ipxe?mac=52-54-00-00-01-00', remoteAddress: '10.99.0.67' })).statusCode, 200);
  for (let i = 0; i < 10; i++) assert.equal((await a.inject({ url: '/boot.ipxe', remoteAddress: '10.99.0.66' })).statusCode, 200);
  assert.deepEqual([...writeLimit.refusedByRoute], [['/ipxe', 15], ['/callback/:token', 1]]);
  await close();
});

test('/healthz is 503 with the reason while the health check says so', async () => {
  let low = false;
  const { app: a, close } = await app({ health: () => (low ? { ok: false, reason: 'data directory /d is low on space: 1.0 MiB free' } : { ok: true }) });
  assert.deepEqual((await a.inject('/healthz')).json(), { ok: true });
  low = true;
  const red = await a.inject('/healthz');
  assert.equal(red.statusCode, 503);
  assert.deepEqual(red.json(), { ok: false, error: 'data directory /d is low on space: 1.0 MiB free', code: 'RACKBOOT_ERR_DISK_LOW' });
  await close();
});

test('/metrics shows what was refused, counted, pruned and the disk', async () => {
  const stats: WriteGuardStats = {
    rateLimit: { allowed: 10, refused: 7, evicted: 3, sources: 2, refusedByRoute: new Map([['/ipxe', 7]]) },
    machineless: { immediate: 1, counted: 3999, folded: 50, shed: 2, summaries: 1, trackedKeys: 4 },
    retention: { runs: 1, eventsDeleted: 20, discoveredDeleted: 5, steps: 3, longestStepMs: 12 },
    disk: { freeBytes: 1234, low: true },
  };
  const { app: a, close } = await app({ writes: () => stats });
  const text = (await a.inject('/metrics')).body;
  for (const line of [
    'rackboot_write_rate_limited_total{route="/ipxe"} 7',
    'rackboot_write_rate_evictions_total 3',
    'rackboot_write_rate_sources 2',
    'rackboot_unknown_source_events_total{outcome="counted"} 3999',
    'rackboot_unknown_source_events_total{outcome="folded"} 50',
    'rackboot_unknown_source_events_total{outcome="shed"} 2',
    'rackboot_retention_deleted_total{table="events"} 20',
    'rackboot_retention_longest_step_seconds 0.012',
    'rackboot_data_free_bytes 1234',
    'rackboot_disk_low 1',
  ]) assert.ok(text.includes(line), `${line} in\n${text}`);
  await close();
});
