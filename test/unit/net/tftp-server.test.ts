/**
 * The TFTP server on 127.0.0.1 with an ephemeral port, driven by a raw dgram client written
 * here so tests can lose, duplicate and forge packets. Traffic never leaves 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { Endpoint } from '../../../server/core/types.js';
import { createLogger, silentLogger } from '../../../server/log.js';
import { createRootResolver } from '../../../server/net/tftp-files.js';
import {
  startTftpServer,
  type TftpContent,
  type TftpRequestInfo,
  type TftpServer,
  type TftpServerOptions,
  type TftpServerStats,
  type TftpTransferSummary,
} from '../../../server/net/tftp-server.js';
import {
  decodePacket,
  encodeAck,
  encodeError,
  encodeRequest,
  type TftpOption,
  type TftpPacket,
} from '../../../server/protocol/tftp/codec.js';
import { SLOW } from '../../helpers/slow.js';

const HOST = '127.0.0.1';

// ---------------------------------------------------------------- raw client

interface Received {
  readonly packet: TftpPacket | null;
  readonly raw: Buffer;
  readonly from: Endpoint;
}

/** A UDP socket on 127.0.0.1 with an awaitable inbox. */
class RawSocket {
  private readonly inbox: Received[] = [];
  private waiter: (() => void) | null = null;
  /** Sends not yet handed to the kernel: closing before they are would drop them (a final ACK, say). */
  private readonly pending = new Set<Promise<void>>();

  private constructor(private readonly socket: Socket) {
    socket.on('message', (raw, rinfo) => {
      const decoded = decodePacket(raw);
      this.inbox.push({ packet: decoded.ok ? decoded.packet : null, raw, from: { address: rinfo.address, port: rinfo.port } });
      this.waiter?.();
    });
  }

  /** `from`: another loopback address (127.0.0.2, ...) plays another client. */
  static async open(from = HOST): Promise<RawSocket> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, from, () => resolve());
    });
    return new RawSocket(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number): void {
    const sent = new Promise<void>((resolve) => this.socket.send(buf, port, HOST, () => resolve()));
    this.pending.add(sent);
    void sent.then(() => this.pending.delete(sent));
  }

  /** The next packet, or null when none arrives within timeoutMs. */
  async next(timeoutMs: number): Promise<Received | null> {
    const ready = this.inbox.shift();
    if (ready !== undefined) return ready;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
    this.waiter = null;
    return this.inbox.shift() ?? null;
  }

  /** Everything that arrives until the line has been quiet for quietMs. */
  async drain(quietMs: number): Promise<Received[]> {
    const all: Received[] = [];
    for (let r = await this.next(quietMs); r !== null; r = await this.next(quietMs)) all.push(r);
    return all;
  }

  async close(): Promise<void> {
    await Promise.all(this.pending);
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

interface DownloadOptions {
  readonly options?: TftpOption[];
  /** Pretend DATA for this absolute block was lost; `copy` counts arrivals of that block from 1. */
  readonly drop?: (block: number, copy: number) => boolean;
  /** Send every ACK twice. */
  readonly ackTwice?: boolean;
  /** Re-send the last ACK when nothing arrived for this long (what RFC 1350 clients do). */
  readonly reackMs?: number;
  readonly deadlineMs?: number;
  /** Runs once the server's transfer port is known. */
  readonly onServerTid?: (tid: Endpoint) => Promise<void>;
}

interface DownloadResult {
  readonly data: Buffer;
  readonly oack: Record<string, string> | null;
  readonly error: { code: number; message: string } | null;
  /** DATA packets that arrived, duplicates and dropped ones included. */
  readonly dataPackets: number;
  readonly acksSent: number;
  readonly serverTid: Endpoint | null;
  readonly wireBlocksAtWrap: number[];
}

/** A receiver per RFC 1350/2347/7440: ACK per window, ACK the last good block on a gap. */
async function download(server: TftpServer, file: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const sock = await RawSocket.open();
  try {
    return await receive(sock, server.port, file, opts);
  } finally {
    await sock.close();
  }
}

async function receive(sock: RawSocket, serverPort: number, file: string, opts: DownloadOptions): Promise<DownloadResult> {
  const deadline = Date.now() + (opts.deadlineMs ?? 10_000);
  const chunks: Buffer[] = [];
  const copies = new Map<number, number>();
  const wireBlocksAtWrap: number[] = [];
  let oack: Record<string, string> | null = null;
  let blksize = 512;
  let windowsize = 1;
  let expected = 1;
  let inWindow = 0;
  let gapAcked = false;
  let dataPackets = 0;
  let acksSent = 0;
  let lastAck: number | null = null;
  let tid: Endpoint | null = null;

  const ack = (block: number): void => {
    if (tid === null) return;
    lastAck = block;
    for (let i = 0; i < (opts.ackTwice ? 2 : 1); i += 1) {
      sock.send(encodeAck(block), tid.port);
      acksSent += 1;
    }
  };
  const result = (error: DownloadResult['error']): DownloadResult => ({
    data: Buffer.concat(chunks),
    oack,
    error,
    dataPackets,
    acksSent,
    serverTid: tid,
    wireBlocksAtWrap,
  });

  sock.send(encodeRequest('rrq', file, 'octet', opts.options ?? []), serverPort);
  while (Date.now() < deadline) {
    const r = await sock.next(opts.reackMs ?? 2_000);
    if (r === null) {
      if (lastAck !== null && opts.reackMs !== undefined) ack(lastAck);
      continue;
    }
    if (tid === null) {
      tid = r.from;
      await opts.onServerTid?.(tid);
    }
    if (r.from.port !== tid.port || r.packet === null) continue;
    const packet = r.packet;
    if (packet.op === 'error') return result({ code: packet.code, message: packet.message });
    if (packet.op === 'oack') {
      oack = Object.fromEntries(packet.options.map((o) => [o.name, o.value]));
      blksize = Number(oack.blksize ?? 512);
      windowsize = Number(oack.windowsize ?? 1);
      ack(0);
      continue;
    }
    if (packet.op !== 'data') continue;
    dataPackets += 1;
    const ahead = (packet.block - (expected & 0xffff)) & 0xffff;
    if (ahead !== 0) {
      // A later block of the window means one went missing; an earlier one is a duplicate.
      if (ahead < 0x8000 && windowsize > 1 && !gapAcked) {
        gapAcked = true;
        inWindow = 0;
        ack(expected - 1);
      }
      continue;
    }
    const copy = (copies.get(expected) ?? 0) + 1;
    copies.set(expected, copy);
    if (opts.drop?.(expected, copy)) continue;
    if (expected >= 65535 && expected <= 65537) wireBlocksAtWrap.push(packet.block);
    chunks.push(Buffer.from(packet.data));
    gapAcked = false;
    inWindow += 1;
    if (packet.data.length < blksize) {
      ack(expected);
      return result(null);
    }
    if (inWindow === windowsize) {
      inWindow = 0;
      ack(expected);
    }
    expected += 1;
  }
  throw new Error(`download of ${file} did not finish in time (at block ${expected}, ${dataPackets} DATA packets seen)`);
}

// ---------------------------------------------------------------- server harness

function pattern(size: number, seed = 1): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i += 1) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    buf[i] = x >>> 16;
  }
  return buf;
}

interface Harness {
  readonly server: TftpServer;
  readonly summaries: TftpTransferSummary[];
  readonly requests: TftpRequestInfo[];
  waitForSummaries(n: number, timeoutMs?: number): Promise<void>;
}

const servers: TftpServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function harness(
  files: Record<string, Buffer | TftpContent | (() => Promise<TftpContent>)>,
  overrides: Partial<TftpServerOptions> = {},
): Promise<Harness> {
  const summaries: TftpTransferSummary[] = [];
  const requests: TftpRequestInfo[] = [];
  const server = await startTftpServer({
    address: HOST,
    port: 0,
    logger: silentLogger(),
    retransmitMs: 100,
    maxRetries: 3,
    resolve: async (req) => {
      requests.push(req);
      const entry = files[req.path];
      if (entry === undefined) return { kind: 'not-found', reason: 'no such test file' };
      if (Buffer.isBuffer(entry)) return { kind: 'buffer', data: entry };
      return typeof entry === 'function' ? entry() : entry;
    },
    onTransferEnd: (s) => summaries.push(s),
    ...overrides,
  });
  servers.push(server);
  return {
    server,
    summaries,
    requests,
    async waitForSummaries(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (summaries.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} transfer summaries, have ${summaries.length}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

const blocksFor = (size: number, blksize: number): number => Math.floor(size / blksize) + 1;

// ---------------------------------------------------------------- tests

describe('tftp server: plain transfers', () => {
  for (const size of [0, 1, 512, 513, 5000]) {
    it(`serves ${size} bytes lock-step without options, byte-identical`, async () => {
      const content = pattern(size, size);
      const h = await harness({ 'f.bin': content });
      const r = await download(h.server, 'f.bin');
      assert.equal(r.error, null);
      assert.equal(r.oack, null, 'no options asked, no OACK');
      assert.deepEqual(r.data, content);
      assert.equal(r.dataPackets, blocksFor(size, 512));
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'complete');
      assert.equal(h.summaries[0]?.bytes, size);
      assert.equal(h.server.stats.completed, 1);
      assert.equal(h.server.stats.active, 0);
    });
  }

  it('sends a file over maxFramedBytes as header + payload views, byte-identical, lock-step and windowed', async () => {
    const content = pattern(5000, 3);
    const h = await harness({ f: content }, { maxFramedBytes: 1000 });
    const optionSets: TftpOption[][] = [
      [],
      [
        { name: 'blksize', value: '700' },
        { name: 'windowsize', value: '4' },
      ],
    ];
    for (const options of optionSets) {
      const r = await download(h.server, 'f', { options });
      assert.equal(r.error, null);
      assert.deepEqual(r.data, content);
    }
    await h.waitForSummaries(2);
    assert.equal(h.server.stats.bytesDelivered, 2 * content.length);
    assert.ok(h.server.stats.bytesSent >= 2 * content.length);
  });

  it('answers from 127.0.0.1 on a new port and tells the resolver who asked where', async () => {
    const h = await harness({ 'a/b.txt': Buffer.from('hello') });
    assert.equal(h.server.address, HOST);
    const r = await download(h.server, '\\a\\b.txt', { options: [{ name: 'BlkSize', value: '1024' }] });
    assert.equal(r.data.toString(), 'hello');
    assert.equal(r.serverTid?.address, HOST);
    assert.notEqual(r.serverTid?.port, h.server.port);
    assert.equal(h.requests[0]?.path, 'a/b.txt');
    assert.equal(h.requests[0]?.localAddress, HOST);
    assert.equal(h.requests[0]?.client.address, HOST);
    assert.deepEqual(h.requests[0]?.options, { blksize: '1024' });
    assert.deepEqual(r.oack, { BlkSize: '1024' });
  });

  it('refuses to bind a wildcard or a name', async () => {
    const base = { port: 0, logger: silentLogger(), resolve: async (): Promise<TftpContent> => ({ kind: 'not-found', reason: '' }) };
    await assert.rejects(startTftpServer({ ...base, address: '0.0.0.0' }), /wildcard/);
    await assert.rejects(startTftpServer({ ...base, address: 'localhost' }), /IP literal/);
    await assert.rejects(startTftpServer({ ...base, address: HOST, maxBlockSize: 70000 }), RangeError);
  });
});

describe('tftp server: options', () => {
  const content = pattern(3000);

  it('answers a tsize probe with the exact size and no other option', async () => {
    const h = await harness({ f: content });
    const r = await download(h.server, 'f', { options: [{ name: 'tsize', value: '0' }] });
    assert.deepEqual(r.oack, { tsize: '3000' });
    assert.deepEqual(r.data, content);
  });

  it('sends tsize only when asked', async () => {
    const h = await harness({ f: content });
    const r = await download(h.server, 'f', { options: [{ name: 'blksize', value: '1432' }] });
    assert.deepEqual(r.oack, { blksize: '1432' });
    assert.equal(r.dataPackets, blocksFor(3000, 1432));
    assert.deepEqual(r.data, content);
  });

  it('caps blksize 65464 to maxBlockSize and echoes timeout', async () => {
    const h = await harness({ f: content }, { maxBlockSize: 1024 });
    const r = await download(h.server, 'f', {
      options: [
        { name: 'blksize', value: '65464' },
        { name: 'timeout', value: '1' },
      ],
    });
    assert.deepEqual(r.oack, { blksize: '1024', timeout: '1' });
    assert.deepEqual(r.data, content);
    await h.waitForSummaries(1);
    assert.equal(h.summaries[0]?.blksize, 1024);
  });

  it('ignores an invalid blksize and unknown options: DATA 1 straight away', async () => {
    const h = await harness({ f: content });
    const r = await download(h.server, 'f', {
      options: [
        { name: 'blksize', value: '70000' },
        { name: 'multicast', value: '' },
      ],
    });
    assert.equal(r.oack, null);
    assert.equal(r.dataPackets, blocksFor(3000, 512));
    assert.deepEqual(r.data, content);
  });

  it('serves blksize 8', async () => {
    const small = pattern(100);
    const h = await harness({ f: small });
    const r = await download(h.server, 'f', { options: [{ name: 'blksize', value: '8' }] });
    assert.deepEqual(r.data, small);
    assert.equal(r.dataPackets, blocksFor(100, 8));
  });

  for (const windowsize of [4, 8]) {
    it(`windowsize ${windowsize}: one ACK per window, every block once`, async () => {
      const size = 100 * 512 + 17;
      const file = pattern(size, windowsize);
      const h = await harness({ f: file });
      const r = await download(h.server, 'f', {
        options: [
          { name: 'blksize', value: '512' },
          { name: 'windowsize', value: String(windowsize) },
        ],
      });
      assert.deepEqual(r.oack, { blksize: '512', windowsize: String(windowsize) });
      assert.deepEqual(r.data, file);
      const blocks = blocksFor(size, 512);
      assert.equal(r.dataPackets, blocks);
      assert.equal(r.acksSent, 1 + Math.ceil(blocks / windowsize), 'ACK 0 plus one per window');
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.windowsize, windowsize);
    });
  }

  it('caps windowsize to maxWindowSize', async () => {
    const h = await harness({ f: content }, { maxWindowSize: 2 });
    const r = await download(h.server, 'f', { options: [{ name: 'windowsize', value: '16' }] });
    assert.deepEqual(r.oack, { windowsize: '2' });
    assert.deepEqual(r.data, content);
  });

  it('rolls block numbers over 65535 -> 0 for a file over 32 MiB at blksize 512', { timeout: 60_000, skip: SLOW }, async () => {
    const size = 32 * 1024 * 1024 + 1000;
    const file = pattern(size, 7);
    // no loss on loopback: a long retransmit wait keeps a busy host from adding duplicate windows to the count
    const h = await harness({ big: file }, { retransmitMs: 10_000 });
    const r = await download(h.server, 'big', {
      options: [
        { name: 'blksize', value: '512' },
        { name: 'windowsize', value: '32' },
      ],
      deadlineMs: 50_000,
    });
    assert.equal(r.error, null);
    assert.ok(r.data.equals(file), 'byte-identical');
    assert.deepEqual(r.wireBlocksAtWrap, [65535, 0, 1]);
    assert.equal(r.dataPackets, blocksFor(size, 512));
    await h.waitForSummaries(1);
    assert.equal(h.summaries[0]?.bytes, size);
  });
});

describe('tftp server: loss, duplicates and timeouts', () => {
  it('retransmits a lost DATA block on timeout, not on the client\'s repeated ACKs', async () => {
    const file = pattern(20 * 512 + 5);
    const h = await harness({ f: file }, { retransmitMs: 200 });
    const dropped = new Set([3, 9, 15]);
    const r = await download(h.server, 'f', { drop: (block, copy) => dropped.has(block) && copy === 1, reackMs: 60 });
    assert.deepEqual(r.data, file);
    // One retransmission per lost block; the re-ACKs (about three per loss) caused none.
    assert.equal(r.dataPackets, blocksFor(file.length, 512) + dropped.size);
    assert.ok(r.acksSent > blocksFor(file.length, 512) + dropped.size, 'the client did re-ACK');
    assert.equal(h.server.stats.retransmits, dropped.size);
    assert.equal(h.server.stats.blocksRetransmitted, dropped.size);
    assert.equal(h.server.stats.blocksSent, blocksFor(file.length, 512) + dropped.size);
    assert.ok(h.server.stats.duplicateAcks > 0, 'the re-ACKs were seen and ignored');
  });

  it('retransmits after retransmitMs again once the client makes progress (backoff resets)', async () => {
    const h = await harness({ f: pattern(5000) }, { retransmitMs: 100, maxRetries: 5 });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      // DATA 1 and two retransmissions (after 100 ms, then 200 ms more): the backoff is now 400 ms.
      const copies = [await sock.next(1_000), await sock.next(1_000), await sock.next(1_000)];
      assert.ok(copies.every((c) => c?.packet?.op === 'data' && c.packet.block === 1));
      const tid = copies[0]?.from;
      assert.ok(tid);
      sock.send(encodeAck(1), tid.port);
      const d2 = await sock.next(1_000);
      assert.equal(d2?.packet?.op === 'data' && d2.packet.block, 2);
      const t0 = Date.now();
      const again = await sock.next(1_000);
      const gap = Date.now() - t0;
      assert.equal(again?.packet?.op === 'data' && again.packet.block, 2);
      assert.ok(gap < 300, `DATA 2 was retransmitted after ${gap} ms: the old 400 ms backoff timer was still in force`);
      sock.send(encodeError(0, 'enough'), tid.port);
    } finally {
      await sock.close();
    }
  });

  it('recovers a block lost inside a window from the client\'s gap ACK', async () => {
    const file = pattern(40 * 512 + 100);
    const h = await harness({ f: file }, { retransmitMs: 2_000 });
    const started = Date.now();
    const r = await download(h.server, 'f', {
      options: [{ name: 'windowsize', value: '4' }],
      drop: (block, copy) => (block === 6 || block === 23) && copy === 1,
    });
    assert.deepEqual(r.data, file);
    assert.ok(Date.now() - started < 1_500, 'recovered by the gap ACK, without waiting for a timeout');
    assert.equal(h.server.stats.retransmits, 0);
  });

  for (const windowsize of [1, 4]) {
    it(`completes without a storm when every ACK arrives twice (windowsize ${windowsize})`, async () => {
      const file = pattern(200 * 512 + 1);
      const h = await harness({ f: file });
      const options = windowsize > 1 ? [{ name: 'windowsize', value: String(windowsize) }] : [];
      const r = await download(h.server, 'f', { ackTwice: true, options });
      assert.deepEqual(r.data, file);
      assert.equal(r.dataPackets, blocksFor(file.length, 512), 'each DATA block sent exactly once');
      assert.equal(h.server.stats.bytesSent, file.length);
      assert.equal(h.server.stats.blocksRetransmitted, 0);
      assert.ok(h.server.stats.duplicateAcks >= Math.floor(blocksFor(file.length, 512) / windowsize) - 1, 'every second ACK counted as a duplicate');
      await h.waitForSummaries(1);
      assert.equal(h.server.stats.bytesDelivered, file.length);
    });
  }

  it('gives up on a silent client after maxRetries and frees the transfer', async () => {
    const h = await harness({ f: pattern(5000) }, { retransmitMs: 50, maxRetries: 3 });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      const got = await sock.drain(600);
      assert.equal(got.length, 4, 'DATA 1 and three retransmissions');
      assert.ok(got.every((g) => g.packet?.op === 'data' && g.packet.block === 1));
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'timeout');
      assert.equal(h.server.stats.active, 0);
      assert.equal(h.server.stats.failed, 1);
      assert.equal(h.server.stats.timeouts, 1);
      assert.equal(h.server.stats.retransmits, 3);
      // The transfer socket is gone: a late ACK gets nothing back.
      const tid = got[0]?.from;
      assert.ok(tid);
      sock.send(encodeAck(1), tid.port);
      assert.equal(await sock.next(200), null);
    } finally {
      await sock.close();
    }
  });

  it('ends a transfer at once when the client port becomes unreachable (ICMP), instead of retrying', async () => {
    const h = await harness({ f: pattern(5000) }, { retransmitMs: 100, maxRetries: 10 });
    const sock = await RawSocket.open();
    sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
    const first = await sock.next(1_000);
    assert.equal(first?.packet?.op, 'data');
    await sock.close(); // the client goes away without a word
    await h.waitForSummaries(1, 3_000);
    assert.equal(h.summaries[0]?.result, 'aborted');
    assert.equal(h.summaries[0]?.reason, 'client port unreachable');
    assert.equal(h.server.stats.clientGone, 1);
    assert.equal(h.server.stats.timeouts, 0);
    assert.ok(h.server.stats.retransmits <= 2, `${h.server.stats.retransmits} retransmissions before giving up`);
  });

  it('resends an unanswered OACK, then gives up', async () => {
    const h = await harness({ f: pattern(10) }, { retransmitMs: 40, maxRetries: 2 });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet', [{ name: 'tsize', value: '0' }]), h.server.port);
      const got = await sock.drain(400);
      assert.equal(got.length, 3);
      assert.ok(got.every((g) => g.packet?.op === 'oack'));
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'timeout');
    } finally {
      await sock.close();
    }
  });

  it('answers a wrong TID with ERROR 5 and finishes the transfer undisturbed', async () => {
    const file = pattern(30 * 512);
    const h = await harness({ f: file });
    const intruder = await RawSocket.open();
    try {
      let intruderGot: Received | null = null;
      const r = await download(h.server, 'f', {
        onServerTid: async (tid) => {
          intruder.send(encodeAck(1), tid.port);
          intruderGot = await intruder.next(1_000);
        },
      });
      assert.deepEqual(r.data, file);
      assert.equal(r.dataPackets, blocksFor(file.length, 512));
      const reply = intruderGot as Received | null;
      assert.deepEqual(reply?.packet, { op: 'error', code: 5, message: 'Unknown transfer ID' });
      assert.equal(h.server.stats.unknownTid, 1);
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'complete');
    } finally {
      await intruder.close();
    }
  });

  it('folds a duplicate RRQ into the live transfer', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const file = pattern(1000);
    const h = await harness({
      f: async () => {
        await gate;
        return { kind: 'buffer', data: file };
      },
    });
    const sock = await RawSocket.open();
    try {
      const rrq = encodeRequest('rrq', 'f', 'octet');
      sock.send(rrq, h.server.port);
      sock.send(rrq, h.server.port);
      await new Promise((r) => setTimeout(r, 50));
      release();
      const first = await sock.next(1_000);
      assert.equal(first?.packet?.op, 'data');
      sock.send(encodeAck(1), first.from.port);
      const second = await sock.next(1_000);
      assert.deepEqual(second?.packet && second.packet.op === 'data' ? second.packet.block : null, 2);
      assert.equal(second?.from.port, first.from.port, 'one TID only');
      sock.send(encodeAck(2), first.from.port);
      assert.equal(await sock.next(200), null, 'nothing from a second transfer');
      await h.waitForSummaries(1);
      assert.equal(h.summaries.length, 1);
      assert.equal(h.server.stats.duplicates, 1);
      assert.equal(h.server.stats.requests, 2);
      assert.equal(h.server.stats.completed, 1);
    } finally {
      await sock.close();
    }
  });
});

describe('tftp server: refusals and aborts', () => {
  it('refuses WRQ with ERROR 2 and writes nothing', async () => {
    const root = await mkdtemp(join(tmpdir(), 'rackboot-tftp-wrq-'));
    try {
      const server = await startTftpServer({ address: HOST, port: 0, logger: silentLogger(), resolve: createRootResolver({ root, logger: silentLogger() }) });
      servers.push(server);
      const sock = await RawSocket.open();
      try {
        sock.send(encodeRequest('wrq', 'evil.txt', 'octet'), server.port);
        const reply = await sock.next(1_000);
        assert.equal(reply?.packet?.op, 'error');
        assert.equal(reply.packet.op === 'error' && reply.packet.code, 2);
        assert.match(reply.packet.op === 'error' ? reply.packet.message : '', /read-only/);
        // Whatever a writer sends next goes nowhere.
        sock.send(Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from('payload')]), server.port);
        sock.send(Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from('payload')]), reply.from.port);
        assert.equal(await sock.next(200), null);
      } finally {
        await sock.close();
      }
      assert.deepEqual(await readdir(root), []);
      assert.equal(server.stats.failed, 1);
      assert.equal(server.stats.writeRequests, 1);
      assert.equal(server.stats.accessDenied, 1);
      assert.equal(server.stats.active, 0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  const refusals: Array<[string, string, string, number, keyof TftpServerStats]> = [
    ['netascii mode', 'f', 'netascii', 4, 'badMode'],
    ['a parent segment', '../f', 'octet', 2, 'accessDenied'],
    ['a nested parent segment', 'a/../../f', 'octet', 2, 'accessDenied'],
    ['URL-encoded traversal', '%2e%2e/f', 'octet', 2, 'accessDenied'],
    ['a missing file', 'nope', 'octet', 1, 'notFound'],
    ['/etc/passwd (mapped under the root)', '/etc/passwd', 'octet', 1, 'notFound'],
    ['a denied file', 'secret', 'octet', 2, 'accessDenied'],
    ['a resolver that throws', 'boom', 'octet', 0, 'internalErrors'],
  ];
  for (const [name, file, mode, code, counter] of refusals) {
    it(`answers ${name} with ERROR ${code}`, async () => {
      const h = await harness({
        f: Buffer.from('x'),
        secret: { kind: 'denied', reason: 'test' },
        boom: () => Promise.reject(new Error('resolver bug')),
      });
      const sock = await RawSocket.open();
      try {
        sock.send(encodeRequest('rrq', file, mode), h.server.port);
        const reply = await sock.next(1_000);
        assert.equal(reply?.packet?.op, 'error');
        assert.equal(reply.packet.op === 'error' && reply.packet.code, code);
        assert.equal(await sock.next(150), null, 'one ERROR, never retransmitted');
      } finally {
        await sock.close();
      }
      assert.equal(h.server.stats.failed, 1);
      assert.equal(h.server.stats[counter], 1, counter);
      assert.equal(h.server.stats.active, 0);
      // The server keeps serving.
      const r = await download(h.server, 'f');
      assert.equal(r.data.toString(), 'x');
    });
  }

  it('closes quietly when the client answers the OACK with ERROR (Intel tsize probe), then serves the retry', async () => {
    const file = pattern(4000);
    const h = await harness({ 'undionly.kpxe': file });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'undionly.kpxe', 'octet', [{ name: 'tsize', value: '0' }]), h.server.port);
      const oack = await sock.next(1_000);
      assert.deepEqual(oack?.packet, { op: 'oack', options: [{ name: 'tsize', value: '4000' }] });
      sock.send(encodeError(8, 'User aborted the transfer'), oack.from.port);
      assert.deepEqual(await sock.drain(350), [], 'no OACK retransmission after the ERROR');
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'aborted');
      assert.equal(h.server.stats.active, 0);
      assert.equal(h.server.stats.oackDeclined, 1);
      assert.equal(h.server.stats.clientAborts, 0);
    } finally {
      await sock.close();
    }
    const r = await download(h.server, 'undionly.kpxe', { options: [{ name: 'blksize', value: '1456' }] });
    assert.deepEqual(r.data, file);
  });

  it('ends a transfer when the client sends ERROR mid-way', async () => {
    const h = await harness({ f: pattern(5000) });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      const d1 = await sock.next(1_000);
      assert.ok(d1);
      sock.send(encodeError(0, 'disk full'), d1.from.port);
      assert.deepEqual(await sock.drain(350), []);
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'aborted');
    } finally {
      await sock.close();
    }
  });

  const limits: Array<[string, Partial<TftpServerOptions>]> = [
    ['maxTransfersPerClient', { maxTransfersPerClient: 2, maxTransfers: 10 }],
    ['maxTransfers', { maxTransfersPerClient: 10, maxTransfers: 2 }],
  ];
  for (const [name, overrides] of limits) {
    it(`leaves requests beyond ${name} unanswered (firmware retransmits) and counts them`, async () => {
      const h = await harness({ f: pattern(5000) }, { ...overrides, retransmitMs: 5_000 });
      const socks = await Promise.all([1, 2, 3].map(() => RawSocket.open()));
      try {
        const replies: Array<Received | null> = [];
        for (const sock of socks) {
          sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
          replies.push(await sock.next(1_000));
        }
        assert.equal(replies[0]?.packet?.op, 'data');
        assert.equal(replies[1]?.packet?.op, 'data');
        assert.equal(replies[2], null, 'no ERROR: PXE firmware would give up and reboot instead of retrying');
        assert.equal(h.server.stats.refused, 1);
        assert.equal(h.server.stats[name === 'maxTransfers' ? 'refusedMaxTransfers' : 'refusedMaxPerClient'], 1);
        assert.equal(h.server.stats[name === 'maxTransfers' ? 'refusedMaxPerClient' : 'refusedMaxTransfers'], 0);
        assert.equal(h.server.stats.active, 2);
        assert.equal(h.server.stats.peakActive, 2);
        // A slot frees up when a transfer ends.
        const first = replies[0];
        assert.ok(first);
        socks[0]?.send(encodeError(0, 'bye'), first.from.port);
        await h.waitForSummaries(1);
        const again = await download(h.server, 'f');
        assert.equal(again.data.length, 5000);
      } finally {
        await Promise.all(socks.map((s) => s.close()));
      }
    });
  }

  it('survives a burst of random packets on the listener and a transfer socket', async () => {
    const file = pattern(20 * 512);
    const h = await harness({ f: file });
    const noise = await RawSocket.open();
    try {
      let seed = 42;
      const random = (n: number): Buffer => {
        const b = pattern(n, seed);
        seed += 1;
        return b;
      };
      const r = await download(h.server, 'f', {
        onServerTid: async (tid) => {
          for (let i = 0; i < 500; i += 1) {
            const junk = random(1 + (i % 40));
            if (i % 3 === 0 && junk.length >= 2) junk.writeUInt16BE(1 + (i % 6), 0); // plausible opcodes too
            noise.send(junk, i % 2 === 0 ? h.server.port : tid.port);
          }
        },
      });
      assert.deepEqual(r.data, file);
      await noise.drain(100);
    } finally {
      await noise.close();
    }
    const after = await download(h.server, 'f');
    assert.deepEqual(after.data, file);
    assert.ok(h.server.stats.malformed + h.server.stats.unknownTid + h.server.stats.requests >= 500);
  });

  /** Sends an RRQ with `options`, ACKs the OACK, and returns how long the first DATA took to be resent. */
  async function firstRetransmitGap(h: Harness, options: TftpOption[]): Promise<number> {
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet', options), h.server.port);
      const oack = await sock.next(1_000);
      assert.equal(oack?.packet?.op, 'oack');
      sock.send(encodeAck(0), oack.from.port);
      const first = await sock.next(1_000);
      const t0 = Date.now();
      const retry = await sock.next(6_000);
      assert.equal(first?.packet?.op, 'data');
      assert.equal(retry?.packet?.op, 'data');
      sock.send(encodeError(0, 'enough'), oack.from.port);
      return Date.now() - t0;
    } finally {
      await sock.close();
    }
  }

  it('lock-step: a client timeout caps the retransmission wait', { timeout: 10_000 }, async () => {
    const slow = await harness({ f: pattern(5000) }, { retransmitMs: 5_000, maxRetries: 1 });
    const capped = await firstRetransmitGap(slow, [{ name: 'timeout', value: '1' }]);
    assert.ok(capped >= 900 && capped < 2_000, `resent after ${capped} ms, expected about 1 s (the client's timeout)`);
    const fast = await harness({ f: pattern(5000) }, { retransmitMs: 100, maxRetries: 1 });
    const sooner = await firstRetransmitGap(fast, [{ name: 'timeout', value: '5' }]);
    assert.ok(sooner < 1_000, `resent after ${sooner} ms, expected about 100 ms (our schedule, sooner than the client's 5 s)`);
  });

  it('windowed: the client timeout is the retransmission wait, as negotiated', { timeout: 10_000 }, async () => {
    const h = await harness({ f: pattern(100) }, { retransmitMs: 20, maxRetries: 1 }); // one block: the window is DATA 1 alone
    const gap = await firstRetransmitGap(h, [{ name: 'timeout', value: '1' }, { name: 'windowsize', value: '4' }]);
    assert.ok(gap >= 900, `resent after ${gap} ms, expected about 1 s`);
  });

  it('drops malformed packets, counts them and keeps serving', async () => {
    const file = pattern(3000);
    const h = await harness({ f: file });
    const sock = await RawSocket.open();
    try {
      const junk = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 9, 1, 2]), Buffer.from('\x00\x01no-terminator'), Buffer.from([0, 4, 0, 1]), pattern(2000)];
      for (const j of junk) sock.send(j, h.server.port);
      assert.equal(await sock.next(200), null, 'no reply to junk');
    } finally {
      await sock.close();
    }
    assert.equal(h.server.stats.malformed, 6);
    const r = await download(h.server, 'f');
    assert.deepEqual(r.data, file);
  });

  it('drops junk from the client on the transfer socket and still completes', async () => {
    const file = pattern(3000);
    const h = await harness({ f: file });
    const sock = await RawSocket.open();
    try {
      const r = await receive(sock, h.server.port, 'f', {
        onServerTid: async (tid) => {
          sock.send(Buffer.from([0, 4]), tid.port);
          sock.send(Buffer.from([0, 42, 0, 0]), tid.port);
          sock.send(encodeRequest('rrq', 'f', 'octet'), tid.port);
        },
      });
      assert.deepEqual(r.data, file);
      assert.equal(h.server.stats.malformed, 3);
    } finally {
      await sock.close();
    }
  });

  it('aborts live transfers on close()', async () => {
    const h = await harness({ f: pattern(5000) }, { retransmitMs: 5_000 });
    const sock = await RawSocket.open();
    try {
      sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      assert.equal((await sock.next(1_000))?.packet?.op, 'data');
      await h.server.close();
      assert.equal(h.summaries[0]?.result, 'aborted');
      assert.equal(h.server.stats.active, 0);
      await h.server.close(); // idempotent
    } finally {
      await sock.close();
    }
  });
});

/** A pino logger whose JSON lines end up in `lines`. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', sink), lines };
}

describe('tftp server: limits and counters', () => {
  it('logs a refused request once per second per limit, folding the rest into a count', async () => {
    const { logger, lines } = capturingLogger();
    const h = await harness({ f: pattern(5000) }, { logger, maxTransfersPerClient: 1, maxTransfers: 10, retransmitMs: 5_000 });
    const holder = await RawSocket.open();
    const socks = await Promise.all([1, 2, 3, 4, 5].map(() => RawSocket.open()));
    try {
      holder.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      const first = await holder.next(1_000);
      assert.equal(first?.packet?.op, 'data');
      for (const sock of socks) sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      const unanswered = await Promise.all(socks.map((sock) => sock.next(300)));
      assert.deepEqual(unanswered, [null, null, null, null, null], 'refused requests get no reply');
      assert.equal(h.server.stats.refused, 5);
      assert.equal(h.server.stats.refusedMaxPerClient, 5);
      await new Promise((r) => setTimeout(r, 50)); // pino writes asynchronously
      const warnings = lines.filter((l) => l.msg === 'tftp request refused: maxTransfersPerClient (1) reached');
      assert.equal(warnings.length, 1, 'one line for a burst');
      assert.equal(warnings[0]?.level, 40, 'warn');
      assert.equal(warnings[0]?.limit, 'maxTransfersPerClient');
      assert.equal(warnings[0]?.max, 1);
      // A second later the next refusal is logged again, with what was folded in meanwhile.
      await new Promise((r) => setTimeout(r, 1_050));
      socks[0]?.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      assert.equal(await socks[0]?.next(300), null);
      await new Promise((r) => setTimeout(r, 50));
      const again = lines.filter((l) => l.msg === 'tftp request refused: maxTransfersPerClient (1) reached');
      assert.equal(again.length, 2);
      assert.equal(again[1]?.refusedSinceLastLine, 5, 'four folded refusals plus this one');
      assert.equal(again[1]?.refusedTotal, 6);
    } finally {
      await Promise.all([holder, ...socks].map((s) => s.close()));
    }
  });

  it('bounds new transfers per second per client address (clientRequestRate): over it no answer, counted; another address is served', async () => {
    const { logger, lines } = capturingLogger();
    const h = await harness({ f: pattern(100) }, { logger, clientRequestRate: 1, clientRequestBurst: 3, maxTransfersPerClient: 100, retransmitMs: 5_000 });
    const flood = await Promise.all(Array.from({ length: 10 }, () => RawSocket.open()));
    const other = await RawSocket.open('127.0.0.2');
    try {
      for (const sock of flood) sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      const replies = await Promise.all(flood.map((sock) => sock.next(300)));
      assert.equal(replies.filter((r) => r?.packet?.op === 'data').length, 3, 'the burst');
      assert.equal(replies.filter((r) => r === null).length, 7, 'the rest: silence, never an ERROR');
      assert.equal(h.server.stats.refusedClientRate, 7);
      assert.equal(h.server.stats.refused, 7);
      assert.equal(h.server.stats.refusedMaxPerClient, 0);
      other.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      assert.equal((await other.next(1_000))?.packet?.op, 'data', 'a client at another address has its own budget');
      await new Promise((r) => setTimeout(r, 50));
      const warning = lines.find((l) => l.msg === 'tftp request refused: clientRequestRate (1) reached');
      assert.equal(warning?.level, 40);
      // The bucket refills: a second later one more transfer from the flooding address starts.
      await new Promise((r) => setTimeout(r, 1_050));
      const fresh = await RawSocket.open();
      flood.push(fresh);
      fresh.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      assert.equal((await fresh.next(1_000))?.packet?.op, 'data');
    } finally {
      await Promise.all([...flood, other].map((s) => s.close()));
    }
  });

  it('a retransmitted or duplicated RRQ of a live transfer is folded into it before any budget: no refusal, no token, no second OACK', async () => {
    // Budgets that one more transfer from this address would exceed, either way.
    const h = await harness({ f: pattern(3000) }, { clientRequestRate: 1, clientRequestBurst: 1, maxTransfersPerClient: 1, retransmitMs: 5_000 });
    const sock = await RawSocket.open();
    try {
      const rrq = encodeRequest('rrq', 'f', 'octet', [{ name: 'blksize', value: '1468' }]);
      sock.send(rrq, h.server.port);
      const oack = await sock.next(1_000);
      assert.equal(oack?.packet?.op, 'oack');
      sock.send(rrq, h.server.port);
      sock.send(rrq, h.server.port);
      assert.equal(await sock.next(300), null, 'no second OACK (atftp aborts on one), from any port');
      assert.equal(h.server.stats.duplicates, 2);
      assert.equal(h.server.stats.refused, 0);
      sock.send(encodeAck(0), oack.from.port);
      for (let block = 1; block <= 3; block += 1) {
        const data = await sock.next(1_000);
        assert.equal(data?.packet?.op === 'data' ? data.packet.block : null, block);
        assert.equal(data?.from.port, oack.from.port);
        sock.send(encodeAck(block), oack.from.port);
      }
      await h.waitForSummaries(1);
      assert.equal(h.summaries[0]?.result, 'complete');
    } finally {
      await sock.close();
    }
  });

  it('one address at its maxTransfersPerClient leaves slots for others, and is counted under its own limit', async () => {
    const h = await harness({ f: pattern(5000) }, { maxTransfersPerClient: 2, maxTransfers: 3, retransmitMs: 5_000 });
    const flood = await Promise.all(Array.from({ length: 6 }, () => RawSocket.open()));
    const other = await RawSocket.open('127.0.0.3');
    try {
      for (const sock of flood) sock.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      await Promise.all(flood.map((sock) => sock.next(300)));
      assert.equal(h.server.stats.active, 2);
      assert.equal(h.server.stats.refusedMaxPerClient, 4);
      assert.equal(h.server.stats.refusedMaxTransfers, 0);
      other.send(encodeRequest('rrq', 'f', 'octet'), h.server.port);
      assert.equal((await other.next(1_000))?.packet?.op, 'data');
    } finally {
      await Promise.all([...flood, other].map((s) => s.close()));
    }
  });

  it('exposes every counter as a number on one plain object', async () => {
    const h = await harness({ f: pattern(3000) });
    await download(h.server, 'f', { options: [{ name: 'blksize', value: '1024' }] });
    await h.waitForSummaries(1);
    const stats = h.server.stats;
    assert.equal(Object.getPrototypeOf(stats), Object.prototype);
    for (const [key, value] of Object.entries(stats)) assert.equal(typeof value, 'number', key);
    assert.deepEqual(JSON.parse(JSON.stringify(stats)), { ...stats });
    assert.equal(stats.completed, 1);
    assert.equal(stats.blocksSent, 3);
    assert.equal(stats.bytesSent, 3000);
    assert.equal(stats.bytesDelivered, 3000);
    assert.equal(stats.active, 0);
    assert.equal(stats.activeClients, 0);
    assert.equal(stats.peakActive, 1);
  });

  it('counts ACKs outside the window as stale and ignores them', async () => {
    const file = pattern(10 * 512);
    const h = await harness({ f: file });
    const sock = await RawSocket.open();
    try {
      const r = await receive(sock, h.server.port, 'f', {
        onServerTid: async (tid) => {
          sock.send(encodeAck(40_000), tid.port); // far ahead of anything sent
          sock.send(encodeAck(9), tid.port);
        },
      });
      assert.deepEqual(r.data, file);
      assert.equal(h.server.stats.staleAcks, 2);
      assert.equal(h.server.stats.blocksRetransmitted, 0);
    } finally {
      await sock.close();
    }
  });
});

describe('tftp server: load', { skip: SLOW }, () => {
  it('keeps descriptors bounded by 2 x maxTransfers under a burst of 3000 RRQs, then returns to the baseline', { timeout: 30_000 }, async () => {
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const h = await harness({ f: pattern(5000) }, { maxTransfers: 200, maxTransfersPerClient: 5000, retransmitMs: 50, maxRetries: 1 });
    const socks = await Promise.all(Array.from({ length: 30 }, () => RawSocket.open()));
    const baseline = fds();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, fds())), 5);
    try {
      for (let i = 0; i < 100; i += 1) {
        // 100 spellings of the same file per socket: distinct requests, not duplicates.
        for (const sock of socks) sock.send(encodeRequest('rrq', `${'/'.repeat(i)}f`, 'octet'), h.server.port);
        await new Promise((r) => setImmediate(r));
      }
      const until = Date.now() + 15_000;
      while (h.server.stats.active > 0 || h.server.stats.requests < 3000) {
        if (Date.now() > until) throw new Error(`still ${h.server.stats.active} transfers, ${h.server.stats.requests} requests seen`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      clearInterval(sampler);
      await Promise.all(socks.map((s) => s.close()));
    }
    assert.equal(h.server.stats.requests, 3000);
    assert.ok(h.server.stats.refusedMaxTransfers > 0, 'the cap was reached');
    assert.ok(h.server.stats.peakActive <= 200);
    // Two sockets per transfer (the connected one and the one that answers strangers).
    assert.ok(peak - baseline <= 2 * 200 + 5, `${peak - baseline} descriptors above the baseline at the peak, maxTransfers is 200`);
    const until = Date.now() + 5_000;
    while (fds() > baseline - socks.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(fds() <= baseline - socks.length, 'every transfer socket was closed');
  });

  it('serves 300 concurrent small transfers', { timeout: 30_000 }, async () => {
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 10; i += 1) files[`f${i}`] = pattern(3000 + i * 100, i + 1);
    const h = await harness(files, { maxTransfersPerClient: 300, retransmitMs: 1_000 });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        download(h.server, `f${i % 10}`, { options: i % 2 === 0 ? [{ name: 'blksize', value: '1024' }, { name: 'tsize', value: '0' }] : [], deadlineMs: 20_000 }),
      ),
    );
    results.forEach((r, i) => assert.deepEqual(r.data, files[`f${i % 10}`], `transfer ${i}`));
    await h.waitForSummaries(300);
    assert.equal(h.server.stats.completed, 300);
    assert.equal(h.server.stats.refused, 0);
    assert.equal(h.server.stats.active, 0);
  });
});
