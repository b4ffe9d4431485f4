import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Endpoint } from '../core/types.js';
import type { Logger } from '../log.js';
import { BOOTP_REQUEST, messageTypeName } from '../protocol/dhcp/constants.js';
import { decodeDhcp } from '../protocol/dhcp/decode.js';
import { encodeDhcp } from '../protocol/dhcp/encode.js';
import { messageType } from '../protocol/dhcp/options.js';
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import { DuplicateFilter } from './duplicate-filter.js';
import { closeSocket } from './udp.js';

export interface DhcpReplyPlan {
  readonly reply: DhcpPacket;
  readonly destination: Endpoint;
  /** Largest payload the client accepts; a larger reply is not sent and counts as an error. */
  readonly maxSize?: number;
}

/** No reply, and why (a stable code, counted in `ignoredByReason`). */
export interface DhcpNoReply {
  readonly ignore: string;
  /** The packet revealed another DHCP server (counted in `rogueSightings`). */
  readonly rogueServer?: string;
}

export interface ReceivedOn {
  /** The local port the request arrived on: 67, or the PXE boot-server port (4011). */
  readonly localPort: number;
}

export type DhcpHandlerResult = DhcpReplyPlan | DhcpNoReply | null;

/** Decides one request. Null (or a DhcpNoReply) stays silent. May throw: the listener logs and counts it. */
export type DhcpHandler = (
  packet: DhcpPacket,
  source: Endpoint,
  receivedOn: ReceivedOn,
) => DhcpHandlerResult | Promise<DhcpHandlerResult>;

export interface DhcpListenerOptions {
  /** '0.0.0.0' to receive broadcasts (a socket bound to a unicast address does not). */
  readonly address: string;
  readonly port: number;
  /** Optional second socket for PXE boot-server requests (4011); its replies leave through it. */
  readonly pxePort?: number;
  /**
   * Optional socket on the client port (68) that only watches: other servers' broadcast replies
   * are passed to `watch` (rogue DHCP detection); nothing is ever sent from it.
   */
  readonly watchPort?: number;
  readonly watch?: (packet: DhcpPacket, source: Endpoint) => string | null;
  readonly logger: Logger;
  readonly handle: DhcpHandler;
  /**
   * Receive buffer of the serving sockets, in bytes (best effort: the kernel caps it at
   * net.core.rmem_max). A deep buffer absorbs bursts while a batch commits. Default: the kernel's.
   */
  readonly recvBufferSize?: number;
  /**
   * The same bytes from the same source within this many ms are a duplicate delivery: counted as
   * ignored (`duplicate`), not answered, logged once a minute. Default 250; 0 answers every copy.
   */
  readonly duplicateWindowMs?: number;
}

/** Per message type: how its packets ended. */
export interface DhcpTypeStats {
  replied: number;
  ignored: number;
  errors: number;
}

/**
 * Plain counters, read at scrape time (/metrics). `received = malformed + replied + ignored + errors`
 * for the serving sockets; the watch socket counts in `watched` only.
 */
export interface DhcpListenerStats {
  received: number;
  malformed: number;
  replied: number;
  ignored: number;
  errors: number;
  /** By request type: DISCOVER, REQUEST, DECLINE, RELEASE, INFORM, BOOTP (no option 53), BOOTREPLY (op 2), ... */
  byType: Record<string, DhcpTypeStats>;
  /** Replies sent, by type: OFFER, ACK, NAK. */
  sent: Record<string, number>;
  /** Packets that got no reply, by reason code (unknown-mac, other-server, pool-exhausted, foreign-relay, ...). */
  ignoredByReason: Record<string, number>;
  /** Packets that revealed another DHCP server (every one; reports are rate-limited). */
  rogueSightings: number;
  /** Sightings by foreign server id (at most 64 distinct ids are kept). */
  rogueServers: Record<string, number>;
  /** Packets seen on the watch socket (client port). */
  watched: number;
}

export interface DhcpListener {
  readonly port: number;
  readonly pxePort: number | null;
  readonly watchPort: number | null;
  readonly stats: Readonly<DhcpListenerStats>;
  close(): Promise<void>;
}

const MAX_ROGUE_IDS = 64;
const DUPLICATE_LOG_INTERVAL_MS = 60_000;
const MAX_REASONS = 64;

export function emptyDhcpStats(): DhcpListenerStats {
  return {
    received: 0, malformed: 0, replied: 0, ignored: 0, errors: 0,
    byType: {}, sent: {}, ignoredByReason: {}, rogueSightings: 0, rogueServers: {}, watched: 0,
  };
}

function isReplyPlan(result: DhcpReplyPlan | DhcpNoReply): result is DhcpReplyPlan {
  return (result as DhcpReplyPlan).reply !== undefined;
}

/** Binds the DHCP socket(s): decode, one call to `handle`, encode, send. A bad packet never stops it. */
export async function startDhcpListener(options: DhcpListenerOptions): Promise<DhcpListener> {
  const { logger } = options;
  const stats = emptyDhcpStats();
  const duplicates = new DuplicateFilter({ windowMs: options.duplicateWindowMs ?? 250 });
  let duplicateLoggedAt = -Infinity;

  const typeStats = (packet: DhcpPacket): DhcpTypeStats => {
    const name = packet.op === BOOTP_REQUEST ? messageTypeName(messageType(packet)) : packet.op === 2 ? 'BOOTREPLY' : `op-${packet.op}`;
    let entry = stats.byType[name];
    if (entry === undefined) {
      // A bounded label set: 53 values outside 1-8 all count as one.
      const key = Object.keys(stats.byType).length < 32 ? name : 'other';
      entry = stats.byType[key] ??= { replied: 0, ignored: 0, errors: 0 };
    }
    return entry;
  };

  const countRogue = (serverId: string): void => {
    stats.rogueSightings += 1;
    if (stats.rogueServers[serverId] !== undefined || Object.keys(stats.rogueServers).length < MAX_ROGUE_IDS) {
      stats.rogueServers[serverId] = (stats.rogueServers[serverId] ?? 0) + 1;
    }
  };

  const countIgnored = (entry: DhcpTypeStats, reason: string): void => {
    stats.ignored += 1;
    entry.ignored += 1;
    const key = stats.ignoredByReason[reason] !== undefined || Object.keys(stats.ignoredByReason).length < MAX_REASONS ? reason : 'other';
    stats.ignoredByReason[key] = (stats.ignoredByReason[key] ?? 0) + 1;
  };

  const fail = (entry: DhcpTypeStats, packet: DhcpPacket, source: Endpoint, err: unknown, what: string): void => {
    stats.errors += 1;
    entry.errors += 1;
    logger.error({ type: messageTypeName(messageType(packet)), mac: packet.mac, xid: packet.xid, from: `${source.address}:${source.port}`, err }, what);
  };

  const finish = (socket: Socket, packet: DhcpPacket, source: Endpoint, entry: DhcpTypeStats, result: DhcpHandlerResult): void => {
    if (result === null) {
      countIgnored(entry, 'no-reply');
      return;
    }
    if (!isReplyPlan(result)) {
      if (result.rogueServer !== undefined) countRogue(result.rogueServer);
      countIgnored(entry, result.ignore);
      return;
    }
    let bytes: Buffer;
    try {
      bytes = encodeDhcp(result.reply, result.maxSize === undefined ? {} : { maxSize: result.maxSize });
    } catch (err) {
      fail(entry, packet, source, err, 'dhcp: reply cannot be encoded; no reply sent');
      return;
    }
    const { destination, reply } = result;
    socket.send(bytes, destination.port, destination.address, (err) => {
      if (err) {
        fail(entry, packet, source, err, `dhcp: send to ${destination.address}:${destination.port} failed`);
        return;
      }
      stats.replied += 1;
      entry.replied += 1;
      const sentType = messageTypeName(messageType(reply));
      stats.sent[sentType] = (stats.sent[sentType] ?? 0) + 1;
      if (logger.isLevelEnabled('debug')) {
        logger.debug({ type: messageTypeName(messageType(packet)), mac: packet.mac, xid: packet.xid, reply: sentType, yiaddr: reply.yiaddr, to: `${destination.address}:${destination.port}` }, 'dhcp: replied');
      }
    });
  };

  const serve = (socket: Socket, localPort: number) => (msg: Buffer, rinfo: RemoteInfo): void => {
    stats.received += 1;
    const decoded = decodeDhcp(msg);
    if (!decoded.ok) {
      stats.malformed += 1;
      logger.debug({ from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, error: decoded.error }, 'dhcp: malformed packet dropped');
      return;
    }
    const packet = decoded.packet;
    const source: Endpoint = { address: rinfo.address, port: rinfo.port };
    const entry = typeStats(packet);
    if (packet.op === BOOTP_REQUEST && duplicates.isDuplicate(`${rinfo.address}:${rinfo.port}:${localPort}`, msg)) {
      countIgnored(entry, 'duplicate');
      const now = performance.now();
      if (now - duplicateLoggedAt >= DUPLICATE_LOG_INTERVAL_MS) {
        duplicateLoggedAt = now;
        logger.warn({ mac: packet.mac, xid: packet.xid, from: `${rinfo.address}:${rinfo.port}` }, 'dhcp: the same packet arrived twice (this segment delivers packets twice: a bridge loop or mirror port?); answering the first copy only (logged once a minute; counted as ignored, reason duplicate)');
      }
      return;
    }
    let result: DhcpHandlerResult | Promise<DhcpHandlerResult>;
    try {
      result = options.handle(packet, source, { localPort });
    } catch (err) {
      fail(entry, packet, source, err, 'dhcp: handling failed; no reply sent');
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (settled) => finish(socket, packet, source, entry, settled),
        (err: unknown) => fail(entry, packet, source, err, 'dhcp: handling failed; no reply sent'),
      );
    } else {
      finish(socket, packet, source, entry, result);
    }
  };

  const watch = (msg: Buffer, rinfo: RemoteInfo): void => {
    stats.watched += 1;
    const decoded = decodeDhcp(msg);
    if (!decoded.ok || !options.watch) return;
    try {
      const rogue = options.watch(decoded.packet, { address: rinfo.address, port: rinfo.port });
      if (rogue !== null) countRogue(rogue);
    } catch (err) {
      stats.errors += 1;
      logger.error({ err }, 'dhcp: watch handler failed');
    }
  };

  const sockets: Socket[] = [];
  try {
    const main = await bindSocket(options.address, options.port);
    sockets.push(main);
    main.on('message', serve(main, main.address().port));
    let pxePort: number | null = null;
    if (options.pxePort !== undefined) {
      const pxe = await bindSocket(options.address, options.pxePort);
      sockets.push(pxe);
      pxePort = pxe.address().port;
      pxe.on('message', serve(pxe, pxePort));
    }
    let watchPort: number | null = null;
    if (options.watchPort !== undefined) {
      const watcher = await bindSocket(options.address, options.watchPort);
      sockets.push(watcher);
      watchPort = watcher.address().port;
      watcher.on('message', watch);
    }
    if (options.recvBufferSize !== undefined) {
      for (const socket of sockets) {
        try {
          socket.setRecvBufferSize(options.recvBufferSize);
        } catch (err) {
          logger.warn({ err, bytes: options.recvBufferSize }, 'dhcp: receive buffer not enlarged');
        }
      }
    }
    for (const socket of sockets) {
      socket.on('error', (err) => {
        stats.errors += 1;
        logger.error({ err }, 'dhcp: socket error');
      });
    }
    logger.info({ address: options.address, port: main.address().port, pxePort, watchPort }, 'dhcp: listening');
    return {
      port: main.address().port,
      pxePort,
      watchPort,
      stats,
      close: () => Promise.all(sockets.map(closeSocket)).then(() => undefined),
    };
  } catch (err) {
    await Promise.all(sockets.map(closeSocket));
    throw err;
  }
}

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const onError = (err: Error): void => {
      closeSocket(socket).finally(() => reject(err));
    };
    socket.once('error', onError);
    socket.bind({ address, port }, () => {
      socket.off('error', onError);
      socket.setBroadcast(true);
      resolve(socket);
    });
  });
}
