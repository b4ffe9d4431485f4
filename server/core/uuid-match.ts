/**
 * Comparing a BMC's system GUID (IPMI Get System GUID) with the SMBIOS UUID a PXE client sends in
 * DHCP option 97. Vendors disagree on byte order: some send the 16 bytes as stored in SMBIOS (the
 * first three fields little-endian), some in RFC 4122 order, some (following the IPMI spec's "LS
 * byte first") fully reversed. So two identifiers match when any of those readings agree. All-zero
 * and all-FF values are placeholders firmware uses when it has no UUID: they match nothing.
 */

export type UuidComparison = 'match' | 'mismatch' | 'unknown';

/** 16 bytes from "8-4-4-4-12" text, 32 hex digits, or bytes; null when it is neither. */
export function uuidBytes(value: string | Uint8Array): Uint8Array | null {
  if (typeof value !== 'string') return value.length === 16 ? Uint8Array.from(value) : null;
  const hex = value.trim().toLowerCase().replace(/^\{|\}$/g, '').replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

/** Lower-case 8-4-4-4-12 text of the bytes in the order given. */
export function formatUuid(bytes: Uint8Array): string {
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function isPlaceholderUuid(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0x00) || bytes.every((b) => b === 0xff);
}

/** The first three fields (4, 2, 2 bytes) byte-swapped: SMBIOS <-> RFC 4122 order. */
export function swapUuidFields(bytes: Uint8Array): Uint8Array {
  const b = [...bytes];
  return Uint8Array.from([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], ...b.slice(8)] as number[]);
}

/** The readings of one identifier rackboot accepts as "the same machine". */
export function uuidReadings(bytes: Uint8Array): Uint8Array[] {
  return [bytes, swapUuidFields(bytes), Uint8Array.from([...bytes].reverse())];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * 'match' when some reading of `a` equals `b`; 'unknown' when either is missing, malformed or a
 * placeholder; otherwise 'mismatch'.
 */
export function compareUuids(a: string | Uint8Array | null | undefined, b: string | Uint8Array | null | undefined): UuidComparison {
  const x = a == null ? null : uuidBytes(a);
  const y = b == null ? null : uuidBytes(b);
  if (!x || !y || isPlaceholderUuid(x) || isPlaceholderUuid(y)) return 'unknown';
  return uuidReadings(x).some((reading) => sameBytes(reading, y)) ? 'match' : 'mismatch';
}

/**
 * The canonical text rackboot stores for a BMC GUID: the bytes as received, formatted 8-4-4-4-12.
 * Null for placeholders. Compare stored values with compareUuids, never with ===.
 */
export function canonicalGuid(bytes: Uint8Array): string | null {
  return bytes.length === 16 && !isPlaceholderUuid(bytes) ? formatUuid(bytes) : null;
}
