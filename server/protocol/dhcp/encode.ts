import {
  CHADDR_LENGTH, CHADDR_OFFSET, DhcpOption, FILE_LENGTH, FILE_OFFSET, MAGIC_COOKIE, MIN_PACKET_LENGTH,
  OPTIONS_OFFSET, SNAME_LENGTH, SNAME_OFFSET,
} from './constants.js';
import { ipv4Bytes, type DhcpPacket } from './packet.js';

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
 */
export function encodeDhcp(packet: DhcpPacket, options: EncodeOptions = {}): Buffer {
  const header = Buffer.alloc(OPTIONS_OFFSET);
  header.writeUInt8(packet.op, 0);
  header.writeUInt8(packet.htype, 1);
  header.writeUInt8(packet.hlen, 2);
  header.writeUInt8(packet.hops, 3);
  header.writeUInt32BE(packet.xid >>> 0, 4);
  header.writeUInt16BE(packet.secs, 8);
  header.writeUInt16BE(packet.flags, 10);
  ipv4Bytes(packet.ciaddr).copy(header, 12);
  ipv4Bytes(packet.yiaddr).copy(header, 16);
  ipv4Bytes(packet.siaddr).copy(header, 20);
  ipv4Bytes(packet.giaddr).copy(header, 24);
  packet.chaddr.copy(header, CHADDR_OFFSET, 0, Math.min(packet.chaddr.length, CHADDR_LENGTH));
  writeField(header, packet.sname, SNAME_OFFSET, SNAME_LENGTH, 'sname');
  writeField(header, packet.file, FILE_OFFSET, FILE_LENGTH, 'file');
  header.writeUInt32BE(MAGIC_COOKIE, OPTIONS_OFFSET - 4);

  const parts: Buffer[] = [header];
  for (const [code, value] of packet.options) parts.push(encodeOption(code, value));
  parts.push(Buffer.of(DhcpOption.End));

  let out = Buffer.concat(parts);
  if (options.maxSize !== undefined && out.length > options.maxSize) {
    throw new DhcpEncodeError(`message of ${out.length} bytes exceeds the receiver's maximum of ${options.maxSize}`);
  }
  if (out.length < MIN_PACKET_LENGTH) out = Buffer.concat([out, Buffer.alloc(MIN_PACKET_LENGTH - out.length)]);
  return out;
}

function encodeOption(code: number, value: Buffer): Buffer {
  if (!Number.isInteger(code) || code <= DhcpOption.Pad || code >= DhcpOption.End || code === DhcpOption.Overload) {
    throw new DhcpEncodeError(`option code ${code} cannot be sent as an option value`);
  }
  if (value.length === 0) return Buffer.of(code, 0);
  const pieces: Buffer[] = [];
  for (let at = 0; at < value.length; at += MAX_CHUNK) {
    const chunk = value.subarray(at, at + MAX_CHUNK);
    pieces.push(Buffer.of(code, chunk.length), chunk);
  }
  return Buffer.concat(pieces);
}

function writeField(header: Buffer, text: string, offset: number, length: number, name: string): void {
  if (!isLatin1WithoutNul(text)) throw new DhcpEncodeError(`${name} holds a NUL or a character that is not one latin1 byte`);
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > length - 1) {
    throw new DhcpEncodeError(`${name} of ${bytes.length} bytes does not fit the ${length}-byte field with its NUL`);
  }
  bytes.copy(header, offset);
}

function isLatin1WithoutNul(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (c === 0 || c > 0xff) return false;
  }
  return true;
}
