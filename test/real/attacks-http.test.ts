/**
 * Issue 15, the HTTP part: the attacks replayed against `rackboot serve` (a child process on
 * 127.0.0.1, its own temporary data directory), each asserting the new outcome and printing what
 * it measured: 40+ replaying event-stream clients (server RSS, /healthz latency), 5,000 slow
 * half-open connections while a legitimate client fetches /boot.ipxe, 46,000 discovered clients
 * paged, and a symlink escape on /assets. Runs as root only (like the other real suites); every
 * loop is bounded in count and time, every socket and the server are stopped at the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openDatabase } from '../../server/store/db.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';

const ROOT = join(import.meta.dirname, '..', '..');
const skip = process.getuid?.() !== 0 ? 'needs root (the real suites run as root)' : false;
const PORT = 18_000 + (process.pid % 1000);
const BASE = `http://127.0.0.1:${PORT}`;
const DISCOVERED = 46_000;
const EVENTS = 5_000;

let work: string;
let server: ChildProcess | null = null;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
}

/** One GET with its latency; never throws (status 0: the request failed). */
function timedGet(path: string, timeoutMs = 5000, localAddress?: string): Promise<{ status: number; ms: number; body: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(`${BASE}${path}`, { agent: false, ...(localAddress ? { localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy());
    req.on('error', () => resolve({ status: 0, ms: performance.now() - started, body: '' }));
    req.end();
  });
}

async function metric(line: string): Promise<number> {
  const text = (await timedGet('/metrics')).body;
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? 0 : Number(found.slice(line.length + 1));
}

const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { n: sorted.length, p50: Math.round(at(0.5)), p99: Math.round(at(0.99)), max: Math.round(sorted.at(-1) ?? NaN) };
};

describe('HTTP attacks (issue 15)', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rackboot-attacks-http-'));
    const dataDir = join(work, 'data');
    const assets = join(work, 'assets');
    mkdirSync(dataDir);
    mkdirSync(join(assets, 'etcd'), { recursive: true });
    writeFileSync(join(assets, 'etcd', 'etcd'), 'etcd binary');
    symlinkSync('/etc/passwd', join(assets, 'etcd', 'passwd-link'));
    // the inventory the attacks meet: 46,000 discovered clients and 5,000 events, written through the store
    const db = openDatabase(join(dataDir, 'rackboot.db'));
    const store = new SqliteStore(db);
    // recent, and more than the default retention keeps: the serve under attack must not prune them
    const seededAt = Date.now() - 60_000;
    store.transaction(() => {
      for (let i = 0; i < DISCOVERED; i += 1) {
        const mac = `02:00:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x42].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
        store.noteDiscovered(mac, { arch: 'x64', vendorClass: 'PXEClient:Arch:00007' }, seededAt + i);
      }
      for (let i = 0; i < EVENTS; i += 1) store.appendEvent({ machineId: null, mac: null, type: 'warning', message: `seed event ${i} ${'x'.repeat(200)}` }, seededAt + i);
    });
    db.close();
    const config = join(work, 'rackboot.yaml');
    writeFileSync(
      config,
      [
        `dataDir: ${dataDir}`,
        'server: {address: 127.0.0.1}',
        `http: {listen: 127.0.0.1, port: ${PORT}, limits: {headersTimeoutMs: 3000, requestTimeoutMs: 10000}}`,
        'tftp: {enabled: false}',
        'dhcp: {enabled: false}',
        `store: {retention: {discoveredMax: ${DISCOVERED * 2}}}`,
        `boot: {assetsDir: ${assets}}`,
        '',
      ].join('\n'),
    );
    server = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    for (let i = 0; i < 200; i += 1) {
      if ((await timedGet('/healthz', 500)).status === 200) return;
      if (server.exitCode !== null) break;
      await sleep(100);
    }
    throw new Error(`rackboot serve did not come up: ${stderr.slice(-2000)}`);
  });

  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      for (let i = 0; i < 50 && server.exitCode === null; i += 1) await sleep(100);
      if (server.exitCode === null) server.kill('SIGKILL');
    }
    rmSync(work, { recursive: true, force: true });
  });

  test('80 event-stream clients asking for a replay: 64 served (each a reset, not 5,000 events), 16 refused; RSS and /healthz stay small', async () => {
    const pid = server!.pid!;
    const rssBefore = rssMiB(pid);
    const clients: ClientRequest[] = [];
    const statuses: number[] = [];
    const firstFrames: string[] = [];
    // 20 source addresses x 4: the per-address cap (8) is not what refuses them, the total cap (64) is
    const opened = Array.from({ length: 80 }, (_, i) =>
      new Promise<void>((resolve) => {
        const req = request(`${BASE}/api/v1/events/stream`, { agent: false, localAddress: `127.0.2.${1 + (i % 20)}`, headers: { 'last-event-id': '0' } }, (res) => {
          statuses.push(res.statusCode ?? 0);
          res.setEncoding('utf8');
          let text = '';
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes('\n\nid:') || res.statusCode !== 200) {
              firstFrames.push(text.slice(0, 400));
              resolve();
            }
          });
          res.on('end', resolve);
        });
        req.setTimeout(10_000, () => {
          req.destroy();
          resolve();
        });
        req.on('error', () => resolve());
        req.end();
        clients.push(req);
      }),
    );
    const healthz: number[] = [];
    const probing = (async () => {
      for (let i = 0; i < 20; i += 1) {
        healthz.push((await timedGet('/healthz', 5000)).ms);
        await sleep(50);
      }
    })();
    await Promise.all(opened);
    await probing;
    await sleep(300);
    const rssDuring = rssMiB(pid);
    const open = await metric('rackboot_http_event_streams');
    const shed = await metric('rackboot_http_event_streams_shed_total{reason="total"}');
    const resets = await metric('rackboot_http_event_streams_shed_total{reason="replay-reset"}');
    for (const req of clients) req.destroy();
    const h = summary(healthz);
    console.log(`# SSE replay: 80 clients with Last-Event-ID 0 over ${EVENTS} events: ${statuses.filter((s) => s === 200).length} streams, ${statuses.filter((s) => s === 503).length} x 503; server RSS ${rssBefore} -> ${rssDuring} MiB; /healthz ms p50 ${h.p50} p99 ${h.p99} max ${h.max}`);
    assert.equal(statuses.filter((s) => s === 200).length, 64);
    assert.equal(statuses.filter((s) => s === 503).length, 16);
    assert.equal(open, 64);
    assert.equal(shed, 16);
    assert.equal(resets, 64, 'every replay was answered with reset instead of 5,000 events');
    assert.ok(firstFrames.filter((f) => f.includes('event: reset')).length >= 60);
    assert.ok(rssDuring - rssBefore < 200, `RSS grew ${rssDuring - rssBefore} MiB`);
    assert.ok(h.max < 2000, `/healthz took ${h.max} ms`);
  });

  test('46,000 discovered clients come in bounded pages; /healthz stays quick meanwhile', async () => {
    const pageMs: number[] = [];
    const healthz: number[] = [];
    let total = 0;
    let cursor: string | null = null;
    let walking = true;
    const probing = (async () => {
      for (let i = 0; i < 400 && walking; i += 1) {
        healthz.push((await timedGet('/healthz', 5000)).ms);
        await sleep(20);
      }
    })();
    for (let page = 0; page < 100; page += 1) {
      const res = await timedGet(`/api/v1/discovered?limit=1000${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`, 10_000);
      assert.equal(res.status, 200);
      pageMs.push(res.ms);
      const body = JSON.parse(res.body) as { discovered: unknown[]; next: string | null };
      total += body.discovered.length;
      cursor = body.next;
      if (cursor === null) break;
    }
    walking = false;
    await probing;
    const unpaged = await timedGet('/api/v1/discovered', 10_000);
    const p = summary(pageMs);
    const h = summary(healthz);
    console.log(`# /discovered: ${total} rows in ${p.n} pages of 1000: page ms p50 ${p.p50} max ${p.max}; the default call (no limit) ${Math.round(unpaged.ms)} ms for ${(JSON.parse(unpaged.body) as { discovered: unknown[] }).discovered.length} rows; /healthz ms p50 ${h.p50} max ${h.max}`);
    assert.equal(total, DISCOVERED);
    assert.equal((JSON.parse(unpaged.body) as { discovered: unknown[] }).discovered.length, 1000, 'an unbounded call gets one page');
    assert.ok(p.max < 2000, `a page took ${p.max} ms`);
  });

  test('5,000 slow half-open connections: bounded per address, timed out, and /boot.ipxe keeps answering', async () => {
    const sockets: Socket[] = [];
    const started = performance.now();
    // 20 attacking addresses x 250 connections, each sending half a request line and then nothing
    const opening = Array.from({ length: 5000 }, (_, i) =>
      new Promise<void>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port: PORT, localAddress: `127.0.3.${1 + (i % 20)}` });
        sockets.push(socket);
        socket.on('error', () => resolve());
        socket.once('close', () => resolve());
        socket.once('connect', () => {
          socket.write('GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n');
          resolve();
        });
        socket.setTimeout(30_000, () => socket.destroy());
      }),
    );
    const legit: Array<{ status: number; ms: number }> = [];
    const probing = (async () => {
      for (let i = 0; i < 40; i += 1) {
        legit.push(await timedGet('/boot.ipxe', 5000));
        await sleep(100);
      }
    })();
    await Promise.all(opening);
    const openedMs = performance.now() - started;
    await sleep(500);
    const held = await metric('rackboot_http_connections');
    const refused = await metric('rackboot_http_connections_refused_total{reason="per-client"}');
    await probing;
    // headersTimeoutMs is 3 s in this config: the held ones are closed with a 408
    for (let i = 0; i < 60 && (await metric('rackboot_http_connections')) > 5; i += 1) await sleep(250);
    const after = await metric('rackboot_http_connections');
    const timedOut = await metric('rackboot_http_request_timeouts_total');
    const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    for (const socket of sockets) socket.destroy();
    const l = summary(legit.map((r) => r.ms));
    console.log(`# slow loris: 5000 connections from 20 addresses in ${Math.round(openedMs)} ms: ${held} held (cap 64/address), ${refused} refused at once, ${timedOut} timed out by the header deadline, ${after} open afterwards (${stillOpen} client sockets open); legitimate /boot.ipxe: ${legit.filter((r) => r.status === 200).length}/${legit.length} ok, ms p50 ${l.p50} p99 ${l.p99} max ${l.max}`);
    assert.ok(held <= 20 * 64 + 5, `${held} connections held`);
    // a few may still be in the accept queue when the counter is read
    assert.ok(refused >= 5000 - 20 * 64 - 250, `${refused} refused`);
    assert.equal(legit.filter((r) => r.status === 200).length, legit.length, 'every legitimate request was answered');
    assert.ok(timedOut >= 1000, `${timedOut} timed out`);
    assert.ok(after <= 5);
  });

  test('a symlink out of the assets directory is not followed', async () => {
    const res = await timedGet('/assets/etcd/passwd-link');
    console.log(`# /assets symlink to /etc/passwd: ${res.status}`);
    assert.equal(res.status, 404);
    assert.doesNotMatch(res.body, /root:/);
    assert.equal((await timedGet('/assets/etcd/etcd')).body, 'etcd binary');
    assert.equal(await metric('rackboot_http_path_escapes_total'), 1);
  });
});
