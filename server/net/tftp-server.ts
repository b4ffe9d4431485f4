/**
 * Read-only TFTP server adapter: the listener, a port (two sockets) per transfer, timers and limits.
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
 * - A transfer's port is held by two sockets (SO_REUSEADDR): one connected to the client, one
 *   unconnected that answers everyone else with ERROR 5 (see Transfer.run).
 * - The send path is the hot path (one call per DATA block). Sockets get a synchronous `lookup`
 *   (destinations are always IP literals, so dgram's default dns.lookup would only add a
 *   process.nextTick hop per packet); each DATA packet is one slice of a framed image of the file
 *   (protocol/tftp/data-packets.ts: built lazily, shared, immutable once written; files over
 *   maxFramedBytes go out as header + payload views instead); sends take no callback
 *   (a lost send is a lost packet, which the retransmission timer covers); and the retransmission
 *   timer is armed once and pushed back lazily through a deadline instead of being cleared and
 *   re-created on every ACK.
 * - Limits: `maxTransfers` in total, `maxTransfersPerClient` per client address, and (when set)
 *   `clientRequestRate`/`clientRequestBurst`, a token bucket of new transfers per client address,
 *   so one address flooding RRQs can neither hold every slot nor churn through them. The
 *   per-client limits are checked first, so a flood is counted against its sender. A request
 *   over a limit gets no answer: PXE firmware gives up (and reboots) on an ERROR but retransmits
 *   an unanswered RRQ, by which time a slot may be free (measured in bench/storm: ERROR replies
 *   cost 639 reboots among 1,000 machines). It is counted (`refused`, plus `refusedMaxTransfers`,
 *   `refusedMaxPerClient` or `refusedClientRate`) and logged at warn level, at most one line per second per limit with
 *   the number of refusals folded into it, so a flood cannot flood the log.
 */
import { createSocket, type RemoteInfo, type Socket, type SocketType } from 'node:dgram';
import { isIP } from 'node:net';
import type { Endpoint } from '../core/types.js';
import { normaliseTftpPath } from '../core/tftp-path.js';
import type { Logger } from '../log.js';
import {
  decodePacket,
  encodeError,
  encodeOack,
  OPCODE,
  TFTP_ERROR,
  type TftpOption,
} from '../protocol/tftp/codec.js';
import type {
  TftpContent,
  TftpRequestInfo,
  TftpResolver,
  TftpTransferResult,
  TftpTransferSummary,
} from '../core/tftp-content.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, negotiateOptions, optionsRecord } from '../protocol/tftp/options.js';
import { MAX_SAFE_WINDOW, TftpSender, type AckOutcome, type SendPlan } from '../protocol/tftp/sender.js';
import { DataPacketsCache, DEFAULT_MAX_FRAMED_BYTES, type DataPackets } from '../protocol/tftp/data-packets.js';
import { ClientRate } from './client-rate.js';
import { closeSocket } from './udp.js';

export type { TftpContent, TftpRequestInfo, TftpResolver, TftpTransferSummary } from '../core/tftp-content.js';

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
  /** First retransmission timeout; doubles per retry up to 8x. A client `timeout` option caps it (lock-step) or replaces it (windowed). */
  readonly retransmitMs?: number;
  /** Retransmissions of one window before the transfer is given up. */
  readonly maxRetries?: number;
  readonly maxTransfers?: number;
  /** Concurrent transfers per client IP address. Default 16 (config `tftp.maxTransfersPerClient` sets 8). */
  readonly maxTransfersPerClient?: number;
  /** New transfers per second per client address (token bucket); unset: no rate bound. */
  readonly clientRequestRate?: number;
  /** How many new transfers a client address may start at once; default 2 x clientRequestRate. */
  readonly clientRequestBurst?: number;
  /** Files up to this size are sent from a framed copy (faster); larger ones as views of the file (no copy). */
  readonly maxFramedBytes?: number;
}

/**
 * Counters for /metrics. One plain object, updated in place, read at scrape time: every field is a
 * number. All are monotonic counters except the gauges `active`, `activeClients` and `peakActive`.
 */
export interface TftpServerStats {
  /** RRQ and WRQ packets received on the listener, duplicates included. */
  requests: number;
  /** Retransmitted RRQs folded into a live transfer. */
  duplicates: number;
  completed: number;
  /** Requests that ended without delivering the whole file (errors, timeouts, client aborts). */
  failed: number;
  /** Requests left unanswered because of maxTransfers or maxTransfersPerClient (the client retransmits). */
  refused: number;
  /** The part of `refused` due to maxTransfers (the server-wide cap). */
  refusedMaxTransfers: number;
  /** The part of `refused` due to maxTransfersPerClient. */
  refusedMaxPerClient: number;
  /** The part of `refused` due to clientRequestRate (new transfers per second per address). */
  refusedClientRate: number;
  /** Undecodable or unexpected packets, dropped. */
  malformed: number;
  /** Packets from a wrong source on a transfer socket, answered with ERROR 5. */
  unknownTid: number;
  /** Answered ERROR 1 (the resolver found nothing). Counted in `failed`. */
  notFound: number;
  /** Answered ERROR 2: refused paths, denied files and write requests. Counted in `failed`. */
  accessDenied: number;
  /** WRQ packets (always refused: the server is read-only). Also in `accessDenied`. */
  writeRequests: number;
  /** Requests in a mode other than octet, answered ERROR 4. Counted in `failed`. */
  badMode: number;
  /** Resolver failures and socket errors, answered ERROR 0 where possible. Counted in `failed`. */
  internalErrors: number;
  /** Transfers given up after maxRetries retransmissions. Counted in `failed`. */
  timeouts: number;
  /** Transfers the client ended with an ERROR packet after DATA had started. Counted in `failed`. */
  clientAborts: number;
  /** OACKs answered with ERROR (the tsize probe of PXE ROMs: routine). Counted in `failed`. */
  oackDeclined: number;
  /** Transfers ended because the client's port became unreachable (ICMP): it has gone. Counted in `failed`. */
  clientGone: number;
  /** Timeouts that led to a retransmission (of an OACK or of a window). */
  retransmits: number;
  /** DATA packets sent, retransmissions included. */
  blocksSent: number;
  /** DATA packets sent again by a retransmission. */
  blocksRetransmitted: number;
  /** ACKs for a block already acknowledged: ignored, never a reason to resend (Sorcerer's Apprentice). */
  duplicateAcks: number;
  /** ACKs outside the outstanding window (delayed or forged): ignored. */
  staleAcks: number;
  /** DATA payload bytes sent, retransmissions included. */
  bytesSent: number;
  /** Content bytes of completed transfers. */
  bytesDelivered: number;
  /** Gauge: transfers being resolved or sent right now. */
  active: number;
  /** Gauge: distinct client addresses with a transfer right now. */
  activeClients: number;
  /** Gauge: the highest `active` seen since start. */
  peakActive: number;
}

export interface TftpServer {
  readonly address: string;
  readonly port: number;
  /** Live counters; read them at scrape time (see TftpServerStats). */
  readonly stats: Readonly<TftpServerStats>;
  close(): Promise<void>;
}

/**
 * Retransmission waits double up to this factor. It must let the longest wait exceed the
 * client's own timeout: atftp's windowed receiver ignores a resent window it already has and
 * re-ACKs only when its timer (reset by every packet it receives, 5 s by default) runs out, so a
 * server that keeps resending faster than that after a lost ACK never hears from it again.
 * With retransmitMs 1000: 1, 2, 4, 8, 8 ... s.
 */
const BACKOFF_CAP = 8;
const LISTENER_RECV_BUFFER = 2 * 1024 * 1024;
/** At most one "limit reached" warning per limit per this many milliseconds. */
const LIMIT_LOG_INTERVAL_MS = 1000;

interface Settings {
  readonly address: string;
  readonly socketType: SocketType;
  readonly maxBlockSize: number;
  readonly maxWindowSize: number;
  readonly retransmitMs: number;
  readonly maxRetries: number;
  readonly maxTransfers: number;
  readonly maxTransfersPerClient: number;
  /** New transfers per second per client address, and the bucket size; null: no rate bound. */
  readonly clientRequestRate: number | null;
  readonly clientRequestBurst: number | null;
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
    maxTransfers: checkInteger('maxTransfers', options.maxTransfers ?? 4000, 1, 100_000),
    maxTransfersPerClient: checkInteger('maxTransfersPerClient', options.maxTransfersPerClient ?? 16, 1, 100_000),
    clientRequestRate: options.clientRequestRate === undefined ? null : checkInteger('clientRequestRate', options.clientRequestRate, 1, 100_000),
    clientRequestBurst: options.clientRequestRate === undefined
      ? null
      : checkInteger('clientRequestBurst', options.clientRequestBurst ?? 2 * options.clientRequestRate, 1, 200_000),
  };
}

/**
 * Every destination and bind address here is an IP literal (validated, or from a received
 * packet), so the lookup answers at once. dgram's default (dns.lookup) answers IP literals too,
 * but through process.nextTick, which costs a tick per DATA packet on the hot path.
 */
function literalLookup(
  hostname: string,
  _options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  callback(null, hostname, isIP(hostname) === 6 ? 6 : 4);
}

function newSocket(type: SocketType, reuseAddr = false): Socket {
  return createSocket({ type, lookup: literalLookup, reuseAddr });
}

function connectSocket(socket: Socket, to: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    socket.once('error', onError);
    socket.connect(to.port, to.address, () => {
      socket.off('error', onError);
      resolve();
    });
  });
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

const endpointText = (e: Endpoint): string => (e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

const CONTENT_ERRORS = {
  'not-found': { code: TFTP_ERROR.fileNotFound, message: 'File not found', counter: 'notFound' },
  denied: { code: TFTP_ERROR.accessViolation, message: 'Access violation', counter: 'accessDenied' },
} as const;

/** What a transfer needs from its server. */
interface TransferHost {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly stats: TftpServerStats;
  readonly resolve: TftpResolver;
  readonly dataPackets: DataPacketsCache;
  sendFromListener(to: Endpoint, code: number, message: string): void;
  ended(transfer: Transfer, summary: TftpTransferSummary): void;
}

class Transfer {
  private readonly startedAt = Date.now();
  /** Connected to the client: the kernel delivers only the client's packets to it. */
  private socket: Socket | null = null;
  /** Unconnected, on the same port: receives packets from anyone else, answered with ERROR 5. */
  private strangers: Socket | null = null;
  private sender: TftpSender | null = null;
  /** The content as DATA packets (a framed image is shared with other transfers of the same file and blksize). */
  private packets: DataPackets | null = null;
  private oack: Buffer | null = null;
  /** The one retransmission timer; it re-arms itself while `deadline` keeps moving. */
  private timer: NodeJS.Timeout | null = null;
  /** Date.now() value after which the outstanding OACK or window is resent. */
  private deadline = 0;
  /** When the pending timer fires. */
  private timerAt = 0;
  private retries = 0;
  /** The `timeout` the client negotiated (RFC 2349), in ms, or null. */
  private clientTimeoutMs: number | null = null;
  private blksize = 512;
  private windowsize = 1;
  private ended = false;
  private socketClosed: Promise<void> = Promise.resolve();
  private readonly onTimer = (): void => this.timerFired();

  constructor(
    private readonly host: TransferHost,
    readonly key: string,
    readonly client: Endpoint,
    private readonly path: string,
    private readonly requested: readonly TftpOption[],
  ) {
  }

  async run(): Promise<void> {
    const { settings, logger, stats } = this.host;
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
      if (!this.ended) {
        stats.internalErrors += 1;
        this.host.sendFromListener(this.client, TFTP_ERROR.notDefined, 'Internal error');
      }
      this.finish('error', 'resolver failed');
      return;
    }
    if (this.ended) return;
    if (content.kind !== 'buffer') {
      const reply = CONTENT_ERRORS[content.kind];
      stats[reply.counter] += 1;
      this.host.sendFromListener(this.client, reply.code, reply.message);
      this.finish('error', `${content.kind}: ${content.reason}`);
      return;
    }

    const negotiated = negotiateOptions(this.requested, content.data.length, settings);
    this.blksize = negotiated.blksize;
    this.windowsize = negotiated.windowsize;
    if (negotiated.timeoutS !== null) this.clientTimeoutMs = negotiated.timeoutS * 1000;
    this.packets = this.host.dataPackets.get(content.data, negotiated.blksize);
    this.oack = negotiated.oack.length > 0 ? encodeOack(negotiated.oack) : null;
    this.sender = new TftpSender({
      size: content.data.length,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      oack: this.oack !== null,
    });

    // Two sockets share the transfer port (SO_REUSEADDR on both): one connected to the client,
    // which the kernel prefers for the client's packets and which sends without a per-packet
    // route lookup (about 10% more windowed throughput), and an unconnected one that gets
    // everyone else's, so a wrong TID is still answered with ERROR 5 (RFC 1350; tftpd-hpa and
    // atftpd stay silent) without disturbing the transfer.
    const strangers = newSocket(settings.socketType, true);
    const socket = newSocket(settings.socketType, true);
    this.strangers = strangers;
    this.socket = socket;
    const closed = (s: Socket): Promise<void> => new Promise((resolve) => s.once('close', () => resolve()));
    this.socketClosed = Promise.all([closed(socket), closed(strangers)]).then(() => undefined);
    strangers.on('message', (_msg, rinfo) => this.onStranger(rinfo));
    strangers.on('error', (err) => logger.debug({ err, client: endpointText(this.client) }, 'tftp stranger socket error'));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    socket.on('error', (err) => this.onSocketError(err));
    try {
      await bindSocket(strangers, settings.address, 0);
      await bindSocket(socket, settings.address, strangers.address().port);
      await connectSocket(socket, this.client);
    } catch (err) {
      stats.internalErrors += 1;
      this.finish('error', `cannot set up the transfer socket: ${(err as Error).message}`);
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
    if (this.strangers !== null) void closeSocket(this.strangers);
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

  /** A packet for this transfer's port from anyone but the client: ERROR 5, the transfer goes on. */
  private onStranger(rinfo: RemoteInfo): void {
    if (this.ended || this.strangers === null) return;
    this.host.stats.unknownTid += 1;
    this.host.logger.debug({ from: endpointText(rinfo), client: endpointText(this.client) }, 'tftp packet from unknown TID');
    this.strangers.send(encodeError(TFTP_ERROR.unknownTransferId, 'Unknown transfer ID'), rinfo.port, rinfo.address);
  }

  /**
   * ECONNREFUSED on the connected socket is the client's kernel saying its port is closed (ICMP
   * port unreachable): the client has gone, typically done after a final ACK that was lost, and
   * resending is pointless. Anything else is unexpected.
   */
  private onSocketError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') {
      this.host.stats.clientGone += 1;
      this.host.logger.info({ client: endpointText(this.client), path: this.path }, 'tftp client port closed (ICMP port unreachable)');
      this.finish('aborted', 'client port unreachable');
      return;
    }
    this.host.logger.error({ err, client: endpointText(this.client), path: this.path }, 'tftp transfer socket error');
    this.host.stats.internalErrors += 1;
    this.finish('error', `socket error: ${err.message}`);
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    const sender = this.sender;
    if (this.ended || sender === null) return;
    const { stats, logger } = this.host;
    if (rinfo.port !== this.client.port || rinfo.address !== this.client.address) {
      this.onStranger(rinfo); // not expected on a connected socket; handled the same way
      return;
    }
    // The common case first, without building a packet object: an ACK (trailing bytes tolerated).
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === OPCODE.ack) {
      this.handle(sender.onAck(msg.readUInt16BE(2)));
      return;
    }
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      stats.malformed += 1;
      logger.debug({ client: endpointText(this.client), reason: decoded.reason }, 'tftp malformed packet dropped');
      return;
    }
    const packet = decoded.packet;
    if (packet.op === 'error') {
      // An ERROR answering the OACK is how Intel ROMs end their tsize probe: routine, not a failure.
      const probe = sender.awaitingOackAck;
      if (probe) stats.oackDeclined += 1;
      else stats.clientAborts += 1;
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
        // Duplicate or stale ACK: never a reason to resend (the timer does that).
        if (outcome.reason === 'duplicate') this.host.stats.duplicateAcks += 1;
        else this.host.stats.staleAcks += 1;
        return;
      case 'complete':
        this.finish('complete');
        return;
      default:
        this.retries = 0;
        this.execute(outcome);
    }
  }

  private execute(plan: SendPlan, retransmission = false): void {
    if (plan.kind === 'oack') {
      if (this.oack !== null) this.send(this.oack);
    } else {
      this.sendBlocks(plan.first, plan.last, retransmission);
    }
    this.arm();
  }

  private sendBlocks(first: number, last: number, retransmission: boolean): void {
    const { sender, packets, socket } = this;
    if (sender === null || packets === null || socket === null || this.ended || last < first) return;
    for (let block = first; block <= last; block += 1) socket.send(packets.packet(block));
    const bytes = sender.payloadBytes(first, last);
    const stats = this.host.stats;
    const count = last - first + 1;
    stats.blocksSent += count;
    stats.bytesSent += bytes;
    if (retransmission) stats.blocksRetransmitted += count;
  }

  /** To the client. No callback: a failed send (ENOBUFS under load, say) is a lost packet, which the timer covers. */
  private send(packet: Buffer): void {
    if (this.socket === null || this.ended) return;
    this.socket.send(packet);
  }

  /**
   * How long to wait for an ACK before resending. Our schedule is retransmitMs doubling up to
   * BACKOFF_CAP. A client `timeout` (RFC 2349) changes it:
   * - lock-step: it caps the schedule. A lock-step receiver re-ACKs any block it already has
   *   (RFC 1350), so resending sooner than it asked only shortens recovery; curl, for one, always
   *   asks for 5 s, which would make every lost packet cost 5 s.
   * - windowed: it is the wait, as negotiated. Some windowed receivers (atftp) ignore a resent
   *   window and re-ACK only on their own timer, so the server must not resend faster than that.
   */
  private delayMs(): number {
    const schedule = this.host.settings.retransmitMs * Math.min(2 ** this.retries, BACKOFF_CAP);
    if (this.clientTimeoutMs === null) return schedule;
    return this.windowsize > 1 ? this.clientTimeoutMs : Math.min(schedule, this.clientTimeoutMs);
  }

  /**
   * Moves the deadline. A pending timer that fires no later than the new deadline is kept (it
   * re-arms itself for the rest), so the common case, an ACK, costs no timer operation.
   */
  private arm(): void {
    const delay = this.delayMs();
    this.deadline = Date.now() + delay;
    if (this.timer !== null) {
      if (this.timerAt <= this.deadline) return;
      clearTimeout(this.timer); // a backed-off timer would fire too late
    }
    this.startTimer(delay);
  }

  private startTimer(delay: number): void {
    this.timerAt = Date.now() + delay;
    this.timer = setTimeout(this.onTimer, delay);
  }

  private timerFired(): void {
    this.timer = null;
    if (this.ended || this.sender === null) return;
    const left = this.deadline - Date.now();
    if (left > 0) {
      // An ACK moved the deadline since this timer was set: wait for the rest.
      this.startTimer(left);
      return;
    }
    if (this.retries >= this.host.settings.maxRetries) {
      this.host.logger.warn({ client: endpointText(this.client), path: this.path, retries: this.retries }, 'tftp transfer timed out');
      this.host.stats.timeouts += 1;
      this.finish('timeout', `no ACK after ${this.retries} retransmissions`);
      return;
    }
    this.retries += 1;
    this.host.stats.retransmits += 1;
    this.execute(this.sender.onTimeout(), true);
  }
}

type LimitName = 'maxTransfers' | 'maxTransfersPerClient' | 'clientRequestRate';
const REFUSAL_COUNTER = {
  maxTransfers: 'refusedMaxTransfers',
  maxTransfersPerClient: 'refusedMaxPerClient',
  clientRequestRate: 'refusedClientRate',
} as const satisfies Record<LimitName, keyof TftpServerStats>;

export async function startTftpServer(options: TftpServerOptions): Promise<TftpServer> {
  const settings = settingsFrom(options);
  const { logger } = options;
  const stats: TftpServerStats = {
    requests: 0,
    duplicates: 0,
    completed: 0,
    failed: 0,
    refused: 0,
    refusedMaxTransfers: 0,
    refusedMaxPerClient: 0,
    refusedClientRate: 0,
    malformed: 0,
    unknownTid: 0,
    notFound: 0,
    accessDenied: 0,
    writeRequests: 0,
    badMode: 0,
    internalErrors: 0,
    timeouts: 0,
    clientAborts: 0,
    oackDeclined: 0,
    clientGone: 0,
    retransmits: 0,
    blocksSent: 0,
    blocksRetransmitted: 0,
    duplicateAcks: 0,
    staleAcks: 0,
    bytesSent: 0,
    bytesDelivered: 0,
    active: 0,
    activeClients: 0,
    peakActive: 0,
  };
  const transfers = new Map<string, Transfer>();
  const perClient = new Map<string, number>();
  const clientRate = settings.clientRequestRate === null || settings.clientRequestBurst === null
    ? null
    : new ClientRate({ perSecond: settings.clientRequestRate, burst: settings.clientRequestBurst });
  let closing = false;

  const listener = newSocket(settings.socketType);
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

  const updateGauges = (): void => {
    stats.active = transfers.size;
    stats.activeClients = perClient.size;
    if (stats.active > stats.peakActive) stats.peakActive = stats.active;
  };

  const host: TransferHost = {
    settings,
    logger,
    stats,
    resolve: options.resolve,
    dataPackets: new DataPacketsCache(options.maxFramedBytes ?? DEFAULT_MAX_FRAMED_BYTES),
    sendFromListener,
    ended(transfer, summary) {
      transfers.delete(transfer.key);
      const left = (perClient.get(transfer.client.address) ?? 1) - 1;
      if (left > 0) perClient.set(transfer.client.address, left);
      else perClient.delete(transfer.client.address);
      updateGauges();
      if (summary.result === 'complete') {
        stats.completed += 1;
        stats.bytesDelivered += summary.bytes;
      } else {
        stats.failed += 1;
      }
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

  /** Per limit: when the last warning went out, and how many refusals it has not reported yet. */
  const limitLog: Record<LimitName, { lastAt: number; unreported: number }> = {
    maxTransfers: { lastAt: -Infinity, unreported: 0 },
    maxTransfersPerClient: { lastAt: -Infinity, unreported: 0 },
    clientRequestRate: { lastAt: -Infinity, unreported: 0 },
  };
  const refuse = (client: Endpoint, path: string, limit: LimitName, clientCount: number): void => {
    stats.refused += 1;
    stats[REFUSAL_COUNTER[limit]] += 1;
    const entry = limitLog[limit];
    entry.unreported += 1;
    const now = Date.now();
    if (now - entry.lastAt >= LIMIT_LOG_INTERVAL_MS) {
      logger.warn(
        {
          client: endpointText(client),
          path,
          limit,
          max: settings[limit],
          active: transfers.size,
          clientActive: clientCount,
          refusedSinceLastLine: entry.unreported,
          refusedTotal: stats.refused,
        },
        `tftp request refused: ${limit} (${settings[limit]}) reached`,
      );
      entry.lastAt = now;
      entry.unreported = 0;
    }
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
      stats.writeRequests += 1;
      stats.accessDenied += 1;
      reject(client, TFTP_ERROR.accessViolation, 'Access violation: read-only server', 'write request', { file: request.filename });
      return;
    }
    if (request.mode.toLowerCase() !== 'octet') {
      stats.badMode += 1;
      reject(client, TFTP_ERROR.illegalOperation, 'Only octet mode is supported', 'unsupported mode', { mode: request.mode });
      return;
    }
    const normalised = normaliseTftpPath(request.filename);
    if (!normalised.ok) {
      stats.accessDenied += 1;
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
    if (clientCount >= settings.maxTransfersPerClient) {
      refuse(client, normalised.path, 'maxTransfersPerClient', clientCount);
      return;
    }
    if (transfers.size >= settings.maxTransfers) {
      refuse(client, normalised.path, 'maxTransfers', clientCount);
      return;
    }
    // Last, so that only a transfer about to start spends a token.
    if (clientRate !== null && !clientRate.take(client.address, Date.now())) {
      refuse(client, normalised.path, 'clientRequestRate', clientCount);
      return;
    }
    const transfer = new Transfer(host, key, client, normalised.path, request.options);
    transfers.set(key, transfer);
    perClient.set(client.address, clientCount + 1);
    updateGauges();
    void transfer.run().catch((err: unknown) => {
      logger.error({ err, client: endpointText(client) }, 'tftp transfer crashed');
      stats.internalErrors += 1;
      transfer.finish('error', 'internal error');
    });
  };

  listener.on('message', (msg, rinfo) => {
    if (!closing) onRequest(msg, rinfo);
  });

  const bound = listener.address();
  logger.info(
    {
      address: bound.address,
      port: bound.port,
      maxTransfers: settings.maxTransfers,
      maxTransfersPerClient: settings.maxTransfersPerClient,
      clientRequestRate: settings.clientRequestRate,
      clientRequestBurst: settings.clientRequestBurst,
    },
    'tftp listening',
  );

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
