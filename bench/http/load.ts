/**
 * HTTP load for the asset benchmark: wrk when it is installed (Debian `wrk`), else a bounded Node
 * client (C keep-alive connections, each fetching in a loop until the duration is over).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { findExecutable } from '../../server/lab/prereqs.js';

export interface LoadResult {
  readonly tool: 'wrk' | 'node';
  readonly bytesPerSecond: number;
  readonly requestsPerSecond: number;
  readonly errors: number;
  readonly raw?: string;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  /** Random ranges of this many bytes within a file of `fileSize` bytes. */
  readonly range?: { readonly bytes: number; readonly fileSize: number };
  /** Scratch directory (wrk's Lua script for ranges). */
  readonly workDir: string;
}

const UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

export function parseWrk(output: string): { bytesPerSecond: number; requestsPerSecond: number; errors: number } {
  const transfer = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB|TB)/.exec(output);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const errors = Number(non2xx?.[1] ?? 0) + (socketErrors ? socketErrors.slice(1).reduce((s, v) => s + Number(v), 0) : 0);
  if (!transfer?.[1] || !transfer[2] || !rps?.[1]) throw new Error(`cannot read wrk's output:\n${output}`);
  return { bytesPerSecond: Number(transfer[1]) * (UNITS[transfer[2]] ?? 1), requestsPerSecond: Number(rps[1]), errors };
}

function rangeScript(dir: string, bytes: number, fileSize: number): string {
  const path = join(dir, `range-${bytes}-${fileSize}.lua`);
  // wrk calls request() for every request: a random aligned range each time.
  writeFileSync(
    path,
    [
      `local size = ${fileSize}`,
      `local len = ${bytes}`,
      'math.randomseed(os.time())',
      'request = function()',
      '  local first = math.random(0, math.floor((size - len) / 4096)) * 4096',
      '  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. first .. "-" .. (first + len - 1) })',
      'end',
      '',
    ].join('\n'),
  );
  return path;
}

function runWrk(wrk: string, opts: LoadOptions): Promise<LoadResult> {
  const threads = Math.min(2, opts.connections);
  const args = ['-t', String(threads), '-c', String(opts.connections), '-d', `${opts.durationS}s`, '--timeout', '30s'];
  if (opts.range) args.push('-s', rangeScript(opts.workDir, opts.range.bytes, opts.range.fileSize));
  args.push(opts.url);
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.durationS + 60) * 1000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ tool: 'wrk', ...parseWrk(out), raw: out });
      } catch (error) {
        reject(error as Error);
      }
    });
  });
}

async function runNode(opts: LoadOptions): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const until = performance.now() + opts.durationS * 1000;
  let bytes = 0;
  let requests = 0;
  let errors = 0;
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const headers: Record<string, string> = {};
      if (opts.range) {
        const blocks = Math.floor((opts.range.fileSize - opts.range.bytes) / 4096);
        const first = Math.floor(Math.random() * (blocks + 1)) * 4096;
        headers.range = `bytes=${first}-${first + opts.range.bytes - 1}`;
      }
      const req = request(opts.url, { agent, headers }, (res) => {
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => {
          if ((res.statusCode ?? 0) >= 300) errors += 1;
          else requests += 1;
          resolve();
        });
        res.on('error', () => {
          errors += 1;
          resolve();
        });
      });
      req.setTimeout(30_000, () => req.destroy());
      req.on('error', () => {
        errors += 1;
        resolve();
      });
      req.end();
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (performance.now() < until) await once();
    }),
  );
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  return { tool: 'node', bytesPerSecond: bytes / seconds, requestsPerSecond: requests / seconds, errors };
}

export function loadTool(): 'wrk' | 'node' {
  return findExecutable('wrk') ? 'wrk' : 'node';
}

export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const wrk = findExecutable('wrk');
  return wrk ? runWrk(wrk, opts) : runNode(opts);
}
