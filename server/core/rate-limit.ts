/**
 * A token bucket per source (a client address): `burst` requests at once, then `perSecond`. The
 * table of sources is bounded: when it is full, the source idle the longest is forgotten (a Map
 * keeps insertion order; a source is moved to the end on every use), which only ever gives that
 * source a fresh, full bucket.
 */
export interface RateLimitSettings {
  readonly perSecond: number;
  readonly burst: number;
  /** Sources tracked at once. */
  readonly maxSources: number;
}

export interface RateLimitStats {
  allowed: number;
  refused: number;
  /** Sources forgotten because the table was full. */
  evicted: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  readonly stats: RateLimitStats = { allowed: 0, refused: 0, evicted: 0 };

  constructor(private readonly settings: RateLimitSettings) {}

  /** Takes one token for `source` at `now` (ms); false: over its rate, refuse the request. */
  take(source: string, now: number): boolean {
    const { perSecond, burst } = this.settings;
    let bucket = this.buckets.get(source);
    if (bucket) {
      this.buckets.delete(source);
      bucket.tokens = Math.min(burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    } else {
      bucket = { tokens: burst, at: now };
      this.evictForOne();
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      this.stats.allowed++;
      return true;
    }
    this.stats.refused++;
    return false;
  }

  /** Seconds until `source` has a token again (for Retry-After). */
  retryAfterSeconds(source: string): number {
    const bucket = this.buckets.get(source);
    if (!bucket || bucket.tokens >= 1) return 0;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.settings.perSecond));
  }

  get trackedSources(): number {
    return this.buckets.size;
  }

  private evictForOne(): void {
    while (this.buckets.size >= this.settings.maxSources) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) return;
      this.buckets.delete(oldest.value);
      this.stats.evicted++;
    }
  }
}
