/**
 * The operator's surface, registered by buildApp: the dashboard, the API's mutations and overview,
 * the live event stream, /metrics and /api/v1/openapi.json. It owns one EventFeed (events-stream.ts)
 * that runs while the app is up.
 */
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMPTY_SUMMARY, type OverviewReader } from '../core/overview.js';
import type { PowerDriver } from '../bmc/power-driver.js';
import type { Provisioner } from '../core/provisioner.js';
import type { InventoryReader } from '../core/ports.js';
import type { Machine, MachineEvent } from '../core/types.js';
import { packageRoot } from '../paths.js';
import { apiActions } from './api-actions.js';
import { apiLifecycle } from './api-lifecycle.js';
import { machineView, type ViewContext } from './api-model.js';
import { NO_TOKENS, type ApiTokenVerifier } from './auth.js';
import { EventFeed, eventStreamRoutes, newEventStreamStats, type EventStreamLimits } from './events-stream.js';
import type { ConnectionStats } from './listeners.js';
import { metricsRoutes, type MetricsSources } from './metrics.js';
import { collectRoutes, openApiRoute } from './openapi.js';
import { uiRoutes } from './ui-routes.js';

export interface OperatorOptions {
  /** The read model (store/overview-store.ts); without it the last event, progress and problem are null. */
  readonly overview?: OverviewReader;
  /** Checks the API token of mutations; without it every mutation is refused. */
  readonly tokens?: ApiTokenVerifier;
  /** Powers machines through their BMCs; null: the power buttons are disabled and the API answers 501. */
  readonly power?: PowerDriver | null;
  /** Shown (API and dashboard tooltip) when there is no power driver. */
  readonly noPowerReason?: string;
  readonly metrics?: MetricsSources;
  /** process_* and nodejs_* metrics; default on. */
  readonly defaultMetrics?: boolean;
  /** How often the event feed looks for new events (default 250 ms). */
  readonly pollMs?: number;
  /** Where the dashboard's files are (default: server/http/ui in the package). */
  readonly uiDir?: string;
  /** Bounds of /api/v1/events/stream (default: DEFAULT_EVENT_STREAM_LIMITS). */
  readonly eventStream?: Partial<EventStreamLimits>;
  /** The listeners' socket counters, for /metrics (buildApp passes them). */
  readonly connections?: ConnectionStats;
}

export const NO_POWER_REASON =
  'no power driver is configured: give rackboot the BMC password (ipmi.passwordFile in the config, or RACKBOOT_IPMI_PASSWORD) to power machines through their BMCs';

export interface OperatorSurface {
  readonly overview: OverviewReader;
  readonly view: ViewContext;
  /** Registers the API routes that live under /api/v1 (call inside that prefix). */
  api(app: FastifyInstance): Promise<void>;
}

/** Call on the root instance before any other route: it collects every route for the OpenAPI document and counts every request. */
export async function operatorSurface(app: FastifyInstance, provisioner: Provisioner, options: OperatorOptions = {}): Promise<OperatorSurface> {
  const inventory: InventoryReader = provisioner;
  const collector = collectRoutes(app);
  const overview = options.overview ?? fallbackOverview(inventory);
  const power = options.power ?? null;
  const view: ViewContext = { power, noPowerReason: options.noPowerReason ?? NO_POWER_REASON };
  const feed = new EventFeed(inventory, () => overview.latestEventId(), options.pollMs ?? 250, (error) =>
    app.log.error({ err: error }, 'event feed: reading new events failed'),
  );
  app.addHook('onReady', (done) => {
    feed.start();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    feed.stop();
    done();
  });

  const streamStats = newEventStreamStats();
  await metricsRoutes(app, {
    inventory,
    feed,
    sources: {
      bootTokenRefusals: () => provisioner.tokenRefusals(),
      ...options.metrics,
      eventStream: () => ({ ...streamStats }),
      ...(options.connections ? { connections: () => ({ ...options.connections }) } : {}),
    },
    defaultMetrics: options.defaultMetrics ?? true,
  });
  await app.register(uiRoutes, { dir: options.uiDir ?? join(packageRoot(), 'server', 'http', 'ui') });

  const streamMessage = (event: MachineEvent, cache: Map<number, unknown>) => {
    if (event.machineId === null) return { event, machine: null };
    if (!cache.has(event.machineId)) {
      const machine: Machine | null = inventory.machineById(event.machineId);
      cache.set(event.machineId, machine ? machineView(machine, overview.summary(machine.id), view) : null);
    }
    return { event, machine: cache.get(event.machineId) };
  };

  return {
    overview,
    view,
    async api(api: FastifyInstance) {
      await api.register(apiActions, { provisioner, overview, tokens: options.tokens ?? NO_TOKENS, power, view });
      await api.register(apiLifecycle, { provisioner, overview, tokens: options.tokens ?? NO_TOKENS, power, view });
      await api.register(eventStreamRoutes, { feed, inventory, message: streamMessage, stats: streamStats, ...(options.eventStream ? { limits: options.eventStream } : {}) });
      await api.register(openApiRoute, { collector, version: packageVersion() });
    },
  };
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Without a read model: no summaries; the newest event id found by paging through the events. */
function fallbackOverview(inventory: InventoryReader): OverviewReader {
  return {
    summaries: () => new Map(),
    summary: () => EMPTY_SUMMARY,
    latestEventId() {
      let last = 0;
      for (;;) {
        const page = inventory.listEvents({ afterId: last, limit: 10_000 });
        const tail = page.at(-1);
        if (!tail) return last;
        last = tail.id;
      }
    },
  };
}
