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

/** A stats object as the DHCP listener and TFTP server expose it: numeric counters (and optionally nested ones). */
export type StatsObject = Readonly<Record<string, unknown>>;

export interface MetricsSources {
  /** The DHCP listener's stats (received, replied, ignored, malformed, errors, and `byType` when it has one); null while DHCP is off. */
  readonly dhcp?: () => StatsObject | null;
  /** The TFTP server's stats (requests, completed, failed, refused, bytesSent, active, ...); null while TFTP is off. */
  readonly tftp?: () => StatsObject | null;
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

  new Counter({
    name: 'rackboot_tftp_transfers_total',
    help: 'TFTP read requests by how they ended',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = sources.tftp?.();
      if (!stats) return;
      for (const [key, result] of Object.entries(TFTP_RESULTS)) {
        const n = num(stats[key]);
        if (n !== null) this.inc({ result }, n);
      }
    },
  });

  const tftpCounter = (name: string, help: string, key: string) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        const n = num(sources.tftp?.()?.[key]);
        if (n !== null) this.inc(n);
      },
    });
  tftpCounter('rackboot_tftp_requests_total', 'TFTP requests received, duplicates included', 'requests');
  tftpCounter('rackboot_tftp_sent_bytes_total', 'TFTP DATA payload bytes sent, retransmissions included', 'bytesSent');
  tftpCounter('rackboot_tftp_retransmits_total', 'TFTP timeouts that led to a retransmission', 'retransmits');
  new Gauge({
    name: 'rackboot_tftp_active_transfers',
    help: 'TFTP transfers in progress',
    registers: [registry],
    collect() {
      this.set(num(sources.tftp?.()?.active) ?? 0);
    },
  });

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
