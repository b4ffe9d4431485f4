/**
 * DHCP benchmark: perfdhcp (Kea) against rackboot and against dnsmasq, in the same run, inside
 * network namespaces this script creates (nothing touches a host interface). Prints DORA/s and
 * latency ratios and writes a markdown table to bench/results/dhcp.md.
 *
 *   sudo npm run bench:dhcp -- [--clients 2000] [--period 3] [--rates 250,500,1000,...] [--rounds 2]
 *                               [--servers rackboot,dnsmasq-ro,dnsmasq] [--out bench/results/dhcp.md]
 *
 * Every server answers the same N static reservations (rackboot: N machines in its inventory;
 * dnsmasq: a dhcp-hostsfile with the same MAC -> IP pairs), with ping checks off. perfdhcp acts as
 * a relay (giaddr = its address), picks a MAC from the same list for every exchange, and runs a
 * ladder of target rates for `period` seconds each; a step is "clean" when at least 99% of its
 * 4-way exchanges completed at 97% or more of the target rate. The ladder stops after two saturated
 * steps. The servers take turns for `rounds` rounds (other load on the machine drifts; each server's
 * best round is reported). Bounded: every perfdhcp run has a timeout, the whole run a deadline.
 *
 * Needs root, iproute2, perfdhcp (Debian kea-admin) and dnsmasq (Debian dnsmasq-base).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLabNetwork, sweepStaleLabNetworks, uniqueLabName, type LabNetwork } from '../../server/lab/netns.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import type { LabProcess } from '../../server/lab/process.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    period: { type: 'string', default: '3' },
    rates: { type: 'string', default: '250,500,1000,2000,3000,4000,5000,6000,7000,8000,10000,12000' },
    rounds: { type: 'string', default: '2' },
    servers: { type: 'string', default: 'rackboot,dnsmasq-ro,dnsmasq' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'dhcp.md') },
    'deadline-seconds': { type: 'string', default: '480' },
    profile: { type: 'string' },
  },
});
const CLIENTS = Math.min(Math.max(Number(values.clients), 10), 40_000);
const PERIOD = Math.min(Math.max(Number(values.period), 1), 30);
const RATES = values.rates.split(',').map(Number).filter((r) => r > 0 && r <= 50_000);
const SERVERS = values.servers.split(',') as ServerKind[];
const ROUNDS = Math.min(Math.max(Number(values.rounds), 1), 5);
const DEADLINE = Date.now() + Number(values['deadline-seconds']) * 1000;
const SUBNET = '10.97.0.0/16';
const SERVER_IP = '10.97.0.1';
const PERF_IP = '10.97.0.2';

type ServerKind = 'rackboot' | 'dnsmasq' | 'dnsmasq-ro';
const LABEL: Record<ServerKind, string> = {
  rackboot: 'rackboot (SQLite WAL, lease + event per ACK)',
  'dnsmasq-ro': 'dnsmasq --leasefile-ro',
  dnsmasq: 'dnsmasq (default: lease file rewritten)',
};

interface Exchange {
  sent: number;
  received: number;
  drops: number;
  avgMs: number;
  maxMs: number;
}
interface Step {
  target: number;
  rate: number;
  discover: Exchange;
  request: Exchange;
  completed: number;
  clean: boolean;
}
interface ServerResult {
  kind: ServerKind;
  round: number;
  steps: Step[];
  bestClean: number;
  ceiling: number;
  notes: string[];
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function prerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  const missing = ['ip', 'perfdhcp', ...(SERVERS.some((s) => s.startsWith('dnsmasq')) ? ['dnsmasq'] : [])].filter((t) => !findExecutable(t));
  return missing.length > 0 ? `not installed: ${missing.join(', ')} (Debian: iproute2 kea-admin dnsmasq-base)` : null;
}

/** i-th client: MAC 52:54:10:xx:yy:zz, IP 10.97.(1 + i/250).(1 + i%250). */
function client(i: number): { mac: string; ip: string } {
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return { mac: `52:54:10:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`, ip: `10.97.${1 + Math.floor(i / 250)}.${1 + (i % 250)}` };
}

function parsePerfdhcp(text: string): { rate: number; discover: Exchange; request: Exchange } {
  const section = (name: string): Exchange => {
    const at = text.indexOf(`***Statistics for: ${name}***`);
    const body = at === -1 ? '' : text.slice(at, text.indexOf('***Statistics for', at + 10) === -1 ? undefined : text.indexOf('***Statistics for', at + 10));
    const num = (re: RegExp): number => Number(re.exec(body)?.[1] ?? NaN);
    return {
      sent: num(/sent packets: (\d+)/),
      received: num(/received packets: (\d+)/),
      drops: num(/drops: (\d+)/),
      avgMs: num(/avg delay: ([\d.]+) ms/),
      maxMs: num(/max delay: ([\d.]+) ms/),
    };
  };
  return { rate: Number(/Rate: ([\d.]+) 4-way/.exec(text)?.[1] ?? 0), discover: section('DISCOVER-OFFER'), request: section('REQUEST-ACK') };
}

async function perfdhcp(lab: LabNetwork, peerExec: LabNetwork['exec'], macFile: string, rate: number, period: number): Promise<Step> {
  const args = ['-4', '-l', PERF_IP, '-r', String(rate), '-p', String(period), '-R', String(CLIENTS), '-M', macFile, SERVER_IP];
  const result = await peerExec('perfdhcp', args, { timeoutMs: (period + 20) * 1000, allowFailure: true });
  const parsed = parsePerfdhcp(result.stdout + result.stderr);
  const completed = parsed.request.received;
  const attempted = Math.max(parsed.discover.sent, 1);
  const achieved = completed / period;
  void lab;
  return {
    target: rate,
    rate: Math.round(achieved),
    discover: parsed.discover,
    request: parsed.request,
    completed,
    clean: completed / attempted >= 0.99 && achieved >= rate * 0.97,
  };
}

async function startServer(kind: ServerKind, lab: LabNetwork, work: string): Promise<LabProcess> {
  if (kind === 'rackboot') {
    const config = join(work, 'rackboot.yaml');
    writeFileSync(config, `dataDir: ${join(work, 'rackboot-data')}
log: { level: warn }
server: { address: ${SERVER_IP} }
http: { listen: ${SERVER_IP}, port: 8080 }
tftp: { enabled: false }
dhcp:
  enabled: true
  subnets: [{ cidr: ${SUBNET}, leaseSeconds: 3600 }]
`);
    const prof = values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [];
    const proc = await lab.spawn(process.execPath, [...prof, '--import', 'tsx', join(ROOT, 'bench', 'dhcp', 'serve.ts'), '--config', config, '--machines', join(work, 'hosts.txt')], { cwd: ROOT });
    await proc.waitForOutput(/"ready":/, 60_000);
    return proc;
  }
  const leases = join(work, `${kind}.leases`);
  writeFileSync(leases, '');
  const args = [
    '--keep-in-foreground', '--port=0', '--no-resolv', '--no-hosts', '--dhcp-authoritative', '--no-ping',
    '--dhcp-lease-max=100000', `--dhcp-leasefile=${leases}`, '--quiet-dhcp', `--log-facility=${join(work, `${kind}.log`)}`,
    '--pid-file=', '--user=root', '--group=root', `--interface=${lab.bridge}`,
    `--dhcp-range=10.97.0.0,static,255.255.0.0,1h`, `--dhcp-hostsfile=${join(work, 'hosts.txt')}`,
    ...(kind === 'dnsmasq-ro' ? ['--leasefile-ro'] : []),
  ];
  const proc = await lab.spawn(findExecutable('dnsmasq') ?? 'dnsmasq', args);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    let text = '';
    try {
      text = readFileSync(join(work, `${kind}.log`), 'utf8');
    } catch {
      // not yet
    }
    if (/read .*hosts\.txt/.test(text)) return proc;
    if (proc.exitStatus) throw new Error(`dnsmasq exited: ${proc.output()} ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('dnsmasq did not start within 10 s');
}

async function benchServer(kind: ServerKind, round: number, lab: LabNetwork, peerExec: LabNetwork['exec'], work: string): Promise<ServerResult> {
  const result: ServerResult = { kind, round, steps: [], bestClean: 0, ceiling: 0, notes: [] };
  const proc = await startServer(kind, lab, work);
  try {
    await perfdhcp(lab, peerExec, join(work, 'macs.txt'), 300, 1); // warm-up (JIT, caches)
    for (const rate of RATES) {
      if (Date.now() + (PERIOD + 20) * 1000 > DEADLINE) {
        result.notes.push(`stopped at ${rate}/s: run deadline`);
        break;
      }
      const step = await perfdhcp(lab, peerExec, join(work, 'macs.txt'), rate, PERIOD);
      result.steps.push(step);
      log(`${kind.padEnd(10)} round ${round} target ${String(rate).padStart(6)}/s -> ${String(step.rate).padStart(6)} DORA/s, drops DO ${step.discover.drops} RA ${step.request.drops}, avg ${step.discover.avgMs} / ${step.request.avgMs} ms${step.clean ? '' : '  (saturated)'}`);
      if (result.steps.filter((st) => !st.clean).length >= 2) break;
    }
  } finally {
    proc.signal('SIGTERM');
    await proc.stop(5000).catch(() => {});
    if (kind === 'rackboot') {
      const stats = /\{"stats":(.*)\}\s*$/m.exec(proc.output())?.[1];
      if (stats) {
        const s = JSON.parse(stats) as { received: number; replied: number; ignored: number; errors: number; malformed: number };
        result.notes.push(`listener: received ${s.received}, replied ${s.replied}, ignored ${s.ignored}, errors ${s.errors}, malformed ${s.malformed}`);
      }
    }
  }
  // The highest clean step below the first saturation (a lucky clean step above it does not count).
  const firstSaturated = result.steps.findIndex((st) => !st.clean);
  const below = firstSaturated === -1 ? result.steps : result.steps.slice(0, firstSaturated);
  result.bestClean = Math.max(0, ...below.map((s) => s.rate));
  result.ceiling = Math.max(0, ...result.steps.map((s) => s.rate));
  return result;
}

function machineDescription(): string[] {
  const cpu = cpus();
  const version = (cmd: string, args: string[]): string => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '?';
    } catch {
      return '?';
    }
  };
  let os = '?';
  try {
    os = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? '?';
  } catch {
    // keep '?'
  }
  return [
    `- CPU: ${cpu[0]?.model ?? '?'}, ${cpu.length} cores visible; memory ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: ${os}, kernel ${release()}; Node ${process.version}; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine competes for the cores)`,
    `- ${version('dnsmasq', ['--version'])}; perfdhcp ${version('perfdhcp', ['-v']).replace('VERSION: ', '')}`,
    `- Topology: two network namespaces joined by a veth through a bridge; perfdhcp is the relay (giaddr ${PERF_IP}), the server listens on ${SERVER_IP}.`,
    `- ${CLIENTS} clients (static reservations, the same MAC -> IP list for every server), ${PERIOD} s per step, ping checks off.`,
  ];
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** Each server's best round: highest clean rate, then highest rate reached. */
function best(rounds: readonly ServerResult[]): ServerResult[] {
  const out: ServerResult[] = [];
  for (const kind of SERVERS) {
    const mine = rounds.filter((r) => r.kind === kind).sort((a, b) => b.bestClean - a.bestClean || b.ceiling - a.ceiling);
    if (mine[0]) out.push(mine[0]);
  }
  return out;
}

function report(rounds: ServerResult[]): string {
  const results = best(rounds);
  const by = (k: ServerKind): ServerResult | undefined => results.find((r) => r.kind === k);
  const rb = by('rackboot');
  const ro = by('dnsmasq-ro');
  const def = by('dnsmasq');
  const lines: string[] = ['# DHCP benchmark: rackboot vs dnsmasq (perfdhcp)', '', `Run ${new Date().toISOString()} with \`npm run bench:dhcp\`.`, '', ...machineDescription(), ''];
  const refRate = 1000;
  const at = (r: ServerResult): Step | undefined => r.steps.find((s) => s.target === refRate) ?? r.steps[0];
  lines.push(`Best of ${ROUNDS} rounds per server (servers take turns).`, '');
  lines.push(`| server | best clean rate (DORA/s) | highest rate reached | DISCOVER-OFFER avg / max ms at ${refRate}/s | REQUEST-ACK avg / max ms at ${refRate}/s |`, '|---|---:|---:|---:|---:|');
  for (const r of results) {
    const s = at(r);
    lines.push(`| ${LABEL[r.kind]} (round ${r.round}) | ${r.bestClean} | ${r.ceiling} | ${s ? `${s.discover.avgMs} / ${s.discover.maxMs}` : '-'} | ${s ? `${s.request.avgMs} / ${s.request.maxMs}` : '-'} |`);
  }
  lines.push('');
  if (rb && ro) {
    const latency = (r: ServerResult): number => (at(r)?.discover.avgMs ?? NaN) + (at(r)?.request.avgMs ?? NaN);
    lines.push(`- rackboot / dnsmasq --leasefile-ro: clean rate ${ratio(rb.bestClean, ro.bestClean)}, highest rate ${ratio(rb.ceiling, ro.ceiling)}, DORA latency at ${refRate}/s ${ratio(latency(rb), latency(ro))} (lower is better).`);
  }
  if (rb && def) lines.push(`- rackboot / dnsmasq default: clean rate ${ratio(rb.bestClean, def.bestClean)}, highest rate ${ratio(rb.ceiling, def.ceiling)}.`);
  lines.push('', '## Steps (every round)', '', '| server | round | target/s | DORA/s | DISCOVER drops | REQUEST drops | DO avg ms | RA avg ms | RA max ms | clean |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rounds) {
    for (const s of r.steps) {
      lines.push(`| ${r.kind} | ${r.round} | ${s.target} | ${s.rate} | ${s.discover.drops} | ${s.request.drops} | ${s.discover.avgMs} | ${s.request.avgMs} | ${s.request.maxMs} | ${s.clean ? 'yes' : 'no'} |`);
    }
  }
  const notes = rounds.flatMap((r) => r.notes.map((n) => `- ${r.kind} round ${r.round}: ${n}`));
  if (notes.length > 0) lines.push('', '## Notes', '', ...notes);
  lines.push('', 'Durability: rackboot commits each ACK (lease row, event row, machine state) in one SQLite transaction',
    '(WAL, synchronous=NORMAL: survives a process crash; an OS crash may lose the last commits) before the reply is sent.',
    'dnsmasq --leasefile-ro keeps leases in memory only; dnsmasq default rewrites its lease file on every change.', '');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const reason = prerequisites();
  if (reason) {
    log(`bench:dhcp skipped: ${reason}`);
    return 0;
  }
  await sweepStaleLabNetworks('rbbench');
  const lab = await createLabNetwork({ name: uniqueLabName('rbbench'), subnet: SUBNET, radvd: false, log });
  const stop = (): void => {
    void lab.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const peer = await lab.addPeer('perf', { address: `${PERF_IP}/16` });
    const work = lab.workDir;
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(i));
    writeFileSync(join(work, 'macs.txt'), `${clients.map((c) => c.mac).join('\n')}\n`);
    writeFileSync(join(work, 'hosts.txt'), `${clients.map((c) => `${c.mac},${c.ip}`).join('\n')}\n`);
    const rounds: ServerResult[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const kind of SERVERS) {
        if (!(kind in LABEL)) throw new Error(`unknown server ${kind}`);
        if (Date.now() + 30_000 > DEADLINE) break;
        rounds.push(await benchServer(kind, round, lab, peer.exec, work));
      }
    }
    const text = report(rounds);
    mkdirSync(dirname(values.out), { recursive: true });
    writeFileSync(values.out, text);
    process.stdout.write(`${text}\nwritten to ${values.out}\n`);
    return 0;
  } finally {
    await lab.destroy();
  }
}

process.exitCode = await main();
