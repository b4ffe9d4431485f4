/**
 * The main thread's side of the DHCP worker: starts it, relays its counters to /metrics, and when
 * it dies, logs it and starts a new one (bounded: at most `maxRestarts` within `restartWindowMs`,
 * with a growing pause). Nothing acknowledged is lost by a crash: the worker sends an ACK only
 * after the transaction holding its lease has committed to the WAL database.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import type { Logger } from '../log.js';
import { emptyDhcpStats } from '../net/dhcp-listener.js';
import type { DhcpService, DhcpServiceStats } from '../services/dhcp-service.js';
import type { DhcpWorkerData, FromWorker, ToWorker } from './protocol.js';

export interface DhcpWorkerOptions {
  readonly databasePath: string;
  readonly logger: Logger;
  readonly statsIntervalMs?: number;
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
}

export interface DhcpWorkerService extends DhcpService {
  readonly stats: Readonly<DhcpServiceStats & { workerRestarts: number; workerThreadId: number }>;
  /** Posts a message to the running worker (inventory-changed, disk-low). */
  notify(message: ToWorker): void;
  /** Drills and tests: kills the worker thread as a crash would (it is restarted). */
  terminateWorker(): Promise<void>;
  /** Resolves once the worker started by restart number `afterRestarts + 1` is answering. */
  whenRestarted(afterRestarts: number, timeoutMs: number): Promise<void>;
}

/**
 * The worker's entry: worker.js next to this file once built. Run from source (tsx), a worker does
 * not inherit the loader hooks for its entry file in Node 20, so a two-line bootstrap registers tsx
 * in the new thread and then imports worker.ts.
 */
function newWorker(data: DhcpWorkerData): Worker {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js, { workerData: data });
  const ts = new URL('./worker.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(ts)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

function emptyStats(): DhcpServiceStats {
  return { ...emptyDhcpStats(), admission: { admitted: 0, shed: 0, admittedMacs: 0, queued: 0 } };
}

export async function startDhcpWorker(config: Config, options: DhcpWorkerOptions): Promise<DhcpWorkerService> {
  const log = options.logger.child({ svc: 'dhcp' });
  const maxRestarts = options.maxRestarts ?? 5;
  const windowMs = options.restartWindowMs ?? 60_000;
  const data: DhcpWorkerData = {
    config,
    databasePath: options.databasePath,
    logLevel: options.logger.level,
    statsIntervalMs: options.statsIntervalMs ?? 500,
  };
  // counters of earlier (dead) workers, so /metrics counters never go backwards
  let carried = emptyStats();
  let latest = emptyStats();
  let restarts = 0;
  /** Workers that reached 'ready' so far (the first one, then one per restart). */
  let answering = 0;
  const restartTimes: number[] = [];
  let closing = false;
  let worker: Worker;
  let ports = { port: 0, pxePort: null as number | null, watchPort: null as number | null };
  let readyWaiters: Array<() => void> = [];
  let statsWaiters: Array<() => void> = [];

  const spawn = (): Promise<void> =>
    new Promise((resolve, reject) => {
      let ready = false;
      const w = newWorker(data);
      worker = w;
      w.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          ready = true;
          answering += 1;
          ports = { port: message.port, pxePort: message.pxePort, watchPort: message.watchPort };
          log.info({ threadId: w.threadId, port: message.port }, 'dhcp: worker thread answering');
          resolve();
          const waiters = readyWaiters;
          readyWaiters = [];
          for (const waiter of waiters) waiter();
        } else if (message.type === 'stats' || message.type === 'closed') {
          latest = message.stats;
          const waiters = statsWaiters;
          statsWaiters = [];
          for (const waiter of waiters) waiter();
        } else {
          reject(new Error(`dhcp worker: ${message.message}`));
        }
      });
      w.on('error', (err) => {
        log.error({ err, threadId: w.threadId }, 'dhcp: worker thread failed');
        if (!ready) reject(err);
      });
      w.on('exit', (code) => {
        if (!ready) {
          reject(new Error(`dhcp worker exited (code ${code}) before answering`));
          return;
        }
        if (closing || w !== worker) return;
        carried = sum(carried, latest);
        latest = emptyStats();
        const now = Date.now();
        while (restartTimes.length > 0 && now - (restartTimes[0] as number) > windowMs) restartTimes.shift();
        if (restartTimes.length >= maxRestarts) {
          log.fatal({ code, restarts }, `dhcp: the worker thread died ${maxRestarts} times within ${windowMs / 1000} s; DHCP stays off until rackboot is restarted`);
          return;
        }
        restartTimes.push(now);
        restarts += 1;
        const pauseMs = Math.min(100 * 2 ** (restartTimes.length - 1), 5000);
        log.error({ code, restarts, pauseMs }, 'dhcp: the worker thread died; restarting it (acknowledged leases are durable)');
        const timer = setTimeout(() => {
          if (closing) return;
          spawn().catch((err: unknown) => log.error({ err }, 'dhcp: the worker thread could not be restarted'));
        }, pauseMs);
        timer.unref();
      });
    });

  await spawn();

  return {
    get port() { return ports.port; },
    get pxePort() { return ports.pxePort; },
    get watchPort() { return ports.watchPort; },
    get stats() {
      return { ...sum(carried, latest), workerRestarts: restarts, workerThreadId: worker.threadId };
    },
    notify(message) {
      worker.postMessage(message);
    },
    freshStats() {
      return new Promise((resolve) => {
        const timer = setTimeout(done, 1000); // a dead or busy worker: the last report
        function done(): void {
          clearTimeout(timer);
          const stats = { ...sum(carried, latest), workerRestarts: restarts, workerThreadId: worker.threadId };
          resolve(stats);
        }
        statsWaiters.push(done);
        worker.postMessage({ type: 'stats' } satisfies ToWorker);
      });
    },
    async terminateWorker() {
      await worker.terminate();
    },
    whenRestarted(afterRestarts, timeoutMs) {
      return new Promise((resolve, reject) => {
        const done = (): boolean => answering > afterRestarts + 1;
        if (done()) {
          resolve();
          return;
        }
        const timer = setTimeout(() => reject(new Error('dhcp worker: not restarted in time')), timeoutMs);
        const wait = (): void => {
          if (!done()) {
            readyWaiters.push(wait);
            return;
          }
          clearTimeout(timer);
          resolve();
        };
        readyWaiters.push(wait);
      });
    },
    close() {
      closing = true;
      const w = worker;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => void w.terminate().then(() => resolve()), 5000);
        w.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        w.postMessage({ type: 'close' } satisfies ToWorker);
      });
    },
  };
}

/** Counters of two workers added up (gauges: the newer one's). */
function sum(a: DhcpServiceStats, b: DhcpServiceStats): DhcpServiceStats {
  const add = (x: Record<string, number>, y: Record<string, number>): Record<string, number> => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  const byType: DhcpServiceStats['byType'] = {};
  for (const [k, v] of [...Object.entries(a.byType), ...Object.entries(b.byType)]) {
    const e = (byType[k] ??= { replied: 0, ignored: 0, errors: 0 });
    e.replied += v.replied;
    e.ignored += v.ignored;
    e.errors += v.errors;
  }
  return {
    received: a.received + b.received,
    malformed: a.malformed + b.malformed,
    replied: a.replied + b.replied,
    ignored: a.ignored + b.ignored,
    errors: a.errors + b.errors,
    byType,
    sent: add(a.sent, b.sent),
    ignoredByReason: add(a.ignoredByReason, b.ignoredByReason),
    rogueSightings: a.rogueSightings + b.rogueSightings,
    rogueServers: add(a.rogueServers, b.rogueServers),
    watched: a.watched + b.watched,
    admission: {
      admitted: a.admission.admitted + b.admission.admitted,
      shed: a.admission.shed + b.admission.shed,
      admittedMacs: b.admission.admittedMacs,
      queued: b.admission.queued,
    },
  };
}
