/** config.DecodeContent and the Go decoders it relies on (base64, the gzip header). */

const BASE64_VALUE = new Map<number, number>(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c.charCodeAt(0), i]),
);

/** base64.StdEncoding.DecodeString: padded, CR and LF ignored, anything else outside the alphabet fails. */
export function goBase64(input: string | Uint8Array): Uint8Array | undefined {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const clean = bytes.filter((b) => b !== 0x0a && b !== 0x0d);
  if (clean.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 4) {
    const quad = clean.subarray(i, i + 4);
    const last = i + 4 === clean.length;
    const pad = quad[3] === 0x3d ? (quad[2] === 0x3d ? 2 : 1) : 0;
    if (pad > 0 && !last) return undefined;
    const values: number[] = [];
    for (let j = 0; j < 4 - pad; j++) {
      const v = BASE64_VALUE.get(quad[j] ?? 0);
      if (v === undefined) return undefined;
      values.push(v);
    }
    if (pad === 2 && values.length !== 2) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = values;
    out.push(((a << 2) | (b >> 4)) & 0xff);
    if (pad < 2) out.push(((b << 4) | (c >> 2)) & 0xff);
    if (pad < 1) out.push(((c << 6) | d) & 0xff);
  }
  return Uint8Array.from(out);
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * gzip.NewReader only reads the header (RFC 1952 §2.3) and the validator ignores read errors after
 * it, so a content "decodes as gzip" when its header is complete and consistent.
 */
function gzipHeaderOk(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8) return false;
  const flags = bytes[3] ?? 0;
  let at = 10;
  if (flags & 4) {
    if (at + 2 > bytes.length) return false;
    at += 2 + ((bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8));
    if (at > bytes.length) return false;
  }
  for (const flag of [8, 16]) {
    if (!(flags & flag)) continue;
    const nul = bytes.indexOf(0, at);
    if (nul < 0 || nul - at >= 512) return false;
    at = nul + 1;
  }
  if (flags & 2) {
    if (at + 2 > bytes.length) return false;
    const stored = (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
    if (stored !== (crc32(bytes.subarray(0, at)) & 0xffff)) return false;
  }
  return true;
}

/** config.DecodeContent */
export function decodeContent(content: Uint8Array, encoding: string): boolean {
  switch (encoding) {
    case '':
      return true;
    case 'b64':
    case 'base64':
      return goBase64(content) !== undefined;
    case 'gz':
    case 'gzip':
      return gzipHeaderOk(content);
    case 'gz+base64':
    case 'gzip+base64':
    case 'gz+b64':
    case 'gzip+b64': {
      const decoded = goBase64(content);
      return decoded !== undefined && gzipHeaderOk(decoded);
    }
    default:
      return false;
  }
}
