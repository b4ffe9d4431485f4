/**
 * RMCP+ cryptography (IPMI v2.0 §13.28-13.32): cipher suites 3 and 17, the RAKP key-exchange
 * HMACs, the session integrity key (SIK), K1/K2, the integrity auth code and AES-CBC-128 with its
 * confidentiality pad; and the IPMI 1.5 MD5 auth code. Random inputs (IVs, nonces) are parameters,
 * so every function here is deterministic.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { IpmiDecodeError } from './decode-error.js';

export type CipherSuiteId = 3 | 17;

export interface CipherSuite {
  readonly id: CipherSuiteId;
  /** Algorithm numbers sent in the Open Session Request. */
  readonly authenticationAlgorithm: number;
  readonly integrityAlgorithm: number;
  readonly confidentialityAlgorithm: number;
  readonly hash: 'sha1' | 'sha256';
  /** Bytes of the RAKP2/RAKP3 key-exchange auth code (the full HMAC). */
  readonly authCodeLength: number;
  /** Bytes of the RAKP4 integrity check value and of each packet's auth code. */
  readonly integrityCheckLength: number;
}

export const CIPHER_SUITES: Readonly<Record<CipherSuiteId, CipherSuite>> = {
  // RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128
  3: { id: 3, authenticationAlgorithm: 0x01, integrityAlgorithm: 0x01, confidentialityAlgorithm: 0x01, hash: 'sha1', authCodeLength: 20, integrityCheckLength: 12 },
  // RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128
  17: { id: 17, authenticationAlgorithm: 0x03, integrityAlgorithm: 0x04, confidentialityAlgorithm: 0x01, hash: 'sha256', authCodeLength: 32, integrityCheckLength: 16 },
};

export function cipherSuite(id: number): CipherSuite | undefined {
  return id === 3 || id === 17 ? CIPHER_SUITES[id] : undefined;
}

export function hmac(hash: 'sha1' | 'sha256' | 'md5', key: Uint8Array, ...parts: readonly Uint8Array[]): Buffer {
  const h = createHmac(hash, key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Kuid: the user's password, zero-padded to 20 bytes (the IPMI 2.0 password length). */
export function passwordKey(password: string | Uint8Array, length = 20): Buffer {
  const raw = typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
  if (raw.length > length) throw new RangeError(`IPMI passwords are at most ${length} bytes; this one has ${raw.length}`);
  const key = Buffer.alloc(length);
  raw.copy(key);
  return key;
}

export function uint32le(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

export interface RakpExchange {
  readonly consoleSessionId: number;
  readonly bmcSessionId: number;
  /** Rm, 16 bytes. */
  readonly consoleRandom: Uint8Array;
  /** Rc, 16 bytes. */
  readonly bmcRandom: Uint8Array;
  /** GUIDc, 16 bytes as the BMC sent them in RAKP2. */
  readonly bmcGuid: Uint8Array;
  /** ROLEm: requested privilege plus the name-only-lookup bit, exactly as sent in RAKP1. */
  readonly role: number;
  readonly username: Uint8Array;
}

function roleAndName(x: Pick<RakpExchange, 'role' | 'username'>): Buffer {
  return Buffer.concat([Buffer.from([x.role & 0xff, x.username.length]), x.username]);
}

/** RAKP2 key-exchange auth code: HMAC_Kuid(SIDm | SIDc | Rm | Rc | GUIDc | ROLEm | ULENm | UNAMEm). */
export function rakp2AuthCode(suite: CipherSuite, kuid: Uint8Array, x: RakpExchange): Buffer {
  return hmac(suite.hash, kuid, uint32le(x.consoleSessionId), uint32le(x.bmcSessionId), x.consoleRandom, x.bmcRandom, x.bmcGuid, roleAndName(x));
}

/** RAKP3 key-exchange auth code: HMAC_Kuid(Rc | SIDm | ROLEm | ULENm | UNAMEm). */
export function rakp3AuthCode(suite: CipherSuite, kuid: Uint8Array, x: RakpExchange): Buffer {
  return hmac(suite.hash, kuid, x.bmcRandom, uint32le(x.consoleSessionId), roleAndName(x));
}

/** SIK = HMAC_KG(Rm | Rc | ROLEm | ULENm | UNAMEm); KG is Kuid unless the BMC has a BMC key set. */
export function sessionIntegrityKey(suite: CipherSuite, kg: Uint8Array, x: RakpExchange): Buffer {
  return hmac(suite.hash, kg, x.consoleRandom, x.bmcRandom, roleAndName(x));
}

/** RAKP4 integrity check value: HMAC_SIK(Rm | SIDc | GUIDc), truncated for the suite. */
export function rakp4CheckValue(suite: CipherSuite, sik: Uint8Array, x: RakpExchange): Buffer {
  return hmac(suite.hash, sik, x.consoleRandom, uint32le(x.bmcSessionId), x.bmcGuid).subarray(0, suite.integrityCheckLength);
}

/** K1 = HMAC_SIK(20 x 0x01) keys the integrity auth code; K2 = HMAC_SIK(20 x 0x02), its first 16 bytes the AES key. */
export function additionalKey(suite: CipherSuite, sik: Uint8Array, n: 1 | 2): Buffer {
  return hmac(suite.hash, sik, Buffer.alloc(20, n));
}

export interface SessionKeys {
  readonly suite: CipherSuite;
  readonly sik: Buffer;
  readonly k1: Buffer;
  readonly k2: Buffer;
}

export function deriveSessionKeys(suite: CipherSuite, kg: Uint8Array, x: RakpExchange): SessionKeys {
  const sik = sessionIntegrityKey(suite, kg, x);
  return { suite, sik, k1: additionalKey(suite, sik, 1), k2: additionalKey(suite, sik, 2) };
}

/** Packet auth code: HMAC_K1 over the session header through the next-header byte, truncated. */
export function integrityAuthCode(keys: Pick<SessionKeys, 'suite' | 'k1'>, covered: Uint8Array): Buffer {
  return hmac(keys.suite.hash, keys.k1, covered).subarray(0, keys.suite.integrityCheckLength);
}

/** AES-CBC-128 payload: IV | AES(payload | 01 02 .. n | n), padded to whole 16-byte blocks. */
export function encryptPayload(k2: Uint8Array, iv: Uint8Array, payload: Uint8Array): Buffer {
  if (iv.length !== 16) throw new RangeError('the AES-CBC-128 IV is 16 bytes');
  const padLength = (16 - ((payload.length + 1) % 16)) % 16;
  const pad = Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1));
  const plain = Buffer.concat([payload, pad, Buffer.from([padLength])]);
  const cipher = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv);
  cipher.setAutoPadding(false);
  return Buffer.concat([iv, cipher.update(plain), cipher.final()]);
}

export function decryptPayload(k2: Uint8Array, data: Uint8Array): Buffer {
  if (data.length < 32 || (data.length - 16) % 16 !== 0) {
    throw new IpmiDecodeError(`encrypted payload of ${data.length} bytes is not IV + whole AES blocks`);
  }
  const decipher = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), data.subarray(0, 16));
  decipher.setAutoPadding(false);
  const plain = Buffer.concat([decipher.update(data.subarray(16)), decipher.final()]);
  const padLength = plain[plain.length - 1] as number;
  if (padLength > 15 || padLength + 1 > plain.length) throw new IpmiDecodeError(`bad confidentiality pad length ${padLength}`);
  const end = plain.length - 1 - padLength;
  for (let i = 0; i < padLength; i++) {
    if (plain[end + i] !== i + 1) throw new IpmiDecodeError('bad confidentiality pad bytes');
  }
  return plain.subarray(0, end);
}

/** IPMI 1.5 MD5 auth code: MD5(password | session ID | message | session sequence | password). */
export function md5AuthCode(password16: Uint8Array, sessionId: number, message: Uint8Array, sequence: number): Buffer {
  return createHash('md5').update(password16).update(uint32le(sessionId)).update(message).update(uint32le(sequence)).update(password16).digest();
}
