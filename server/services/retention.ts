/**
 * The periodic prune of `rackboot serve`: events older than store.retention.eventsDays (each
 * machine keeps its newest keepPerMachine whatever their age), discovered records not seen for
 * discoveredDays, and at most discoveredMax of them (the least recently seen go first); audit log
 * entries older than eventsDays (the audit log lives as long as the events). Work is done
 * in steps of `batch` rows with the event loop free between them.
 */
import type { Logger } from '../log.js';
import type { RetentionStore } from '../store/retention-store.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A run stops after this many steps and goes on at the next interval (a bound on one run's time). */
const MAX_STEPS = 10_000;

export interface RetentionPolicy {
  readonly eventsDays: number;
  readonly keepPerMachine: number;
  readonly discoveredDays: number;
  readonly discoveredMax: number;
  readonly batch: number;
}

export interface RetentionStats {
  runs: number;
  eventsDeleted: number;
  discoveredDeleted: number;
  auditDeleted?: number;
  /** Steps taken, and the longest one in ms: what a prune may hold the event loop for. */
  steps: number;
  longestStepMs: number;
}

export type Yield = () => Promise<void>;

export const yieldToLoop: Yield = () => new Promise((resolve) => setImmediate(resolve));

export async function runRetention(store: RetentionStore, policy: RetentionPolicy, now: number, stats: RetentionStats, pause: Yield = yieldToLoop): Promise<{ events: number; discovered: number; audit: number }> {
  let events = 0;
  let audit = 0;
  let discovered = 0;
  let steps = 0;
  const timed = <T>(work: () => T): T => {
    const started = performance.now();
    try {
      return work();
    } finally {
      steps++;
      stats.steps++;
      stats.longestStepMs = Math.max(stats.longestStepMs, performance.now() - started);
    }
  };

  const cutoff = now - policy.eventsDays * DAY_MS;
  const keepFrom = new Map<number, number>();
  let cursor = 0;
  while (steps < MAX_STEPS) {
    const step = timed(() => store.pruneEventsStep(cutoff, policy.keepPerMachine, cursor, policy.batch, keepFrom));
    events += step.deleted;
    cursor = step.cursor;
    if (step.done) break;
    await pause();
  }
  for (let deleted = -1; deleted !== 0 && steps < MAX_STEPS; ) {
    deleted = timed(() => store.pruneAuditStep(cutoff, policy.batch));
    audit += deleted;
    if (deleted !== 0) await pause();
  }
  const seenCutoff = now - policy.discoveredDays * DAY_MS;
  for (let deleted = -1; deleted !== 0 && steps < MAX_STEPS; ) {
    deleted = timed(() => store.pruneDiscoveredStep(seenCutoff, policy.batch));
    discovered += deleted;
    if (deleted !== 0) await pause();
  }
  for (let deleted = -1; deleted !== 0 && steps < MAX_STEPS; ) {
    deleted = timed(() => store.trimDiscoveredStep(policy.discoveredMax, policy.batch));
    discovered += deleted;
    if (deleted !== 0) await pause();
  }
  stats.runs++;
  stats.eventsDeleted += events;
  stats.discoveredDeleted += discovered;
  stats.auditDeleted = (stats.auditDeleted ?? 0) + audit;
  return { events, discovered, audit };
}

/** Runs the prune now and every `intervalMs`; one run at a time. */
export function startRetention(store: RetentionStore, policy: RetentionPolicy, intervalMs: number, logger: Logger): { stats: RetentionStats; stop(): void } {
  const stats: RetentionStats = { runs: 0, eventsDeleted: 0, discoveredDeleted: 0, steps: 0, longestStepMs: 0 };
  let running = false;
  let stopped = false;
  const run = () => {
    if (running || stopped) return;
    running = true;
    runRetention(store, policy, Date.now(), stats, async () => {
      if (stopped) throw new Error('retention stopped');
      await yieldToLoop();
    })
      .then(({ events, discovered, audit }) => {
        if (events + discovered + audit > 0) logger.info({ events, discovered, audit }, 'retention: pruned old events, discovered records and audit entries');
      })
      .catch((error: unknown) => {
        if (!stopped) logger.error({ err: error }, 'retention: prune failed');
      })
      .finally(() => {
        running = false;
      });
  };
  const timer = setInterval(run, intervalMs);
  timer.unref();
  setImmediate(run);
  return {
    stats,
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
