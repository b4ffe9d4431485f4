/**
 * TFTP throughput: rackboot against tftpd-hpa and atftpd in the same run, on 127.0.0.1 only.
 *
 *   npx tsx bench/tftp/run.ts [--pin same|none|both] [--reps N] [--swarm N] [--quick] [--out FILE]
 *
 * Scenarios, each against every server, repetitions interleaved (server order rotates) so that
 * noise from other work on the machine spreads over all of them; the median is reported:
 *   - curl, blksize 512 and 1468, no windowsize (lock-step): 1 MB and 30 MB;
 *   - atftp, blksize 1468 + windowsize 8 (RFC 7440; tftpd-hpa ignores windowsize and runs lock-step);
 *   - a swarm: N concurrent transfers of the 1 MB file (curl --parallel, blksize 1468), aggregate MB/s.
 * Every download is checked: sha256 of the first of each kind, the size of the others.
 * A fourth server, node-floor (bench/tftp/floor.ts), runs the lock-step rows as a reference: the
 * leanest sender Node's dgram allows, which separates the runtime's per-packet cost from rackboot's.
 *
 * Pinning: 'same' runs the server and the client on the same CPU (taskset), 'none' lets the
 * scheduler place them. On this VM a UDP round trip between two CPUs costs ~53 µs, so lock-step
 * TFTP measures wake-up latency when unpinned and CPU cost per packet when pinned; both are
 * reported (default 'both'), and every server runs under the same conditions.
 *
 * Peers: `atftpd` (Debian atftpd) from PATH. tftpd-hpa conflicts with atftpd in Debian, so its
 * `in.tftpd` is taken from PATH when it is tftpd-hpa, else from .cache/bench/tftpd-hpa (which this
 * script fills with `apt-get download tftpd-hpa` + `dpkg -x` when run as root). Servers are
 * started by this script and stopped by PID; every client call has a time limit.
 * MB = 10^6 bytes.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { findExecutable } from '../../server/lab/prereqs.js';

const REPO = resolve(import.meta.dirname, '..', '..');
const HOST = '127.0.0.1';
const MB = 1_000_000;
const CLIENT_TIMEOUT_MS = 120_000;
/** The whole run stops (and cleans up) after this long, whatever is left. */
const RUN_DEADLINE_MS = 15 * 60_000;

// ------------------------------------------------------------------ arguments

const { values: args } = parseArgs({
  options: {
    pin: { type: 'string', default: 'both' },
    reps: { type: 'string' },
    swarm: { type: 'string', default: '200' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(REPO, 'bench', 'results', 'tftp.md') },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: tsx bench/tftp/run.ts [--pin same|none|both] [--reps N] [--swarm N] [--quick] [--out FILE]\n');
  process.exit(0);
}
if (!['same', 'none', 'both'].includes(args.pin)) throw new Error(`--pin must be same, none or both, not ${args.pin}`);
const pinModes: PinMode[] = args.pin === 'both' ? ['same', 'none'] : [args.pin as PinMode];
const reps = Number(args.reps ?? (args.quick ? 2 : 5));
const swarmSize = Number(args.swarm);
if (!Number.isInteger(reps) || reps < 1 || reps > 50) throw new Error('--reps must be 1..50');
if (!Number.isInteger(swarmSize) || swarmSize < 1 || swarmSize > 1000) throw new Error('--swarm must be 1..1000');

type PinMode = 'same' | 'none';
type ServerName = 'rackboot' | 'tftpd-hpa' | 'atftpd' | 'node-floor';
/**
 * node-floor (bench/tftp/floor.ts) is a reference, not a competitor: the leanest lock-step sender
 * Node's dgram can run, so that rackboot's overhead and the runtime's show up separately. It runs
 * only the lock-step curl rows.
 */
const SERVERS: readonly ServerName[] = ['rackboot', 'tftpd-hpa', 'atftpd', 'node-floor'];
const COMPETITORS: readonly ServerName[] = ['rackboot', 'tftpd-hpa', 'atftpd'];

// ------------------------------------------------------------------ tools


function versionOf(cmd: string, flag: string): string {
  const r = spawnSync(cmd, [flag], { encoding: 'utf8', timeout: 5000 });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

const isRoot = process.getuid?.() === 0;

/** tftpd-hpa's in.tftpd: PATH when it is tftpd-hpa (atftpd's package ships an in.tftpd symlink too), else the cache. */
function findTftpdHpa(): string | undefined {
  const candidates = [findExecutable('in.tftpd'), join(REPO, '.cache', 'bench', 'tftpd-hpa', 'usr', 'sbin', 'in.tftpd')];
  for (const c of candidates) {
    if (c !== undefined && existsSync(c) && /tftp-hpa/.test(versionOf(c, '-V'))) return c;
  }
  if (!isRoot || findExecutable('apt-get') === undefined || findExecutable('dpkg') === undefined) return undefined;
  // Debian's tftpd-hpa and atftpd conflict; unpack tftpd-hpa beside atftpd instead of installing it.
  const dir = join(REPO, '.cache', 'bench', 'tftpd-hpa');
  const debs = join(REPO, '.cache', 'bench', 'debs');
  mkdirSync(debs, { recursive: true });
  process.stdout.write('fetching tftpd-hpa with apt-get download (it conflicts with atftpd, so it is unpacked, not installed)\n');
  const dl = spawnSync('apt-get', ['download', 'tftpd-hpa'], { cwd: debs, encoding: 'utf8', timeout: 120_000 });
  const deb = readdirSync(debs).find((f) => f.startsWith('tftpd-hpa_') && f.endsWith('.deb'));
  if (deb === undefined) {
    process.stdout.write(`apt-get download tftpd-hpa failed: ${(dl.stderr ?? '').trim()}\n`);
    return undefined;
  }
  spawnSync('dpkg', ['-x', join(debs, deb), dir], { timeout: 60_000 });
  const bin = join(dir, 'usr', 'sbin', 'in.tftpd');
  return existsSync(bin) && /tftp-hpa/.test(versionOf(bin, '-V')) ? bin : undefined;
}

const tools = {
  curl: findExecutable('curl'),
  atftp: findExecutable('atftp'),
  atftpd: findExecutable('atftpd'),
  taskset: findExecutable('taskset'),
  tftpdHpa: findTftpdHpa(),
};
const missing: string[] = [];
if (tools.curl === undefined) missing.push('curl (Debian curl)');
if (tools.atftp === undefined) missing.push('atftp (Debian atftp)');
if (tools.atftpd === undefined) missing.push('atftpd (Debian atftpd)');
if (tools.tftpdHpa === undefined) missing.push('tftpd-hpa in.tftpd (run as root to unpack it, or apt-get download tftpd-hpa && dpkg -x it into .cache/bench/tftpd-hpa)');
if (tools.taskset === undefined && pinModes.includes('same')) missing.push('taskset (Debian util-linux)');
if (missing.length > 0) {
  process.stderr.write(`bench/tftp: missing: ${missing.join('; ')}\n`);
  process.exit(2);
}
const CURL = tools.curl as string;
const ATFTP = tools.atftp as string;

// ------------------------------------------------------------------ files

const work = mkdtempSync(join(tmpdir(), 'rackboot-tftp-bench-'));
chmodSync(work, 0o755); // tftpd-hpa and atftpd drop to nobody
const root = join(work, 'root');
const out = join(work, 'out');
mkdirSync(root, { mode: 0o755 });
mkdirSync(out);
chmodSync(root, 0o755);
const FILES = { 'm1.bin': 1 * MB, 'm30.bin': 30 * MB } as const;
type FileName = keyof typeof FILES;
const digests = new Map<FileName, string>();
for (const [name, size] of Object.entries(FILES) as Array<[FileName, number]>) {
  const data = randomBytes(size);
  writeFileSync(join(root, name), data, { mode: 0o644 });
  digests.set(name, createHash('sha256').update(data).digest('hex'));
}

// ------------------------------------------------------------------ processes

const started = new Set<ChildProcess>();
let cleanedUp = false;

function stopAll(): void {
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // gone already
      }
    }
  }
}

function cleanup(): void {
  if (cleanedUp) return;
  cleanedUp = true;
  stopAll();
  rmSync(work, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}
const deadline = setTimeout(() => {
  process.stderr.write(`bench/tftp: still running after ${RUN_DEADLINE_MS / 60_000} min, giving up\n`);
  cleanup();
  process.exit(3);
}, RUN_DEADLINE_MS);
deadline.unref();

const pinCpu = String(cpus().length - 1);
const pinned = (mode: PinMode, cmd: string, argv: readonly string[]): [string, string[]] =>
  mode === 'same' ? [tools.taskset as string, ['-c', pinCpu, cmd, ...argv]] : [cmd, [...argv]];

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Resolves once the server answers an RRQ for a missing file with an ERROR. */
async function waitReady(port: number, child: ChildProcess, name: string): Promise<void> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, HOST, () => r()));
  try {
    const until = Date.now() + 10_000;
    let answered = false;
    s.on('message', () => (answered = true));
    while (!answered) {
      if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
      if (Date.now() > until) throw new Error(`${name} did not answer on ${HOST}:${port} within 10 s`);
      s.send(Buffer.from('\0\x01bench-ready-probe\0octet\0', 'latin1'), port, HOST);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
}

interface Server {
  readonly name: ServerName;
  readonly port: number;
  readonly child: ChildProcess;
}

async function startServer(name: ServerName, mode: PinMode): Promise<Server> {
  const port = await freePort();
  let cmd: string;
  let argv: string[];
  switch (name) {
    case 'rackboot':
      cmd = process.execPath;
      argv = ['--import', 'tsx', join(REPO, 'bench', 'tftp', 'serve.ts'), '--root', root, '--address', HOST, '--port', String(port), '--max-transfers', '2000', '--max-per-client', '2000'];
      break;
    case 'node-floor':
      cmd = process.execPath;
      argv = ['--import', 'tsx', join(REPO, 'bench', 'tftp', 'floor.ts'), '--root', root, '--address', HOST, '--port', String(port)];
      break;
    case 'tftpd-hpa':
      cmd = tools.tftpdHpa as string;
      argv = ['-L', '-a', `${HOST}:${port}`, '-s', root, ...(isRoot ? ['-u', 'nobody'] : [])];
      break;
    case 'atftpd':
      cmd = tools.atftpd as string;
      argv = ['--daemon', '--no-fork', '--port', String(port), '--bind-address', HOST, '--logfile', '/dev/null', '--maxthread', '2000', ...(isRoot ? ['--user', 'nobody', '--group', 'nogroup'] : []), root];
      break;
  }
  const [c, a] = pinned(mode, cmd, argv);
  const child = spawn(c, a, { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  try {
    await waitReady(port, child, name);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${stderr}`, { cause: err });
  }
  return { name, port, child };
}

async function stopServer(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
  started.delete(child);
}

/** utime+stime(+children) of a PID, in clock ticks; null when unreadable. */
function cpuTicks(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11..14] are utime, stime, cutime, cstime (stat fields 14-17).
    return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i] ?? 0), 0);
  } catch {
    return null;
  }
}
const TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

function run(mode: PinMode, cmd: string, argv: readonly string[]): Promise<RunResult> {
  const [c, a] = pinned(mode, cmd, argv);
  const t0 = process.hrtime.bigint();
  return new Promise((resolveRun) => {
    execFile(c, a, { timeout: CLIENT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolveRun({ code, stdout, stderr, seconds });
    });
  });
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

// ------------------------------------------------------------------ scenarios

interface Scenario {
  readonly id: string;
  readonly label: string;
  readonly file: FileName;
  /** Servers that take part; all when absent. */
  readonly servers?: readonly ServerName[];
  /** Bytes moved per measurement and the seconds it took. */
  measure(server: Server, mode: PinMode, check: boolean): Promise<{ bytes: number; seconds: number }>;
}

function fail(what: string, r: RunResult): never {
  throw new Error(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
}

let outCounter = 0;

function curlScenario(file: FileName, blksize: number): Scenario {
  return {
    id: `curl-${blksize}-${file}`,
    label: `curl, blksize ${blksize}, no window, ${FILES[file] / MB} MB`,
    file,
    async measure(server, mode, check) {
      const local = join(out, `${outCounter++}.bin`);
      const url = `tftp://${HOST}:${server.port}/${file}`;
      const r = await run(mode, CURL, ['-sS', '--tftp-blksize', String(blksize), '-w', '%{time_total} %{size_download}', '-o', local, url]);
      if (r.code !== 0) fail(`curl ${url}`, r);
      const [time, size] = r.stdout.trim().split(' ').map(Number);
      if (size !== FILES[file]) throw new Error(`curl ${url}: ${size} bytes, expected ${FILES[file]}`);
      if (check && sha256File(local) !== digests.get(file)) throw new Error(`curl ${url}: content differs`);
      rmSync(local, { force: true });
      return { bytes: FILES[file], seconds: time ?? r.seconds };
    },
  };
}

function atftpScenario(file: FileName): Scenario {
  return {
    id: `atftp-w8-${file}`,
    servers: COMPETITORS,
    label: `atftp, blksize 1468 + windowsize 8, ${FILES[file] / MB} MB`,
    file,
    async measure(server, mode, check) {
      const local = join(out, `${outCounter++}.bin`);
      const r = await run(mode, ATFTP, ['--option', 'blksize 1468', '--option', 'windowsize 8', '-g', '-r', file, '-l', local, HOST, String(server.port)]);
      if (r.code !== 0) fail(`atftp ${server.name} ${file}`, r);
      const data = readFileSync(local);
      if (data.length !== FILES[file]) throw new Error(`atftp ${server.name} ${file}: ${data.length} bytes, expected ${FILES[file]}`);
      if (check && createHash('sha256').update(data).digest('hex') !== digests.get(file)) throw new Error(`atftp ${server.name} ${file}: content differs`);
      rmSync(local, { force: true });
      return { bytes: FILES[file], seconds: r.seconds };
    },
  };
}

function swarmScenario(n: number): Scenario {
  return {
    id: `swarm-${n}`,
    servers: COMPETITORS,
    label: `${n} concurrent transfers of 1 MB (curl --parallel, blksize 1468), aggregate`,
    file: 'm1.bin',
    async measure(server, mode) {
      const url = `tftp://${HOST}:${server.port}/m1.bin`;
      const argv = ['--no-progress-meter', '-Z', '--parallel-max', String(n), '--tftp-blksize', '1468', '--max-time', '100', '-w', '%{size_download}\n'];
      for (let i = 0; i < n; i += 1) argv.push('-o', '/dev/null', url);
      const r = await run(mode, CURL, argv);
      const sizes = r.stdout.trim().split('\n').map(Number);
      const complete = sizes.filter((s) => s === FILES['m1.bin']).length;
      if (r.code !== 0 || complete !== n) throw new Error(`swarm against ${server.name}: ${complete}/${n} complete (exit ${r.code}) ${r.stderr.trim().slice(0, 300)}`);
      return { bytes: n * FILES['m1.bin'], seconds: r.seconds };
    },
  };
}

const scenarios: Scenario[] = [
  curlScenario('m1.bin', 512),
  curlScenario('m30.bin', 512),
  curlScenario('m1.bin', 1468),
  curlScenario('m30.bin', 1468),
  atftpScenario('m1.bin'),
  atftpScenario('m30.bin'),
  swarmScenario(swarmSize),
];

interface Cell {
  /** MB/s of each repetition. */
  readonly rates: number[];
  /** Server CPU seconds per 100 MB moved, or null when not measurable (tftpd-hpa's children are not reaped into cutime). */
  cpuPer100MB: number | null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}

async function benchMode(mode: PinMode): Promise<Map<string, Map<ServerName, Cell>>> {
  const servers: Server[] = [];
  for (const name of SERVERS) servers.push(await startServer(name, mode));
  const results = new Map<string, Map<ServerName, Cell>>();
  try {
    // A freshly started Node process runs its first megabytes through V8's unoptimised tiers
    // (the first 1 MB transfers take 2x longer); a provisioning server runs for days. Every server
    // gets the same untimed warm-up: the 30 MB file once at blksize 512.
    for (const server of servers) await curlScenario('m30.bin', 512).measure(server, mode, true);
    for (const scenario of scenarios) {
      const names = scenario.servers ?? SERVERS;
      const taking = servers.filter((s) => names.includes(s.name));
      const cells = new Map<ServerName, Cell>(names.map((n) => [n, { rates: [], cpuPer100MB: null }]));
      const cpu = new Map<ServerName, { ticks: number; bytes: number } | null>(names.map((n) => [n, { ticks: 0, bytes: 0 }]));
      // One untimed warm-up per server (file caches, JIT), then interleaved repetitions.
      for (const server of taking) await scenario.measure(server, mode, true);
      const scenarioReps = scenario.id.startsWith('swarm') || scenario.file === 'm30.bin' ? Math.max(1, Math.ceil(reps / 2) + 1) : reps;
      for (let rep = 0; rep < scenarioReps; rep += 1) {
        const order = taking.map((_, i) => taking[(i + rep) % taking.length] as Server);
        for (const server of order) {
          const before = cpuTicks(server.child.pid);
          const { bytes, seconds } = await scenario.measure(server, mode, false);
          await new Promise((r) => setTimeout(r, 50)); // let the server account its last ACK
          const after = cpuTicks(server.child.pid);
          cells.get(server.name)?.rates.push(bytes / MB / seconds);
          const acc = cpu.get(server.name);
          if (acc && before !== null && after !== null) {
            acc.ticks += after - before;
            acc.bytes += bytes;
          } else {
            cpu.set(server.name, null);
          }
        }
      }
      for (const name of names) {
        const acc = cpu.get(name);
        const cell = cells.get(name);
        if (cell && acc && acc.ticks > 0) cell.cpuPer100MB = acc.ticks / TICKS_PER_S / (acc.bytes / (100 * MB));
      }
      results.set(scenario.id, cells);
      const line = names.map((n) => `${n} ${median(cells.get(n)?.rates ?? []).toFixed(1)}`).join(', ');
      process.stdout.write(`[pin ${mode}] ${scenario.label}: ${line} MB/s\n`);
    }
  } finally {
    for (const server of servers) await stopServer(server);
  }
  return results;
}

// ------------------------------------------------------------------ report

function machine(): string[] {
  const cpuInfo = cpus();
  const kernel = spawnSync('uname', ['-sr'], { encoding: 'utf8' }).stdout.trim();
  let os = '';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    os = '';
  }
  return [
    `- CPU: ${cpuInfo[0]?.model ?? 'unknown'}, ${cpuInfo.length} logical CPUs; memory ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- OS: ${os}, kernel ${kernel}`,
    `- Node ${process.version}; rackboot from this tree (bench/tftp/serve.ts, run through tsx)`,
    `- tftpd-hpa: ${versionOf(tools.tftpdHpa as string, '-V')} (\`in.tftpd -L -a ${HOST}:PORT -s ROOT${isRoot ? ' -u nobody' : ''}\`)`,
    `- atftpd: ${versionOf(tools.atftpd as string, '-V')} (\`atftpd --daemon --no-fork --maxthread 2000 ...\`)`,
    `- clients: ${versionOf(CURL, '--version').split(' ').slice(0, 2).join(' ')}, ${versionOf(ATFTP, '-V')}`,
  ];
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

function report(all: Map<PinMode, Map<string, Map<ServerName, Cell>>>, loadBefore: string, loadAfter: string): string {
  const lines: string[] = [
    '# TFTP throughput: rackboot vs tftpd-hpa vs atftpd',
    '',
    `Generated by \`bench/tftp/run.ts\` on ${new Date().toISOString()}. Loopback (${HOST}) only. MB = 10^6 bytes.`,
    `Median of ${reps} interleaved repetitions (30 MB and swarm rows: ${Math.max(1, Math.ceil(reps / 2) + 1)}), after an untimed warm-up of every server (30 MB once, then one run of each scenario).`,
    '',
    '## Machine',
    '',
    ...machine(),
    `- load average before/after: ${loadBefore} / ${loadAfter} (the machine is shared: other work runs at the same time)`,
    '',
    'Pinning: **same** = `taskset -c ' + pinCpu + '` for the server and the client (CPU cost per packet decides);',
    '**none** = no pinning (a round trip between two CPUs costs ~53 µs on this VM, so lock-step is latency-bound).',
    'curl rows time the transfer (`%{time_total}`), atftp rows the client process, swarm rows the whole `curl --parallel` run.',
    'tftpd-hpa does not implement windowsize: in the atftp rows it runs lock-step.',
    'node-floor (bench/tftp/floor.ts) is a reference, not a server: the leanest lock-step sender on Node\'s dgram (prebuilt',
    'packets, no timers, no checks), run in the lock-step rows only. node-floor / tftpd-hpa is what the runtime allows;',
    'rackboot / node-floor is what rackboot\'s own code costs on top.',
    '',
  ];
  for (const [mode, results] of all) {
    lines.push(
      `## Pinning: ${mode}`,
      '',
      '| scenario | rackboot MB/s | tftpd-hpa MB/s | atftpd MB/s | rackboot / tftpd-hpa | rackboot / atftpd | node-floor MB/s | rackboot / node-floor | node-floor / tftpd-hpa | server CPU s per 100 MB (rackboot / atftpd / node-floor) |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    for (const scenario of scenarios) {
      const cells = results.get(scenario.id);
      if (!cells) continue;
      const m = (n: ServerName): number => median(cells.get(n)?.rates ?? []);
      const cpuText = (n: ServerName): string => {
        const v = cells.get(n)?.cpuPer100MB;
        return v === null || v === undefined ? 'n/a' : v.toFixed(2);
      };
      const floor = cells.has('node-floor');
      const floorCells = floor ? `${m('node-floor').toFixed(1)} | ${ratio(m('rackboot'), m('node-floor'))} | ${ratio(m('node-floor'), m('tftpd-hpa'))}` : '- | - | -';
      lines.push(
        `| ${scenario.label} | ${m('rackboot').toFixed(1)} | ${m('tftpd-hpa').toFixed(1)} | ${m('atftpd').toFixed(1)} | ${ratio(m('rackboot'), m('tftpd-hpa'))} | ${ratio(m('rackboot'), m('atftpd'))} | ${floorCells} | ${cpuText('rackboot')} / ${cpuText('atftpd')}${floor ? ` / ${cpuText('node-floor')}` : ''} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

const loadBefore = loadAverage();
process.stdout.write(`bench/tftp: servers rackboot, tftpd-hpa (${tools.tftpdHpa}), atftpd, node-floor (reference); pin ${pinModes.join('+')}; reps ${reps}; swarm ${swarmSize}; load ${loadBefore}\n`);
const all = new Map<PinMode, Map<string, Map<ServerName, Cell>>>();
try {
  for (const mode of pinModes) all.set(mode, await benchMode(mode));
} finally {
  stopAll();
}
const markdown = report(all, loadBefore, loadAverage());
mkdirSync(dirname(args.out), { recursive: true });
writeFileSync(args.out, `${markdown}\n`);
process.stdout.write(`\n${markdown}\nwritten to ${args.out}\n`);
cleanup();
