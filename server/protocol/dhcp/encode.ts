import {
  CHADDR_LENGTH, CHADDR_OFFSET, DhcpOption, FILE_LENGTH, FILE_OFFSET, MAGIC_COOKIE, MIN_PACKET_LENGTH,
  OPTIONS_OFFSET, SNAME_LENGTH, SNAME_OFFSET,
} from './constants.js';
import { writeIpv4, type DhcpPacket } from './packet.js';

/** The packet cannot be encoded as asked (too large for the client, a field overflows, ...). */
export class DhcpEncodeError extends Error {
  override readonly name = 'DhcpEncodeError';
}

export interface EncodeOptions {
  /** Largest UDP payload the receiver accepts (see `replyMaxSize`); larger packets are refused. */
  readonly maxSize?: number;
}

const MAX_CHUNK = 255;

/**
 * Encodes a packet: options in map order, values longer than 255 bytes split into consecutive
 * instances (RFC 3396), sname/file always NUL-terminated, an end option, zero padding to 300 bytes.
 * Never writes option overload. Throws DhcpEncodeError when the result would exceed `maxSize`.
 * One allocation: the size is computed first, then every field is written in place.
 */
export function encodeDhcp(packet: DhcpPacket, options: EncodeOptions = {}): Buffer {
  let size = OPTIONS_OFFSET + 1;
  for (const [code, value] of packet.options) {
    if (!Number.isInteger(code) || code <= DhcpOption.Pad || code >= DhcpOption.End || code === DhcpOption.Overload) {
      throw new DhcpEncodeError(`option code ${code} cannot be sent as an option value`);
    }
    size += value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / MAX_CHUNK);
  }
  if (options.maxSize !== undefined && size > options.maxSize) {
    throw new DhcpEncodeError(`message of ${size} bytes exceeds the receiver's maximum of ${options.maxSize}`);
  }

  const out = Buffer.alloc(Math.max(size, MIN_PACKET_LENGTH));
  out[0] = packet.op;
  out[1] = packet.htype;
  out[2] = packet.hlen;
  out[3] = packet.hops;
  out.writeUInt32BE(packet.xid >>> 0, 4);
  out.writeUInt16BE(packet.secs, 8);
  out.writeUInt16BE(packet.flags, 10);
  try {
    writeIpv4(out, 12, packet.ciaddr);
    writeIpv4(out, 16, packet.yiaddr);
    writeIpv4(out, 20, packet.siaddr);
    writeIpv4(out, 24, packet.giaddr);
  } catch (err) {
    throw new DhcpEncodeError((err as Error).message);
  }
  packet.chaddr.copy(out, CHADDR_OFFSET, 0, Math.min(packet.chaddr.length, CHADDR_LENGTH));
  writeField(out, packet.sname, SNAME_OFFSET, SNAME_LENGTH, 'sname');
  writeField(out, packet.file, FILE_OFFSET, FILE_LENGTH, 'file');
  out.writeUInt32BE(MAGIC_COOKIE, OPTIONS_OFFSET - 4);

  let at = OPTIONS_OFFSET;
  for (const [code, value] of packet.options) {
    if (value.length === 0) {
      out[at] = code;
      out[at + 1] = 0;
      at += 2;
      continue;
    }
    for (let start = 0; start < value.length; start += MAX_CHUNK) {
      const end = Math.min(start + MAX_CHUNK, value.length);
      out[at] = code;
      out[at + 1] = end - start;
      value.copy(out, at + 2, start, end);
      at += 2 + end - start;
    }
  }
  out[at] = DhcpOption.End;
  return out;
}

function writeField(out: Buffer, text: string, offset: number, length: number, name: string): void {
  if (text.length === 0) return;
  if (!isLatin1WithoutNul(text)) throw new DhcpEncodeError(`${name} holds a NUL or a character that is not one latin1 byte`);
  if (text.length > length - 1) {
    throw new DhcpEncodeError(`${name} of ${text.length} bytes does not fit the ${length}-byte field with its NUL`);
  }
  out.write(text, offset, 'latin1');
}

function isLatin1WithoutNul(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0xff) return false;
  }
  return true;
}
