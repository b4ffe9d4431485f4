/**
 * A file's DATA packets, ready for the socket.
 *
 * FramedContent: the file laid out as its DATA packets, back to back: block n (absolute, from 1) is
 * the 4-byte header (opcode 3, `n & 0xffff`) followed by its payload. Each packet is then one
 * contiguous slice, so a send hands the kernel one buffer instead of a header plus a payload view,
 * which saves about 1 µs of runtime work per packet; on a CPU-bound lock-step transfer that is ~4%
 * (bench/results/tftp.md). The image is filled lazily, a chunk of blocks at a time, as transfers
 * ask for packets: a large file costs no long copy (and no event-loop stall) up front, and a client
 * that stops after the OACK (the PXE tsize probe) costs no copy at all. Bytes once written never
 * change, so a slice may safely wait in a send queue, and any number of transfers can share one image.
 *
 * ViewedContent: for files too large to copy (see DataPacketsCache), each packet is a header from
 * one immutable table plus a view of the file: no copy, two buffers per send.
 */

import { blockCount } from './sender.js';

const DATA_HEADER_SIZE = 4;
const OPCODE_DATA = 3;
/** Blocks framed per fill; at blksize 1468 about 1.5 MB of copying. */
const FILL_BLOCKS = 1024;

function checkedBlockCount(size: number, blksize: number): number {
  if (!Number.isInteger(blksize) || blksize < 1) throw new RangeError('blksize must be a positive integer');
  return blockCount(size, blksize);
}

function checkBlock(block: number, blocks: number): void {
  if (!Number.isInteger(block) || block < 1 || block > blocks) throw new RangeError(`block ${block} is outside 1..${blocks}`);
}

export class FramedContent {
  /** Number of DATA packets; the last one is short (possibly empty). */
  readonly blocks: number;
  private readonly image: Buffer;
  private readonly stride: number;
  /** Blocks 1..framed are written. */
  private framed = 0;

  constructor(
    private readonly content: Buffer,
    readonly blksize: number,
  ) {
    this.blocks = checkedBlockCount(content.length, blksize);
    this.stride = blksize + DATA_HEADER_SIZE;
    // Not zeroed: every byte handed out is written by fill() first.
    this.image = Buffer.allocUnsafeSlow(content.length + this.blocks * DATA_HEADER_SIZE);
  }

  /** The whole DATA packet of an absolute block number, 1..blocks. */
  packet(block: number): Buffer {
    checkBlock(block, this.blocks);
    if (block > this.framed) this.fill(block);
    const at = (block - 1) * this.stride;
    const payload = Math.min(this.blksize, this.content.length - (block - 1) * this.blksize);
    return this.image.subarray(at, at + DATA_HEADER_SIZE + payload);
  }

  private fill(block: number): void {
    const until = Math.min(this.blocks, Math.max(block, this.framed + FILL_BLOCKS));
    const { content, image, blksize, stride } = this;
    for (let n = this.framed + 1; n <= until; n += 1) {
      const at = (n - 1) * stride;
      image[at] = 0;
      image[at + 1] = OPCODE_DATA;
      image[at + 2] = (n >> 8) & 0xff;
      image[at + 3] = n & 0xff;
      const start = (n - 1) * blksize;
      content.copy(image, at + DATA_HEADER_SIZE, start, Math.min(start + blksize, content.length));
    }
    this.framed = until;
  }
}

/** Header + payload views, nothing copied: for files too large to frame. */
export class ViewedContent {
  readonly blocks: number;

  constructor(
    private readonly content: Buffer,
    readonly blksize: number,
  ) {
    this.blocks = checkedBlockCount(content.length, blksize);
  }

  packet(block: number): readonly Buffer[] {
    checkBlock(block, this.blocks);
    const start = (block - 1) * this.blksize;
    return [dataHeader(block), this.content.subarray(start, Math.min(start + this.blksize, this.content.length))];
  }
}

/**
 * The 4-byte DATA header of every 16-bit block number, built once and never written again (a
 * header may sit in a send queue). 256 KiB, built on first use.
 */
let headerTable: Buffer | null = null;
function dataHeader(block: number): Buffer {
  if (headerTable === null) {
    const table = Buffer.allocUnsafeSlow(65536 * DATA_HEADER_SIZE);
    for (let n = 0; n < 65536; n += 1) {
      const at = n * DATA_HEADER_SIZE;
      table[at] = 0;
      table[at + 1] = OPCODE_DATA;
      table[at + 2] = n >> 8;
      table[at + 3] = n & 0xff;
    }
    headerTable = table;
  }
  const at = (block & 0xffff) * DATA_HEADER_SIZE;
  return headerTable.subarray(at, at + DATA_HEADER_SIZE);
}

export type DataPackets = FramedContent | ViewedContent;

/** Files up to this size are framed; larger ones are sent as views. */
export const DEFAULT_MAX_FRAMED_BYTES = 64 * 1024 * 1024;

/**
 * Framed images shared by every transfer of the same content buffer and blksize. At most
 * `perContent` blksizes are kept per content (the oldest is dropped; transfers already using it
 * keep their reference), so clients asking for many different blksizes cannot multiply memory
 * without bound. Entries live as long as the content buffer does (the file cache holds it).
 * Content over `maxFramedBytes` is not framed: a file that large may not be cached at all, and
 * then every transfer would hold a copy of its own.
 */
export class DataPacketsCache {
  private readonly byContent = new WeakMap<Buffer, Map<number, FramedContent>>();

  constructor(
    private readonly maxFramedBytes = DEFAULT_MAX_FRAMED_BYTES,
    private readonly perContent = 2,
  ) {
    if (!Number.isInteger(maxFramedBytes) || maxFramedBytes < 0) throw new RangeError('maxFramedBytes must be a non-negative integer');
    if (!Number.isInteger(perContent) || perContent < 1) throw new RangeError('perContent must be a positive integer');
  }

  get(content: Buffer, blksize: number): DataPackets {
    if (content.length > this.maxFramedBytes) return new ViewedContent(content, blksize);
    let framings = this.byContent.get(content);
    if (framings === undefined) {
      framings = new Map();
      this.byContent.set(content, framings);
    }
    let framed = framings.get(blksize);
    if (framed !== undefined) {
      framings.delete(blksize); // most recently used goes last
      framings.set(blksize, framed);
    } else {
      framed = new FramedContent(content, blksize);
      framings.set(blksize, framed);
      for (const key of framings.keys()) {
        if (framings.size <= this.perContent) break;
        framings.delete(key);
      }
    }
    return framed;
  }
}
