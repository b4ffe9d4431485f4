import { BOOTP_REPLY, CHADDR_LENGTH, HTYPE_ETHERNET, ZERO_IP } from './constants.js';

/**
 * One BOOTP/DHCP message. Options keep the order in which they were read (or are to be written);
 * repeated options on the wire are already concatenated (RFC 3396), pad and end are not stored.
 */
export interface DhcpPacket {
  readonly op: number;
  readonly htype: number;
  readonly hlen: number;
  readonly hops: number;
  /** Unsigned 32-bit transaction id, echoed unchanged in replies. */
  readonly xid: number;
  readonly secs: number;
  readonly flags: number;
  readonly ciaddr: string;
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly giaddr: string;
  /** Raw 16-byte client hardware address field; the encoder writes this, not `mac`. */
  readonly chaddr: Buffer;
  /** Lower-case colon form of chaddr for Ethernet (htype 1, hlen 6), else null. */
  readonly mac: string | null;
  readonly sname: string;
  readonly file: string;
  readonly options: ReadonlyMap<number, Buffer>;
}

export function macFromChaddr(htype: number, hlen: number, chaddr: Buffer): string | null {
  if (htype !== HTYPE_ETHERNET || hlen !== 6 || chaddr.length < 6) return null;
  return [...chaddr.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Builds a 16-byte chaddr from "aa:bb:cc:dd:ee:ff" (or "-" separated). Throws on a malformed MAC. */
export function chaddrFromMac(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) {
    throw new RangeError(`not a MAC address: ${JSON.stringify(mac)}`);
  }
  const out = Buffer.alloc(CHADDR_LENGTH);
  parts.forEach((p, i) => out.writeUInt8(parseInt(p, 16), i));
  return out;
}

export function readIpv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Four network-order bytes of a dotted quad. Throws on anything else (a programming error). */
export function ipv4Bytes(ip: string): Buffer {
  const out = Buffer.alloc(4);
  writeIpv4(out, 0, ip);
  return out;
}

/** Writes a dotted quad at `offset` without allocating (the encoder's hot path). Throws RangeError on anything else. */
export function writeIpv4(buf: Buffer, offset: number, ip: string): void {
  let octet = 0;
  let digits = 0;
  let index = 0;
  for (let i = 0; i < ip.length; i += 1) {
    const c = ip.charCodeAt(i);
    if (c === 46 && digits > 0 && index < 3 && octet <= 255) {
      buf[offset + index] = octet;
      index += 1;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits += 1;
    } else {
      throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
    }
  }
  if (index !== 3 || digits === 0 || octet > 255) {
    throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  buf[offset + 3] = octet;
}

/**
 * Header of a reply to `request`: same xid, flags (the broadcast bit is echoed, DHCP-03), giaddr,
 * chaddr and hardware type; hops reset; no options yet.
 */
export function replyHeader(request: DhcpPacket): DhcpPacket {
  return {
    op: BOOTP_REPLY,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
    mac: request.mac,
    sname: '',
    file: '',
    options: new Map(),
  };
}
