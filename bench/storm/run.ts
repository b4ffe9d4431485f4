/**
 * Boot-storm benchmark: N simulated machines (100, 1,000, 10,000 by default) through DHCP, TFTP,
 * the iPXE scripts, kernel + initrd, cloud-config and callbacks, against a rackboot process in a
 * network namespace. Prints per-step p50/p99, wall time, rackboot's CPU seconds and peak RSS.
 *
 *   node --import tsx bench/storm/run.ts [--n 100,1000,10000] [--ramp-ms-per-1000 1000]
 *        [--deadline-s 600] [--log-level info] [--cpu-prof] [--think-ms 0]
 *
 * Root only (namespaces). Each N runs in a fresh lab and a fresh database, bounded by the deadline.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CpuSampler, cpuSeconds, describeMachine, loadNow, machineLine, memoryUse } from '../lib/proc.js';
import { startClock, writeResult, RESULTS_DIR, type BenchRow } from '../lib/results.js';
import { markdownTable, ms } from '../lib/stats.js';
import { compileServer, removeCompiledServer, StormLab, stormPrereqs } from '../lib/storm-lab.js';
import { STEPS, type StormReport } from './plan.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '100,1000,10000' },
    'ramp-ms-per-1000': { type: 'string', default: '1000' },
    'deadline-s': { type: 'string', default: '900' },
    'log-level': { type: 'string', default: 'info' },
    'cpu-prof': { type: 'boolean', default: false },
    'think-ms': { type: 'string', default: '0' },
    'max-boots': { type: 'string', default: '20' },
    'reboot-ms': { type: 'string', default: '15000' },
    'tftp-max-transfers': { type: 'string' },
    tsx: { type: 'boolean', default: false },
  },
});

const missing = stormPrereqs();
if (missing) {
  process.stderr.write(`storm bench skipped: ${missing}\n`);
  process.exit(0);
}

interface RunResult {
  readonly n: number;
  readonly report: StormReport;
  readonly serverCpuS: number;
  readonly serverPeakCore: number;
  readonly serverPeakRssMiB: number;
  readonly clientPeakRssMiB: number;
  readonly load: string;
  readonly rampMs: number;
  /** Datagrams the kernel dropped because a socket's receive buffer was full. */
  readonly udpDrops: { readonly server: number; readonly client: number };
  /** The same on rackboot's sockets still open at the end, by service. */
  readonly socketDrops: { readonly dhcp: number; readonly tftpListener: number; readonly other: number };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);
const finish = startClock('storm');
const counts = values.n.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n) && n > 0 && n <= 20_000);
const think = Number(values['think-ms']);
const profileDir = join(RESULTS_DIR, 'profiles');
let current: StormLab | undefined;
const compiledCli = values.tsx ? undefined : compileServer();
process.on('exit', () => removeCompiledServer());

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: tearing the lab down`);
    void (current?.destroy() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function runOnce(n: number): Promise<RunResult> {
  const rampMs = Math.round((n * Number(values['ramp-ms-per-1000'])) / 1000);
  const deadlineMs = Number(values['deadline-s']) * 1000;
  log(`\n== storm: ${n} machines, power-on over ${rampMs} ms, deadline ${deadlineMs / 1000} s; load ${loadNow()}`);
  const tftpMax = values['tftp-max-transfers'] === undefined ? {} : { tftpMaxTransfers: Number(values['tftp-max-transfers']) };
  const lab = await StormLab.create({ machines: n, logLevel: values['log-level'], log, ...tftpMax });
  current = lab;
  try {
    if (values['cpu-prof']) mkdirSync(profileDir, { recursive: true });
    // One profile per thread (tsx's loader runs in a worker): the main thread's is the large one.
    const nodeArgs = values['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, `storm-${n}-${Date.now()}`)}`] : [];
    const { proc } = await lab.startServer({ nodeArgs, ...(compiledCli ? { compiledCli } : {}) });
    const sampler = new CpuSampler(proc.pid).start();
    const client = await lab.startClient({
      rampMs,
      deadlineMs,
      thinkMs: { afterFirmware: think, afterKernel: think, beforeInstalled: think },
      retry: { maxBoots: Number(values['max-boots']), rebootMs: Number(values['reboot-ms']) },
    });
    const clientSampler = new CpuSampler(client.proc.pid).start();
    const progress = setInterval(() => {
      const p = client.progress();
      log(`  ${p.installed}/${n} installed, ${p.failed} failed; rackboot ${(cpuSeconds(proc.pid) ?? 0).toFixed(1)} CPU s, RSS ${memoryUse(proc.pid)?.rssMiB.toFixed(0)} MiB; load ${loadNow()}`);
    }, 5000);
    let clientMem = 0;
    const memTimer = setInterval(() => (clientMem = Math.max(clientMem, memoryUse(client.proc.pid)?.peakRssMiB ?? 0)), 1000);
    const report = await client.report.finally(() => {
      clearInterval(progress);
      clearInterval(memTimer);
    });
    const cpu = sampler.stop();
    clientSampler.stop();
    const mem = memoryUse(proc.pid);
    const drops = await lab.udpDrops();
    const socketDrops = await lab.serverSocketDrops();
    await proc.stop(10_000);
    return {
      n,
      report,
      serverCpuS: cpu.cpuSeconds,
      serverPeakCore: cpu.peakCoreShare,
      serverPeakRssMiB: mem?.peakRssMiB ?? NaN,
      clientPeakRssMiB: clientMem,
      load: loadNow(),
      rampMs,
      udpDrops: drops,
      socketDrops,
    };
  } finally {
    current = undefined;
    await lab.destroy();
  }
}

const results: RunResult[] = [];
for (const n of counts) {
  try {
    results.push(await runOnce(n));
    const r = results.at(-1);
    if (r) log(summaryLine(r));
  } catch (error) {
    log(`storm with ${n} machines failed: ${(error as Error).stack ?? String(error)}`);
  }
}

function summaryLine(r: RunResult): string {
  return `${r.n} machines: ${r.report.installed} installed, ${r.report.failed} failed, ${r.report.unfinished} unfinished in ${(r.report.wallMs / 1000).toFixed(1)} s; rackboot ${r.serverCpuS.toFixed(1)} CPU s (peak ${(r.serverPeakCore * 100).toFixed(0)}% of a core), peak RSS ${r.serverPeakRssMiB.toFixed(0)} MiB; client ${r.report.clientCpuSeconds.toFixed(1)} CPU s`;
}

const overview = markdownTable(
  ['machines', 'installed', 'wall s', 'rackboot CPU s', 'CPU ms/machine', 'peak core', 'rackboot peak RSS MiB', 'client CPU s', 'power-on ramp ms', 'load after'],
  results.map((r) => [
    String(r.n),
    `${r.report.installed}/${r.n}`,
    (r.report.wallMs / 1000).toFixed(2),
    r.serverCpuS.toFixed(1),
    ((r.serverCpuS * 1000) / r.n).toFixed(1),
    `${(r.serverPeakCore * 100).toFixed(0)}%`,
    r.serverPeakRssMiB.toFixed(0),
    r.report.clientCpuSeconds.toFixed(1),
    String(r.rampMs),
    r.load,
  ]),
);
const stepTable = markdownTable(
  ['step', ...results.flatMap((r) => [`p50 ms (${r.n})`, `p99 ms (${r.n})`])],
  STEPS.map((step) => [step, ...results.flatMap((r) => [ms(r.report.steps[step]?.p50 ?? NaN), ms(r.report.steps[step]?.p99 ?? NaN)])]),
);
const counterNames = [...new Set(results.flatMap((r) => Object.keys(r.report.counters)))].sort();
const counterTable = markdownTable(
  ['counter', ...results.map((r) => String(r.n))],
  [
    ...counterNames.map((c) => [c, ...results.map((r) => String(r.report.counters[c] ?? 0))]),
    ['UDP receive-buffer drops, rackboot namespace', ...results.map((r) => String(r.udpDrops.server))],
    ['  of which on the DHCP socket (67)', ...results.map((r) => String(r.socketDrops.dhcp))],
    ['  of which on the TFTP listener (69)', ...results.map((r) => String(r.socketDrops.tftpListener))],
    ['UDP receive-buffer drops, client namespace', ...results.map((r) => String(r.udpDrops.client))],
  ],
);
const errorLines = results.flatMap((r) => r.report.errors.map((e) => `- N=${r.n}: ${e.count} x ${e.reason}`));

const details = [
  `## Boot storm (${new Date().toISOString()})`,
  '',
  `Machine: ${machineLine(describeMachine())}`,
  '',
  overview,
  '',
  'Per-step latency as the machines saw it (retries included):',
  '',
  stepTable,
  '',
  'Client-side counters:',
  '',
  counterTable,
  ...(errorLines.length > 0 ? ['', 'Errors (machines retry or reboot after most of them):', '', ...errorLines] : []),
].join('\n');
process.stdout.write(`${details}\n`);

const rows: BenchRow[] = results.flatMap((r) => [
  {
    scenario: `storm ${r.n} machines`,
    metric: 'wall time to all installed',
    unit: 's',
    rackboot: Math.round(r.report.wallMs / 10) / 100,
    ...(r.n === 1000 ? { goal: '< 10 s', goalMet: r.report.installed === r.n && r.report.wallMs < 10_000 } : {}),
    note: `${r.report.installed}/${r.n} installed, ${r.serverCpuS.toFixed(1)} CPU s`,
  },
  {
    scenario: `storm ${r.n} machines`,
    metric: 'rackboot peak RSS',
    unit: 'MiB',
    rackboot: Math.round(r.serverPeakRssMiB),
    ...(r.n === 1000 ? { goal: '< 200 MB', goalMet: r.serverPeakRssMiB * 1.048576 < 200 } : {}),
  },
]);
const notes = [`power-on ramp ${values['ramp-ms-per-1000']} ms per 1000 machines; log level ${values['log-level']}; rackboot ${compiledCli ? 'compiled (node dist-style)' : 'from source through tsx'}; up to ${values['max-boots']} boots per machine, ${values['reboot-ms']} ms per reboot; tftp.maxTransfers ${values['tftp-max-transfers'] ?? 'default'}`];
const path = writeResult('storm', finish(rows, notes, details));
log(`results: ${path}`);
