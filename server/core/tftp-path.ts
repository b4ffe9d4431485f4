/**
 * Normalises the filename of a TFTP read request into a root-relative path, or says why not.
 *
 * Accepted: Windows separators (`\` becomes `/`), absolute names (`/pxelinux.0` and
 * `tftp://`-style `/boot/x` map under the root), repeated slashes and `.` segments.
 * Refused: empty names, NUL and other control characters, non-ASCII bytes (PXE filenames are
 * ASCII; refusing the rest avoids encoding ambiguity), `..` segments, and percent-encoded
 * dots, separators or control characters, which some resolvers and tools would decode later.
 * The file-system adapter still re-checks confinement with realpath (symlinks).
 */

export type TftpPathResult = { ok: true; path: string } | { ok: false; reason: string };

export const MAX_TFTP_PATH_LENGTH = 1024;

// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const CONTROL_CHARS = /[\x00-\x1f\x7f]/;
/** Checked after CONTROL_CHARS, so what is left outside printable ASCII is non-ASCII. */
const NON_ASCII = /[^\x20-\x7e]/;
/** %2e (.), %2f (/), %5c (\), %00-%1f and %7f, case-insensitive. */
const ENCODED_SPECIAL = /%(2e|2f|5c|[01][0-9a-f]|7f)/i;

export function normaliseTftpPath(raw: string): TftpPathResult {
  if (raw.length === 0) return { ok: false, reason: 'empty filename' };
  if (raw.length > MAX_TFTP_PATH_LENGTH) return { ok: false, reason: 'filename too long' };
  if (raw.includes('\0')) return { ok: false, reason: 'NUL in filename' };
  if (CONTROL_CHARS.test(raw)) return { ok: false, reason: 'control character in filename' };
  if (NON_ASCII.test(raw)) return { ok: false, reason: 'non-ASCII filename' };
  if (ENCODED_SPECIAL.test(raw)) return { ok: false, reason: 'percent-encoded dot, separator or control character' };

  const segments: string[] = [];
  for (const segment of raw.replaceAll('\\', '/').split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return { ok: false, reason: 'parent directory segment' };
    segments.push(segment);
  }
  if (segments.length === 0) return { ok: false, reason: 'empty filename' };
  return { ok: true, path: segments.join('/') };
}
