/**
 * TFTP packet codec (RFC 1350, OACK from RFC 2347). Bytes <-> typed packets, nothing else.
 * Strings are decoded as latin1 so every byte maps to one char and nothing is silently replaced;
 * policy on which characters are acceptable lives in core/tftp-path.ts.
 */

export const OPCODE = { rrq: 1, wrq: 2, data: 3, ack: 4, error: 5, oack: 6 } as const;

export const TFTP_ERROR = {
  notDefined: 0,
  fileNotFound: 1,
  accessViolation: 2,
  diskFull: 3,
  illegalOperation: 4,
  unknownTransferId: 5,
  fileExists: 6,
  noSuchUser: 7,
  optionRefused: 8,
} as const;

export interface TftpOption {
  readonly name: string;
  readonly value: string;
}

export interface TftpRequestPacket {
  readonly op: 'rrq' | 'wrq';
  readonly filename: string;
  readonly mode: string;
  /** In the order the client sent them, names as spelled by the client. */
  readonly options: readonly TftpOption[];
}
export interface TftpDataPacket {
  readonly op: 'data';
  readonly block: number;
  readonly data: Buffer;
}
export interface TftpAckPacket {
  readonly op: 'ack';
  readonly block: number;
}
export interface TftpErrorPacket {
  readonly op: 'error';
  readonly code: number;
  readonly message: string;
}
export interface TftpOackPacket {
  readonly op: 'oack';
  readonly options: readonly TftpOption[];
}
export type TftpPacket = TftpRequestPacket | TftpDataPacket | TftpAckPacket | TftpErrorPacket | TftpOackPacket;

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; reason: string };

/** Splits NUL-terminated strings starting at `offset`. The last element is unterminated (possibly ''). */
function splitStrings(buf: Buffer, offset: number): { terminated: string[]; rest: string } {
  const terminated: string[] = [];
  let start = offset;
  for (;;) {
    const nul = buf.indexOf(0, start);
    if (nul === -1) return { terminated, rest: buf.toString('latin1', start) };
    terminated.push(buf.toString('latin1', start, nul));
    start = nul + 1;
  }
}

/** Pairs up option strings. A trailing incomplete pair and NUL padding are tolerated and dropped. */
function pairOptions(strings: readonly string[]): TftpOption[] {
  const options: TftpOption[] = [];
  for (let i = 0; i + 1 < strings.length; i += 2) {
    const name = strings[i] ?? '';
    const value = strings[i + 1] ?? '';
    if (name === '' && value === '') continue;
    options.push({ name, value });
  }
  return options;
}

function decodeRequest(op: 'rrq' | 'wrq', buf: Buffer): DecodeResult {
  const { terminated } = splitStrings(buf, 2);
  const [filename, mode, ...rest] = terminated;
  if (filename === undefined || mode === undefined) return { ok: false, reason: `${op}: filename or mode not NUL-terminated` };
  if (mode === '') return { ok: false, reason: `${op}: empty mode` };
  return { ok: true, packet: { op, filename, mode, options: pairOptions(rest) } };
}

export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < 2) return { ok: false, reason: 'shorter than an opcode' };
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case OPCODE.rrq:
      return decodeRequest('rrq', buf);
    case OPCODE.wrq:
      return decodeRequest('wrq', buf);
    case OPCODE.data:
      if (buf.length < 4) return { ok: false, reason: 'data: no block number' };
      return { ok: true, packet: { op: 'data', block: buf.readUInt16BE(2), data: buf.subarray(4) } };
    case OPCODE.ack:
      // Trailing bytes after the block number are tolerated: some ROMs pad short frames.
      if (buf.length < 4) return { ok: false, reason: 'ack: no block number' };
      return { ok: true, packet: { op: 'ack', block: buf.readUInt16BE(2) } };
    case OPCODE.error: {
      if (buf.length < 4) return { ok: false, reason: 'error: no error code' };
      const { terminated, rest } = splitStrings(buf, 4);
      return { ok: true, packet: { op: 'error', code: buf.readUInt16BE(2), message: terminated[0] ?? rest } };
    }
    case OPCODE.oack:
      return { ok: true, packet: { op: 'oack', options: pairOptions(splitStrings(buf, 2).terminated) } };
    default:
      return { ok: false, reason: `unknown opcode ${opcode}` };
  }
}

function opcodeHeader(opcode: number, extra: number): Buffer {
  const buf = Buffer.alloc(2 + extra);
  buf.writeUInt16BE(opcode, 0);
  return buf;
}

function nulStrings(strings: readonly string[]): Buffer {
  return Buffer.concat(strings.map((s) => Buffer.from(`${s}\0`, 'latin1')));
}

function flattenOptions(options: readonly TftpOption[]): string[] {
  return options.flatMap((o) => [o.name, o.value]);
}

export function encodeRequest(op: 'rrq' | 'wrq', filename: string, mode: string, options: readonly TftpOption[] = []): Buffer {
  return Buffer.concat([opcodeHeader(OPCODE[op], 0), nulStrings([filename, mode, ...flattenOptions(options)])]);
}

/** Only the 4-byte header, so a sender can pass [header, payloadSlice] to send() without copying the payload. */
export function encodeDataHeader(block: number): Buffer {
  const buf = opcodeHeader(OPCODE.data, 2);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

export function encodeData(block: number, data: Buffer): Buffer {
  return Buffer.concat([encodeDataHeader(block), data]);
}

export function encodeAck(block: number): Buffer {
  const buf = opcodeHeader(OPCODE.ack, 2);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

export function encodeError(code: number, message: string): Buffer {
  const head = opcodeHeader(OPCODE.error, 2);
  head.writeUInt16BE(code, 2);
  return Buffer.concat([head, nulStrings([message])]);
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  return Buffer.concat([opcodeHeader(OPCODE.oack, 0), nulStrings(flattenOptions(options))]);
}
