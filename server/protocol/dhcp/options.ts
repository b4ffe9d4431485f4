import { DhcpOption, IP_UDP_HEADER_LENGTH, MIN_MAX_MESSAGE_SIZE } from './constants.js';
import { ipv4Bytes, readIpv4, type DhcpPacket } from './packet.js';

// Value readers: null when the value does not have the shape the option requires.

export function readUint8(value: Buffer | undefined): number | null {
  return value?.length === 1 ? value.readUInt8(0) : null;
}

export function readUint16(value: Buffer | undefined): number | null {
  return value?.length === 2 ? value.readUInt16BE(0) : null;
}

export function readUint32(value: Buffer | undefined): number | null {
  return value?.length === 4 ? value.readUInt32BE(0) : null;
}

export function readIpv4Value(value: Buffer | undefined): string | null {
  return value?.length === 4 ? readIpv4(value, 0) : null;
}

export function readIpv4List(value: Buffer | undefined): string[] | null {
  if (!value || value.length === 0 || value.length % 4 !== 0) return null;
  const out: string[] = [];
  for (let at = 0; at < value.length; at += 4) out.push(readIpv4(value, at));
  return out;
}

/** Text options; some clients NUL-terminate them, so trailing NULs are dropped. */
export function readText(value: Buffer | undefined): string | null {
  if (!value) return null;
  let end = value.length;
  while (end > 0 && value[end - 1] === 0) end -= 1;
  return value.subarray(0, end).toString('latin1');
}

// Value builders.

export function uint8Value(n: number): Buffer {
  return Buffer.of(n);
}

export function uint16Value(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

export function uint32Value(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

export function ipv4Value(ip: string): Buffer {
  return ipv4Bytes(ip);
}

export function ipv4ListValue(ips: readonly string[]): Buffer {
  return Buffer.concat(ips.map(ipv4Bytes));
}

export function textValue(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

// Typed accessors for the standard options a server reads.

const option = (p: DhcpPacket, code: number): Buffer | undefined => p.options.get(code);

/** Option 53, or null for plain BOOTP. */
export const messageType = (p: DhcpPacket): number | null => readUint8(option(p, DhcpOption.MessageType));
export const requestedIp = (p: DhcpPacket): string | null => readIpv4Value(option(p, DhcpOption.RequestedIp));
export const serverId = (p: DhcpPacket): string | null => readIpv4Value(option(p, DhcpOption.ServerId));
export const leaseTime = (p: DhcpPacket): number | null => readUint32(option(p, DhcpOption.LeaseTime));
export const subnetMask = (p: DhcpPacket): string | null => readIpv4Value(option(p, DhcpOption.SubnetMask));
export const routers = (p: DhcpPacket): string[] | null => readIpv4List(option(p, DhcpOption.Router));
export const dnsServers = (p: DhcpPacket): string[] | null => readIpv4List(option(p, DhcpOption.DnsServers));
export const hostName = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.HostName));
export const domainName = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.DomainName));
export const broadcastAddress = (p: DhcpPacket): string | null =>
  readIpv4Value(option(p, DhcpOption.BroadcastAddress));
export const serverMessage = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.Message));
export const vendorClass = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.VendorClass));
export const tftpServerName = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.TftpServerName));
export const bootfileName = (p: DhcpPacket): string | null => readText(option(p, DhcpOption.BootfileName));
export const maxMessageSize = (p: DhcpPacket): number | null => readUint16(option(p, DhcpOption.MaxMessageSize));
/** Option 61 as raw bytes (type byte first); echoed unchanged in replies (RFC 6842). */
export const clientId = (p: DhcpPacket): Buffer | null => option(p, DhcpOption.ClientId) ?? null;

/** Option 55 as a list of codes; empty when absent. */
export function parameterRequestList(p: DhcpPacket): number[] {
  const value = option(p, DhcpOption.ParameterList);
  return value ? [...value] : [];
}

/**
 * Largest reply payload the client accepts. Option 57 counts the IP and UDP headers and is never
 * below 576, so without it the limit is 548 bytes, which is RFC 2131's 312-byte options guarantee.
 */
export function replyMaxSize(request: DhcpPacket): number {
  const advertised = maxMessageSize(request) ?? MIN_MAX_MESSAGE_SIZE;
  return Math.max(advertised, MIN_MAX_MESSAGE_SIZE) - IP_UDP_HEADER_LENGTH;
}
