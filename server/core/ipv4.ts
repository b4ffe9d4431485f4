/** IPv4 addresses as unsigned 32-bit numbers, and CIDR blocks. */

export interface Cidr {
  /** Network address (host bits cleared). */
  readonly network: number;
  readonly prefix: number;
  readonly mask: number;
}

/** "10.0.0.1" -> 167772161; null for anything that is not a strict dotted quad. */
export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  const v = value >>> 0;
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

export function isIpv4(text: string): boolean {
  return parseIpv4(text) !== null;
}

/** "10.98.1.0/24" -> Cidr; host bits in the address are ignored. Null when malformed. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  if (slash === -1) return null;
  const address = parseIpv4(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (address === null || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > 32) return null;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (address & mask) >>> 0, prefix, mask };
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const value = parseIpv4(ip);
  return value !== null && ((value & cidr.mask) >>> 0) === cidr.network;
}

/** True when the two blocks share any address (one contains the other's network). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return ((a.network & b.mask) >>> 0) === b.network || ((b.network & a.mask) >>> 0) === a.network;
}

export function cidrNetmask(cidr: Cidr): string {
  return formatIpv4(cidr.mask);
}

/** The subnet's directed broadcast address (for option 28, never as a send destination). */
export function cidrBroadcast(cidr: Cidr): string {
  return formatIpv4((cidr.network | ~cidr.mask) >>> 0);
}

export function isUnspecifiedIpv4(ip: string): boolean {
  return parseIpv4(ip) === 0;
}
