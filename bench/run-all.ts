/**
 * `npm run bench`: every benchmark, then one table of rackboot against its peers (nginx, dnsmasq,
 * tftpd-hpa...) in bench/results/summary.md, with the machine and its load described.
 *
 *   node --import tsx bench/run-all.ts [--quick] [--only storm,http,dhcp,tftp]
 *
 * Runs bench/storm and bench/http (this directory), and bench/dhcp/run.ts and bench/tftp/run.ts
 * when they exist. Each bench runs as its own process, bounded in time, with
 * RACKBOOT_BENCH_RESULT set to bench/results/<name>.json: a bench that writes the BenchResult shape
 * of bench/lib/results.ts there joins the table; otherwise the end of its output is quoted.
 * --quick: storm with 100 and 1,000 machines, one short round per HTTP scenario.
 * --only: run just those; the others keep their last results in the summary.
 * --summary-only: rebuild summary.md from the result files already in bench/results.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, machineLine } from './lib/proc.js';
import { readResult, RESULTS_DIR, type BenchResult } from './lib/results.js';
import { markdownTable } from './lib/stats.js';

const ROOT = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, 'summary-only': { type: 'boolean', default: false } },
});
const quick = values.quick;

interface BenchSpec {
  readonly name: string;
  readonly entry: string;
  readonly args: readonly string[];
  readonly timeoutS: number;
  /** Written by another engineer: run when present. */
  readonly optional: boolean;
  /** A markdown report the bench writes itself (quoted in the summary). */
  readonly markdown?: string;
}

const BENCHES: readonly BenchSpec[] = [
  { name: 'storm', entry: 'bench/storm/run.ts', args: quick ? ['--n', '100,1000', '--deadline-s', '120'] : ['--n', '100,1000,10000', '--deadline-s', '600'], timeoutS: quick ? 600 : 1800, optional: false },
  { name: 'http', entry: 'bench/http/run.ts', args: quick ? ['--duration-s', '3', '--rounds', '1'] : [], timeoutS: 900, optional: false },
  // by the DHCP and TFTP engineers: they write their own markdown (--out), quoted in the summary
  { name: 'dhcp', entry: 'bench/dhcp/run.ts', args: [...(quick ? ['--rounds', '1'] : []), '--out', join(RESULTS_DIR, 'dhcp.md')], timeoutS: 1200, optional: true, markdown: join(RESULTS_DIR, 'dhcp.md') },
  { name: 'tftp', entry: 'bench/tftp/run.ts', args: [...(quick ? ['--quick'] : []), '--out', join(RESULTS_DIR, 'tftp.md')], timeoutS: 1200, optional: true, markdown: join(RESULTS_DIR, 'tftp.md') },
];

interface Outcome {
  readonly spec: BenchSpec;
  readonly status: 'ok' | 'failed' | 'missing' | 'timeout';
  readonly code: number | null;
  readonly result: BenchResult | null;
  readonly tail: string;
  readonly seconds: number;
}

function runBench(spec: BenchSpec): Promise<Outcome> {
  const resultFile = join(RESULTS_DIR, `${spec.name}.json`);
  const logFile = join(RESULTS_DIR, `${spec.name}.log`);
  rmSync(resultFile, { force: true });
  const started = Date.now();
  return new Promise((resolve) => {
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, spec.entry), ...spec.args], {
      cwd: ROOT,
      env: { ...process.env, RACKBOOT_BENCH_RESULT: resultFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let tail = '';
    const keep = (d: Buffer) => {
      process.stderr.write(d);
      log.write(d);
      tail = (tail + d.toString('utf8')).slice(-6000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    // SIGINT first: the benches tear their namespaces and servers down on it
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(child.pid, 'SIGINT');
      setTimeout(() => child.pid && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 30_000).unref();
    }, spec.timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      log.end();
      const result = readResult(resultFile);
      resolve({
        spec,
        status: timedOut ? 'timeout' : code === 0 ? 'ok' : 'failed',
        code,
        result,
        tail,
        seconds: Math.round((Date.now() - started) / 1000),
      });
    });
  });
}

mkdirSync(RESULTS_DIR, { recursive: true });
const runStarted = values['summary-only'] ? 0 : Date.now();
const before = describeMachine();
const outcomes: Outcome[] = [];
const wanted = values.only?.split(',').map((s) => s.trim());
for (const spec of BENCHES) {
  if (!existsSync(join(ROOT, spec.entry))) {
    outcomes.push({ spec, status: 'missing', code: null, result: null, tail: '', seconds: 0 });
    continue;
  }
  // Benches left out by --only keep their last results in the summary.
  if (values['summary-only'] || (wanted && !wanted.includes(spec.name))) {
    const result = readResult(join(RESULTS_DIR, `${spec.name}.json`));
    const md = spec.markdown !== undefined && existsSync(spec.markdown) ? spec.markdown : undefined;
    outcomes.push({ spec, status: result || md ? 'ok' : 'missing', code: 0, result, tail: '', seconds: 0 });
    continue;
  }
  process.stderr.write(`\n===== bench ${spec.name}: ${spec.entry} ${spec.args.join(' ')} =====\n`);
  outcomes.push(await runBench(spec));
}
const after = describeMachine();

const fmt = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : String(v));
const rows: string[][] = [];
for (const o of outcomes) {
  for (const r of o.result?.rows ?? []) {
    rows.push([
      o.spec.name,
      r.scenario,
      `${r.metric} (${r.unit})`,
      fmt(r.rackboot),
      r.peer ?? '-',
      fmt(r.peerValue),
      r.ratio === undefined ? '-' : `**${r.ratio.toFixed(2)}x**`,
      r.goal ?? '-',
      r.goalMet === undefined ? '-' : r.goalMet ? 'yes' : 'NO',
      (r.note ?? '').replace(/\|/g, '/'),
    ]);
  }
}

const lines = [
  '# rackboot benchmarks',
  '',
  `Generated by \`npm run bench\`${quick ? ' (--quick)' : ''}${values['summary-only'] ? ' (rebuilt with --summary-only from the result files of the last runs)' : ''} on ${new Date().toISOString()}.`,
  '',
  '## Machine',
  '',
  `- ${after.nproc} CPU: ${after.cpuModel}`,
  `- memory: ${after.memoryGiB} GiB`,
  `- kernel: Linux ${after.kernel}`,
  `- node: ${after.node}`,
  values['summary-only']
    ? '- load average: see each bench below (this summary was rebuilt from their result files)'
    : `- load average (1/5/15 min): ${before.load.join(' / ')} before, ${after.load.join(' / ')} after`,
  '',
  'The machine is shared: other work running at the same time moves these numbers. Ratios compare',
  'rackboot and its peer measured back to back in the same run; absolute numbers are only as good as',
  'the load above. Re-run with `npm run bench` (or `-- --quick`).',
  '',
  '## rackboot against its peers',
  '',
  rows.length > 0
    ? markdownTable(['bench', 'scenario', 'metric', 'rackboot', 'peer', 'peer value', 'ratio (>1: rackboot ahead)', 'goal', 'met', 'note'], rows)
    : '(no bench produced results)',
  '',
  '## Runs',
  '',
  markdownTable(
    ['bench', 'status', 'seconds', 'load at start / end', 'notes'],
    outcomes.map((o) => [
      o.spec.name,
      o.status === 'missing' ? `not present (${o.spec.entry})` : o.status === 'ok' ? 'ok' : `${o.status} (exit ${o.code ?? '-'})`,
      o.result ? String(o.result.durationS) : o.seconds > 0 ? String(o.seconds) : '-',
      o.result ? `${o.result.machine.load.join(' ')} / ${o.result.loadAfter.join(' ')}` : '-',
      (o.result?.notes ?? []).join('; ').replace(/\|/g, '/') || (o.status === 'missing' ? '' : `log: bench/results/${o.spec.name}.log`),
    ]),
  ),
  '',
];
for (const o of outcomes) {
  const md = o.spec.markdown;
  const fresh = md !== undefined && existsSync(md) && statSync(md).mtimeMs >= runStarted;
  if (o.result?.details) lines.push(o.result.details.replace(/^## /, `## ${o.spec.name}: `), '');
  else if (md !== undefined && fresh) {
    // its own report, headings moved one level down; its "rackboot / peer" ratio lines come first
    const text = readFileSync(md, 'utf8');
    const ratios = text.split('\n').filter((l) => /^- rackboot \/ /.test(l));
    lines.push(`## ${o.spec.name} (bench/${o.spec.name}, its own report: ${md.replace(`${ROOT}/`, '')})`, '');
    if (ratios.length > 0) lines.push('Ratios it reports:', '', ...ratios.slice(0, 30), '');
    lines.push(text.replace(/^(#+) /gm, '##$1 '), '');
  } else if (o.status !== 'missing') {
    lines.push(`## ${o.spec.name}: no results in the shared format; end of its output`, '', '```', o.tail.trim().split('\n').slice(-25).join('\n'), '```', '');
  }
}
writeFileSync(join(RESULTS_DIR, 'summary.md'), lines.join('\n'));
process.stderr.write(`\n${machineLine(after)}\nsummary: ${join(RESULTS_DIR, 'summary.md')}\n`);
process.exit(outcomes.some((o) => o.status === 'failed' || o.status === 'timeout') ? 1 : 0);
