/**
 * DHCP wired to the core: the listener decodes, the guard drops what cannot come from a served
 * network and spots other DHCP servers, the Provisioner decides and records (one transaction, the
 * lease durable before the reply leaves), the listener encodes and sends.
 */
import { networkInterfaces } from 'node:os';
import type { Config } from '../config/config.js';
import type { DhcpDecision, DhcpSettings } from '../core/dhcp-decision.js';
import {
  outOfScope, RateLimiter, resolveDhcpScope, rogueSighting, type DhcpScope, type RogueSighting,
} from '../core/dhcp-guard.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Endpoint } from '../core/types.js';
import { RackbootError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ToWorker } from '../dhcp-worker/protocol.js';
import { DhcpAdmission, type AdmissionLimits, type AdmissionStats } from '../dhcp-worker/admission.js';
import { startBacklogSampler } from '../net/udp-backlog.js';
import { startDhcpListener, type DhcpHandlerResult, type DhcpListener, type DhcpListenerStats } from '../net/dhcp-listener.js';
import { BOOTP_REQUEST, DHCP_CLIENT_PORT, DhcpMessageType } from '../protocol/dhcp/constants.js';
import { messageType } from '../protocol/dhcp/options.js';
import type { DhcpPacket } from '../protocol/dhcp/packet.js';

/** The listener's counters plus the load shedding's (admission by MAC, issue 18). */
export interface DhcpServiceStats extends DhcpListenerStats {
  readonly admission: Readonly<AdmissionStats> & { readonly queued: number };
}

export interface DhcpService extends Omit<DhcpListener, 'stats'> {
  readonly stats: Readonly<DhcpServiceStats>;
  /** The worker path only: passes a message to the worker thread. */
  readonly notify?: (message: ToWorker) => void;
  /** The counters as of now (the worker path asks the worker; its `stats` may be up to one report old). */
  readonly freshStats?: () => Promise<Readonly<DhcpServiceStats>>;
}

/** Shedding is logged at most this often. */
const SHED_LOG_INTERVAL_MS = 10_000;

/** Most packets decided in one transaction (group commit). */
const MAX_BATCH = 128;


export function dhcpSettings(config: Config): DhcpSettings {
  return {
    serverAddress: config.server.address,
    subnets: config.dhcp.subnets,
    httpBaseUrl: config.http.publicUrl,
    bootFiles: config.dhcp.bootFiles,
    chainloadEmbeddedIpxe: config.dhcp.chainloadEmbeddedIpxe,
    chainWindowMs: config.dhcp.chainWindowSeconds * 1000,
    mode: config.dhcp.mode,
    peers: config.dhcp.peers,
    declineMs: config.dhcp.declineSeconds * 1000,
    declineUnknownMs: config.dhcp.declineUnknownSeconds * 1000,
    declineMaxPoolPercent: config.dhcp.declineMaxPoolPercent,
    offerHoldMs: config.dhcp.offerHoldSeconds * 1000,
  };
}

/** `dhcp.interfaces` resolved now; throws (rackboot refuses to start) when one is missing. Null when none are listed. */
export function dhcpScope(config: Config, host = networkInterfaces()): DhcpScope | null {
  if (config.dhcp.interfaces.length === 0) return null;
  const resolved = resolveDhcpScope(config.dhcp.interfaces, host, config.dhcp.subnets.map((s) => s.cidr));
  if (!resolved.ok) throw new RackbootError('RACKBOOT_ERR_CONFIG', resolved.error);
  return resolved.scope;
}

export interface DhcpServiceOptions {
  /** Overrides for tests: the host's interfaces, and the clock used for rate limits. */
  readonly interfaces?: ReturnType<typeof networkInterfaces>;
  readonly now?: () => number;
  /** Overrides dhcp.shedding (tests). */
  readonly admission?: Partial<AdmissionLimits>;
}

export async function startDhcpService(
  config: Config,
  provisioner: Provisioner,
  logger: Logger,
  serviceOptions: DhcpServiceOptions = {},
): Promise<DhcpService> {
  const log = logger.child({ svc: 'dhcp' });
  const settings = dhcpSettings(config);
  const scope = dhcpScope(config, serviceOptions.interfaces);
  if (scope) {
    log.info({
      interfaces: scope.interfaces.map((i) => `${i.name}=${i.address}`),
      direct: scope.localSubnets.length > 0,
    }, scope.localSubnets.length > 0 ? 'dhcp: serving the listed interfaces\' subnets and relays' : 'dhcp: no listed interface is on a configured subnet: relayed requests only');
  }
  const now = serviceOptions.now ?? Date.now;
  const detectRogue = config.dhcp.rogue.detect && settings.mode !== 'proxy';
  const rogueReports = new RateLimiter(config.dhcp.rogue.reportIntervalSeconds * 1000);
  const exhaustedReports = new RateLimiter(60_000);
  const declineBudgetReports = new RateLimiter(10_000);
  const admission = new DhcpAdmission({
    queueBound: config.dhcp.shedding.queueBound,
    maxAdmitted: config.dhcp.shedding.maxAdmitted,
    idleMs: config.dhcp.shedding.idleSeconds * 1000,
    ...serviceOptions.admission,
  });
  // the kernel receive-queue sampler: set once the sockets are bound
  let backlog: ReturnType<typeof startBacklogSampler> | null = null;
  let shedLoggedAt = -Infinity;
  let shedSinceLog = 0;

  const reportRogue = (sighting: RogueSighting): void => {
    if (!rogueReports.allow(sighting.serverId, now())) return;
    log.warn({ rogue: sighting }, `dhcp: another DHCP server ${sighting.serverId} is answering on the segment`);
    try {
      provisioner.dhcpServerSeen(sighting);
    } catch (err) {
      log.error({ err }, 'dhcp: recording the rogue server failed');
    }
  };

  const spot = (packet: DhcpPacket, source: Endpoint): string | null => {
    if (!detectRogue) return null;
    const sighting = rogueSighting(packet, source, settings);
    if (sighting === null) return null;
    reportRogue(sighting);
    return sighting.serverId;
  };

  // Group commit: packets that arrive together are decided in one transaction, flushed from
  // setImmediate (after the event loop has read every datagram that was waiting). Each reply still
  // leaves only after the commit that made its lease durable.
  interface Pending {
    readonly packet: DhcpPacket;
    readonly via: { readonly localPort: number; readonly source: Endpoint };
    readonly resolve: (decision: DhcpDecision) => void;
    readonly reject: (error: Error) => void;
  }
  const queue: Pending[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const batch = queue.splice(0, MAX_BATCH);
    if (queue.length > 0) schedule();
    let results: Array<DhcpDecision | Error>;
    try {
      results = provisioner.handleDhcpBatch(batch);
    } catch (error) {
      for (const pending of batch) pending.reject(error as Error);
      return;
    }
    batch.forEach((pending, i) => {
      const result = results[i];
      if (result === undefined || result instanceof Error) pending.reject(result ?? new Error('no decision'));
      else pending.resolve(result);
    });
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };
  const decide = (packet: DhcpPacket, via: Pending['via']): Promise<DhcpDecision> =>
    new Promise((resolve, reject) => {
      queue.push({ packet, via, resolve, reject });
      schedule();
    });

  const toResult = (packet: DhcpPacket, decision: DhcpDecision, withRogue: { rogueServer?: string }): DhcpHandlerResult => {
    if (decision.kind === 'ignore') {
      if (decision.code === 'pool-exhausted') {
        if (exhaustedReports.allow(packet.giaddr, now())) log.warn({ mac: packet.mac, giaddr: packet.giaddr }, `dhcp: ${decision.reason}`);
      } else if (decision.code === 'decline-over-budget') {
        // Counted per packet (ignoredByReason); logged at most once per 10 s per relay.
        if (declineBudgetReports.allow(packet.giaddr, now())) log.warn({ mac: packet.mac, giaddr: packet.giaddr }, `dhcp: ${decision.reason}`);
      } else log.debug({ mac: packet.mac, code: decision.code, reason: decision.reason }, 'dhcp: no reply');
      return { ignore: decision.code, ...withRogue };
    }
    return { reply: decision.packet, destination: decision.destination, maxSize: decision.maxSize };
  };

  const listener = await startDhcpListener({
    address: config.dhcp.listen,
    port: config.dhcp.port,
    // A rack powered on at once sends a burst of DISCOVERs; the default ~208 KiB buffer overflowed
    // in bench/storm (201 drops at 1,000 machines, each costing a machine a 4 s retry).
    recvBufferSize: 4 * 1024 * 1024,
    ...(settings.mode === 'proxy' ? { pxePort: config.dhcp.pxePort } : {}),
    ...(detectRogue && config.dhcp.rogue.watchClientPort ? { watchPort: DHCP_CLIENT_PORT, watch: spot } : {}),
    logger: log,
    handle: (packet, source, { localPort }) => {
      const rogue = spot(packet, source);
      const withRogue = rogue === null ? {} : { rogueServer: rogue };
      if (packet.op !== BOOTP_REQUEST) return { ignore: 'not-request', ...withRogue };
      const outside = scope === null ? null : outOfScope(packet, source, scope);
      if (outside !== null) {
        log.debug({ mac: packet.mac, giaddr: packet.giaddr, from: source.address, reason: outside }, 'dhcp: dropped, not from a served network');
        return { ignore: outside, ...withRogue };
      }
      if (packet.mac !== null) {
        const type = messageType(packet);
        const discover = type === null || type === DhcpMessageType.Discover;
        // waiting = decided-not-yet plus what the kernel still holds for our sockets
        backlog?.consumed();
        const waiting = queue.length + (backlog?.packets ?? 0);
        if (admission.decide(packet.mac, discover, waiting, now(), queue.length) === 'shed') {
          shedSinceLog += 1;
          const at = now();
          if (at - shedLoggedAt >= SHED_LOG_INTERVAL_MS) {
            log.warn({ shed: shedSinceLog, queued: waiting, admittedMacs: admission.stats.admittedMacs, shedTotal: admission.stats.shed },
              'dhcp: overloaded: new machines are dropped early so the admitted ones finish (they retransmit; logged at most every 10 s)');
            shedLoggedAt = at;
            shedSinceLog = 0;
          }
          return { ignore: 'shed', ...withRogue };
        }
      }
      return decide(packet, { localPort, source }).then((decision) => toResult(packet, decision, withRogue));
    },
  });
  backlog = process.platform === 'linux' ? startBacklogSampler([listener.port, ...(listener.pxePort === null ? [] : [listener.pxePort])]) : null;
  return {
    port: listener.port,
    pxePort: listener.pxePort,
    watchPort: listener.watchPort,
    get stats() {
      return Object.assign(listener.stats, { admission: { ...admission.stats, queued: queue.length + (backlog?.packets ?? 0) } });
    },
    close: () => {
      backlog?.stop();
      return listener.close();
    },
  };
}
