/**
 * What the benchmarks read from /proc: a process's CPU time and memory, and a description of the
 * machine (with its load, since other work on the box makes numbers noisy).
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { spawnSync } from 'node:child_process';

/** Clock ticks per second for /proc/<pid>/stat; 100 on every Linux this runs on, checked once. */
let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** User + system CPU seconds of a live process (utime and stime of /proc/<pid>/stat), or null when gone. */
export function cpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after the command name (which may hold spaces) start at state = field 3.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

export interface MemoryUse {
  /** Resident set size now, in MiB. */
  readonly rssMiB: number;
  /** Peak resident set size since the process started (VmHWM), in MiB. */
  readonly peakRssMiB: number;
}

export function memoryUse(pid: number): MemoryUse | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, peakRssMiB: kb('VmHWM') / 1024 };
}

/** Samples a process's CPU use while something runs, to tell a saturated core from an idle one. */
export class CpuSampler {
  private readonly samples: Array<{ at: number; cpu: number }> = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pid: number,
    private readonly everyMs = 250,
  ) {}

  start(): this {
    this.take();
    this.timer = setInterval(() => this.take(), this.everyMs);
    this.timer.unref();
    return this;
  }

  private take(): void {
    const cpu = cpuSeconds(this.pid);
    if (cpu !== null) this.samples.push({ at: performance.now(), cpu });
  }

  /** Stops sampling; CPU seconds used since start() and the busiest interval's share of one core. */
  stop(): { cpuSeconds: number; peakCoreShare: number; meanCoreShare: number } {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.take();
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (first === undefined || last === undefined || last.at === first.at) return { cpuSeconds: 0, peakCoreShare: 0, meanCoreShare: 0 };
    let peak = 0;
    for (let i = 1; i < this.samples.length; i += 1) {
      const a = this.samples[i - 1];
      const b = this.samples[i];
      if (a === undefined || b === undefined || b.at - a.at < this.everyMs / 2) continue;
      peak = Math.max(peak, (b.cpu - a.cpu) / ((b.at - a.at) / 1000));
    }
    const used = last.cpu - first.cpu;
    return { cpuSeconds: used, peakCoreShare: peak, meanCoreShare: used / ((last.at - first.at) / 1000) };
  }
}

export interface MachineDescription {
  readonly nproc: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages when the description was taken. */
  readonly load: readonly number[];
}

export function describeMachine(): MachineDescription {
  const kernel = spawnSync('uname', ['-r'], { encoding: 'utf8' }).stdout?.trim() ?? 'unknown';
  return {
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel,
    node: process.version,
    load: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function machineLine(m: MachineDescription = describeMachine()): string {
  return `${m.nproc} CPU (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}, load ${m.load.join(' / ')}`;
}

/** Load averages now, for printing next to a result. */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}
