import {
  CHADDR_LENGTH, CHADDR_OFFSET, DhcpOption, FILE_LENGTH, FILE_OFFSET, MAGIC_COOKIE, OPTIONS_OFFSET,
  Overload, SNAME_LENGTH, SNAME_OFFSET,
} from './constants.js';
import { macFromChaddr, readIpv4, type DhcpPacket } from './packet.js';

export type DhcpDecodeResult =
  | { readonly ok: true; readonly packet: DhcpPacket }
  | { readonly ok: false; readonly error: string };

type OptionChunks = Map<number, Buffer[]>;

/** Decodes one UDP payload. Never throws: anything unusable comes back as `{ok: false, error}`. */
export function decodeDhcp(buf: Buffer): DhcpDecodeResult {
  try {
    return decodeUnchecked(buf);
  } catch (err) {
    // Every read below is bounds-checked; this only guards against a bug turning into a crash.
    return { ok: false, error: `decoder failure: ${(err as Error).message}` };
  }
}

function decodeUnchecked(buf: Buffer): DhcpDecodeResult {
  if (buf.length < OPTIONS_OFFSET) {
    return { ok: false, error: `truncated: ${buf.length} bytes, a DHCP message has at least ${OPTIONS_OFFSET}` };
  }
  const cookie = buf.readUInt32BE(OPTIONS_OFFSET - 4);
  if (cookie !== MAGIC_COOKIE) {
    return { ok: false, error: `bad magic cookie 0x${cookie.toString(16).padStart(8, '0')}` };
  }
  const hlen = buf.readUInt8(2);
  if (hlen > CHADDR_LENGTH) return { ok: false, error: `hlen ${hlen} exceeds the 16-byte chaddr field` };

  const chunks: OptionChunks = new Map();
  const mainError = readOptions(buf.subarray(OPTIONS_OFFSET), chunks, 'options');
  if (mainError !== null) return { ok: false, error: mainError };

  // RFC 3396 §7: the concatenation order is options field, then file, then sname.
  const overload = chunks.get(DhcpOption.Overload)?.[0]?.[0] ?? 0;
  const fileHoldsOptions = (overload & Overload.File) !== 0;
  const snameHoldsOptions = (overload & Overload.Sname) !== 0;
  if (fileHoldsOptions) {
    const error = readOptions(buf.subarray(FILE_OFFSET, FILE_OFFSET + FILE_LENGTH), chunks, 'file field');
    if (error !== null) return { ok: false, error };
  }
  if (snameHoldsOptions) {
    const error = readOptions(buf.subarray(SNAME_OFFSET, SNAME_OFFSET + SNAME_LENGTH), chunks, 'sname field');
    if (error !== null) return { ok: false, error };
  }

  const htype = buf.readUInt8(1);
  const chaddr = Buffer.from(buf.subarray(CHADDR_OFFSET, CHADDR_OFFSET + CHADDR_LENGTH));
  const options = new Map<number, Buffer>();
  for (const [code, parts] of chunks) options.set(code, parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));

  return {
    ok: true,
    packet: {
      op: buf.readUInt8(0),
      htype,
      hlen,
      hops: buf.readUInt8(3),
      xid: buf.readUInt32BE(4),
      secs: buf.readUInt16BE(8),
      flags: buf.readUInt16BE(10),
      ciaddr: readIpv4(buf, 12),
      yiaddr: readIpv4(buf, 16),
      siaddr: readIpv4(buf, 20),
      giaddr: readIpv4(buf, 24),
      chaddr,
      mac: macFromChaddr(htype, hlen, chaddr),
      sname: snameHoldsOptions ? '' : fieldString(buf, SNAME_OFFSET, SNAME_LENGTH),
      file: fileHoldsOptions ? '' : fieldString(buf, FILE_OFFSET, FILE_LENGTH),
      options,
    },
  };
}

/** Reads TLVs until 255 or the end of `area` (a missing end option is tolerated). */
function readOptions(area: Buffer, into: OptionChunks, where: string): string | null {
  let at = 0;
  while (at < area.length) {
    const code = area.readUInt8(at);
    if (code === DhcpOption.End) return null;
    if (code === DhcpOption.Pad) {
      at += 1;
      continue;
    }
    if (at + 1 >= area.length) return `option ${code} in the ${where} has no length byte`;
    const length = area.readUInt8(at + 1);
    const start = at + 2;
    if (start + length > area.length) {
      return `option ${code} in the ${where} claims ${length} bytes but only ${area.length - start} remain`;
    }
    const parts = into.get(code);
    // A view, not a copy: the datagram buffer belongs to this packet alone and is never written.
    const value = area.subarray(start, start + length);
    if (parts) parts.push(value);
    else into.set(code, [value]);
    at = start + length;
  }
  return null;
}

/** A fixed-size, NUL-padded header string; bytes map 1:1 to characters (latin1). */
function fieldString(buf: Buffer, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return field.subarray(0, nul === -1 ? field.length : nul).toString('latin1');
}
