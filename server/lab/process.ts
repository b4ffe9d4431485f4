/**
 * Child processes of the lab, tracked by their real PID.
 *
 * Commands are started without a shell (`ip netns exec NS cmd ...` execs `cmd` in place, so the PID
 * that node:child_process reports is the command's own, not a wrapper's). Output is kept in a
 * bounded buffer so that a failing test can show what the process said.
 */
import { spawn as nodeSpawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  /** Extra environment (merged over this process's environment). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Also append stdout and stderr to this file. */
  readonly logFile?: string;
  /** Bytes of combined output to keep in memory (default 256 KiB). */
  readonly keepOutputBytes?: number;
}

export interface ExecOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Kill the command (SIGKILL) after this long; default 30 s. */
  readonly timeoutMs?: number;
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  /** Resolve on a non-zero exit instead of rejecting. */
  readonly allowFailure?: boolean;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly result: ExecResult,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

/** Runs a command to completion (no shell), bounded by `timeoutMs`. */
export function execCommand(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = nodeSpawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new ExecError(`${cmd}: ${err.message}`, { code: null, signal: null, stdout, stderr }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result: ExecResult = { code, signal, stdout, stderr };
      const line = [cmd, ...args].join(' ');
      if (timedOut) reject(new ExecError(`${line}: timed out after ${timeoutMs} ms`, result));
      else if (code !== 0 && !opts.allowFailure) {
        reject(new ExecError(`${line}: exit ${code ?? signal}: ${stderr.trim() || stdout.trim()}`, result));
      } else resolve(result);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** True while a process with this PID exists (zombies count as gone once reaped). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill(0); treat it as gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `pid` is gone or `timeoutMs` passes; true when gone. */
export async function waitForPidExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}

/** A long-running child process, known by its real PID. */
export class LabProcess {
  readonly pid: number;
  readonly command: readonly string[];
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  #status: ExitStatus | undefined;
  #output = '';
  #keep: number;
  #log: WriteStream | undefined;
  #listeners = new Set<() => void>();

  private constructor(child: ChildProcess, command: readonly string[], opts: SpawnOptions) {
    if (child.pid === undefined) throw new Error(`spawn ${command.join(' ')}: no PID`);
    this.pid = child.pid;
    this.command = command;
    this.#keep = opts.keepOutputBytes ?? 256 * 1024;
    this.#log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
    const onData = (d: string): void => {
      this.#output += d;
      if (this.#output.length > this.#keep) this.#output = this.#output.slice(-this.#keep);
      this.#log?.write(d);
      for (const l of this.#listeners) l();
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        this.#status = { code, signal };
        this.#log?.end();
        for (const l of this.#listeners) l();
        resolve(this.#status);
      });
    });
  }

  /**
   * Starts `cmd args` without a shell. Rejects when the command cannot be started at all
   * (ENOENT, EACCES): the PID is known only once node reports the spawn.
   */
  static start(cmd: string, args: readonly string[], opts: SpawnOptions = {}): Promise<LabProcess> {
    return new Promise((resolve, reject) => {
      const child = nodeSpawn(cmd, args, {
        cwd: opts.cwd,
        env: opts.env ? { ...process.env, ...opts.env } : process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.once('error', reject);
      child.once('spawn', () => {
        child.off('error', reject);
        child.on('error', () => {});
        resolve(new LabProcess(child, [cmd, ...args], opts));
      });
    });
  }

  /** undefined while running. */
  get exitStatus(): ExitStatus | undefined {
    return this.#status;
  }

  /** Combined stdout and stderr so far (the last `keepOutputBytes`). */
  output(): string {
    return this.#output;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.#status) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** Resolves with the first match of `re` in the output; rejects on exit or timeout. */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = re.exec(this.#output);
        if (m) {
          done();
          resolve(m);
          return true;
        }
        if (this.#status) {
          done();
          reject(new Error(`${this.describe()} exited (${this.#status.code ?? this.#status.signal}) before printing ${re}; output:\n${tail(this.#output)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.describe()}: no ${re} within ${timeoutMs} ms; output:\n${tail(this.#output)}`));
      }, timeoutMs);
      const listener = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
      };
      this.#listeners.add(listener);
      check();
    });
  }

  /**
   * SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Rejects if it
   * survives SIGKILL for 5 s (uninterruptible sleep), rather than hang the caller.
   */
  async stop(graceMs = 3000): Promise<ExitStatus> {
    if (this.#status) return this.#status;
    this.signal('SIGTERM');
    if (await this.#exitWithin(graceMs)) return this.exited;
    this.signal('SIGKILL');
    if (await this.#exitWithin(5000)) return this.exited;
    throw new Error(`${this.describe()} did not exit after SIGKILL`);
  }

  async #exitWithin(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([this.exited.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  describe(): string {
    return `${this.command.slice(0, 6).join(' ')}${this.command.length > 6 ? ' ...' : ''} (pid ${this.pid})`;
  }
}

export function tail(text: string, lines = 25): string {
  return text.split('\n').slice(-lines).join('\n');
}
