/**
 * The operator's read model: for each machine its last event, its install progress and the reason
 * it failed or got stuck. The SQLite read side (store/overview-store.ts) implements it; the
 * dashboard, the API and /metrics read it.
 */
import type { InstallProgress } from './progress.js';

export interface EventBrief {
  readonly id: number;
  readonly at: number;
  readonly type: string;
  readonly message: string;
}

export interface MachineSummary {
  readonly lastEvent: EventBrief | null;
  /** The last `progress` callback, parsed. */
  readonly progress: InstallProgress | null;
  /** The last failed / stuck / render-failed / power-failed event: why the machine is stuck or failed. */
  readonly problem: EventBrief | null;
}

export const PROBLEM_EVENTS = ['failed', 'stuck', 'render-failed', 'power-failed', 'boot-file-failed'] as const;

export const EMPTY_SUMMARY: MachineSummary = { lastEvent: null, progress: null, problem: null };

export interface OverviewReader {
  summaries(): ReadonlyMap<number, MachineSummary>;
  summary(machineId: number): MachineSummary;
  /** The newest event id (0 when there is none): where a live feed starts. */
  latestEventId(): number;
}
