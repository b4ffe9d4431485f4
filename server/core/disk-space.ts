/**
 * The data directory's free space against the configured floor: below it rackboot reports itself
 * unhealthy and sheds the writes it can live without, before SQLite starts failing the ones it needs.
 */
export interface DiskThresholds {
  /** Low below this many free bytes (0: no byte floor). */
  readonly minFreeBytes: number;
  /** Low below this share of the filesystem free, in percent (0: no percentage floor). */
  readonly minFreePercent: number;
}

/** What fs.statfs reports (the fields used). */
export interface FsSpace {
  readonly bsize: number;
  readonly blocks: number;
  /** Blocks available to an unprivileged process (what SQLite's writes run into first). */
  readonly bavail: number;
}

export interface DiskState {
  readonly freeBytes: number;
  readonly totalBytes: number;
  readonly low: boolean;
  /** Why it is low, for /healthz and the log; empty when it is not. */
  readonly reason: string;
}

export function diskState(space: FsSpace, thresholds: DiskThresholds, dir: string): DiskState {
  const freeBytes = space.bavail * space.bsize;
  const totalBytes = space.blocks * space.bsize;
  const percent = totalBytes > 0 ? (freeBytes / totalBytes) * 100 : 0;
  const reasons: string[] = [];
  if (thresholds.minFreeBytes > 0 && freeBytes < thresholds.minFreeBytes) {
    reasons.push(`${mib(freeBytes)} free, below the floor of ${mib(thresholds.minFreeBytes)}`);
  }
  if (thresholds.minFreePercent > 0 && percent < thresholds.minFreePercent) {
    reasons.push(`${percent.toFixed(1)}% free, below the floor of ${thresholds.minFreePercent}%`);
  }
  const reason = reasons.length === 0 ? '' : `data directory ${dir} is low on space: ${reasons.join('; ')}`;
  return { freeBytes, totalBytes, low: reasons.length > 0, reason };
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
