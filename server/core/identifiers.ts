/** Parsing of the identifiers operators and machines hand us: MACs, UUIDs, IPv4 addresses, names. */

/** Accepts aa:bb:cc:dd:ee:ff, aa-bb-..., aabb.ccdd.eeff and aabbccddeeff; returns lower-case colon form. */
export function normaliseMac(value: string): string | null {
  const hex = value.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return null;
  if (!/^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$|^[0-9a-f]{12}$/.test(value.trim().toLowerCase())) {
    return null;
  }
  return hex.match(/../g)!.join(':');
}

/** Canonical lower-case 8-4-4-4-12 UUID, or null. */
export function normaliseUuid(value: string): string | null {
  const hex = value.trim().toLowerCase().replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/.test(hex)) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Machine names become hostnames: RFC 1123 labels. */
export function isValidMachineName(value: string): boolean {
  return /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(value);
}
