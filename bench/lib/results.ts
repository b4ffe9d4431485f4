/**
 * The one result format every benchmark writes (bench/results/<name>.json), so `npm run bench`
 * can put them in one table. A bench by another engineer joins the summary by writing this shape
 * to the path in $RACKBOOT_BENCH_RESULT (see docs/performance.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describeMachine, type MachineDescription } from './proc.js';

export const RESULTS_DIR = join(import.meta.dirname, '..', 'results');

export interface BenchRow {
  /** What was measured, e.g. "kernel 8 MB, 64 clients, /assets". */
  readonly scenario: string;
  /** e.g. "throughput", "wall time", "p99 latency". */
  readonly metric: string;
  readonly unit: string;
  readonly rackboot: number;
  /** The reference implementation measured in the same run (nginx, dnsmasq, tftpd-hpa), if any. */
  readonly peer?: string;
  readonly peerValue?: number;
  /** rackboot relative to the peer, > 1 is better for rackboot whatever the unit. */
  readonly ratio?: number;
  readonly goal?: string;
  /** true when the goal is met; absent when there is none. */
  readonly goalMet?: boolean;
  readonly note?: string;
}

export interface BenchResult {
  readonly bench: string;
  readonly startedAt: string;
  readonly durationS: number;
  readonly machine: MachineDescription;
  /** Load averages at the end of the run. */
  readonly loadAfter: readonly number[];
  readonly rows: readonly BenchRow[];
  readonly notes: readonly string[];
  /** Longer tables for docs/performance.md, already formatted. */
  readonly details?: string;
}

/** Where a bench writes its result: $RACKBOOT_BENCH_RESULT when run-all asks, else bench/results/<name>.json. */
export function resultPath(name: string): string {
  return process.env.RACKBOOT_BENCH_RESULT ?? join(RESULTS_DIR, `${name}.json`);
}

export function writeResult(name: string, result: BenchResult): string {
  const path = resultPath(name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  if (result.details) writeFileSync(path.replace(/\.json$/, '.md'), `${result.details}\n`);
  return path;
}

export function readResult(path: string): BenchResult | null {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<BenchResult>;
    if (typeof parsed.bench !== 'string' || !Array.isArray(parsed.rows)) return null;
    return parsed as BenchResult;
  } catch {
    return null;
  }
}

/** Higher-is-better ratio of rackboot to a peer for a throughput-like metric. */
export function throughputRatio(rackboot: number, peer: number): number {
  return peer > 0 ? rackboot / peer : NaN;
}

/** Higher-is-better ratio for a time-like metric (the peer's time over rackboot's). */
export function timeRatio(rackboot: number, peer: number): number {
  return rackboot > 0 ? peer / rackboot : NaN;
}

export function startClock(bench: string): (rows: readonly BenchRow[], notes: readonly string[], details?: string) => BenchResult {
  const started = Date.now();
  const machine = describeMachine();
  return (rows, notes, details) => ({
    bench,
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 100) / 10,
    machine,
    loadAfter: describeMachine().load,
    rows,
    notes,
    ...(details === undefined ? {} : { details }),
  });
}
