/**
 * A token bucket per client address: at most `burst` new things at once, refilled at `perSecond`.
 * The time comes in as an argument (tests drive it). The table of addresses is bounded: when it is
 * full, idle addresses (buckets that have refilled) go first, else the oldest; a flood of spoofed
 * addresses can at worst hand an address a fresh bucket, never grow memory.
 */
export interface ClientRateOptions {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size: how many may come at once after a quiet spell. */
  readonly burst: number;
  /** Most addresses remembered. Default 65,536. */
  readonly maxClients?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ClientRate {
  readonly #perMs: number;
  readonly #burst: number;
  readonly #maxClients: number;
  readonly #buckets = new Map<string, Bucket>();
  #sweptAt = -Infinity;

  constructor(options: ClientRateOptions) {
    if (!(options.perSecond > 0) || !(options.burst >= 1)) throw new RangeError('ClientRate: perSecond must be > 0 and burst >= 1');
    this.#perMs = options.perSecond / 1000;
    this.#burst = options.burst;
    this.#maxClients = options.maxClients ?? 65_536;
  }

  /** Takes a token for `client` at `now` (ms) when one is there; false means over budget. */
  take(client: string, now: number): boolean {
    let bucket = this.#buckets.get(client);
    if (bucket === undefined) {
      this.#makeRoom(now);
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(client, bucket);
    } else {
      bucket.tokens = this.#level(bucket, now);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#buckets.size;
  }

  #level(bucket: Bucket, now: number): number {
    return Math.min(this.#burst, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
  }

  #makeRoom(now: number): void {
    if (this.#buckets.size < this.#maxClients) return;
    // A sweep costs the whole table: at most one a second, so a spoofing flood stays O(1) per packet.
    if (now - this.#sweptAt >= 1000) {
      this.#sweptAt = now;
      for (const [client, bucket] of this.#buckets) {
        if (this.#level(bucket, now) >= this.#burst) this.#buckets.delete(client);
      }
    }
    if (this.#buckets.size < this.#maxClients) return;
    const oldest = this.#buckets.keys().next();
    if (!oldest.done) this.#buckets.delete(oldest.value);
  }
}
