/**
 * Recognises a datagram delivered twice: the same bytes from the same source within a short window.
 * Some segments deliver every packet twice (a bridge looping through a mirror port, two paths to one
 * host); answering both copies doubled every reply and, with chainloadEmbeddedIpxe, made
 * undionly.kpxe chain itself for ever (issue 17). Firmware retransmits after a second or more, so a
 * window well below that never hides a real retry. Bounded: at most `maxEntries` remembered.
 */
import { createHash } from 'node:crypto';

export interface DuplicateFilterOptions {
  /** 0 turns the filter off. */
  readonly windowMs: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export class DuplicateFilter {
  private readonly seen = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: DuplicateFilterOptions) {
    this.maxEntries = options.maxEntries ?? 8192;
    this.now = options.now ?? (() => performance.now());
  }

  /** True when these bytes from this source were seen within the window (then they are not remembered again). */
  isDuplicate(source: string, bytes: Uint8Array): boolean {
    if (this.options.windowMs <= 0) return false;
    const now = this.now();
    // insertion order is time order: forget from the oldest end
    for (const [key, at] of this.seen) {
      if (now - at <= this.options.windowMs && this.seen.size < this.maxEntries) break;
      this.seen.delete(key);
    }
    const key = `${source}|${createHash('sha1').update(bytes).digest('base64')}`;
    if (this.seen.has(key)) return true;
    this.seen.set(key, now);
    return false;
  }

  get size(): number {
    return this.seen.size;
  }
}
