/**
 * Option negotiation for a read request: RFC 2347 (OACK), 2348 (blksize), 2349 (tsize, timeout),
 * 7440 (windowsize).
 *
 * Policy: an option whose value is malformed or out of its RFC range is ignored (left out of the
 * OACK, default used) rather than answered with ERROR 8, which RFC 2347 allows and which keeps a
 * buggy client booting. Unknown options (multicast, rollover, utimeout, ...) are ignored; rollover
 * is always to 0. Only accepted options are echoed, under the client's spelling, so nothing
 * unsolicited reaches firmware that chokes on it (EFI and an unexpected tsize).
 */
import type { TftpOption } from './codec.js';

export const DEFAULT_BLOCK_SIZE = 512;
export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
export const MAX_WINDOW_SIZE = 65535;
export const MIN_TIMEOUT_S = 1;
export const MAX_TIMEOUT_S = 255;

export interface NegotiationLimits {
  /** Largest blksize granted (e.g. 1468 for a 1500-byte MTU). */
  readonly maxBlockSize: number;
  /** Largest windowsize granted. */
  readonly maxWindowSize: number;
}

export interface NegotiatedTransfer {
  readonly blksize: number;
  readonly windowsize: number;
  /** Retransmission timeout the client asked for (and we echoed), in seconds. */
  readonly timeoutS: number | null;
  /** Options to send in an OACK; empty means no OACK, go straight to DATA 1. */
  readonly oack: readonly TftpOption[];
}

/** A strictly decimal integer (no sign, no exponent, no blanks), or null. */
function parseDecimal(value: string): number | null {
  if (!/^[0-9]{1,10}$/.test(value)) return null;
  return Number(value);
}

function inRange(n: number | null, min: number, max: number): n is number {
  return n !== null && n >= min && n <= max;
}

/** Lower-cased option names to raw values, first occurrence wins (for logs and resolvers). */
export function optionsRecord(options: readonly TftpOption[]): Record<string, string> {
  const byName = new Map<string, string>();
  for (const { name, value } of options) {
    const key = name.toLowerCase();
    if (!byName.has(key)) byName.set(key, value);
  }
  // fromEntries defines own properties, so a client-sent "__proto__" stays a plain key.
  return Object.fromEntries(byName);
}

export function negotiateOptions(
  requested: readonly TftpOption[],
  fileSize: number,
  limits: NegotiationLimits,
): NegotiatedTransfer {
  let blksize = DEFAULT_BLOCK_SIZE;
  let windowsize = 1;
  let timeoutS: number | null = null;
  const oack: TftpOption[] = [];
  const seen = new Set<string>();

  for (const { name, value } of requested) {
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const n = parseDecimal(value);
    switch (key) {
      case 'blksize':
        if (!inRange(n, MIN_BLOCK_SIZE, MAX_BLOCK_SIZE)) break;
        blksize = Math.min(n, limits.maxBlockSize);
        oack.push({ name, value: String(blksize) });
        break;
      case 'tsize':
        // A reader sends 0; the size it gets back is ours, whatever it sent.
        if (n === null) break;
        oack.push({ name, value: String(fileSize) });
        break;
      case 'timeout':
        if (!inRange(n, MIN_TIMEOUT_S, MAX_TIMEOUT_S)) break;
        timeoutS = n;
        oack.push({ name, value: String(n) });
        break;
      case 'windowsize':
        if (!inRange(n, 1, MAX_WINDOW_SIZE)) break;
        windowsize = Math.min(n, limits.maxWindowSize);
        oack.push({ name, value: String(windowsize) });
        break;
      default:
        break;
    }
  }
  return { blksize, windowsize, timeoutS, oack };
}
