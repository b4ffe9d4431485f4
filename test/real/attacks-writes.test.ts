/**
 * Issue 15, "unauthenticated writes are bounded", replayed against a served rackboot (`rackboot
 * serve` from source, HTTP on 127.0.0.1; the attacker sends from 127.0.0.2, the legitimate machine
 * from 127.0.0.1, both loopback):
 *  1. 4,000 forged-token callbacks and 4,000 unknown-MAC /ipxe requests, once with the default write
 *     rate limit and once with it opened wide (so every request reaches the event counter): the
 *     database grows by a bounded amount (bytes before/after printed), a legitimate machine's /ipxe
 *     latency during the attack is printed.
 *  2. A full disk: the data directory on a 64 MiB tmpfs created for the test (root only), filled
 *     below the floor: /healthz turns 503 with the reason, /metrics shows rackboot_disk_low 1, the
 *     transition is logged once, the machine's own boot script is still served; freed: green again.
 * Bounded: every loop has a count and a deadline; the server, the tmpfs and its directory are removed.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, statSync, statfsSync, writeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { execCommand, LabProcess } from '../../server/lab/process.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'server', 'cli', 'index.ts');
const ATTACK_REQUESTS = 4000;
const CONCURRENCY = 32;
const MACHINE_MAC = '52:54:00:15:00:01';
const isRoot = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

interface Reply {
  status: number;
  body: string;
  ms: number;
}

function send(port: number, path: string, options: { method?: string; body?: string; from?: string } = {}): Promise<Reply> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', localAddress: options.from ?? '127.0.0.1', agent: false, timeout: 10_000, headers: options.body ? { 'content-type': 'application/json' } : {} },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

function dbBytes(dataDir: string): number {
  return ['rackboot.db', 'rackboot.db-wal', 'rackboot.db-shm'].map((f) => join(dataDir, f)).reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
}

function eventRows(dataDir: string): { all: number; machineless: number } {
  const db = new Database(join(dataDir, 'rackboot.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT count(*) AS a, count(*) - count(machine_id) AS m FROM events').get() as { a: number; m: number };
    return { all: row.a, machineless: row.m };
  } finally {
    db.close();
  }
}

function writeConfig(dir: string, dataDir: string, port: number, store: string): string {
  const path = join(dir, 'rackboot.yaml');
  writeFileSync(
    path,
    `dataDir: ${dataDir}
server: {address: 127.0.0.1}
http: {listen: 127.0.0.1, port: ${port}}
tftp: {enabled: false}
dhcp: {enabled: false}
boot: {assetsDir: ${join(dir, 'assets')}}
store: ${store}
`,
  );
  return path;
}

async function serve(config: string, dir: string): Promise<LabProcess> {
  const added = await execCommand(process.execPath, ['--import', 'tsx', CLI, '--config', config, 'machines', 'add', '--mac', MACHINE_MAC, '--ip', '127.0.0.1', '--role', 'dev', '--mode', 'memory'], { cwd: ROOT, timeoutMs: 60_000, allowFailure: true });
  assert.ok(added.code === 0 || /taken|belongs/.test(added.stderr), added.stderr);
  const proc = await LabProcess.start(process.execPath, ['--import', 'tsx', CLI, '--config', config, 'serve'], { cwd: ROOT, logFile: join(dir, 'rackboot.log'), env: { RACKBOOT_LOG_LEVEL: 'info' } });
  await proc.waitForOutput(/rackboot serving/, 60_000);
  return proc;
}

/** The attack: bad-token callbacks and unknown-MAC /ipxe from 127.0.0.2, a legitimate /ipxe every 50 ms from 127.0.0.1. */
async function attack(port: number): Promise<{ statuses: Record<string, number>; wallMs: number; legit: number[] }> {
  const statuses: Record<string, number> = {};
  const legit: number[] = [];
  let next = 0;
  let attacking = true;
  const started = performance.now();
  const deadline = Date.now() + 120_000;
  const worker = async () => {
    while (next < ATTACK_REQUESTS * 2 && Date.now() < deadline) {
      const i = next++;
      const n = i >> 1;
      const reply =
        i % 2 === 0
          ? await send(port, `/callback/forged-${n}`, { method: 'POST', body: JSON.stringify({ event: 'installed' }), from: '127.0.0.2' })
          : await send(port, `/ipxe?mac=02-15-${((n >> 8) & 255).toString(16).padStart(2, '0')}-${(n & 255).toString(16).padStart(2, '0')}-00-01`, { from: '127.0.0.2' });
      statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
    }
  };
  const legitimate = (async () => {
    for (let i = 0; i < 2000 && attacking; i++) {
      const reply = await send(port, `/ipxe?mac=${MACHINE_MAC.replace(/:/g, '-')}`);
      assert.equal(reply.status, 200, reply.body);
      legit.push(reply.ms);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  attacking = false;
  await legitimate;
  return { statuses, wallMs: performance.now() - started, legit };
}

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))] ?? 0;

for (const [name, store, expect429] of [
  ['with the default write rate limit', '{disk: {minFreeBytes: 0, minFreePercent: 0}}', true],
  ['with the rate limit opened wide (every request reaches the event counter)', '{writeRate: {perSecond: 1000000, burst: 1000000}, unknownEvents: {flushSeconds: 1}, disk: {minFreeBytes: 0, minFreePercent: 0}}', false],
] as const) {
  test(`4,000 bad tokens and 4,000 unknown-MAC /ipxe grow the database by a bounded amount, ${name}`, { timeout: 240_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'rb-attack-writes-'));
    let proc: LabProcess | undefined;
    try {
      const port = await freePort();
      const dataDir = join(dir, 'data');
      const config = writeConfig(dir, dataDir, port, store);
      // the baseline is the checkpointed database of a server that has run once (WAL folded in)
      proc = await serve(config, dir);
      await send(port, `/ipxe?mac=${MACHINE_MAC.replace(/:/g, '-')}`);
      await proc.stop(10_000);
      const before = dbBytes(dataDir);
      const rowsBefore = eventRows(dataDir);
      proc = await serve(config, dir);
      const result = await attack(port);
      await new Promise((r) => setTimeout(r, 1500)); // one flush interval in the second run
      const during = dbBytes(dataDir);
      const metrics = (await send(port, '/metrics')).body;
      const rss = Number(/^process_resident_memory_bytes (\d+)/m.exec(metrics)?.[1] ?? 0);
      await proc.stop(10_000);
      const after = dbBytes(dataDir);
      const rowsAfter = eventRows(dataDir);
      t.diagnostic(
        `${ATTACK_REQUESTS * 2} requests in ${(result.wallMs / 1000).toFixed(1)} s: ${JSON.stringify(result.statuses)}; database ${before} -> ${after} bytes (checkpointed, +${after - before}); ${during} bytes with the WAL while serving; events ${rowsBefore.all} -> ${rowsAfter.all} rows (machine-less ${rowsBefore.machineless} -> ${rowsAfter.machineless}); server RSS ${(rss / 1048576).toFixed(0)} MiB; legitimate /ipxe p50 ${percentile(result.legit, 50).toFixed(1)} ms, p99 ${percentile(result.legit, 99).toFixed(1)} ms, max ${Math.max(...result.legit).toFixed(1)} ms (${result.legit.length} requests)`,
      );
      const limited = metrics.match(/^rackboot_write_rate_limited_total\{route="[^"]+"\} (\d+)$/gm) ?? [];
      t.diagnostic(`metrics: ${[...limited, ...(metrics.match(/^rackboot_unknown_source_events_total\{[^}]+\} \d+$/gm) ?? [])].join('; ')}`);
      assert.equal((result.statuses[200] ?? 0) + (result.statuses[403] ?? 0) + (result.statuses[429] ?? 0), ATTACK_REQUESTS * 2, 'every request answered');
      if (expect429) assert.ok((result.statuses[429] ?? 0) > ATTACK_REQUESTS, 'most of the attack is refused by the rate limit');
      else {
        assert.equal(result.statuses[429] ?? 0, 0);
        assert.match(metrics, /^rackboot_unknown_source_events_total\{outcome="counted"\} \d{4}$/m, 'thousands counted, not written');
      }
      assert.ok(after - before < 512 * 1024, `the database grew by ${after - before} bytes (was +64 MB before the fix)`);
      // the WAL is reused after each checkpoint: while serving it stays near its 1000-page autocheckpoint size
      assert.ok(during < 16 * 1024 * 1024, `${during} bytes with the WAL`);
      assert.ok(rowsAfter.machineless - rowsBefore.machineless <= 2 * (result.wallMs / 1000 + 2) * 2 + 20, 'machine-less rows: a first sighting and a summary per type per interval at most');
    } finally {
      await proc?.stop(10_000);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a full data disk turns /healthz red before writes fail, sheds unknown-source events, and recovers', { skip: isRoot ? false : 'needs root to mount a tmpfs', timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-attack-disk-'));
  const mount = join(dir, 'tmpfs');
  mkdirSync(mount);
  let mounted = false;
  let proc: LabProcess | undefined;
  try {
    await execCommand('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'rb-attack-disk', mount], { timeoutMs: 10_000 });
    mounted = true;
    const port = await freePort();
    const dataDir = join(mount, 'data');
    proc = await serve(writeConfig(dir, dataDir, port, '{disk: {minFreeBytes: 16777216, minFreePercent: 0, checkSeconds: 1}, unknownEvents: {flushSeconds: 1}}'), dir);
    assert.deepEqual(JSON.parse((await send(port, '/healthz')).body), { ok: true });

    // fill the tmpfs to 8 MiB free: below the 16 MiB floor, with room left for essential writes
    const filler = join(mount, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 64; i++) {
      const free = statfsSync(mount).bavail * statfsSync(mount).bsize;
      if (free <= 8 * 1024 * 1024) break;
      writeSync(fd, chunk, 0, Math.min(chunk.length, free - 8 * 1024 * 1024));
    }
    closeSync(fd);
    const filledAt = Date.now();
    let health: Reply | undefined;
    for (let i = 0; i < 100; i++) {
      health = await send(port, '/healthz');
      if (health.status === 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`/healthz red ${Date.now() - filledAt} ms after the disk filled: ${health?.status} ${health?.body}`);
    assert.equal(health?.status, 503);
    assert.match(JSON.parse(health?.body ?? '{}').error, /low on space: \d+\.\d MiB free, below the floor of 16\.0 MiB/);
    const metrics = (await send(port, '/metrics')).body;
    assert.match(metrics, /^rackboot_disk_low 1$/m);
    const free = Number(/^rackboot_data_free_bytes (\d+)/m.exec(metrics)?.[1]);
    assert.ok(free > 0 && free < 16 * 1024 * 1024, `rackboot_data_free_bytes ${free}`);

    // essential writes still go through (the machine's boot token), unknown sources are shed
    const own = await send(port, `/ipxe?mac=${MACHINE_MAC.replace(/:/g, '-')}`);
    assert.equal(own.status, 200, own.body);
    for (let i = 0; i < 50; i++) assert.equal((await send(port, `/callback/forged-${i}`, { method: 'POST', body: '{"event":"failed"}', from: '127.0.0.2' })).status, 403);
    await new Promise((r) => setTimeout(r, 1500));
    const shed = Number(/^rackboot_unknown_source_events_total\{outcome="shed"\} (\d+)$/m.exec((await send(port, '/metrics')).body)?.[1]);
    assert.ok(shed >= 1, `shed ${shed}`);

    rmSync(filler);
    for (let i = 0; i < 100; i++) {
      health = await send(port, '/healthz');
      if (health.status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(health?.status, 200, 'green again once there is space');
    await proc.stop(10_000);
    const log = proc.output();
    assert.equal(log.match(/is low on space/g)?.length, 1, 'logged once for the transition, not once per check');
    assert.equal(log.match(/has space again/g)?.length, 1);
    t.diagnostic(`tmpfs 64 MiB, floor 16 MiB, filled to 8 MiB free; unknown-source events shed: ${shed}; the machine's own script still served`);
  } finally {
    await proc?.stop(10_000);
    if (mounted) await execCommand('umount', [mount], { timeoutMs: 10_000, allowFailure: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
