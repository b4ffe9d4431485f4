/**
 * Whole UDP datagrams: the RMCP header (IPMI v2.0 §13.1.3), then either an ASF message, an IPMI 1.5
 * session wrapper (§13.6) or an IPMI 2.0 RMCP+ session wrapper (§13.6) with its optional
 * confidentiality (AES-CBC-128) and integrity trailer.
 *
 *   RMCP        06 00 FF <class>
 *   IPMI 1.5    authType | seq (4 LE) | session ID (4 LE) | [auth code 16] | length (1) | message
 *   RMCP+       06 | E A payloadType | session ID (4 LE) | seq (4 LE) | length (2 LE) | payload
 *               [ FF pad | pad length | 07 | auth code ]   (when A, the authenticated bit, is set)
 */
import { AuthType, RMCP_SEQUENCE_NO_ACK, RMCP_VERSION, RmcpClass } from './constants.js';
import { decryptPayload, encryptPayload, integrityAuthCode, type SessionKeys } from './crypto.js';
import { IpmiDecodeError } from './decode-error.js';

const ASF_IANA = 4542;
const ASF_PRESENCE_PING = 0x80;
const ASF_PRESENCE_PONG = 0x40;
const NEXT_HEADER_RMCP = 0x07;

export function rmcpHeader(messageClass: number): Buffer {
  return Buffer.from([RMCP_VERSION, 0x00, RMCP_SEQUENCE_NO_ACK, messageClass]);
}

export interface V15Packet {
  readonly kind: 'v15';
  readonly authType: number;
  readonly sequence: number;
  readonly sessionId: number;
  /** 16 bytes when authType is not none. */
  readonly authCode: Buffer | null;
  readonly message: Buffer;
}

export interface V20Packet {
  readonly kind: 'v20';
  readonly payloadType: number;
  readonly encrypted: boolean;
  readonly authenticated: boolean;
  readonly sessionId: number;
  readonly sequence: number;
  /** Decrypted when it was encrypted. */
  readonly payload: Buffer;
}

export interface AsfPong {
  readonly kind: 'asf-pong';
  readonly tag: number;
  /** The managed system says it supports IPMI (supported entities, bit 7). */
  readonly ipmiSupported: boolean;
}

export type IpmiPacket = V15Packet | V20Packet | AsfPong;

export function encodeV15Packet(p: Omit<V15Packet, 'kind'>): Buffer {
  const hasAuth = p.authType !== AuthType.none;
  if (hasAuth && (!p.authCode || p.authCode.length !== 16)) throw new RangeError('an IPMI 1.5 auth code is 16 bytes');
  if (p.message.length > 255) throw new RangeError('IPMI 1.5 message longer than 255 bytes');
  const header = Buffer.alloc(9);
  header[0] = p.authType;
  header.writeUInt32LE(p.sequence >>> 0, 1);
  header.writeUInt32LE(p.sessionId >>> 0, 5);
  return Buffer.concat([rmcpHeader(RmcpClass.ipmi), header, hasAuth ? (p.authCode as Buffer) : Buffer.alloc(0), Buffer.from([p.message.length]), p.message]);
}

export interface V20Encode {
  readonly payloadType: number;
  readonly sessionId: number;
  readonly sequence: number;
  readonly payload: Uint8Array;
  /** Established session keys: the packet is then encrypted and authenticated (suites 3 and 17). */
  readonly keys?: SessionKeys | null;
  /** 16 random bytes; required with keys. */
  readonly iv?: Uint8Array;
}

export function encodeV20Packet(p: V20Encode): Buffer {
  const secured = p.keys != null;
  let body: Buffer;
  if (secured) {
    if (!p.iv) throw new RangeError('an encrypted payload needs a 16-byte IV');
    body = encryptPayload((p.keys as SessionKeys).k2, p.iv, p.payload);
  } else {
    body = Buffer.from(p.payload);
  }
  const header = Buffer.alloc(12);
  header[0] = AuthType.rmcpPlus;
  header[1] = (secured ? 0xc0 : 0x00) | (p.payloadType & 0x3f);
  header.writeUInt32LE(p.sessionId >>> 0, 2);
  header.writeUInt32LE(p.sequence >>> 0, 6);
  header.writeUInt16LE(body.length, 10);
  if (!secured) return Buffer.concat([rmcpHeader(RmcpClass.ipmi), header, body]);
  const padLength = (4 - ((header.length + body.length + 2) % 4)) % 4;
  const covered = Buffer.concat([header, body, Buffer.alloc(padLength, 0xff), Buffer.from([padLength, NEXT_HEADER_RMCP])]);
  return Buffer.concat([rmcpHeader(RmcpClass.ipmi), covered, integrityAuthCode(p.keys as SessionKeys, covered)]);
}

export function encodeAsfPing(tag: number): Buffer {
  const asf = Buffer.alloc(8);
  asf.writeUInt32BE(ASF_IANA, 0);
  asf[4] = ASF_PRESENCE_PING;
  asf[5] = tag & 0xff;
  return Buffer.concat([rmcpHeader(RmcpClass.asf), asf]);
}

export type DecodeResult = { ok: true; packet: IpmiPacket } | { ok: false; reason: string };

/**
 * Decodes one datagram. `keys` are the session's keys: needed to check the auth code of an
 * authenticated RMCP+ packet and to decrypt an encrypted one.
 */
export function decodePacket(bytes: Uint8Array, keys?: SessionKeys | null): DecodeResult {
  try {
    return { ok: true, packet: decodeOrThrow(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), keys ?? null) };
  } catch (error) {
    if (error instanceof IpmiDecodeError) return { ok: false, reason: error.message };
    throw error;
  }
}

function decodeOrThrow(buf: Buffer, keys: SessionKeys | null): IpmiPacket {
  if (buf.length < 5) throw new IpmiDecodeError(`datagram of ${buf.length} bytes is too short for RMCP`);
  if (buf[0] !== RMCP_VERSION) throw new IpmiDecodeError(`not RMCP (version byte ${buf[0]})`);
  const messageClass = (buf[3] as number) & 0x1f;
  if (messageClass === RmcpClass.asf) return decodeAsf(buf.subarray(4));
  if (messageClass !== RmcpClass.ipmi) throw new IpmiDecodeError(`RMCP class ${messageClass} is neither ASF nor IPMI`);
  const session = buf.subarray(4);
  return session[0] === AuthType.rmcpPlus ? decodeV20(session, keys) : decodeV15(session);
}

function decodeAsf(asf: Buffer): AsfPong {
  if (asf.length < 8 || asf.readUInt32BE(0) !== ASF_IANA) throw new IpmiDecodeError('ASF message without the ASF IANA number');
  if (asf[4] !== ASF_PRESENCE_PONG) throw new IpmiDecodeError(`ASF message type ${asf[4]} is not a presence pong`);
  const entities = asf.length >= 8 + 9 ? (asf[8 + 8] as number) : 0;
  return { kind: 'asf-pong', tag: asf[5] as number, ipmiSupported: (entities & 0x80) !== 0 };
}

function decodeV15(s: Buffer): V15Packet {
  if (s.length < 10) throw new IpmiDecodeError('IPMI 1.5 session header truncated');
  const authType = s[0] as number;
  const hasAuth = authType !== AuthType.none;
  const lengthAt = hasAuth ? 25 : 9;
  if (s.length < lengthAt + 1) throw new IpmiDecodeError('IPMI 1.5 session header truncated');
  const length = s[lengthAt] as number;
  if (s.length < lengthAt + 1 + length) throw new IpmiDecodeError(`IPMI 1.5 message length ${length} exceeds the datagram`);
  return {
    kind: 'v15',
    authType,
    sequence: s.readUInt32LE(1),
    sessionId: s.readUInt32LE(5),
    authCode: hasAuth ? Buffer.from(s.subarray(9, 25)) : null,
    message: Buffer.from(s.subarray(lengthAt + 1, lengthAt + 1 + length)),
  };
}

function decodeV20(s: Buffer, keys: SessionKeys | null): V20Packet {
  if (s.length < 12) throw new IpmiDecodeError('RMCP+ session header truncated');
  const typeByte = s[1] as number;
  const encrypted = (typeByte & 0x80) !== 0;
  const authenticated = (typeByte & 0x40) !== 0;
  const payloadType = typeByte & 0x3f;
  if (payloadType === 0x02) throw new IpmiDecodeError('OEM explicit RMCP+ payloads are not supported');
  const length = s.readUInt16LE(10);
  if (s.length < 12 + length) throw new IpmiDecodeError(`RMCP+ payload length ${length} exceeds the datagram`);
  const raw = s.subarray(12, 12 + length);
  if (authenticated) {
    if (!keys) throw new IpmiDecodeError('authenticated RMCP+ packet outside an established session');
    const icvLength = keys.suite.integrityCheckLength;
    const trailerEnd = s.length - icvLength;
    if (trailerEnd < 12 + length + 2) throw new IpmiDecodeError('RMCP+ integrity trailer truncated');
    if (s[trailerEnd - 1] !== NEXT_HEADER_RMCP) throw new IpmiDecodeError('RMCP+ next header is not 07');
    const padLength = s[trailerEnd - 2] as number;
    if (12 + length + padLength + 2 !== trailerEnd) throw new IpmiDecodeError('RMCP+ integrity pad length does not add up');
    const expected = integrityAuthCode(keys, s.subarray(0, trailerEnd));
    if (!expected.equals(s.subarray(trailerEnd))) throw new IpmiDecodeError('RMCP+ packet auth code mismatch (integrity check failed)');
  }
  let payload: Buffer = Buffer.from(raw);
  if (encrypted) {
    if (!keys) throw new IpmiDecodeError('encrypted RMCP+ packet outside an established session');
    payload = decryptPayload(keys.k2, raw);
  }
  return { kind: 'v20', payloadType, encrypted, authenticated, sessionId: s.readUInt32LE(2), sequence: s.readUInt32LE(6), payload };
}
