/**
 * The Kubernetes secrets rackboot generates once and keeps in <dataDir>/kubernetes/: the cluster CA
 * (kubeadm reuses a CA it finds in /etc/kubernetes/pki, so workers can pin its hash before it exists
 * on any node), the pre-shared bootstrap token and the certificate key for joining control planes.
 *
 * Node has no API that creates certificates, so the self-signed CA certificate is DER-encoded here
 * (RSA-2048, SHA-256, CN=kubernetes, CA:TRUE, keyCertSign) and signed with node:crypto.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomInt, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesSecrets } from '../core/install-types.js';

// --- a little DER ------------------------------------------------------------------------------------
function tlv(tag: number, content: Buffer): Buffer {
  const length = content.length;
  let header: Buffer;
  if (length < 0x80) header = Buffer.from([tag, length]);
  else {
    const bytes: number[] = [];
    for (let n = length; n > 0; n >>= 8) bytes.unshift(n & 0xff);
    header = Buffer.from([tag, 0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([header, content]);
}
const seq = (...items: Buffer[]) => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => tlv(0x31, Buffer.concat(items));
const explicit = (n: number, item: Buffer) => tlv(0xa0 + n, item);
const nullValue = () => Buffer.from([0x05, 0x00]);
const bool = (value: boolean) => tlv(0x01, Buffer.from([value ? 0xff : 0x00]));
const octets = (value: Buffer) => tlv(0x04, value);
const bits = (value: Buffer, unused = 0) => tlv(0x03, Buffer.concat([Buffer.from([unused]), value]));
const utf8 = (value: string) => tlv(0x0c, Buffer.from(value, 'utf8'));

function integer(value: Buffer | number): Buffer {
  let bytes = typeof value === 'number' ? Buffer.from([value]) : value;
  while (bytes.length > 1 && bytes[0] === 0 && ((bytes[1] as number) & 0x80) === 0) bytes = bytes.subarray(1);
  if (((bytes[0] as number) & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(0x02, bytes);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] as number) + (parts[1] as number)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let n = part >> 7; n > 0; n >>= 7) chunk.unshift((n & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${iso.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${iso}Z`));
}

const SHA256_WITH_RSA = seq(oid('1.2.840.113549.1.1.11'), nullValue());

function name(commonName: string): Buffer {
  return seq(set(seq(oid('2.5.4.3'), utf8(commonName))));
}

/** A self-signed CA certificate (PEM) for `key`. */
export function selfSignedCa(key: { privateKey: KeyObject; publicKey: KeyObject }, commonName: string, notBefore: Date, days: number): string {
  const spki = key.publicKey.export({ type: 'spki', format: 'der' });
  const subjectKeyId = createHash('sha1').update(spkiKeyBits(spki)).digest();
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const extensions = seq(
    seq(oid('2.5.29.19'), bool(true), octets(seq(bool(true)))), // basicConstraints: CA
    seq(oid('2.5.29.15'), bool(true), octets(bits(Buffer.from([0xa4]), 2))), // keyUsage: digitalSignature, keyEncipherment, keyCertSign
    seq(oid('2.5.29.14'), octets(octets(subjectKeyId))), // subjectKeyIdentifier
  );
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const tbs = seq(
    explicit(0, integer(2)),
    integer(serial),
    SHA256_WITH_RSA,
    name(commonName),
    seq(time(notBefore), time(notAfter)),
    name(commonName),
    spki,
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, key.privateKey);
  return pem(seq(tbs, SHA256_WITH_RSA, bits(signature)));
}

/** What a leaf certificate is for, as extendedKeyUsage. */
export type CertificateUse = 'server' | 'client';

export interface LeafRequest {
  /** '' for an empty subject (the names are in the SANs) */
  readonly commonName: string;
  readonly uses: readonly CertificateUse[];
  /** subjectAltName dNSName entries */
  readonly dnsNames: readonly string[];
  /** subjectAltName iPAddress entries (IPv4) */
  readonly ips: readonly string[];
  readonly notBefore: Date;
  readonly days: number;
}

/** A certificate (PEM) for `publicKey`, signed by the CA (RSA, SHA-256), with SANs and extendedKeyUsage. */
export function issueCertificate(ca: { certPem: string; keyPem: string }, publicKey: KeyObject, request: LeafRequest): string {
  const caCert = new X509Certificate(ca.certPem);
  const caSpki = caCert.publicKey.export({ type: 'spki', format: 'der' });
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const serial = randomBytes(16);
  serial[0] = (serial[0] as number) & 0x7f;
  const usageOids: Record<CertificateUse, string> = { server: '1.3.6.1.5.5.7.3.1', client: '1.3.6.1.5.5.7.3.2' };
  const altNames = [
    ...request.dnsNames.map((dns) => tlv(0x82, Buffer.from(dns, 'ascii'))),
    ...request.ips.map((ip) => tlv(0x87, Buffer.from(ip.split('.').map(Number)))),
  ];
  const extensions = [
    seq(oid('2.5.29.19'), bool(true), octets(seq())), // basicConstraints: not a CA
    seq(oid('2.5.29.15'), bool(true), octets(bits(Buffer.from([0xa0]), 5))), // keyUsage: digitalSignature, keyEncipherment
    seq(oid('2.5.29.37'), octets(seq(...request.uses.map((use) => oid(usageOids[use]))))),
    seq(oid('2.5.29.14'), octets(octets(createHash('sha1').update(spkiKeyBits(spki)).digest()))),
    seq(oid('2.5.29.35'), octets(seq(tlv(0x80, createHash('sha1').update(spkiKeyBits(caSpki)).digest())))), // authorityKeyIdentifier
  ];
  if (altNames.length > 0) extensions.push(seq(oid('2.5.29.17'), octets(seq(...altNames))));
  const notAfter = new Date(request.notBefore.getTime() + request.days * 86_400_000);
  const issuer = caCert.subject.split('\n').find((line) => line.startsWith('CN='))?.slice(3) ?? '';
  const tbs = seq(
    explicit(0, integer(2)),
    integer(serial),
    SHA256_WITH_RSA,
    name(issuer),
    seq(time(request.notBefore), time(notAfter)),
    request.commonName === '' ? seq() : name(request.commonName),
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, createPrivateKey(ca.keyPem));
  return pem(seq(tbs, SHA256_WITH_RSA, bits(signature)));
}

function pem(der: Buffer): string {
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

/** The subjectPublicKey BIT STRING's bytes inside a DER SubjectPublicKeyInfo. */
function spkiKeyBits(spki: Buffer): Buffer {
  // SEQUENCE { AlgorithmIdentifier, BIT STRING }: skip the outer header and the algorithm
  const skipHeader = (buf: Buffer, at: number) => {
    const first = buf[at + 1] as number;
    return first < 0x80 ? { start: at + 2, length: first } : { start: at + 2 + (first & 0x7f), length: buf.readUIntBE(at + 2, first & 0x7f) };
  };
  const outer = skipHeader(spki, 0);
  const algorithm = skipHeader(spki, outer.start);
  const bitString = skipHeader(spki, algorithm.start + algorithm.length);
  return spki.subarray(bitString.start + 1, bitString.start + bitString.length);
}

/** kubeadm's --discovery-token-ca-cert-hash: sha256 of the CA certificate's SubjectPublicKeyInfo. */
export function caCertHash(caCertPem: string): string {
  const spki = new X509Certificate(caCertPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
function randomText(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += TOKEN_CHARS[randomInt(TOKEN_CHARS.length)];
  return out;
}

/** A kubeadm bootstrap token: [a-z0-9]{6}.[a-z0-9]{16}. */
export function bootstrapToken(): string {
  return `${randomText(6)}.${randomText(16)}`;
}

/**
 * Reads <dataDir>/kubernetes/{ca.crt,ca.key,token,certificate-key}, generating what is missing
 * (files 0600, written then renamed). The CA is kept for the life of the data directory.
 */
export function ensureKubernetesSecrets(dataDir: string, now: Date = new Date()): KubernetesSecrets {
  const dir = join(dataDir, 'kubernetes');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = (name: string) => join(dir, name);
  const write = (name: string, content: string) => {
    const tmp = `${file(name)}.tmp`;
    writeFileSync(tmp, content, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file(name));
  };
  if (!existsSync(file('ca.crt')) || !existsSync(file('ca.key'))) {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
    write('ca.key', key.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
    write('ca.crt', selfSignedCa(key, 'kubernetes', now, 3650));
  }
  if (!existsSync(file('token'))) write('token', `${bootstrapToken()}\n`);
  if (!existsSync(file('certificate-key'))) write('certificate-key', `${randomBytes(32).toString('hex')}\n`);
  const caCert = readFileSync(file('ca.crt'), 'utf8');
  const caKey = readFileSync(file('ca.key'), 'utf8');
  // the key must belong to the certificate (a hand-edited directory is refused, not used)
  const certKey = new X509Certificate(caCert).publicKey.export({ type: 'spki', format: 'der' });
  const ownKey = createPublicKey(caKey).export({ type: 'spki', format: 'der' });
  if (!certKey.equals(ownKey)) throw new Error(`${file('ca.key')} does not belong to ${file('ca.crt')}`);
  const token = readFileSync(file('token'), 'utf8').trim();
  if (!/^[a-z0-9]{6}\.[a-z0-9]{16}$/.test(token)) throw new Error(`${file('token')} is not a kubeadm bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})`);
  const certificateKey = readFileSync(file('certificate-key'), 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(certificateKey)) throw new Error(`${file('certificate-key')} is not 64 hex digits`);
  return { token, certificateKey, caCert, caKey, caCertHash: caCertHash(caCert) };
}
