/**
 * Boot-asset download benchmark: an 8 MiB kernel and a 300 MiB initrd (random bytes, generated in a
 * temp dir) fetched by 16 and 64 concurrent clients from rackboot (`/assets/*` and the token-bound
 * `/boot/<token>/kernel|initrd/...` route) and from nginx (Debian nginx-light, sendfile on, one
 * worker like rackboot's one process) serving the same files in the same run; plus random 1 MiB
 * range requests. Everything on 127.0.0.1; every process started here is stopped by its PID.
 *
 *   node --import tsx bench/http/run.ts [--duration-s 5] [--rounds 3] [--connections 16,64] [--nginx-workers 1]
 *
 * The machine is shared and its load moves, so each scenario runs `rounds` times, nginx and rackboot
 * back to back within a round; the table shows the median of the rounds.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../../server/config/config.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import { createProvisioner } from '../../server/main.js';
import { cpuSeconds, describeMachine, loadNow, machineLine, memoryUse } from '../lib/proc.js';
import { compileServer, removeCompiledServer } from '../lib/storm-lab.js';
import { startClock, throughputRatio, writeResult, type BenchRow } from '../lib/results.js';
import { markdownTable } from '../lib/stats.js';
import { loadTool, runLoad, type LoadResult } from './load.js';

const ROOT = join(import.meta.dirname, '..', '..');
const MiB = 1024 * 1024;

const { values } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16,64' },
    'nginx-workers': { type: 'string', default: '1' },
    'kernel-mib': { type: 'string', default: '8' },
    'initrd-mib': { type: 'string', default: '300' },
    only: { type: 'string' },
  },
});
const durationS = Number(values['duration-s']);
const rounds = Math.max(1, Number(values.rounds));
const connections = values.connections.split(',').map(Number).filter((n) => n > 0 && n <= 256);
const log = (line: string): void => void process.stderr.write(`${line}\n`);
const finish = startClock('http');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(4 * MiB);
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(chunk.length, bytes - written);
      randomFillSync(chunk, 0, n);
      written += writeSync(fd, chunk, 0, n);
    }
  } finally {
    closeSync(fd);
  }
}

interface Started {
  readonly child: ChildProcess;
  output: string;
}

function startProcess(cmd: string, args: readonly string[], cwd: string): Started {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const started: Started = { child, output: '' };
  const keep = (d: string) => (started.output = (started.output + d).slice(-20_000));
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  return started;
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopByPid(p: Started | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = p?.child;
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  process.kill(child.pid, signal);
  const timer = setTimeout(() => child.pid && process.kill(child.pid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The round with the median throughput (its CPU and error counts come with it). */
function medianResult<T extends LoadResult>(list: readonly T[]): T {
  const sorted = [...list].sort((a, b) => a.bytesPerSecond - b.bytesPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  if (median === undefined) throw new Error('no samples');
  return { ...median, errors: list.reduce((sum, r) => sum + r.errors, 0) };
}

async function httpGet(url: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
}

const work = mkdtempSync(join(tmpdir(), 'rb-httpbench-'));
chmodSync(work, 0o755); // nginx's worker runs as nobody
const assets = join(work, 'assets');
mkdirSync(assets, { mode: 0o755 });
let rackboot: Started | undefined;
let nginx: Started | undefined;
const cleanup = async () => {
  await stopByPid(rackboot);
  await stopByPid(nginx, 'SIGQUIT');
  rmSync(work, { recursive: true, force: true });
  removeCompiledServer();
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanup().finally(() => process.exit(130)));

const rows: BenchRow[] = [];
const table: string[][] = [];
const notes: string[] = [];
try {
  const kernelBytes = Number(values['kernel-mib']) * MiB;
  const initrdBytes = Number(values['initrd-mib']) * MiB;
  log(`generating kernel.img (${kernelBytes / MiB} MiB) and initrd.img (${initrdBytes / MiB} MiB) in ${work}`);
  writeRandomFile(join(assets, 'kernel.img'), kernelBytes);
  writeRandomFile(join(assets, 'initrd.img'), initrdBytes);
  chmodSync(join(assets, 'kernel.img'), 0o644);
  chmodSync(join(assets, 'initrd.img'), 0o644);

  // rackboot: HTTP only, on loopback
  const rbPort = await freePort();
  const config = join(work, 'rackboot.yaml');
  writeFileSync(
    config,
    `dataDir: ${join(work, 'data')}
log: { level: warn }
server: { address: 127.0.0.1 }
http: { listen: 127.0.0.1, port: ${rbPort} }
tftp: { enabled: false }
dhcp: { enabled: false, subnets: [{ cidr: 127.0.0.0/8 }] }
boot:
  assetsDir: ${assets}
  os: { name: bench-os, kernel: kernel.img, initrds: [initrd.img], args: [] }
`,
  );
  const loaded = loadConfigFile(config);
  if (!loaded.config) throw new Error(loaded.errors.join('; '));
  const { provisioner, close } = createProvisioner(loaded.config);
  provisioner.registerMachine({ name: 'bench', macs: ['52:54:00:be:ec:01'], ip: '127.0.0.1', role: 'dev', bootMode: 'memory' });
  close();
  // compiled, as production runs it (tsx's loader would add its own memory to the RSS reported)
  rackboot = startProcess(process.execPath, [compileServer(), '--config', config, 'serve'], ROOT);
  await waitFor(() => /rackboot serving/.test(rackboot?.output ?? '') || rackboot?.child.exitCode !== null, 'rackboot did not start', 30_000);
  if (!/rackboot serving/.test(rackboot.output)) throw new Error(`rackboot did not start:\n${rackboot.output}`);
  const rbBase = `http://127.0.0.1:${rbPort}`;
  const script = await httpGet(`${rbBase}/ipxe?mac=52-54-00-be-ec-01`);
  const kernelUrl = /^kernel (\S+)/m.exec(script.text)?.[1];
  const initrdUrl = /^initrd (\S+)/m.exec(script.text)?.[1];
  if (!kernelUrl || !initrdUrl) throw new Error(`no kernel/initrd in the script:\n${script.text}`);

  // nginx: same files, sendfile, one worker by default
  const nginxBin = findExecutable('nginx');
  let ngBase: string | null = null;
  if (nginxBin) {
    const ngPort = await freePort();
    const ngDir = join(work, 'nginx');
    mkdirSync(join(ngDir, 'tmp'), { recursive: true });
    writeFileSync(
      join(ngDir, 'nginx.conf'),
      `worker_processes ${values['nginx-workers']};
daemon off;
pid ${ngDir}/nginx.pid;
error_log ${ngDir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  default_type application/octet-stream;
  client_body_temp_path ${ngDir}/tmp/body;
  proxy_temp_path ${ngDir}/tmp/proxy;
  fastcgi_temp_path ${ngDir}/tmp/fastcgi;
  uwsgi_temp_path ${ngDir}/tmp/uwsgi;
  scgi_temp_path ${ngDir}/tmp/scgi;
  server {
    listen 127.0.0.1:${ngPort};
    root ${assets};
  }
}
`,
    );
    nginx = startProcess(nginxBin, ['-p', ngDir, '-c', join(ngDir, 'nginx.conf'), '-e', join(ngDir, 'error.log')], ngDir);
    ngBase = `http://127.0.0.1:${ngPort}`;
    const base = ngBase;
    await waitFor(async () => (await httpGet(`${base}/kernel.img`).catch(() => ({ status: 0 }))).status === 200, `nginx did not answer (${nginx.output})`, 10_000);
  } else notes.push('nginx is not installed (apt-get install nginx-light): no peer numbers');

  log(`load tool: ${loadTool()}; ${machineLine()}`);
  const files = { kernel: kernelBytes, initrd: initrdBytes };
  type Target = { name: string; url: string; peer: boolean };
  const scenarios: Array<{ label: string; file: 'kernel' | 'initrd'; range?: number; targets: Target[]; conns: number[] }> = [
    {
      label: `kernel ${kernelBytes / MiB} MiB`,
      file: 'kernel',
      conns: connections,
      targets: [
        { name: 'rackboot /assets', url: `${rbBase}/assets/kernel.img`, peer: false },
        { name: 'rackboot /boot/<token>/kernel', url: kernelUrl, peer: false },
        ...(ngBase ? [{ name: 'nginx', url: `${ngBase}/kernel.img`, peer: true }] : []),
      ],
    },
    {
      label: `initrd ${initrdBytes / MiB} MiB`,
      file: 'initrd',
      conns: connections,
      targets: [
        { name: 'rackboot /assets', url: `${rbBase}/assets/initrd.img`, peer: false },
        { name: 'rackboot /boot/<token>/initrd', url: initrdUrl, peer: false },
        ...(ngBase ? [{ name: 'nginx', url: `${ngBase}/initrd.img`, peer: true }] : []),
      ],
    },
    {
      label: `initrd random 1 MiB ranges`,
      file: 'initrd',
      range: MiB,
      conns: [connections.at(-1) ?? 64],
      targets: [
        { name: 'rackboot /assets', url: `${rbBase}/assets/initrd.img`, peer: false },
        ...(ngBase ? [{ name: 'nginx', url: `${ngBase}/initrd.img`, peer: true }] : []),
      ],
    },
  ];

  const rbPid = rackboot.child.pid ?? 0;
  for (const scenario of scenarios) {
    if (values.only && !scenario.label.includes(values.only)) continue;
    for (const conns of scenario.conns) {
      // warm the page cache and both servers, then measure peer and rackboot back to back, `rounds` times
      const peerTarget = scenario.targets.find((t) => t.peer);
      const samples = new Map<string, Array<LoadResult & { cpu: number }>>();
      const rangeOpt = scenario.range ? { range: { bytes: scenario.range, fileSize: files[scenario.file] } } : {};
      for (const target of scenario.targets) await runLoad({ url: target.url, connections: Math.min(conns, 8), durationS: 1, workDir: work, ...rangeOpt });
      for (let round = 1; round <= rounds; round += 1) {
        for (const target of [...scenario.targets].sort((a, b) => Number(b.peer) - Number(a.peer))) {
          const cpu0 = cpuSeconds(rbPid) ?? 0;
          const r = await runLoad({ url: target.url, connections: conns, durationS, workDir: work, ...rangeOpt });
          const cpu = ((cpuSeconds(rbPid) ?? 0) - cpu0) / durationS;
          let list = samples.get(target.name);
          if (!list) samples.set(target.name, (list = []));
          list.push({ ...r, cpu });
          log(`  [${round}/${rounds}] ${scenario.label}, ${conns} conns, ${target.name}: ${(r.bytesPerSecond / 1e9).toFixed(2)} GB/s, ${r.requestsPerSecond.toFixed(0)} req/s${r.errors ? `, ${r.errors} errors` : ''}${target.peer ? '' : `, rackboot ${(cpu * 100).toFixed(0)}% CPU`}; load ${loadNow()}`);
        }
      }
      const results = new Map<string, LoadResult & { cpu: number }>();
      for (const [name, list] of samples) results.set(name, medianResult(list));
      const peer = peerTarget ? results.get(peerTarget.name) : undefined;
      for (const target of scenario.targets.filter((t) => !t.peer)) {
        const r = results.get(target.name);
        if (!r) continue;
        const ratio = peer ? throughputRatio(r.bytesPerSecond, peer.bytesPerSecond) : NaN;
        rows.push({
          scenario: `${scenario.label}, ${conns} clients, ${target.name}`,
          metric: 'throughput',
          unit: 'GB/s',
          rackboot: Math.round(r.bytesPerSecond / 1e7) / 100,
          ...(peer ? { peer: 'nginx', peerValue: Math.round(peer.bytesPerSecond / 1e7) / 100, ratio: Math.round(ratio * 100) / 100, goal: '>= 0.9x nginx', goalMet: ratio >= 0.9 } : {}),
          ...(r.errors > 0 ? { note: `${r.errors} errors` } : {}),
        });
        table.push([
          scenario.label,
          String(conns),
          target.name,
          (r.bytesPerSecond / 1e9).toFixed(2),
          peer ? (peer.bytesPerSecond / 1e9).toFixed(2) : '-',
          Number.isFinite(ratio) ? `${ratio.toFixed(2)}x` : '-',
          r.requestsPerSecond.toFixed(0),
          `${(r.cpu * 100).toFixed(0)}%`,
          String(r.errors + (peer?.errors ?? 0)),
        ]);
      }
    }
  }
  const mem = memoryUse(rbPid);
  notes.push(`load tool ${loadTool()}, median of ${rounds} rounds of ${durationS} s after a 1 s warm-up, nginx ${values['nginx-workers']} worker(s) with sendfile; rackboot peak RSS ${mem?.peakRssMiB.toFixed(0)} MiB`);
} finally {
  await cleanup();
}

const details = [
  `## Boot assets over HTTP (${new Date().toISOString()})`,
  '',
  `Machine: ${machineLine(describeMachine())}`,
  '',
  markdownTable(['file', 'clients', 'rackboot route', 'rackboot GB/s', 'nginx GB/s', 'ratio', 'rackboot req/s', 'rackboot CPU', 'errors'], table),
  '',
  ...notes.map((n) => `- ${n}`),
].join('\n');
process.stdout.write(`${details}\n`);
log(`results: ${writeResult('http', finish(rows, notes, details))}`);
