/**
 * The sending side of one read transfer as a pure state machine: which blocks to put on the wire
 * after an ACK or a timeout. No sockets and no timers; the adapter owns those.
 *
 * Blocks are numbered absolutely from 1; the wire carries `block & 0xffff`, so block 65536 goes out
 * as 0 (rollover to 0, the tftpd-hpa default). An ACK's 16-bit number is mapped back onto the
 * outstanding range, which is unambiguous while the window stays well below 32768 blocks.
 *
 * Retransmission happens only on timeout, never because of a duplicate ACK (RFC 1123 §4.2.3.1,
 * Sorcerer's Apprentice). An ACK that advances but stops short of the last sent block means the
 * receiver saw a gap, so the next window starts right after it (RFC 7440 §4).
 */

export interface SenderConfig {
  readonly size: number;
  readonly blksize: number;
  readonly windowsize: number;
  /** True when an OACK goes first and DATA waits for ACK 0. */
  readonly oack: boolean;
}

/** Inclusive range of absolute block numbers. */
export interface BlockRange {
  readonly first: number;
  readonly last: number;
}

export type SendPlan = { kind: 'oack' } | ({ kind: 'data' } & BlockRange);

export type AckOutcome =
  | SendPlan
  | { kind: 'complete' }
  | { kind: 'ignore'; reason: 'duplicate' | 'stale' };

/**
 * DATA blocks of a file. A short (possibly empty) final block always ends the transfer, so a
 * multiple of blksize needs one extra empty block.
 */
export function blockCount(size: number, blksize: number): number {
  return Math.floor(size / blksize) + 1;
}

/** Above this, 16-bit ACK numbers could no longer be mapped back unambiguously. */
export const MAX_SAFE_WINDOW = 16384;

export class TftpSender {
  readonly lastBlock: number;
  private readonly blksize: number;
  private readonly windowsize: number;
  private readonly size: number;
  private awaitingOack: boolean;
  private acked = 0;
  private sent = 0;

  constructor(config: SenderConfig) {
    if (!Number.isInteger(config.blksize) || config.blksize < 1) throw new RangeError('blksize must be a positive integer');
    if (!Number.isInteger(config.windowsize) || config.windowsize < 1 || config.windowsize > MAX_SAFE_WINDOW) {
      throw new RangeError(`windowsize must be 1..${MAX_SAFE_WINDOW}`);
    }
    this.size = config.size;
    this.blksize = config.blksize;
    this.windowsize = config.windowsize;
    this.awaitingOack = config.oack;
    this.lastBlock = blockCount(config.size, config.blksize);
  }

  /** What to send first. */
  start(): SendPlan {
    return this.awaitingOack ? { kind: 'oack' } : this.nextWindow();
  }

  onAck(wireBlock: number): AckOutcome {
    if (this.awaitingOack) {
      if (wireBlock !== 0) return { kind: 'ignore', reason: 'stale' };
      this.awaitingOack = false;
      return this.nextWindow();
    }
    const ahead = (wireBlock - (this.acked & 0xffff)) & 0xffff;
    if (ahead === 0) return { kind: 'ignore', reason: 'duplicate' };
    if (ahead > this.sent - this.acked) return { kind: 'ignore', reason: 'stale' };
    this.acked += ahead;
    if (this.acked === this.lastBlock) return { kind: 'complete' };
    return this.nextWindow();
  }

  /** What to resend when no useful ACK arrived in time: the OACK, or the whole unacknowledged window. */
  onTimeout(): SendPlan {
    if (this.awaitingOack) return { kind: 'oack' };
    return { kind: 'data', first: this.acked + 1, last: this.sent };
  }

  /** Byte range [start, end) of an absolute block in the content. */
  blockBounds(block: number): { start: number; end: number } {
    const start = (block - 1) * this.blksize;
    return { start, end: Math.min(start + this.blksize, this.size) };
  }

  /** Payload bytes carried by blocks first..last (inclusive). */
  payloadBytes(first: number, last: number): number {
    if (last < first) return 0;
    return Math.min(last * this.blksize, this.size) - (first - 1) * this.blksize;
  }

  /** Content bytes the client has acknowledged. */
  get bytesAcked(): number {
    if (this.acked === 0) return 0;
    return this.blockBounds(this.acked).end;
  }

  /** True until the client has acknowledged the OACK with ACK 0. */
  get awaitingOackAck(): boolean {
    return this.awaitingOack;
  }

  get isComplete(): boolean {
    return this.acked === this.lastBlock;
  }

  private nextWindow(): SendPlan {
    const first = this.acked + 1;
    const last = Math.min(this.acked + this.windowsize, this.lastBlock);
    this.sent = Math.max(this.sent, last);
    return { kind: 'data', first, last };
  }
}
