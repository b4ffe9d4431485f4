/**
 * A child process inside a network namespace with its stdin open and its stdout read line by line
 * (LabProcess keeps stdin closed). `ip netns exec` execs the command in place, so the PID is the
 * command's own; it is stopped by that PID, and LabNetwork.destroy() sweeps the namespace anyway.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { findExecutable } from '../../server/lab/prereqs.js';

export class NsChild {
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly listeners = new Set<(line: string) => void>();
  private stderrTail = '';
  private log: WriteStream | undefined;
  private done = false;

  private constructor(child: ChildProcessWithoutNullStreams, logFile: string | undefined) {
    if (child.pid === undefined) throw new Error('no PID');
    this.child = child;
    this.pid = child.pid;
    this.log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: 'a' });
    createInterface({ input: child.stdout }).on('line', (line) => {
      for (const listener of this.listeners) listener(line);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      this.stderrTail = (this.stderrTail + d).slice(-8000);
      this.log?.write(d);
    });
    this.exited = new Promise((resolve) =>
      child.on('close', (code, signal) => {
        this.done = true;
        this.log?.end();
        resolve({ code, signal });
      }),
    );
  }

  static start(netns: string, cmd: string, args: readonly string[], opts: { cwd?: string; stderrLog?: string } = {}): Promise<NsChild> {
    const ip = findExecutable('ip') ?? 'ip';
    return new Promise((resolve, reject) => {
      const child = spawn(ip, ['netns', 'exec', netns, cmd, ...args], { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
      child.once('error', reject);
      child.once('spawn', () => {
        child.off('error', reject);
        child.on('error', () => {});
        child.stdin.on('error', () => {});
        resolve(new NsChild(child, opts.stderrLog));
      });
    });
  }

  onLine(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(line: string): void {
    if (!this.done) this.child.stdin.write(`${line}\n`);
  }

  stderr(): string {
    return this.stderrTail;
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGTERM, SIGKILL after `graceMs`. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.done) return;
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
