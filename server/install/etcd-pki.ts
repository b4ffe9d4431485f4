/**
 * rackboot's etcd CA and the certificates it issues (docs/etcd.md), kept in <dataDir>/etcd-pki/:
 * ca.crt and ca.key (RSA-2048, generated once, kept for the life of the data directory), and one
 * certificate and key per machine and kind under issued/ (ECDSA P-256), reissued when the names or
 * addresses it must carry change or it is within 30 days of expiry. Every file 0600, written then
 * renamed; the directories 0700.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EtcdCertificateRequest, EtcdCredentials } from '../core/cluster.js';
import { issueCertificate, selfSignedCa } from './kube-pki.js';

const LEAF_DAYS = 825;
const RENEW_BEFORE_MS = 30 * 86_400_000;
export const RACKBOOT_CLIENT_NAME = 'rackboot';

export class EtcdPki {
  private readonly dir: string;
  private loaded: { certPem: string; keyPem: string } | null = null;

  /** Nothing is read or written until the first certificate is asked for. */
  constructor(dataDir: string, private readonly now: () => Date = () => new Date()) {
    this.dir = join(dataDir, 'etcd-pki');
  }

  private get ca(): { certPem: string; keyPem: string } {
    this.loaded ??= this.loadCa();
    return this.loaded;
  }

  private loadCa(): { certPem: string; keyPem: string } {
    makePrivateDir(this.dir);
    makePrivateDir(join(this.dir, 'issued'));
    const cert = join(this.dir, 'ca.crt');
    const key = join(this.dir, 'ca.key');
    if (!existsSync(cert) || !existsSync(key)) {
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
      writePrivate(key, pair.privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);
      writePrivate(cert, selfSignedCa(pair, 'rackboot etcd CA', this.now(), 3650));
    }
    const ca = { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
    const certKey = new X509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' });
    if (!certKey.equals(createPublicKey(ca.keyPem).export({ type: 'spki', format: 'der' }))) {
      throw new Error(`${key} does not belong to ${cert}`);
    }
    return ca;
  }

  get caCert(): string {
    return this.ca.certPem;
  }

  /** The machine's certificate of this kind, issued now or reused from issued/. */
  credentials(request: EtcdCertificateRequest): EtcdCredentials {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(request.holder)) throw new Error(`not a machine name: ${JSON.stringify(request.holder)}`);
    return this.issue(request, join(this.dir, 'issued', `${request.holder}.${request.kind}`));
  }

  private issue(request: EtcdCertificateRequest, base: string): EtcdCredentials {
    const kept = this.reusable(`${base}.crt`, `${base}.key`, request);
    if (kept) return kept;
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const cert = issueCertificate(this.ca, pair.publicKey, {
      commonName: request.commonName,
      uses: request.kind === 'member' ? ['server', 'client'] : ['client'],
      dnsNames: request.dnsNames,
      ips: request.ips,
      notBefore: new Date(this.now().getTime() - 3_600_000),
      days: LEAF_DAYS,
    });
    const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    writePrivate(`${base}.key`, key);
    writePrivate(`${base}.crt`, cert);
    return { caCert: this.ca.certPem, cert, key };
  }

  /** rackboot's own client certificate: the membership adapter and the health checks use it. */
  rackbootClient(): EtcdCredentials {
    // outside issued/, so a machine that happens to be called "rackboot" never shares its files
    return this.issue({ kind: 'client', holder: RACKBOOT_CLIENT_NAME, commonName: RACKBOOT_CLIENT_NAME, dnsNames: [RACKBOOT_CLIENT_NAME], ips: [] }, join(this.dir, 'rackboot-client'));
  }

  private reusable(certPath: string, keyPath: string, request: EtcdCertificateRequest): EtcdCredentials | null {
    if (!existsSync(certPath) || !existsSync(keyPath)) return null;
    try {
      const certPem = readFileSync(certPath, 'utf8');
      const keyPem = readFileSync(keyPath, 'utf8');
      const cert = new X509Certificate(certPem);
      const wanted = [...request.dnsNames.map((d) => `DNS:${d}`), ...request.ips.map((ip) => `IP Address:${ip}`)].sort().join(', ');
      const has = (cert.subjectAltName ?? '').split(', ').filter((s) => s !== '').sort().join(', ');
      const subject = request.commonName === '' ? '' : `CN=${request.commonName}`;
      if ((cert.subject ?? '') !== subject) return null;
      const fresh = new Date(cert.validTo).getTime() - this.now().getTime() > RENEW_BEFORE_MS;
      const ours = cert.checkIssued(new X509Certificate(this.ca.certPem)) && cert.checkPrivateKey(createPrivateKey(keyPem));
      return wanted === has && fresh && ours ? { caCert: this.ca.certPem, cert: certPem, key: keyPem } : null;
    } catch {
      return null;
    }
  }
}

function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function writePrivate(path: string, content: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
