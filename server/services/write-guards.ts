/**
 * What `rackboot serve` runs to bound unauthenticated writes: the machineless-event counter and its
 * flush, the per-source write rate limit of the boot routes, the retention prune and the disk guard
 * (which sheds the counter's writes while the data directory is low). docs/security/writes.md.
 */
import type { Config } from '../config/config.js';
import { MachinelessEvents, type MachinelessStats } from '../core/machineless-events.js';
import type { Provisioner } from '../core/provisioner.js';
import { SourceRateLimiter } from '../core/rate-limit.js';
import { newWriteLimit, type WriteLimit } from '../http/write-limit.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/db.js';
import { RetentionStore } from '../store/retention-store.js';
import { DiskGuard, type StatFs } from './disk-guard.js';
import { startRetention, type RetentionStats } from './retention.js';

/** What /metrics reads (http/metrics.ts). */
export interface WriteGuardStats {
  readonly rateLimit: { readonly allowed: number; readonly refused: number; readonly evicted: number; readonly sources: number; readonly refusedByRoute: ReadonlyMap<string, number> };
  readonly machineless: Readonly<MachinelessStats> & { readonly trackedKeys: number };
  readonly retention: Readonly<RetentionStats> | null;
  readonly disk: { readonly freeBytes: number; readonly low: boolean } | null;
}

/** Built before the Provisioner (it takes `machineless`) and the HTTP app (it takes `writeLimit`). */
export function createWriteGuards(config: Config, now: number) {
  const u = config.store.unknownEvents;
  const machineless = new MachinelessEvents({ maxKeys: u.maxSources, immediatePerInterval: u.immediatePerInterval }, now);
  const writeLimit: WriteLimit = newWriteLimit(new SourceRateLimiter(config.store.writeRate));
  return { machineless, writeLimit };
}

export type WriteGuards = ReturnType<typeof createWriteGuards>;

export interface RunningWriteGuards {
  readonly disk: DiskGuard;
  stats(): WriteGuardStats;
  stop(): void;
}

/** Starts the timers: flush, retention, disk checks. */
export function startWriteGuards(
  guards: WriteGuards,
  deps: { config: Config; provisioner: Provisioner; db: Db; logger: Logger; statfs?: StatFs; onDiskLow?: (low: boolean) => void },
): RunningWriteGuards {
  const { config, provisioner, logger } = deps;
  const { machineless, writeLimit } = guards;
  const log = logger.child({ svc: 'writes' });
  const disk = new DiskGuard({
    dir: config.dataDir,
    thresholds: config.store.disk,
    logger: log,
    onChange: (state) => {
      machineless.setShedding(state.low);
      deps.onDiskLow?.(state.low);
    },
    ...(deps.statfs ? { statfs: deps.statfs } : {}),
  });
  disk.start(config.store.disk.checkSeconds * 1000);
  const retention = startRetention(new RetentionStore(deps.db), config.store.retention, config.store.retention.intervalSeconds * 1000, log);
  const flush = () => {
    try {
      provisioner.flushMachinelessEvents();
    } catch (error) {
      log.error({ err: error }, 'could not write the summary of events from unknown sources');
    }
  };
  const flushTimer = setInterval(flush, config.store.unknownEvents.flushSeconds * 1000);
  flushTimer.unref();
  return {
    disk,
    stats: () => ({
      rateLimit: { ...writeLimit.limiter.stats, sources: writeLimit.limiter.trackedSources, refusedByRoute: writeLimit.refusedByRoute },
      machineless: { ...machineless.stats, trackedKeys: machineless.trackedKeys },
      retention: retention.stats,
      disk: disk.state && { freeBytes: disk.state.freeBytes, low: disk.state.low },
    }),
    stop() {
      clearInterval(flushTimer);
      flush();
      retention.stop();
      disk.stop();
    },
  };
}
