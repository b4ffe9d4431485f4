/**
 * Hostile input: 20,000 mutated RRQ/WRQ/ACK/ERROR/DATA/OACK packets and garbage, half to the
 * listener and half to a live transfer's socket (from a foreign port, plus ACKs and non-ERROR junk
 * from the client's own port), while a real client downloads. Afterwards real clients still get
 * byte-identical files, and the server's transfers and file descriptors return to the baseline.
 *
 * The mutations come from a seeded generator (the seed is printed), so a failure can be replayed
 * with TFTP_FUZZ_SEED=<seed>. Everything is on loopback: the fuzzer sends from 127.0.0.2 so the
 * per-client limit it runs into does not throttle the real clients on 127.0.0.1. Bounded: 20,000
 * packets, sent in paced batches, within the test's time limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findExecutable } from '../../server/lab/prereqs.js';
import { silentLogger } from '../../server/log.js';
import { createRootResolver } from '../../server/net/tftp-files.js';
import { startTftpServer, type TftpServer } from '../../server/net/tftp-server.js';
import { decodePacket, encodeAck, encodeRequest, OPCODE } from '../../server/protocol/tftp/codec.js';

const HOST = '127.0.0.1';
const FUZZ_HOST = '127.0.0.2';
const PACKETS = 20_000;
const BATCH = 100;
const SEED = Number(process.env.TFTP_FUZZ_SEED ?? Date.now() % 0xffffffff) >>> 0 || 1;

let base = '';
let root = '';
let server: TftpServer;
const files = new Map<string, Buffer>();
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const onPath = (binary: string): boolean => findExecutable(binary) !== undefined;

function run(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// ------------------------------------------------------------------ the mutator

/** xorshift32: small, seeded, good enough to pick mutations. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutator(seed: number): { next(): Buffer; ack(): Buffer } {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rnd() % xs.length] as T;
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i += 1) b[i] = rnd() & 0xff;
    return b;
  };
  const names = ['small.bin', 'big.bin', 'missing.bin', '../../etc/passwd', '/small.bin', '\\small.bin', 'a/../small.bin', '%2e%2e/x', 'x'.repeat(600), 'sm\x01all', 'é.bin', ''];
  const modes = ['octet', 'OCTET', 'netascii', 'mail', '', 'octet\x7f'];
  const optionNames = ['blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'multicast', 'rollover', 'utimeout', '__proto__', 'constructor', ''];
  const optionValues = ['0', '1', '7', '8', '512', '1468', '65464', '65465', '70000', '-1', '1e3', ' 1', '99999999999', '', 'x'];
  const templates: Array<() => Buffer> = [
    () => {
      const options = Array.from({ length: rnd() % 6 }, () => ({ name: pick(optionNames), value: pick(optionValues) }));
      return encodeRequest(rnd() % 8 === 0 ? 'wrq' : 'rrq', pick(names), pick(modes), options);
    },
    () => encodeAck(rnd() & 0xffff),
    () => Buffer.concat([Buffer.from([0, OPCODE.error, rnd() & 0xff, rnd() & 0xff]), bytes(rnd() % 40), rnd() % 2 ? Buffer.from([0]) : Buffer.alloc(0)]),
    () => Buffer.concat([Buffer.from([0, OPCODE.data, rnd() & 0xff, rnd() & 0xff]), bytes(rnd() % 600)]),
    () => Buffer.concat([Buffer.from([0, OPCODE.oack]), Buffer.from(`${pick(optionNames)}\0${pick(optionValues)}\0`, 'latin1')]),
    () => bytes(rnd() % 1500),
    () => bytes(rnd() % 4),
  ];
  const mutate = (packet: Buffer): Buffer => {
    let p = Buffer.from(packet);
    const rounds = rnd() % 4;
    for (let i = 0; i < rounds; i += 1) {
      switch (rnd() % 6) {
        case 0: // flip a bit
          if (p.length > 0) {
            const at = rnd() % p.length;
            p[at] = (p[at] ?? 0) ^ (1 << (rnd() % 8));
          }
          break;
        case 1: // overwrite a byte (NULs often)
          if (p.length > 0) p[rnd() % p.length] = rnd() % 3 === 0 ? 0 : rnd() & 0xff;
          break;
        case 2: // truncate
          p = p.subarray(0, rnd() % (p.length + 1));
          break;
        case 3: // append
          p = Buffer.concat([p, bytes(rnd() % 64)]);
          break;
        case 4: // swap the opcode
          if (p.length >= 2) p.writeUInt16BE(rnd() % 9, 0);
          break;
        default: // duplicate a slice (long option lists, repeated strings)
          p = Buffer.concat([p, p.subarray(rnd() % (p.length + 1))]).subarray(0, 65_000);
          break;
      }
    }
    return p;
  };
  return {
    next: () => mutate(pick(templates)()),
    // From the client's own port only ACKs and junk that is not an ERROR: an ERROR from the
    // client legitimately ends its transfer.
    ack: () => {
      const p = rnd() % 2 ? encodeAck(rnd() & 0xffff) : mutate(pick(templates)());
      if (p.length >= 2 && p.readUInt16BE(0) === OPCODE.error) p.writeUInt16BE(OPCODE.ack, 0);
      return p;
    },
  };
}

// ------------------------------------------------------------------ a raw lock-step client

async function openSocket(address: string): Promise<Socket> {
  const s = createSocket('udp4');
  s.on('error', () => undefined); // a full buffer or an ICMP error is not the test's business
  await new Promise<void>((resolve) => s.bind(0, address, () => resolve()));
  return s;
}

/** Lets ACKs out only as credits are granted, so a transfer cannot finish before the fuzzing does. */
class AckGate {
  private credits = Number.POSITIVE_INFINITY;
  private readonly queue: Array<() => void> = [];
  close(): void {
    this.credits = 0;
  }
  grant(n: number): void {
    this.credits += n;
    this.flush();
  }
  open(): void {
    this.credits = Number.POSITIVE_INFINITY;
    this.flush();
  }
  run(fn: () => void): void {
    this.queue.push(fn);
    this.flush();
  }
  private flush(): void {
    while (this.credits > 0 && this.queue.length > 0) {
      this.credits -= 1;
      this.queue.shift()?.();
    }
  }
}

/** Downloads `file` lock-step (no options); calls `onTid` once the server's port is known. */
function rawDownload(sock: Socket, file: string, onTid: (port: number) => void, timeoutMs: number, gate = new AckGate()): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let expected = 1;
    let tid = 0;
    const timer = setTimeout(() => reject(new Error(`raw download stalled at block ${expected}`)), timeoutMs);
    const reack = setInterval(() => {
      if (tid !== 0 && expected > 1) sock.send(encodeAck(expected - 1), tid, HOST);
    }, 500);
    sock.on('message', (msg, rinfo) => {
      if (tid === 0) {
        tid = rinfo.port;
        onTid(tid);
      }
      if (rinfo.port !== tid) return;
      const d = decodePacket(msg);
      if (!d.ok) return;
      if (d.packet.op === 'error') {
        clearTimeout(timer);
        clearInterval(reack);
        reject(new Error(`server error ${d.packet.code} ${d.packet.message}`));
        return;
      }
      if (d.packet.op !== 'data') return;
      if (d.packet.block === ((expected - 1) & 0xffff)) {
        sock.send(encodeAck(d.packet.block), tid, HOST); // a retransmission: re-ACK it
        return;
      }
      if (d.packet.block !== (expected & 0xffff)) return;
      chunks.push(Buffer.from(d.packet.data));
      const block = d.packet.block;
      gate.run(() => sock.send(encodeAck(block), tid, HOST));
      expected += 1;
      if (d.packet.data.length < 512) {
        clearTimeout(timer);
        clearInterval(reack);
        resolve(Buffer.concat(chunks));
      }
    });
    sock.send(encodeRequest('rrq', file, 'octet'), server.port, HOST);
  });
}

// ------------------------------------------------------------------ the test

const clients = { hpa: false, curl: false, atftp: false };

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'rackboot-tftp-fuzz-'));
  root = join(base, 'root');
  await mkdir(root);
  for (const [name, size] of [['small.bin', 3000], ['big.bin', 2_000_000], ['live.bin', 300_000]] as const) {
    const data = randomBytes(size);
    files.set(name, data);
    await writeFile(join(root, name), data);
  }
  clients.hpa = onPath('tftp') && /tftp-hpa/.test((await run('tftp', ['-V'])).stdout);
  clients.curl = onPath('curl');
  clients.atftp = onPath('atftp');
  server = await startTftpServer({
    address: HOST,
    port: 0,
    logger: silentLogger(),
    // Transfers that junk RRQs start towards the fuzzer (which never ACKs) die within ~0.4 s.
    retransmitMs: 50,
    maxRetries: 2,
    resolve: createRootResolver({ root, logger: silentLogger() }),
  });
});

after(async () => {
  await server?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('tftp server under 20,000 malformed packets', () => {
  it('keeps serving byte-identical files and returns to its baseline of transfers and descriptors', { timeout: 90_000 }, async (t) => {
    t.diagnostic(`seed ${SEED} (replay with TFTP_FUZZ_SEED=${SEED})`);
    // Baseline after one transfer: lazily created handles (the thread pool, the file cache) exist.
    const warm = await openSocket(HOST);
    assert.deepEqual(await rawDownload(warm, 'small.bin', () => undefined, 10_000), files.get('small.bin'));
    await new Promise<void>((r) => warm.close(() => r()));
    await waitFor('the warm-up transfer to end', () => server.stats.active === 0, 5_000);
    const baselineFds = openFds();

    const fuzz = mutator(SEED);
    const foreign = await openSocket(FUZZ_HOST);
    const live = await openSocket(HOST);
    let sentToListener = 0;
    let sentToTransfer = 0;
    let liveTid = 0;
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => {
      uncaught.push(err);
    };
    process.on('uncaughtException', onUncaught);
    try {
      // A real client downloads while the packets fly.
      const during = clients.curl
        ? run('curl', ['-sS', '--tftp-blksize', '1468', '--max-time', '60', '-o', join(base, 'during.bin'), `tftp://${HOST}:${server.port}/big.bin`])
        : null;
      // The live transfer may advance two blocks per batch only: 200 batches x 2 blocks stay
      // below its 586 blocks, so it is still running when the last packet goes out.
      const gate = new AckGate();
      gate.close();
      let liveComplete = false;
      const liveDone = rawDownload(live, 'live.bin', (port) => (liveTid = port), 60_000, gate).finally(() => (liveComplete = true));
      await waitFor('the live transfer to start', () => liveTid !== 0, 5_000);
      for (let sent = 0; sent < PACKETS; sent += BATCH) {
        gate.grant(2);
        for (let i = 0; i < BATCH; i += 1) {
          const n = sent + i;
          if (n % 2 === 0) {
            foreign.send(fuzz.next(), server.port, HOST);
            sentToListener += 1;
          } else if (n % 10 === 1) {
            live.send(fuzz.ack(), liveTid, HOST); // from the client's own TID
            sentToTransfer += 1;
          } else {
            foreign.send(fuzz.next(), liveTid, HOST); // a wrong TID
            sentToTransfer += 1;
          }
        }
        await new Promise((r) => setTimeout(r, 2)); // let the server (same event loop) drain its sockets
      }
      assert.equal(liveComplete, false, 'the live transfer was still running when the fuzzing ended');
      gate.open();
      assert.deepEqual(await liveDone, files.get('live.bin'), 'the fuzzed transfer completed byte-identical');
      if (during !== null) {
        const r = await during;
        assert.equal(r.code, 0, `curl during the fuzz: ${r.stderr}`);
        assert.equal(sha(await readFile(join(base, 'during.bin'))), sha(files.get('big.bin') as Buffer));
      }
    } finally {
      process.off('uncaughtException', onUncaught);
      await new Promise<void>((r) => foreign.close(() => r()));
      await new Promise<void>((r) => live.close(() => r()));
    }
    assert.deepEqual(uncaught, []);
    const stats = { ...server.stats };
    t.diagnostic(`sent ${sentToListener} to the listener and ${sentToTransfer} to a transfer socket; stats ${JSON.stringify(stats)}`);
    assert.equal(sentToListener + sentToTransfer, PACKETS);
    assert.ok(stats.malformed > 1000, 'most junk is counted as malformed');
    assert.ok(stats.unknownTid > 1000, 'packets from a wrong TID were answered with ERROR 5');
    assert.ok(stats.requests > 300, 'mutated requests were parsed');
    assert.ok(stats.staleAcks > 0, 'forged ACKs on the live transfer were ignored');

    // Real clients, after the storm.
    if (clients.hpa) {
      const local = join(base, 'hpa.bin');
      const r = await run('tftp', [HOST, String(server.port), '-m', 'binary', '-c', 'get', 'big.bin', local]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(local)), sha(files.get('big.bin') as Buffer), 'tftp-hpa byte-identical');
    }
    if (clients.atftp) {
      const local = join(base, 'atftp.bin');
      const r = await run('atftp', ['--option', 'blksize 1468', '--option', 'windowsize 4', '-g', '-r', 'big.bin', '-l', local, HOST, String(server.port)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha(await readFile(local)), sha(files.get('big.bin') as Buffer), 'atftp byte-identical');
    }
    if (!clients.hpa && !clients.atftp && !clients.curl) t.diagnostic('no real TFTP client installed: only the raw client was checked');

    // Back to the baseline: no transfer left, no socket leaked.
    await waitFor('all transfers to end', () => server.stats.active === 0, 10_000);
    await waitFor(`open descriptors to return to ${baselineFds}`, () => openFds() <= baselineFds, 10_000);
    assert.equal(server.stats.active, 0);
    assert.equal(server.stats.activeClients, 0);
  });
});
