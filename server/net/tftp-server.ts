/**
 * Read-only TFTP server adapter: the listener, one UDP socket per transfer, timers and limits.
 * Packet bytes come from protocol/tftp/codec.ts, negotiation from options.ts, which block to send
 * from sender.ts, and path rules from core/tftp-path.ts; this file only wires them to sockets.
 *
 * Choices worth knowing:
 * - Only `octet` mode. netascii (and anything else) gets ERROR 4; PXE firmware never uses it.
 * - Errors that end a request before a transfer exists (WRQ, bad mode or path, not found, denied,
 *   limits) are sent from the listener socket, so refusing costs no file descriptor. Clients
 *   take their peer's TID from the first reply, so they accept an error from port 69.
 * - Node cannot tell which local address a datagram arrived on, so the listener must be bound to
 *   one unicast address, and every transfer socket binds to that same address (TFTP-03).
 */
import { createSocket, type RemoteInfo, type Socket, type SocketType } from 'node:dgram';
import { isIP } from 'node:net';
import type { Endpoint } from '../core/types.js';
import { normaliseTftpPath } from '../core/tftp-path.js';
import type { Logger } from '../log.js';
import {
  decodePacket,
  encodeDataHeader,
  encodeError,
  encodeOack,
  TFTP_ERROR,
  type TftpOption,
} from '../protocol/tftp/codec.js';
import type {
  TftpContent,
  TftpRequestInfo,
  TftpResolver,
  TftpTransferResult,
  TftpTransferSummary,
} from '../protocol/tftp/content.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, negotiateOptions, optionsRecord } from '../protocol/tftp/options.js';
import { MAX_SAFE_WINDOW, TftpSender, type AckOutcome } from '../protocol/tftp/sender.js';

export type { TftpContent, TftpRequestInfo, TftpResolver, TftpTransferSummary } from '../protocol/tftp/content.js';

export interface TftpServerOptions {
  /** A specific unicast address; wildcards are refused (see the file comment). */
  readonly address: string;
  /** 69 in production; 0 picks an ephemeral port (tests). */
  readonly port: number;
  readonly logger: Logger;
  readonly resolve: TftpResolver;
  readonly onTransferEnd?: (summary: TftpTransferSummary) => void;
  /** Largest blksize granted; 1468 fits a 1500-byte MTU. */
  readonly maxBlockSize?: number;
  readonly maxWindowSize?: number;
  /** First retransmission timeout; doubles per retry up to 4x. A client `timeout` option replaces it. */
  readonly retransmitMs?: number;
  /** Retransmissions of one window before the transfer is given up. */
  readonly maxRetries?: number;
  readonly maxTransfers?: number;
  /** Concurrent transfers per client IP address. */
  readonly maxTransfersPerClient?: number;
}

export interface TftpServerStats {
  /** RRQ and WRQ packets received on the listener, duplicates included. */
  requests: number;
  /** Retransmitted RRQs folded into a live transfer. */
  duplicates: number;
  completed: number;
  /** Requests that ended without delivering the whole file (errors, timeouts, client aborts). */
  failed: number;
  /** Requests turned away by maxTransfers or maxTransfersPerClient. */
  refused: number;
  /** Undecodable or unexpected packets, dropped. */
  malformed: number;
  /** Packets from a wrong source on a transfer socket, answered with ERROR 5. */
  unknownTid: number;
  /** Timeouts that led to a retransmission. */
  retransmits: number;
  /** DATA payload bytes sent, retransmissions included. */
  bytesSent: number;
  /** Transfers being resolved or sent right now. */
  active: number;
}

export interface TftpServer {
  readonly address: string;
  readonly port: number;
  readonly stats: Readonly<TftpServerStats>;
  close(): Promise<void>;
}

const BACKOFF_CAP = 4;
const LISTENER_RECV_BUFFER = 2 * 1024 * 1024;

interface Settings {
  readonly address: string;
  readonly socketType: SocketType;
  readonly maxBlockSize: number;
  readonly maxWindowSize: number;
  readonly retransmitMs: number;
  readonly maxRetries: number;
  readonly maxTransfers: number;
  readonly maxTransfersPerClient: number;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`tftp: ${name} must be an integer in ${min}..${max}, got ${value}`);
  return value;
}

function settingsFrom(options: TftpServerOptions): Settings {
  const family = isIP(options.address);
  if (family === 0) throw new TypeError(`tftp: address must be an IP literal, got "${options.address}"`);
  if (options.address === '0.0.0.0' || options.address === '::') {
    throw new TypeError('tftp: bind to the provisioning address, not a wildcard (replies must leave from the address the client asked)');
  }
  checkInteger('port', options.port, 0, 65535);
  return {
    address: options.address,
    socketType: family === 6 ? 'udp6' : 'udp4',
    maxBlockSize: checkInteger('maxBlockSize', options.maxBlockSize ?? 1468, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE),
    maxWindowSize: checkInteger('maxWindowSize', options.maxWindowSize ?? 32, 1, MAX_SAFE_WINDOW),
    retransmitMs: checkInteger('retransmitMs', options.retransmitMs ?? 1000, 1, 600_000),
    maxRetries: checkInteger('maxRetries', options.maxRetries ?? 5, 0, 1000),
    maxTransfers: checkInteger('maxTransfers', options.maxTransfers ?? 500, 1, 100_000),
    maxTransfersPerClient: checkInteger('maxTransfersPerClient', options.maxTransfersPerClient ?? 16, 1, 100_000),
  };
}

function bindSocket(socket: Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

const endpointText = (e: Endpoint): string => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

const CONTENT_ERRORS = {
  'not-found': { code: TFTP_ERROR.fileNotFound, message: 'File not found' },
  denied: { code: TFTP_ERROR.accessViolation, message: 'Access violation' },
} as const;

/** What a transfer needs from its server. */
interface TransferHost {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly stats: TftpServerStats;
  readonly resolve: TftpResolver;
  sendFromListener(to: Endpoint, code: number, message: string): void;
  ended(transfer: Transfer, summary: TftpTransferSummary): void;
}

class Transfer {
  private readonly startedAt = Date.now();
  private socket: Socket | null = null;
  private sender: TftpSender | null = null;
  private content: Buffer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private oack: Buffer | null = null;
  private retries = 0;
  private baseDelayMs: number;
  private fixedDelay = false;
  private blksize = 512;
  private windowsize = 1;
  private ended = false;
  private socketClosed: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: TransferHost,
    readonly key: string,
    readonly client: Endpoint,
    private readonly path: string,
    private readonly requested: readonly TftpOption[],
  ) {
    this.baseDelayMs = host.settings.retransmitMs;
  }

  async run(): Promise<void> {
    const { settings, logger } = this.host;
    const info: TftpRequestInfo = {
      path: this.path,
      client: this.client,
      localAddress: settings.address,
      options: optionsRecord(this.requested),
    };
    let content: TftpContent;
    try {
      content = await this.host.resolve(info);
    } catch (err) {
      logger.error({ err, client: endpointText(this.client), path: this.path }, 'tftp resolver failed');
      if (!this.ended) this.host.sendFromListener(this.client, TFTP_ERROR.notDefined, 'Internal error');
      this.finish('error', 'resolver failed');
      return;
    }
    if (this.ended) return;
    if (content.kind !== 'buffer') {
      const reply = CONTENT_ERRORS[content.kind];
      this.host.sendFromListener(this.client, reply.code, reply.message);
      this.finish('error', `${content.kind}: ${content.reason}`);
      return;
    }

    const negotiated = negotiateOptions(this.requested, content.data.length, settings);
    this.blksize = negotiated.blksize;
    this.windowsize = negotiated.windowsize;
    if (negotiated.timeoutS !== null) {
      this.baseDelayMs = negotiated.timeoutS * 1000;
      this.fixedDelay = true;
    }
    this.content = content.data;
    this.oack = negotiated.oack.length > 0 ? encodeOack(negotiated.oack) : null;
    this.sender = new TftpSender({
      size: content.data.length,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      oack: this.oack !== null,
    });

    const socket = createSocket({ type: settings.socketType });
    this.socket = socket;
    this.socketClosed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => {
      logger.error({ err, client: endpointText(this.client), path: this.path }, 'tftp transfer socket error');
      this.finish('error', `socket error: ${err.message}`);
    });
    try {
      await bindSocket(socket, settings.address, 0);
    } catch (err) {
      this.finish('error', `cannot bind transfer socket: ${(err as Error).message}`);
      return;
    }
    if (this.ended) return;
    this.execute(this.sender.start());
  }

  /** Ends the transfer once; safe to call from any state. */
  finish(result: TftpTransferResult, reason?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.socket !== null) void closeSocket(this.socket);
    const summary: TftpTransferSummary = {
      path: this.path,
      client: this.client,
      bytes: this.sender?.bytesAcked ?? 0,
      blksize: this.blksize,
      windowsize: this.windowsize,
      durationMs: Date.now() - this.startedAt,
      result,
      ...(reason === undefined ? {} : { reason }),
    };
    this.host.ended(this, summary);
  }

  whenClosed(): Promise<void> {
    return this.socketClosed;
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.ended || this.sender === null) return;
    const { stats, logger } = this.host;
    if (rinfo.address !== this.client.address || rinfo.port !== this.client.port) {
      stats.unknownTid += 1;
      logger.debug({ from: endpointText(rinfo), client: endpointText(this.client) }, 'tftp packet from unknown TID');
      this.send(encodeError(TFTP_ERROR.unknownTransferId, 'Unknown transfer ID'), rinfo);
      return;
    }
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      stats.malformed += 1;
      logger.debug({ client: endpointText(this.client), reason: decoded.reason }, 'tftp malformed packet dropped');
      return;
    }
    const packet = decoded.packet;
    if (packet.op === 'ack') {
      this.handle(this.sender.onAck(packet.block));
    } else if (packet.op === 'error') {
      // An ERROR answering the OACK is how Intel ROMs end their tsize probe: routine, not a failure.
      const probe = this.sender.awaitingOackAck;
      logger.info(
        { client: endpointText(this.client), path: this.path, code: packet.code, message: packet.message },
        probe ? 'tftp client declined the OACK' : 'tftp client aborted the transfer',
      );
      this.finish('aborted', `client error ${packet.code}: ${packet.message}`);
    } else {
      stats.malformed += 1;
      logger.debug({ client: endpointText(this.client), op: packet.op }, 'tftp unexpected packet on transfer socket dropped');
    }
  }

  private handle(outcome: AckOutcome): void {
    switch (outcome.kind) {
      case 'ignore':
        return; // duplicate or stale ACK: never a reason to resend
      case 'complete':
        this.finish('complete');
        return;
      default:
        this.retries = 0;
        this.execute(outcome);
    }
  }

  private execute(plan: Exclude<AckOutcome, { kind: 'ignore' } | { kind: 'complete' }>): void {
    if (plan.kind === 'oack') {
      if (this.oack !== null) this.send(this.oack, this.client);
    } else {
      this.sendBlocks(plan.first, plan.last);
    }
    this.arm();
  }

  private sendBlocks(first: number, last: number): void {
    const sender = this.sender;
    const content = this.content;
    if (sender === null || content === null) return;
    for (let block = first; block <= last; block += 1) {
      const { start, end } = sender.blockBounds(block);
      this.send([encodeDataHeader(block), content.subarray(start, end)], this.client);
      this.host.stats.bytesSent += end - start;
    }
  }

  private send(packet: Buffer | Buffer[], to: Endpoint): void {
    const socket = this.socket;
    if (socket === null || this.ended) return;
    socket.send(packet, to.port, to.address, (err) => {
      // A failed send (ENOBUFS under load, say) is a lost packet; the retransmit timer covers it.
      if (err) this.host.logger.debug({ err, client: endpointText(this.client) }, 'tftp send failed');
    });
  }

  private arm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    const factor = this.fixedDelay ? 1 : Math.min(2 ** this.retries, BACKOFF_CAP);
    this.timer = setTimeout(() => this.onTimeout(), this.baseDelayMs * factor);
  }

  private onTimeout(): void {
    this.timer = null;
    if (this.ended || this.sender === null) return;
    if (this.retries >= this.host.settings.maxRetries) {
      this.host.logger.warn({ client: endpointText(this.client), path: this.path, retries: this.retries }, 'tftp transfer timed out');
      this.finish('timeout', `no ACK after ${this.retries} retransmissions`);
      return;
    }
    this.retries += 1;
    this.host.stats.retransmits += 1;
    this.execute(this.sender.onTimeout());
  }
}

export async function startTftpServer(options: TftpServerOptions): Promise<TftpServer> {
  const settings = settingsFrom(options);
  const { logger } = options;
  const stats: TftpServerStats = {
    requests: 0,
    duplicates: 0,
    completed: 0,
    failed: 0,
    refused: 0,
    malformed: 0,
    unknownTid: 0,
    retransmits: 0,
    bytesSent: 0,
    active: 0,
  };
  const transfers = new Map<string, Transfer>();
  const perClient = new Map<string, number>();
  let closing = false;

  const listener = createSocket({ type: settings.socketType });
  try {
    await bindSocket(listener, settings.address, options.port);
  } catch (err) {
    await closeSocket(listener);
    throw err;
  }
  listener.on('error', (err) => logger.error({ err }, 'tftp listener socket error'));
  try {
    // A rack powering on sends hundreds of RRQs at once; the default ~208 KB buffer holds only
    // about 256 of them. The kernel caps this at net.core.rmem_max.
    listener.setRecvBufferSize(LISTENER_RECV_BUFFER);
  } catch (err) {
    logger.debug({ err }, 'tftp could not enlarge the listener receive buffer');
  }

  const sendFromListener = (to: Endpoint, code: number, message: string): void => {
    if (closing) return;
    listener.send(encodeError(code, message), to.port, to.address, (err) => {
      if (err) logger.debug({ err, client: endpointText(to) }, 'tftp error reply not sent');
    });
  };

  const host: TransferHost = {
    settings,
    logger,
    stats,
    resolve: options.resolve,
    sendFromListener,
    ended(transfer, summary) {
      transfers.delete(transfer.key);
      const left = (perClient.get(transfer.client.address) ?? 1) - 1;
      if (left > 0) perClient.set(transfer.client.address, left);
      else perClient.delete(transfer.client.address);
      stats.active = transfers.size;
      if (summary.result === 'complete') stats.completed += 1;
      else stats.failed += 1;
      const fields = { ...summary, client: endpointText(summary.client) };
      if (summary.result === 'complete') logger.info(fields, 'tftp transfer complete');
      else logger.info(fields, 'tftp transfer ended without completing');
      try {
        options.onTransferEnd?.(summary);
      } catch (err) {
        logger.error({ err }, 'tftp onTransferEnd callback threw');
      }
    },
  };

  const reject = (client: Endpoint, code: number, message: string, why: string, fields: object = {}): void => {
    stats.failed += 1;
    logger.info({ client: endpointText(client), ...fields, why }, 'tftp request rejected');
    sendFromListener(client, code, message);
  };

  const onRequest = (msg: Buffer, rinfo: RemoteInfo): void => {
    const decoded = decodePacket(msg);
    if (!decoded.ok || (decoded.packet.op !== 'rrq' && decoded.packet.op !== 'wrq')) {
      stats.malformed += 1;
      logger.debug({ from: endpointText(rinfo), reason: decoded.ok ? `unexpected ${decoded.packet.op}` : decoded.reason }, 'tftp listener dropped a packet');
      return;
    }
    const request = decoded.packet;
    const client: Endpoint = { address: rinfo.address, port: rinfo.port };
    stats.requests += 1;
    if (request.op === 'wrq') {
      reject(client, TFTP_ERROR.accessViolation, 'Access violation: read-only server', 'write request', { file: request.filename });
      return;
    }
    if (request.mode.toLowerCase() !== 'octet') {
      reject(client, TFTP_ERROR.illegalOperation, 'Only octet mode is supported', 'unsupported mode', { mode: request.mode });
      return;
    }
    const normalised = normaliseTftpPath(request.filename);
    if (!normalised.ok) {
      reject(client, TFTP_ERROR.accessViolation, 'Access violation', normalised.reason, { file: request.filename });
      return;
    }
    const key = `${client.address}|${client.port}|${request.filename}`;
    if (transfers.has(key)) {
      stats.duplicates += 1;
      logger.debug({ client: endpointText(client), path: normalised.path }, 'tftp duplicate RRQ ignored');
      return;
    }
    const clientCount = perClient.get(client.address) ?? 0;
    if (transfers.size >= settings.maxTransfers || clientCount >= settings.maxTransfersPerClient) {
      stats.refused += 1;
      const limit = transfers.size >= settings.maxTransfers ? 'maxTransfers' : 'maxTransfersPerClient';
      logger.warn({ client: endpointText(client), path: normalised.path, limit }, 'tftp request refused: too many transfers');
      sendFromListener(client, TFTP_ERROR.notDefined, 'Server busy, too many transfers');
      return;
    }
    const transfer = new Transfer(host, key, client, normalised.path, request.options);
    transfers.set(key, transfer);
    perClient.set(client.address, clientCount + 1);
    stats.active = transfers.size;
    void transfer.run().catch((err: unknown) => {
      logger.error({ err, client: endpointText(client) }, 'tftp transfer crashed');
      transfer.finish('error', 'internal error');
    });
  };

  listener.on('message', (msg, rinfo) => {
    if (!closing) onRequest(msg, rinfo);
  });

  const bound = listener.address();
  logger.info({ address: bound.address, port: bound.port }, 'tftp listening');

  return {
    address: bound.address,
    port: bound.port,
    stats,
    async close() {
      if (closing) return;
      closing = true;
      const live = [...transfers.values()];
      for (const transfer of live) transfer.finish('aborted', 'server closing');
      await Promise.all([closeSocket(listener), ...live.map((t) => t.whenClosed())]);
    },
  };
}
