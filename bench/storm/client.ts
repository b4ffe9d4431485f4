/**
 * The storm load generator: plays every machine of a plan through the protocol path at once and
 * reports per-step latencies. Runs inside the client namespace (it binds UDP 68 and sends limited
 * broadcasts), started by bench/storm/run.ts or a test through `LabPeer.spawn`:
 *
 *   node --import tsx bench/storm/client.ts PLAN.json
 *
 * stdout: JSON lines (plan.ts `ClientLine`). stdin: `probe` starts a 10 ms DISCOVER loop for the
 * plan's probe machine and prints when it is answered (restart timing in the durability drill).
 * Bounded: it exits at `deadlineMs` whatever is left.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { summarize } from '../lib/stats.js';
import { DhcpClient } from './dhcp.js';
import { bootMachine, type MachineRun } from './machine.js';
import type { Ack, ClientLine, SimMachine, StepSummary, StormPlan, StormReport } from './plan.js';
import { newTftpCounters } from './tftp.js';

const planPath = process.argv[2];
if (planPath === undefined) {
  process.stderr.write('usage: client.ts PLAN.json\n');
  process.exit(2);
}
const plan = JSON.parse(readFileSync(planPath, 'utf8')) as StormPlan;

function emit(line: ClientLine): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

const dhcp = await DhcpClient.open(plan.dhcpPort);
const steps = new Map<string, number[]>();
const errors = new Map<string, number>();
const counters: Record<string, number> = {};
const tftp = newTftpCounters();
const started = performance.now();
const deadline = started + plan.deadlineMs;
let installed = 0;
let failed = 0;
let lastInstalledAt = started;

const run: MachineRun = {
  plan,
  dhcp,
  tftp,
  counters,
  deadline,
  step(name, ms) {
    let list = steps.get(name);
    if (list === undefined) steps.set(name, (list = []));
    list.push(ms);
  },
  ack(ack: Ack) {
    if (plan.reportAcks) emit({ t: 'ack', ack });
  },
  error(reason) {
    const key = reason.replace(/\b\d+(\.\d+){0,3}\b/g, 'N').slice(0, 160);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  },
};

emit({ t: 'ready', at: Date.now() });

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'probe' || plan.probe === undefined) return;
  const sentAt = Date.now();
  const probeMachine: SimMachine = { mac: plan.probe.mac, ip: '0.0.0.0', uuid: '00000000-0000-4000-8000-0000000000ff', firmware: 'bios' };
  dhcp.probe(probeMachine, 10, 30_000).then(
    (attempts) => emit({ t: 'probe', sentAt, answeredAt: Date.now(), attempts }),
    () => emit({ t: 'probe', sentAt, answeredAt: -1, attempts: -1 }),
  );
});

const progress = setInterval(() => emit({ t: 'progress', installed, failed, at: Date.now() }), 1000);

const machines = plan.machines;
const all = machines.map(async (machine, index) => {
  const at = machines.length > 1 ? (plan.rampMs * index) / machines.length : 0;
  await new Promise((resolve) => setTimeout(resolve, at));
  const ok = await bootMachine(machine, run);
  if (ok) {
    installed += 1;
    lastInstalledAt = performance.now();
  } else failed += 1;
});

let timedOut = false;
const overall = new Promise<void>((resolve) =>
  setTimeout(() => {
    timedOut = true;
    resolve();
  }, plan.deadlineMs + 2000).unref(),
);
await Promise.race([Promise.all(all).then(() => undefined), overall]);
clearInterval(progress);

const stepSummaries: Record<string, StepSummary> = {};
for (const [name, values] of steps) {
  const s = summarize(values);
  stepSummaries[name] = { count: s.count, p50: s.p50, p99: s.p99, max: s.max };
}
const cpu = process.cpuUsage();
const report: StormReport = {
  machines: machines.length,
  installed,
  failed,
  unfinished: machines.length - installed - failed,
  wallMs: (timedOut || installed < machines.length ? performance.now() : lastInstalledAt) - started,
  steps: stepSummaries,
  counters: {
    ...counters,
    dhcpSent: dhcp.counters.sent,
    dhcpRetransmits: dhcp.counters.retransmits,
    dhcpUnmatched: dhcp.counters.unmatched,
    tftpTransfers: tftp.transfers,
    tftpTimeouts: tftp.timeouts,
    tftpDuplicateBlocks: tftp.duplicateBlocks,
    tftpGapAcks: tftp.gapAcks,
    tftpServerErrors: tftp.errorsFromServer,
  },
  errors: [...errors.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 20)
    .map(([reason, n]) => ({ reason, count: n })),
  clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
};
emit({ t: 'report', report });
dhcp.close();
// Sockets still dallying or connections still open are not worth waiting for.
process.stdout.write('', () => process.exit(0));
