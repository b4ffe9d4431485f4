import { DhcpOption, IpxeSubOption, PxeSubOption } from './constants.js';
import type { DhcpPacket } from './packet.js';

/** Options that PXE, UEFI HTTP boot, iPXE and relays send: 43, 77, 82, 93, 94, 97, 175 (60 is in options.ts). */

/**
 * Option 77. RFC 3004 wants length-prefixed entries, but iPXE sends the bare string "iPXE"
 * (ipxe.org cfg/user-class), so a value that does not parse as RFC 3004 is one raw entry.
 */
export function userClasses(p: DhcpPacket): string[] {
  const value = p.options.get(DhcpOption.UserClass);
  if (!value || value.length === 0) return [];
  const entries: string[] = [];
  let at = 0;
  while (at < value.length) {
    const length = value.readUInt8(at);
    if (length === 0 || at + 1 + length > value.length) return [value.toString('latin1')];
    entries.push(value.subarray(at + 1, at + 1 + length).toString('latin1'));
    at += 1 + length;
  }
  return entries;
}

/** Option 93 (RFC 4578 §2.1): a list of uint16 architecture types; null when absent or of odd length. */
export function clientArchitectures(p: DhcpPacket): number[] | null {
  const value = p.options.get(DhcpOption.ClientArchitecture);
  if (!value || value.length === 0 || value.length % 2 !== 0) return null;
  const out: number[] = [];
  for (let at = 0; at < value.length; at += 2) out.push(value.readUInt16BE(at));
  return out;
}

export interface NetworkInterfaceId {
  /** 1 = UNDI. */
  readonly type: number;
  readonly major: number;
  readonly minor: number;
}

/** Option 94 (RFC 4578 §2.2). */
export function networkInterfaceId(p: DhcpPacket): NetworkInterfaceId | null {
  const value = p.options.get(DhcpOption.ClientNetworkInterface);
  if (value?.length !== 3) return null;
  return { type: value.readUInt8(0), major: value.readUInt8(1), minor: value.readUInt8(2) };
}

/**
 * Option 97 (RFC 4578 §2.3): type 0 plus 16 bytes, rendered as a lower-case canonical UUID in wire
 * byte order. Null when absent or malformed. An all-zero value (EDK II without an SMBIOS GUID) is
 * returned as is; callers decide whether it identifies anything.
 */
export function clientMachineId(p: DhcpPacket): string | null {
  const value = p.options.get(DhcpOption.ClientMachineId);
  if (value?.length !== 17 || value.readUInt8(0) !== 0) return null;
  const hex = value.subarray(1).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Option 82 exactly as received, to be echoed as the last option of the reply (RFC 3046 §2.2). */
export const relayAgentInfo = (p: DhcpPacket): Buffer | null => p.options.get(DhcpOption.RelayAgentInfo) ?? null;

/**
 * Sub-options of an encapsulated option (43, 175, 82): pad skipped, end honoured, repeated codes
 * concatenated. Null when a length runs past the end.
 */
export function decodeSubOptions(value: Buffer): Map<number, Buffer> | null {
  const out = new Map<number, Buffer>();
  let at = 0;
  while (at < value.length) {
    const code = value.readUInt8(at);
    if (code === DhcpOption.End) break;
    if (code === DhcpOption.Pad) {
      at += 1;
      continue;
    }
    if (at + 1 >= value.length) return null;
    const length = value.readUInt8(at + 1);
    if (at + 2 + length > value.length) return null;
    const data = value.subarray(at + 2, at + 2 + length);
    const previous = out.get(code);
    out.set(code, previous ? Buffer.concat([previous, data]) : Buffer.from(data));
    at += 2 + length;
  }
  return out;
}

/** Encodes sub-options in order; `terminate` appends an end byte (PXE option 43 wants one). */
export function encodeSubOptions(entries: Iterable<readonly [number, Buffer]>, terminate = false): Buffer {
  const parts: Buffer[] = [];
  for (const [code, data] of entries) {
    if (data.length > 255) throw new RangeError(`sub-option ${code} is ${data.length} bytes; 255 is the limit`);
    parts.push(Buffer.of(code, data.length), data);
  }
  if (terminate) parts.push(Buffer.of(DhcpOption.End));
  return Buffer.concat(parts);
}

/** iPXE's option 175 sub-options, or null when absent or malformed. */
export function ipxeOptions(p: DhcpPacket): Map<number, Buffer> | null {
  const value = p.options.get(DhcpOption.IpxeEncapsulated);
  return value ? decodeSubOptions(value) : null;
}

/** Feature flags are sub-options 0x10-0x4f whose presence means "built in" (e.g. 0x13 HTTP). */
export function ipxeHasFeature(ipxe: ReadonlyMap<number, Buffer> | null, feature: number): boolean {
  return ipxe?.has(feature) ?? false;
}

/** Option 175 value telling iPXE not to wait for ProxyDHCP offers (175.176 = 1). */
export function ipxeNoProxyDhcpValue(): Buffer {
  return encodeSubOptions([[IpxeSubOption.NoPxeDhcp, Buffer.of(1)]]);
}

/**
 * Option 43 value with PXE discovery control (43.6). 8 = "boot from the file field, no server
 * discovery". Only for BIOS PXE: UEFI firmwares mishandle it (A.7 #3).
 */
export function pxeDiscoveryControlValue(control: number): Buffer {
  return encodeSubOptions([[PxeSubOption.DiscoveryControl, Buffer.of(control)]], true);
}
