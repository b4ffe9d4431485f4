/**
 * rackboot's TFTP server against the real clients installed on the machine: tftp-hpa `tftp`,
 * `atftp`, `curl tftp://` and busybox `tftp`. Every download must be byte-identical. A missing
 * client skips its tests with the reason. All traffic stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { findExecutable } from '../../server/lab/prereqs.js';
import { silentLogger } from '../../server/log.js';
import { createRootResolver } from '../../server/net/tftp-files.js';
import { startTftpServer, type TftpServer, type TftpTransferSummary } from '../../server/net/tftp-server.js';

const HOST = '127.0.0.1';
const CLIENT_TIMEOUT_MS = 60_000;

const SIZES = {
  'empty.bin': 0,
  'one.bin': 1,
  'b512.bin': 512,
  'b1468.bin': 1468,
  'b1469.bin': 1469,
  'k100.bin': 100_000,
  'm2.bin': 2_000_000,
  'rollover.bin': 32 * 1024 * 1024 + 1000, // > 65535 blocks at 512: block numbers wrap to 0
  'm30.bin': 30_000_000,
} as const;
type FileName = keyof typeof SIZES;

const SMALL: FileName[] = ['empty.bin', 'one.bin', 'b512.bin', 'b1468.bin', 'b1469.bin', 'k100.bin'];
const NORMAL: FileName[] = [...SMALL, 'm2.bin'];
const TINY: FileName[] = ['empty.bin', 'one.bin', 'b512.bin', 'b1469.bin']; // for blksize 8

let base = '';
let root = '';
let out = '';
let server: TftpServer;
const files = new Map<FileName, Buffer>();
const summaries: TftpTransferSummary[] = [];

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

const onPath = (binary: string): boolean => findExecutable(binary) !== undefined;

function run(cmd: string, args: readonly string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: CLIENT_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Why a client cannot be tested here, or null when it can. */
const availability = new Map<string, string | null>();

async function checkClients(): Promise<void> {
  availability.set('tftp-hpa', onPath('tftp')
    ? /tftp-hpa/.test((await run('tftp', ['-V'])).stdout + (await run('tftp', ['-V'])).stderr) ? null : '`tftp` on PATH is not tftp-hpa'
    : '`tftp` (tftp-hpa) is not installed');
  availability.set('atftp', onPath('atftp') ? null : '`atftp` is not installed');
  availability.set('curl', onPath('curl')
    ? /\btftp\b/.test((await run('curl', ['--version'])).stdout) ? null : 'this curl has no tftp:// support'
    : '`curl` is not installed');
  availability.set('busybox', onPath('busybox')
    ? /^tftp$/m.test((await run('busybox', ['--list'])).stdout) ? null : 'busybox has no tftp applet'
    : '`busybox` is not installed');
}

function skipped(t: TestContext, client: string): boolean {
  const reason = availability.get(client);
  if (reason === null) return false;
  t.skip(reason ?? `${client}: availability unknown`);
  return true;
}

let outCounter = 0;
const outPath = (name: string): string => join(out, `${outCounter++}-${name}`);

/** Checks the local copy, and the server's summary of the transfer that produced it. */
async function assertDownloaded(result: RunResult, local: string, name: FileName, expectBlksize?: number): Promise<void> {
  assert.equal(result.code, 0, `client failed: ${result.stderr || result.stdout}`);
  const got = await readFile(local);
  assert.ok(got.equals(files.get(name) ?? Buffer.alloc(1)), `${name}: ${got.length} bytes, not byte-identical`);
  const summary = await summaryFor(name);
  assert.equal(summary.result, 'complete');
  if (expectBlksize !== undefined) assert.equal(summary.blksize, expectBlksize);
}

/** The newest summary for a path; the server reports after the final ACK, which may trail the client's exit. */
async function summaryFor(path: string): Promise<TftpTransferSummary> {
  for (let i = 0; i < 200; i += 1) {
    const found = summaries.findLast((s) => s.path === path);
    if (found !== undefined) {
      summaries.length = 0;
      return found;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no transfer summary for ${path}`);
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'rackboot-tftp-real-'));
  root = join(base, 'root');
  out = join(base, 'out');
  await mkdir(root);
  await mkdir(out);
  for (const [name, size] of Object.entries(SIZES) as Array<[FileName, number]>) {
    const data = randomBytes(size);
    files.set(name, data);
    await writeFile(join(root, name), data);
  }
  await checkClients();
  server = await startTftpServer({
    address: HOST,
    port: 0,
    logger: silentLogger(),
    resolve: createRootResolver({ root, logger: silentLogger() }),
    onTransferEnd: (s) => summaries.push(s),
  });
});

after(async () => {
  await server?.close();
  await rm(base, { recursive: true, force: true });
});

describe('tftp-hpa tftp', () => {
  for (const name of [...NORMAL, 'rollover.bin'] as FileName[]) {
    it(`gets ${name} (no options, blksize 512)`, { timeout: 90_000 }, async (t) => {
      if (skipped(t, 'tftp-hpa')) return;
      const local = outPath(name);
      await assertDownloaded(await run('tftp', [HOST, String(server.port), '-m', 'binary', '-c', 'get', name, local]), local, name, 512);
    });
  }
});

describe('atftp', () => {
  const sets: Array<{ label: string; options: string[]; blksize: number; names: FileName[] }> = [
    { label: 'no options', options: [], blksize: 512, names: [...NORMAL, 'rollover.bin'] },
    { label: 'blksize 1468 + tsize', options: ['blksize 1468', 'tsize 0'], blksize: 1468, names: NORMAL },
    { label: 'blksize 1432 + windowsize 4 (iPXE size, EDK II window)', options: ['blksize 1432', 'windowsize 4'], blksize: 1432, names: NORMAL },
    { label: 'blksize 1468 + windowsize 8', options: ['blksize 1468', 'windowsize 8'], blksize: 1468, names: NORMAL },
    { label: 'windowsize 32', options: ['windowsize 32'], blksize: 512, names: NORMAL },
    { label: 'blksize 65464 (capped to 1468)', options: ['blksize 65464'], blksize: 1468, names: NORMAL },
    { label: 'blksize 8', options: ['blksize 8'], blksize: 8, names: TINY },
    { label: 'timeout 1', options: ['timeout 1'], blksize: 512, names: SMALL },
  ];
  for (const set of sets) {
    for (const name of set.names) {
      it(`gets ${name} with ${set.label}`, { timeout: 90_000 }, async (t) => {
        if (skipped(t, 'atftp')) return;
        const local = outPath(name);
        const args = [...set.options.flatMap((o) => ['--option', o]), '-g', '-r', name, '-l', local, HOST, String(server.port)];
        await assertDownloaded(await run('atftp', args), local, name, set.blksize);
      });
    }
  }
});

describe('curl tftp://', () => {
  // curl (7.88) always asks for tsize and then refuses the "tsize 0" an empty file correctly
  // gets ("invalid tsize -:0:- value in OACK packet", exit 71), so empty.bin is only fetched
  // with --tftp-no-options.
  const nonEmpty = (names: FileName[]): FileName[] => names.filter((n) => n !== 'empty.bin');
  const sets: Array<{ label: string; args: string[]; blksize: number; names: FileName[] }> = [
    { label: '--tftp-no-options', args: ['--tftp-no-options'], blksize: 512, names: NORMAL },
    { label: '--tftp-blksize 512', args: ['--tftp-blksize', '512'], blksize: 512, names: nonEmpty(NORMAL) },
    { label: '--tftp-blksize 1024', args: ['--tftp-blksize', '1024'], blksize: 1024, names: nonEmpty(NORMAL) },
    { label: '--tftp-blksize 1468', args: ['--tftp-blksize', '1468'], blksize: 1468, names: nonEmpty(NORMAL) },
    { label: '--tftp-blksize 8', args: ['--tftp-blksize', '8'], blksize: 8, names: nonEmpty(TINY) },
  ];
  for (const set of sets) {
    for (const name of set.names) {
      it(`gets ${name} with ${set.label}`, async (t) => {
        if (skipped(t, 'curl')) return;
        const local = outPath(name);
        const url = `tftp://${HOST}:${server.port}/${name}`;
        await assertDownloaded(await run('curl', ['-sS', ...set.args, '-o', local, url]), local, name, set.blksize);
      });
    }
  }

  it('gets 30 MB at blksize 1468 (throughput, reported)', { timeout: 90_000 }, async (t) => {
    if (skipped(t, 'curl')) return;
    const local = outPath('m30.bin');
    const url = `tftp://${HOST}:${server.port}/m30.bin`;
    await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', join(out, 'warm-up'), url]); // fills the file cache
    await summaryFor('m30.bin');
    const started = process.hrtime.bigint();
    const result = await run('curl', ['-sS', '--tftp-blksize', '1468', '-o', local, url]);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await assertDownloaded(result, local, 'm30.bin', 1468);
    t.diagnostic(`curl, 30 MB at blksize 1468, windowsize 1: ${seconds.toFixed(2)} s, ${(30 / seconds).toFixed(1)} MB/s`);
  });
});

describe('busybox tftp', () => {
  const sets: Array<{ label: string; args: string[]; blksize: number; names: FileName[] }> = [
    { label: 'no options', args: [], blksize: 512, names: NORMAL },
    { label: '-b 1468', args: ['-b', '1468'], blksize: 1468, names: NORMAL },
    { label: '-b 64 (its smallest that works: it refuses 8 and 16)', args: ['-b', '64'], blksize: 64, names: TINY },
  ];
  for (const set of sets) {
    for (const name of set.names) {
      it(`gets ${name} with ${set.label}`, async (t) => {
        if (skipped(t, 'busybox')) return;
        const local = outPath(name);
        const args = ['tftp', '-g', '-r', name, '-l', local, ...set.args, HOST, String(server.port)];
        await assertDownloaded(await run('busybox', args), local, name, set.blksize);
      });
    }
  }
});

describe('refusals seen by real clients', () => {
  const missing: Array<[string, string, (local: string) => [string, string[]]]> = [
    ['tftp-hpa', 'tftp-hpa', (local) => ['tftp', [HOST, String(server.port), '-m', 'binary', '-c', 'get', 'missing.bin', local]]],
    ['atftp', 'atftp', (local) => ['atftp', ['-g', '-r', 'missing.bin', '-l', local, HOST, String(server.port)]]],
    ['curl', 'curl', (local) => ['curl', ['-sS', '-o', local, `tftp://${HOST}:${server.port}/missing.bin`]]],
    ['busybox', 'busybox', (local) => ['busybox', ['tftp', '-g', '-r', 'missing.bin', '-l', local, HOST, String(server.port)]]],
  ];
  for (const [label, client, command] of missing) {
    it(`${label}: a missing file is reported as not found`, async (t) => {
      if (skipped(t, client)) return;
      const [cmd, args] = command(outPath('missing'));
      const result = await run(cmd, args);
      if (client === 'curl') {
        // curl 7.88 prints a stale "getpeername() failed" text; its exit code is the real answer.
        assert.equal(result.code, 68, 'CURLE_TFTP_NOTFOUND');
      } else {
        assert.match(result.stdout + result.stderr, /not found/i);
        // tftp-hpa exits 0 even on a server error; the others fail.
        if (client !== 'tftp-hpa') assert.notEqual(result.code, 0);
      }
      const summary = await summaryFor('missing.bin');
      assert.equal(summary.result, 'error');
    });
  }

  it('tftp-hpa: a traversal attempt is refused', async (t) => {
    if (skipped(t, 'tftp-hpa')) return;
    const result = await run('tftp', [HOST, String(server.port), '-m', 'binary', '-c', 'get', '../../../../etc/passwd', outPath('passwd')]);
    assert.match(result.stdout + result.stderr, /access violation/i);
  });

  it('tftp-hpa: netascii mode is refused with ERROR 4', async (t) => {
    if (skipped(t, 'tftp-hpa')) return;
    const result = await run('tftp', [HOST, String(server.port), '-m', 'ascii', '-c', 'get', 'one.bin', outPath('ascii')]);
    assert.match(result.stdout + result.stderr, /octet/i);
  });

  const uploads: Array<[string, (local: string) => [string, string[]]]> = [
    ['tftp-hpa', (local) => ['tftp', [HOST, String(server.port), '-m', 'binary', '-c', 'put', local, 'upload-hpa.bin']]],
    ['atftp', (local) => ['atftp', ['-p', '-l', local, '-r', 'upload-atftp.bin', HOST, String(server.port)]]],
    ['curl', (local) => ['curl', ['-sS', '-T', local, `tftp://${HOST}:${server.port}/upload-curl.bin`]]],
    ['busybox', (local) => ['busybox', ['tftp', '-p', '-l', local, '-r', 'upload-busybox.bin', HOST, String(server.port)]]],
  ];
  for (const [client, command] of uploads) {
    it(`${client}: an upload is refused and nothing is written`, async (t) => {
      if (skipped(t, client)) return;
      const local = outPath('upload.bin');
      await writeFile(local, 'evil');
      const before = (await readdir(root)).sort();
      const [cmd, args] = command(local);
      const result = await run(cmd, args);
      if (client === 'curl') assert.equal(result.code, 69, 'CURLE_TFTP_PERM');
      else assert.match(result.stdout + result.stderr, /read-only|access violation/i);
      if (client !== 'tftp-hpa') assert.notEqual(result.code, 0, 'the client saw a failure');
      assert.deepEqual((await readdir(root)).sort(), before);
    });
  }
});
