/**
 * RMCP+ session setup payloads (IPMI v2.0 §13.17-13.23): Open Session Request/Response and RAKP
 * messages 1-4. Console-side encoders/decoders, plus the BMC side for test doubles.
 */
import type { CipherSuite } from './crypto.js';
import { IpmiDecodeError, need } from './decode-error.js';

export interface OpenSessionRequest {
  readonly tag: number;
  /** Requested maximum privilege (0 = the highest the suite allows). */
  readonly privilege: number;
  readonly consoleSessionId: number;
  readonly suite: Pick<CipherSuite, 'authenticationAlgorithm' | 'integrityAlgorithm' | 'confidentialityAlgorithm'>;
}

function algorithmRecord(payloadType: 0 | 1 | 2, algorithm: number): Buffer {
  return Buffer.from([payloadType, 0x00, 0x00, 0x08, algorithm & 0x3f, 0x00, 0x00, 0x00]);
}

export function encodeOpenSessionRequest(r: OpenSessionRequest): Buffer {
  const head = Buffer.alloc(8);
  head[0] = r.tag;
  head[1] = r.privilege & 0x0f;
  head.writeUInt32LE(r.consoleSessionId >>> 0, 4);
  return Buffer.concat([
    head,
    algorithmRecord(0, r.suite.authenticationAlgorithm),
    algorithmRecord(1, r.suite.integrityAlgorithm),
    algorithmRecord(2, r.suite.confidentialityAlgorithm),
  ]);
}

export interface OpenSessionResponse {
  readonly tag: number;
  readonly status: number;
  readonly privilege: number;
  readonly consoleSessionId: number;
  /** Zero when the status is an error. */
  readonly bmcSessionId: number;
  readonly authenticationAlgorithm: number | null;
  readonly integrityAlgorithm: number | null;
  readonly confidentialityAlgorithm: number | null;
}

export function decodeOpenSessionResponse(p: Uint8Array): OpenSessionResponse {
  need(p, 2, 'Open Session Response');
  const b = Buffer.from(p);
  const status = b[1] as number;
  const full = status === 0;
  if (full) need(p, 36, 'Open Session Response');
  return {
    tag: b[0] as number,
    status,
    privilege: b.length > 2 ? (b[2] as number) & 0x0f : 0,
    consoleSessionId: b.length >= 8 ? b.readUInt32LE(4) : 0,
    bmcSessionId: full ? b.readUInt32LE(8) : 0,
    authenticationAlgorithm: full ? (b[16] as number) & 0x3f : null,
    integrityAlgorithm: full ? (b[24] as number) & 0x3f : null,
    confidentialityAlgorithm: full ? (b[32] as number) & 0x3f : null,
  };
}

export interface Rakp1 {
  readonly tag: number;
  readonly bmcSessionId: number;
  readonly consoleRandom: Uint8Array;
  /** Privilege level plus RAKP_NAME_ONLY_LOOKUP when wanted. */
  readonly role: number;
  readonly username: Uint8Array;
}

export function encodeRakp1(r: Rakp1): Buffer {
  if (r.consoleRandom.length !== 16) throw new RangeError('Rm is 16 bytes');
  if (r.username.length > 16) throw new RangeError('IPMI user names are at most 16 bytes');
  const head = Buffer.alloc(8);
  head[0] = r.tag;
  head.writeUInt32LE(r.bmcSessionId >>> 0, 4);
  return Buffer.concat([head, r.consoleRandom, Buffer.from([r.role & 0xff, 0x00, 0x00, r.username.length]), r.username]);
}

export interface Rakp2 {
  readonly tag: number;
  readonly status: number;
  readonly consoleSessionId: number;
  readonly bmcRandom: Buffer;
  readonly bmcGuid: Buffer;
  readonly authCode: Buffer;
}

export function decodeRakp2(p: Uint8Array): Rakp2 {
  need(p, 2, 'RAKP message 2');
  const b = Buffer.from(p);
  const status = b[1] as number;
  if (status !== 0) {
    return { tag: b[0] as number, status, consoleSessionId: b.length >= 8 ? b.readUInt32LE(4) : 0, bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), authCode: Buffer.alloc(0) };
  }
  need(p, 40, 'RAKP message 2');
  return {
    tag: b[0] as number,
    status,
    consoleSessionId: b.readUInt32LE(4),
    bmcRandom: b.subarray(8, 24),
    bmcGuid: b.subarray(24, 40),
    authCode: b.subarray(40),
  };
}

export interface Rakp3 {
  readonly tag: number;
  /** 0, or the RMCP+ status telling the BMC why the console gives up (it then frees the session). */
  readonly status: number;
  readonly bmcSessionId: number;
  readonly authCode: Uint8Array;
}

export function encodeRakp3(r: Rakp3): Buffer {
  const head = Buffer.alloc(8);
  head[0] = r.tag;
  head[1] = r.status;
  head.writeUInt32LE(r.bmcSessionId >>> 0, 4);
  return Buffer.concat([head, r.authCode]);
}

export interface Rakp4 {
  readonly tag: number;
  readonly status: number;
  readonly consoleSessionId: number;
  readonly integrityCheckValue: Buffer;
}

export function decodeRakp4(p: Uint8Array): Rakp4 {
  need(p, 2, 'RAKP message 4');
  const b = Buffer.from(p);
  return {
    tag: b[0] as number,
    status: b[1] as number,
    consoleSessionId: b.length >= 8 ? b.readUInt32LE(4) : 0,
    integrityCheckValue: b.subarray(8),
  };
}

// ---- BMC side (test doubles) ----

export interface DecodedOpenSessionRequest {
  readonly tag: number;
  readonly privilege: number;
  readonly consoleSessionId: number;
  readonly authenticationAlgorithm: number;
  readonly integrityAlgorithm: number;
  readonly confidentialityAlgorithm: number;
}

export function decodeOpenSessionRequest(p: Uint8Array): DecodedOpenSessionRequest {
  need(p, 32, 'Open Session Request');
  const b = Buffer.from(p);
  if (b[8] !== 0 || b[16] !== 1 || b[24] !== 2) throw new IpmiDecodeError('Open Session Request algorithm records out of order');
  return {
    tag: b[0] as number,
    privilege: (b[1] as number) & 0x0f,
    consoleSessionId: b.readUInt32LE(4),
    authenticationAlgorithm: (b[12] as number) & 0x3f,
    integrityAlgorithm: (b[20] as number) & 0x3f,
    confidentialityAlgorithm: (b[28] as number) & 0x3f,
  };
}

export function encodeOpenSessionResponse(r: OpenSessionResponse): Buffer {
  const out = Buffer.alloc(r.status === 0 ? 36 : 8);
  out[0] = r.tag;
  out[1] = r.status;
  out[2] = r.privilege;
  out.writeUInt32LE(r.consoleSessionId >>> 0, 4);
  if (r.status !== 0) return out;
  out.writeUInt32LE(r.bmcSessionId >>> 0, 8);
  algorithmRecord(0, r.authenticationAlgorithm ?? 0).copy(out, 12);
  algorithmRecord(1, r.integrityAlgorithm ?? 0).copy(out, 20);
  algorithmRecord(2, r.confidentialityAlgorithm ?? 0).copy(out, 28);
  return out;
}

export function decodeRakp1(p: Uint8Array): Rakp1 {
  need(p, 28, 'RAKP message 1');
  const b = Buffer.from(p);
  const nameLength = b[27] as number;
  need(p, 28 + nameLength, 'RAKP message 1');
  return { tag: b[0] as number, bmcSessionId: b.readUInt32LE(4), consoleRandom: b.subarray(8, 24), role: b[24] as number, username: b.subarray(28, 28 + nameLength) };
}

export function encodeRakp2(r: Rakp2): Buffer {
  const head = Buffer.alloc(8);
  head[0] = r.tag;
  head[1] = r.status;
  head.writeUInt32LE(r.consoleSessionId >>> 0, 4);
  return Buffer.concat([head, r.bmcRandom, r.bmcGuid, r.authCode]);
}

export function decodeRakp3(p: Uint8Array): Rakp3 {
  need(p, 8, 'RAKP message 3');
  const b = Buffer.from(p);
  return { tag: b[0] as number, status: b[1] as number, bmcSessionId: b.readUInt32LE(4), authCode: b.subarray(8) };
}

export function encodeRakp4(r: Rakp4): Buffer {
  const head = Buffer.alloc(8);
  head[0] = r.tag;
  head[1] = r.status;
  head.writeUInt32LE(r.consoleSessionId >>> 0, 4);
  return Buffer.concat([head, r.integrityCheckValue]);
}
