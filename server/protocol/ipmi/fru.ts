/**
 * FRU inventory (Platform Management FRU Information Storage Definition v1.0): the common header,
 * the chassis, board and product info areas, type/length encoded fields and the custom ("extra")
 * fields vendors and labs use for host NIC MACs, e.g. `MAC0=52:54:00:99:00:01`.
 */
import { IpmiDecodeError } from './decode-error.js';

export interface FruArea {
  /** Custom fields after the standard ones, in order. */
  readonly extras: readonly string[];
  /** The area checksum did not add up (the fields are still reported). */
  readonly checksumOk: boolean;
}

export interface FruChassis extends FruArea {
  readonly type: number;
  readonly partNumber: string;
  readonly serialNumber: string;
}

export interface FruBoard extends FruArea {
  /** Minutes since 1996-01-01 00:00 UTC; 0 = unspecified. */
  readonly manufacturedMinutes: number;
  readonly manufacturer: string;
  readonly productName: string;
  readonly serialNumber: string;
  readonly partNumber: string;
  readonly fruFileId: string;
}

export interface FruProduct extends FruArea {
  readonly manufacturer: string;
  readonly productName: string;
  readonly partNumber: string;
  readonly version: string;
  readonly serialNumber: string;
  readonly assetTag: string;
  readonly fruFileId: string;
}

export interface Fru {
  readonly chassis: FruChassis | null;
  readonly board: FruBoard | null;
  readonly product: FruProduct | null;
  readonly warnings: readonly string[];
}

const END_OF_FIELDS = 0xc1;
const MAX_FIELDS = 64;

function sum8(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

/** Decodes one type/length field value. */
export function decodeFieldValue(typeLength: number, value: Uint8Array): string {
  switch (typeLength >> 6) {
    case 0: // binary or unspecified
      return [...value].map((b) => b.toString(16).padStart(2, '0')).join('');
    case 1: // BCD plus
      return [...value]
        .flatMap((b) => [b >> 4, b & 0x0f])
        .map((n) => (n <= 9 ? String(n) : n === 0x0a ? ' ' : n === 0x0b ? '-' : n === 0x0c ? '.' : '?'))
        .join('')
        .trimEnd();
    case 2: // 6-bit packed ASCII, least significant bits first
      return unpackSixBitAscii(value);
    default: // 8-bit ASCII + Latin-1 (English)
      return Buffer.from(value).toString('latin1').replace(/\0+$/, '');
  }
}

function unpackSixBitAscii(value: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of value) {
    acc |= byte << bits;
    bits += 8;
    while (bits >= 6) {
      out += String.fromCharCode((acc & 0x3f) + 0x20);
      acc >>= 6;
      bits -= 6;
    }
  }
  return out.trimEnd();
}

/** Reads type/length fields from `start` to the end marker; `standard` of them are named fields. */
function readFields(area: Uint8Array, start: number, standard: number, what: string): { fields: string[]; extras: string[] } {
  const fields: string[] = [];
  const extras: string[] = [];
  let at = start;
  for (let n = 0; n < MAX_FIELDS; n++) {
    if (at >= area.length) throw new IpmiDecodeError(`${what}: fields run past the end of the area (no C1 end marker)`);
    const tl = area[at] as number;
    if (tl === END_OF_FIELDS) break;
    const length = tl & 0x3f;
    if (at + 1 + length > area.length) throw new IpmiDecodeError(`${what}: field at offset ${at} runs past the end of the area`);
    const value = decodeFieldValue(tl, area.subarray(at + 1, at + 1 + length));
    if (fields.length < standard) fields.push(value);
    else extras.push(value);
    at += 1 + length;
  }
  while (fields.length < standard) fields.push('');
  return { fields, extras };
}

function areaAt(image: Uint8Array, offset8: number, what: string): { area: Uint8Array; checksumOk: boolean } {
  const start = offset8 * 8;
  if (start + 2 > image.length) throw new IpmiDecodeError(`${what} at offset ${start} is outside the ${image.length}-byte FRU image`);
  const length = (image[start + 1] as number) * 8;
  if (length < 8 || start + length > image.length) throw new IpmiDecodeError(`${what} length ${length} at offset ${start} does not fit the FRU image`);
  const area = image.subarray(start, start + length);
  return { area, checksumOk: sum8(area) === 0 };
}

/**
 * Parses a FRU image. Structural damage in one area becomes a warning and that area is null; a bad
 * common header throws IpmiDecodeError.
 */
export function parseFru(image: Uint8Array): Fru {
  if (image.length < 8) throw new IpmiDecodeError(`FRU image of ${image.length} bytes has no common header`);
  const header = image.subarray(0, 8);
  if (((header[0] as number) & 0x0f) !== 0x01) throw new IpmiDecodeError(`FRU common header format version ${header[0]} is not 1`);
  if (sum8(header) !== 0) throw new IpmiDecodeError('FRU common header checksum mismatch');
  const warnings: string[] = [];
  const attempt = <T>(offset8: number, what: string, parse: (area: Uint8Array, checksumOk: boolean) => T): T | null => {
    if (offset8 === 0) return null;
    try {
      const { area, checksumOk } = areaAt(image, offset8, what);
      if (!checksumOk) warnings.push(`${what}: checksum mismatch`);
      return parse(area, checksumOk);
    } catch (error) {
      if (!(error instanceof IpmiDecodeError)) throw error;
      warnings.push(error.message);
      return null;
    }
  };
  const chassis = attempt(header[2] as number, 'chassis info area', (area, checksumOk) => {
    const { fields, extras } = readFields(area, 3, 2, 'chassis info area');
    return { type: area[2] as number, partNumber: fields[0] as string, serialNumber: fields[1] as string, extras, checksumOk };
  });
  const board = attempt(header[3] as number, 'board info area', (area, checksumOk) => {
    const { fields, extras } = readFields(area, 6, 5, 'board info area');
    const [manufacturer, productName, serialNumber, partNumber, fruFileId] = fields as [string, string, string, string, string];
    const manufacturedMinutes = (area[3] as number) | ((area[4] as number) << 8) | ((area[5] as number) << 16);
    return { manufacturedMinutes, manufacturer, productName, serialNumber, partNumber, fruFileId, extras, checksumOk };
  });
  const product = attempt(header[4] as number, 'product info area', (area, checksumOk) => {
    const { fields, extras } = readFields(area, 3, 7, 'product info area');
    const [manufacturer, productName, partNumber, version, serialNumber, assetTag, fruFileId] = fields as [string, string, string, string, string, string, string];
    return { manufacturer, productName, partNumber, version, serialNumber, assetTag, fruFileId, extras, checksumOk };
  });
  return { chassis, board, product, warnings };
}

export interface FruMac {
  readonly mac: string;
  /** The field's label, e.g. "MAC0". */
  readonly label: string;
  readonly area: 'board' | 'product' | 'chassis';
}

const MAC_FIELD = /^\s*([A-Za-z][\w .-]{0,31}?)\s*[=:]\s*([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{12})\s*$/;
// Labels naming the BMC's own NIC: that MAC is not a host NIC and must never be mistaken for one.
const MANAGEMENT_LABEL = /bmc|ipmi|mgmt|manage|idrac|ilo|imm|xcc/i;

/** Host NIC MACs from custom fields ("MAC0=52:54:00:99:00:01", "eth1: 5254009900ab"), board first. */
export function fruHostMacs(fru: Fru): FruMac[] {
  const found: FruMac[] = [];
  const areas: Array<['board' | 'product' | 'chassis', FruArea | null]> = [
    ['board', fru.board],
    ['product', fru.product],
    ['chassis', fru.chassis],
  ];
  for (const [area, fields] of areas) {
    for (const extra of fields?.extras ?? []) {
      const m = MAC_FIELD.exec(extra);
      if (!m?.[1] || !m[2] || MANAGEMENT_LABEL.test(m[1])) continue;
      const hex = m[2].replace(/[:-]/g, '').toLowerCase();
      const mac = hex.match(/../g)!.join(':');
      if (mac === '00:00:00:00:00:00' || mac === 'ff:ff:ff:ff:ff:ff') continue;
      if (!found.some((f) => f.mac === mac)) found.push({ mac, label: m[1], area });
    }
  }
  return found;
}

// ---- Encoding (virtual BMCs, tests) ----

export interface FruSpec {
  readonly chassis?: { type?: number; partNumber?: string; serialNumber?: string; extras?: readonly string[] };
  readonly board?: { manufacturer?: string; productName?: string; serialNumber?: string; partNumber?: string; extras?: readonly string[] };
  readonly product?: {
    manufacturer?: string;
    productName?: string;
    partNumber?: string;
    version?: string;
    serialNumber?: string;
    assetTag?: string;
    extras?: readonly string[];
  };
}

/** An 8-bit ASCII type/length field (type 11b), up to 63 bytes. */
export function encodeTextField(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > 63) throw new RangeError(`FRU field ${JSON.stringify(text)} is longer than 63 bytes`);
  // A one-byte 8-bit field would read as the C1 end marker: pad it to two bytes.
  const value = bytes.length === 1 ? Buffer.concat([bytes, Buffer.from(' ')]) : bytes;
  return Buffer.concat([Buffer.from([0xc0 | value.length]), value]);
}

function encodeArea(head: readonly number[], fields: readonly string[]): Buffer {
  const body = Buffer.concat([Buffer.from([0x01, 0x00, ...head]), ...fields.map(encodeTextField), Buffer.from([END_OF_FIELDS])]);
  const length = Math.ceil((body.length + 1) / 8) * 8;
  const area = Buffer.alloc(length);
  body.copy(area);
  area[1] = length / 8;
  area[length - 1] = (0x100 - sum8(area.subarray(0, length - 1))) & 0xff;
  return area;
}

export function encodeFru(spec: FruSpec): Buffer {
  const areas: Array<Buffer | null> = [
    spec.chassis
      ? encodeArea([spec.chassis.type ?? 0x17], [spec.chassis.partNumber ?? '', spec.chassis.serialNumber ?? '', ...(spec.chassis.extras ?? [])])
      : null,
    spec.board
      ? encodeArea(
          [0x19, 0x00, 0x00, 0x00],
          [spec.board.manufacturer ?? '', spec.board.productName ?? '', spec.board.serialNumber ?? '', spec.board.partNumber ?? '', '', ...(spec.board.extras ?? [])],
        )
      : null,
    spec.product
      ? encodeArea(
          [0x19],
          [
            spec.product.manufacturer ?? '',
            spec.product.productName ?? '',
            spec.product.partNumber ?? '',
            spec.product.version ?? '',
            spec.product.serialNumber ?? '',
            spec.product.assetTag ?? '',
            '',
            ...(spec.product.extras ?? []),
          ],
        )
      : null,
  ];
  const header = Buffer.from([0x01, 0x00, 0, 0, 0, 0x00, 0x00, 0x00]);
  let offset = 8;
  areas.forEach((area, i) => {
    if (!area) return;
    header[2 + i] = offset / 8;
    offset += area.length;
  });
  header[7] = (0x100 - sum8(header.subarray(0, 7))) & 0xff;
  return Buffer.concat([header, ...areas.filter((a): a is Buffer => a !== null)]);
}
