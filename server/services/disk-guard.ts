/**
 * Watches the free space of the data directory (fs.statfs). Below the floor: /healthz answers 503
 * with the reason, /metrics shows rackboot_disk_low 1, and the writes rackboot can live without
 * (events from unknown sources and their summaries) are shed, so the essential ones (leases before
 * an ACK, boot tokens) keep the last of the space. Logged once per transition.
 */
import { statfs } from 'node:fs/promises';
import { diskState, type DiskState, type DiskThresholds, type FsSpace } from '../core/disk-space.js';
import type { Logger } from '../log.js';

export type StatFs = (dir: string) => Promise<FsSpace>;

export interface DiskGuardOptions {
  readonly dir: string;
  readonly thresholds: DiskThresholds;
  readonly logger: Logger;
  /** Injected in tests; fs.statfs by default. */
  readonly statfs?: StatFs;
  /** Told on every transition (low or back to normal). */
  readonly onChange?: (state: DiskState) => void;
}

export class DiskGuard {
  private current: DiskState | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly statfs: StatFs;
  /** Checks that failed (statfs error): the last known state stays. */
  checkErrors = 0;
  transitions = 0;

  constructor(private readonly options: DiskGuardOptions) {
    this.statfs = options.statfs ?? ((dir) => statfs(dir));
  }

  /** The last check's result; null before the first one. */
  get state(): DiskState | null {
    return this.current;
  }

  /** For /healthz: ok, or the reason it is not. */
  health(): { ok: true } | { ok: false; reason: string } {
    return this.current?.low ? { ok: false, reason: this.current.reason } : { ok: true };
  }

  async check(): Promise<DiskState | null> {
    let next: DiskState;
    try {
      next = diskState(await this.statfs(this.options.dir), this.options.thresholds, this.options.dir);
    } catch (error) {
      this.checkErrors++;
      this.options.logger.warn({ err: error, dir: this.options.dir }, 'disk guard: cannot read the free space of the data directory');
      return this.current;
    }
    const changed = (this.current?.low ?? false) !== next.low;
    this.current = next;
    if (changed) {
      this.transitions++;
      if (next.low) this.options.logger.error({ freeBytes: next.freeBytes, totalBytes: next.totalBytes }, `${next.reason}; /healthz is 503 and events from unknown sources are shed`);
      else this.options.logger.info({ freeBytes: next.freeBytes }, `data directory ${this.options.dir} has space again (${next.freeBytes} bytes free); /healthz ok, events from unknown sources recorded again`);
      this.options.onChange?.(next);
    }
    return next;
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
