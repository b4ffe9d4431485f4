/**
 * Events from sources rackboot does not know (no machine: unknown MACs at DHCP and /ipxe, refused
 * tokens, assets refused to an unknown address) are counted, not written one row per request. Per
 * interval, the first sighting of a few new (type, source) keys is still written as it happens (so an
 * operator sees a new machine at once); everything else is a count, flushed as one summarizing event
 * per type. The number of distinct keys held is bounded: the rest are folded into an "other" count.
 */
import { sourceAddress } from './boot-binding.js';
export const MACHINELESS_TYPES: ReadonlySet<string> = new Set(['discovered', 'token-refused', 'warning']);

export interface MachinelessSettings {
  /** Distinct (type, source) keys kept per interval; more are folded into `other`. */
  readonly maxKeys: number;
  /** Events written as they happen per interval (the first of each new key); the rest are counted. */
  readonly immediatePerInterval: number;
  /** Sources named in a summary's data (the busiest first); the rest are only in its totals. */
  readonly topSources?: number;
}

export interface MachinelessSummary {
  readonly type: string;
  readonly message: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface MachinelessStats {
  /** Written one by one (the first of a key while the immediate budget lasts). */
  immediate: number;
  /** Counted into a summary instead of a row. */
  counted: number;
  /** Counted into `other` because the key table was full. */
  folded: number;
  /** Dropped while writes are being shed (disk low): immediate events and whole summaries. */
  shed: number;
  /** Summary events written. */
  summaries: number;
}

interface TypeTally {
  total: number;
  other: number;
  readonly sources: Map<string, number>;
}

export class MachinelessEvents {
  private readonly settings: MachinelessSettings;
  private tallies = new Map<string, TypeTally>();
  private keys = 0;
  private immediateLeft: number;
  private since: number;
  private shedding = false;
  readonly stats: MachinelessStats = { immediate: 0, counted: 0, folded: 0, shed: 0, summaries: 0 };

  constructor(settings: MachinelessSettings, now: number) {
    this.settings = settings;
    this.immediateLeft = settings.immediatePerInterval;
    this.since = now;
  }

  handles(type: string): boolean {
    return MACHINELESS_TYPES.has(type);
  }

  /** While set (the data disk is low), nothing from unknown sources is written: only counted. */
  setShedding(on: boolean): void {
    this.shedding = on;
  }

  get isShedding(): boolean {
    return this.shedding;
  }

  /** Distinct keys held now (bounded by maxKeys). */
  get trackedKeys(): number {
    return this.keys;
  }

  /** One event from an unknown source: 'write' it as a row now, or it was 'counted'. */
  admit(type: string, source: string): 'write' | 'counted' {
    let tally = this.tallies.get(type);
    if (!tally) {
      tally = { total: 0, other: 0, sources: new Map() };
      this.tallies.set(type, tally);
    }
    const seen = tally.sources.get(source);
    if (seen !== undefined) tally.sources.set(source, seen + 1);
    else if (this.keys >= this.settings.maxKeys) {
      tally.other++;
      this.stats.folded++;
    } else {
      this.keys++;
      if (this.immediateLeft > 0) {
        this.immediateLeft--;
        if (!this.shedding) {
          // remembered with no count: the first of a key is its row, repeats in the interval are counted
          tally.sources.set(source, 0);
          this.stats.immediate++;
          return 'write';
        }
        this.stats.shed++;
      }
      tally.sources.set(source, 1);
    }
    tally.total++;
    this.stats.counted++;
    return 'counted';
  }

  /**
   * Ends the interval: one summary per type that counted anything, and a fresh interval. While
   * shedding, the summaries are dropped (and counted as shed) instead of returned.
   */
  drain(now: number): MachinelessSummary[] {
    const seconds = Math.max(1, Math.round((now - this.since) / 1000));
    const top = this.settings.topSources ?? 20;
    const summaries: MachinelessSummary[] = [];
    for (const [type, tally] of this.tallies) {
      if (tally.total === 0) continue;
      const counted = [...tally.sources].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
      const named = counted.slice(0, top);
      const distinct = counted.length + (tally.other > 0 ? 1 : 0);
      summaries.push({
        type,
        message: `${tally.total} ${type} event(s) from unknown sources in the last ${seconds} s, counted not recorded one by one (${counted.length} source(s)${tally.other > 0 ? `, ${tally.other} from sources beyond the ${this.settings.maxKeys} tracked` : ''}; busiest: ${named.slice(0, 3).map(([s, n]) => `${s} x${n}`).join(', ')})`,
        data: {
          aggregated: true,
          intervalSeconds: seconds,
          total: tally.total,
          sources: Object.fromEntries(named),
          otherSources: counted.length - named.length,
          other: tally.other,
          distinct,
        },
      });
    }
    this.tallies = new Map();
    this.keys = 0;
    this.immediateLeft = this.settings.immediatePerInterval;
    this.since = now;
    if (this.shedding) {
      this.stats.shed += summaries.length;
      return [];
    }
    this.stats.summaries += summaries.length;
    return summaries;
  }
}

/** The source an event is keyed by: the client address when it has one, else the MAC, else "unknown". */
export function machinelessSource(data: Readonly<Record<string, unknown>> | undefined, mac: string | null | undefined): string {
  const ip = data?.clientIp;
  if (typeof ip === 'string' && ip !== '') return sourceAddress(ip);
  return mac ?? 'unknown';
}
