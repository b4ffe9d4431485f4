import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../../../server/log.js';
import { DiskGuard } from '../../../server/services/disk-guard.js';

const MiB = 1024 * 1024;

test('the disk guard turns red below the floor, logs once per transition and tells its listener', async () => {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write(chunk, _e, done) { lines.push(String(chunk)); done(); } }));
  let freeMiB = 2048;
  const changes: boolean[] = [];
  const guard = new DiskGuard({
    dir: '/data',
    thresholds: { minFreeBytes: 512 * MiB, minFreePercent: 0 },
    logger,
    statfs: async () => ({ bsize: 4096, blocks: (10_000 * MiB) / 4096, bavail: (freeMiB * MiB) / 4096 }),
    onChange: (state) => changes.push(state.low),
  });
  assert.deepEqual(guard.health(), { ok: true }, 'ok before the first check');
  await guard.check();
  assert.deepEqual(guard.health(), { ok: true });
  freeMiB = 100;
  await guard.check();
  await guard.check();
  const health = guard.health();
  assert.equal(health.ok, false);
  assert.match(health.ok ? '' : health.reason, /data directory \/data is low on space: 100\.0 MiB free/);
  assert.equal(guard.state?.freeBytes, 100 * MiB);
  freeMiB = 4096;
  await guard.check();
  assert.deepEqual(guard.health(), { ok: true });
  assert.deepEqual(changes, [true, false]);
  assert.equal(guard.transitions, 2);
  assert.equal(lines.filter((l) => l.includes('low on space')).length, 1, 'one log line for going low, not one per check');
  assert.equal(lines.filter((l) => l.includes('has space again')).length, 1);
});

test('a failing statfs keeps the last known state and is counted', async () => {
  let fail = false;
  const guard = new DiskGuard({
    dir: '/data',
    thresholds: { minFreeBytes: 1, minFreePercent: 0 },
    logger: createLogger('silent'),
    statfs: async () => {
      if (fail) throw new Error('EIO');
      return { bsize: 1, blocks: 10, bavail: 0 };
    },
  });
  await guard.check();
  fail = true;
  await guard.check();
  assert.equal(guard.checkErrors, 1);
  assert.equal(guard.health().ok, false);
});
