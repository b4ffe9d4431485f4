/**
 * GET /metrics for Prometheus (prom-client). Sources:
 *  - the `stats` objects the DHCP listener and the TFTP server keep (read at scrape time);
 *  - HTTP requests, by route pattern (never the URL: boot URLs carry tokens) and status;
 *  - the inventory (machines by state, stuck machines) at scrape time;
 *  - the event feed: events by type, and install durations (from `installing` or the first
 *    `progress` to `installed`).
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InventoryReader } from '../core/ports.js';
import { MACHINE_STATES, type MachineEvent } from '../core/types.js';
import type { EventFeed } from './events-stream.js';
import type { WriteGuardStats } from '../services/write-guards.js';

/** A stats object as the DHCP listener and TFTP server expose it: numeric counters (and optionally nested ones). */
export type StatsObject = Readonly<Record<string, unknown>>;

export interface MetricsSources {
  /** The DHCP listener's stats (received, replied, ignored, malformed, errors, and `byType` when it has one); null while DHCP is off. */
  readonly dhcp?: () => StatsObject | null;
  /** The TFTP server's stats (requests, completed, failed, refused, bytesSent, active, ...); null while TFTP is off. */
  readonly tftp?: () => StatsObject | null;
  /** Unauthenticated-write bounds: rate limit, unknown-source events, retention, disk guard (services/write-guards.ts). */
  readonly writes?: () => WriteGuardStats | null;
  /** The HTTP listeners' socket counters (listeners.ts ConnectionStats). */
  readonly connections?: () => StatsObject | null;
  /** The event stream's counters (events-stream.ts EventStreamStats). */
  readonly eventStream?: () => StatsObject | null;
  /** Boot-token refusals by route and reason (the Provisioner's count, core/boot-binding.ts). */
  readonly bootTokenRefusals?: () => ReadonlyArray<{ readonly route: string; readonly reason: string; readonly count: number }>;
}

export interface MetricsOptions {
  readonly inventory: InventoryReader;
  readonly feed: EventFeed;
  readonly sources: MetricsSources;
  /** process_* and nodejs_* metrics (off in tests that build many apps). */
  readonly defaultMetrics?: boolean;
}

export const INSTALL_BUCKETS_SECONDS = [30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200];

const DHCP_RESULTS = ['replied', 'ignored', 'malformed', 'errors'];
const TFTP_RESULTS: Record<string, string> = { completed: 'completed', failed: 'failed', refused: 'refused' };
const TFTP_REFUSALS: Record<string, string> = {
  refusedMaxTransfers: 'max-transfers',
  refusedMaxPerClient: 'max-per-client',
  refusedClientRate: 'client-rate',
};

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;
}

export async function metricsRoutes(app: FastifyInstance, options: MetricsOptions): Promise<void> {
  const { inventory, sources } = options;
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  new Counter({
    name: 'rackboot_dhcp_packets_total',
    help: 'DHCP packets by how they were handled: replied, ignored (no answer), malformed, errors',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = sources.dhcp?.();
      if (!stats) return;
      for (const [key, value] of Object.entries(stats)) {
        const n = num(value);
        if (n !== null && DHCP_RESULTS.includes(key)) this.inc({ result: key }, n);
      }
    },
  });

  new Counter({
    name: 'rackboot_dhcp_received_total',
    help: 'DHCP packets received',
    registers: [registry],
    collect() {
      this.reset();
      const n = num(sources.dhcp?.()?.received);
      if (n !== null) this.inc(n);
    },
  });

  new Counter({
    name: 'rackboot_dhcp_messages_total',
    help: 'DHCP packets by message type (DISCOVER, REQUEST, ...) and result, when the listener counts them by type',
    labelNames: ['type', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      const byType = sources.dhcp?.()?.byType;
      if (byType === null || typeof byType !== 'object') return;
      for (const [type, results] of Object.entries(byType as Record<string, unknown>)) {
        if (results === null || typeof results !== 'object') continue;
        for (const [result, value] of Object.entries(results as Record<string, unknown>)) {
          const n = num(value);
          if (n !== null) this.inc({ type, result }, n);
        }
      }
    },
  });

  /** A counter per key of a nested record of counts in the DHCP stats (absent keys: no series). */
  const dhcpRecord = (name: string, help: string, key: string, label: string) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        const record = sources.dhcp?.()?.[key];
        if (record === null || typeof record !== 'object') return;
        for (const [value, count] of Object.entries(record as Record<string, unknown>)) {
          const n = num(count);
          if (n !== null) this.inc({ [label]: value }, n);
        }
      },
    });
  dhcpRecord('rackboot_dhcp_replies_total', 'DHCP replies sent, by type (OFFER, ACK, NAK)', 'sent', 'type');
  dhcpRecord('rackboot_dhcp_ignored_total', 'DHCP packets not answered, by reason (unknown-mac, other-server, ...)', 'ignoredByReason', 'reason');
  new Counter({
    name: 'rackboot_dhcp_rogue_sightings_total',
    help: 'packets that revealed another DHCP server on the segment',
    registers: [registry],
    collect() {
      this.reset();
      const n = num(sources.dhcp?.()?.rogueSightings);
      if (n !== null) this.inc(n);
    },
  });

  /** A counter (or gauge) read from one key of a source's stats at scrape time. */
  const fromStats = (kind: 'counter' | 'gauge', name: string, help: string, source: () => StatsObject | null | undefined, key: string) => {
    if (kind === 'gauge') return new Gauge({ name, help, registers: [registry], collect() { this.set(num(source()?.[key]) ?? 0); } });
    return new Counter({ name, help, registers: [registry], collect() { this.reset(); const n = num(source()?.[key]); if (n !== null) this.inc(n); } });
  };
  /** A counter with one label whose values are read from several keys of a source's stats (key -> label value). */
  const byKey = (name: string, help: string, label: string, source: () => StatsObject | null | undefined, keys: Readonly<Record<string, string>>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        const stats = source();
        for (const [key, value] of Object.entries(keys)) {
          const n = num(stats?.[key]);
          if (n !== null) this.inc({ [label]: value }, n);
        }
      },
    });

  const admission = () => sources.dhcp?.()?.admission as StatsObject | undefined;
  fromStats('counter', 'rackboot_dhcp_shed_total', 'DHCP packets dropped early by load shedding (new MACs while the queue was over its bound)', admission, 'shed');
  fromStats('gauge', 'rackboot_dhcp_admitted_macs', 'MACs in the DHCP admitted set (finished first while shedding)', admission, 'admittedMacs');
  fromStats('gauge', 'rackboot_dhcp_queue_depth', 'DHCP packets waiting for a decision', admission, 'queued');
  fromStats('counter', 'rackboot_dhcp_worker_restarts_total', 'times the DHCP worker thread died and was restarted', () => sources.dhcp?.(), 'workerRestarts');

  const tftp = () => sources.tftp?.();
  byKey('rackboot_tftp_transfers_total', 'TFTP read requests by how they ended', 'result', tftp, TFTP_RESULTS);
  byKey('rackboot_tftp_refused_total', 'TFTP requests left unanswered over a limit, by limit (max-transfers, max-per-client, client-rate)', 'reason', tftp, TFTP_REFUSALS);
  fromStats('counter', 'rackboot_tftp_requests_total', 'TFTP requests received, duplicates included', tftp, 'requests');
  fromStats('counter', 'rackboot_tftp_sent_bytes_total', 'TFTP DATA payload bytes sent, retransmissions included', tftp, 'bytesSent');
  fromStats('counter', 'rackboot_tftp_retransmits_total', 'TFTP timeouts that led to a retransmission', tftp, 'retransmits');
  fromStats('gauge', 'rackboot_tftp_active_transfers', 'TFTP transfers in progress', tftp, 'active');

  writeGuardMetrics(registry, sources);
  const connections = () => sources.connections?.();
  const streams = () => sources.eventStream?.();
  fromStats('gauge', 'rackboot_http_connections', 'open HTTP connections (every listener)', connections, 'open');
  fromStats('counter', 'rackboot_http_connections_accepted_total', 'HTTP connections accepted', connections, 'accepted');
  byKey(
    'rackboot_http_connections_refused_total',
    'HTTP connections closed at once: per-client (the address holds http.limits.maxConnectionsPerClient) or total (http.limits.maxConnections)',
    'reason',
    connections,
    { refusedPerClient: 'per-client', refusedTotal: 'total' },
  );
  fromStats('counter', 'rackboot_http_request_timeouts_total', 'requests closed because their headers or body came too slowly (http.limits)', connections, 'timedOut');
  fromStats('counter', 'rackboot_http_firmware_not_found_total', 'UEFI HTTP boot requests (/ipxe/<file>) for a binary that is not served: the firmware stops there (the machine timeline has a boot-file-failed event)', connections, 'firmwareNotFound');
  fromStats('counter', 'rackboot_http_path_escapes_total', 'requests for /assets or /ipxe files that resolve (symlinks included) outside their directory: refused', connections, 'pathEscapes');
  fromStats('gauge', 'rackboot_http_event_streams', 'open event streams (/api/v1/events/stream)', streams, 'open');
  byKey(
    'rackboot_http_event_streams_shed_total',
    'event streams refused (503: total or per-client cap), dropped for not reading (slow), or replays answered with reset (replay-reset)',
    'reason',
    streams,
    { refusedTotal: 'total', refusedPerClient: 'per-client', droppedSlow: 'slow', replayResets: 'replay-reset' },
  );
  new Counter({
    name: 'rackboot_boot_token_refusals_total',
    help: 'boot requests refused for their token, by route and reason (wrong-address: not from the machine; unknown-token)',
    labelNames: ['route', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const { route, reason, count } of sources.bootTokenRefusals?.() ?? []) this.inc({ route, reason }, count);
    },
  });

  const httpRequests = new Counter({
    name: 'rackboot_http_requests_total',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'rackboot_http_request_duration_seconds',
    help: 'HTTP response time by route pattern',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  // app.ts calls metricsRoutes on the root instance (not through register), so this hook sees every route.
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    httpRequests.inc({ route, method: request.method, status: String(reply.statusCode) });
    httpDuration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });

  new Gauge({
    name: 'rackboot_machines',
    help: 'machines in the inventory by lifecycle state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(MACHINE_STATES.map((s) => [s, 0]));
      for (const machine of inventory.listMachines()) counts.set(machine.state, (counts.get(machine.state) ?? 0) + 1);
      this.reset();
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'rackboot_machines_stuck',
    help: 'machines in the stuck state',
    registers: [registry],
    collect() {
      this.set(inventory.listMachines().filter((m) => m.state === 'stuck').length);
    },
  });

  const events = new Counter({
    name: 'rackboot_events_total',
    help: 'events recorded since this process started, by type',
    labelNames: ['type'],
    registers: [registry],
  });
  const installs = new Histogram({
    name: 'rackboot_install_duration_seconds',
    help: 'from `installing` (or the first `progress`) to `installed`',
    buckets: INSTALL_BUCKETS_SECONDS,
    registers: [registry],
  });
  const installStarted = new Map<number, number>();
  options.feed.subscribe((batch) => {
    for (const event of batch) observeEvent(event);
  });
  function observeEvent(event: MachineEvent): void {
    events.inc({ type: event.type });
    if (event.machineId === null) return;
    switch (event.type) {
      case 'installing':
      case 'progress':
        if (!installStarted.has(event.machineId)) installStarted.set(event.machineId, event.at);
        break;
      case 'installed': {
        const started = installStarted.get(event.machineId);
        if (started !== undefined) installs.observe(Math.max(0, event.at - started) / 1000);
        installStarted.delete(event.machineId);
        break;
      }
      case 'dhcp':
      case 'registered':
      case 'failed':
      case 'stuck':
        installStarted.delete(event.machineId);
        break;
    }
  }

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        tags: ['operations'],
        response: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
}

/** The bounds on unauthenticated writes: what was refused, counted instead of written, pruned, and the disk. */
function writeGuardMetrics(registry: Registry, sources: MetricsSources): void {
  const stats = () => sources.writes?.() ?? null;
  new Counter({
    name: 'rackboot_write_rate_limited_total',
    help: 'boot-route requests refused with 429 because their client address was over store.writeRate, by route',
    labelNames: ['route'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, n] of stats()?.rateLimit.refusedByRoute ?? []) this.inc({ route }, n);
    },
  });
  new Counter({
    name: 'rackboot_write_rate_evictions_total',
    help: 'client addresses forgotten by the write rate limiter because its table was full (store.writeRate.maxSources)',
    registers: [registry],
    collect() {
      this.reset();
      const n = stats()?.rateLimit.evicted;
      if (n) this.inc(n);
    },
  });
  new Gauge({
    name: 'rackboot_write_rate_sources',
    help: 'client addresses the write rate limiter tracks',
    registers: [registry],
    collect() {
      this.set(stats()?.rateLimit.sources ?? 0);
    },
  });
  new Counter({
    name: 'rackboot_unknown_source_events_total',
    help: 'events from unknown sources by outcome: written (immediate), counted into a summary, folded into "other" (too many sources), shed (disk low); summaries written',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const m = stats()?.machineless;
      if (!m) return;
      for (const outcome of ['immediate', 'counted', 'folded', 'shed', 'summaries'] as const) this.inc({ outcome }, m[outcome]);
    },
  });
  new Counter({
    name: 'rackboot_retention_deleted_total',
    help: 'rows deleted by the retention prune, by table',
    labelNames: ['table'],
    registers: [registry],
    collect() {
      this.reset();
      const r = stats()?.retention;
      if (!r) return;
      this.inc({ table: 'events' }, r.eventsDeleted);
      this.inc({ table: 'discovered' }, r.discoveredDeleted);
    },
  });
  new Gauge({
    name: 'rackboot_retention_longest_step_seconds',
    help: 'the longest single step of the retention prune (how long it held the event loop)',
    registers: [registry],
    collect() {
      this.set((stats()?.retention?.longestStepMs ?? 0) / 1000);
    },
  });
  new Gauge({
    name: 'rackboot_data_free_bytes',
    help: 'free bytes (available to rackboot) on the filesystem of the data directory, at the last check',
    registers: [registry],
    collect() {
      const disk = stats()?.disk;
      if (disk) this.set(disk.freeBytes);
    },
  });
  new Gauge({
    name: 'rackboot_disk_low',
    help: '1 while the data directory is below store.disk.minFreeBytes or minFreePercent (/healthz is 503)',
    registers: [registry],
    collect() {
      this.set(stats()?.disk?.low ? 1 : 0);
    },
  });
}
