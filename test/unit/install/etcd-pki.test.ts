import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { EtcdPki } from '../../../server/install/etcd-pki.js';
import { findExecutable } from '../../../server/lab/prereqs.js';

describe('EtcdPki: rackboot\'s etcd CA and the certificates it issues', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-etcd-pki-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const member = { kind: 'member' as const, holder: 's1', commonName: 's1', dnsNames: ['s1', 'localhost'], ips: ['10.0.0.11', '127.0.0.1'] };

  it('a member certificate: issued by the CA, SANs = its name and addresses, server and client use', () => {
    const pki = new EtcdPki(dir);
    const creds = pki.credentials(member);
    const cert = new X509Certificate(creds.cert);
    assert.ok(cert.checkIssued(new X509Certificate(creds.caCert)));
    assert.ok(cert.verify(new X509Certificate(creds.caCert).publicKey));
    assert.equal(cert.subjectAltName, 'DNS:s1, DNS:localhost, IP Address:10.0.0.11, IP Address:127.0.0.1');
    assert.equal(cert.subject, 'CN=s1');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.ok(cert.checkPrivateKey(createPrivateKey(creds.key)));
  });

  it('keys, CA and certificates are 0600 in 0700 directories; the CA survives a new instance', () => {
    const first = new EtcdPki(dir).caCert;
    for (const file of ['ca.key', 'ca.crt', 'issued/s1.member.key', 'issued/s1.member.crt']) assert.equal(statSync(join(dir, 'etcd-pki', file)).mode & 0o777, 0o600, file);
    for (const sub of ['', 'issued']) assert.equal(statSync(join(dir, 'etcd-pki', sub)).mode & 0o777, 0o700);
    assert.equal(new EtcdPki(dir).caCert, first);
  });

  it('the same request reuses the certificate; a changed address reissues it', () => {
    const pki = new EtcdPki(dir);
    const a = pki.credentials(member);
    assert.equal(pki.credentials(member).cert, a.cert);
    const moved = pki.credentials({ ...member, ips: ['10.0.0.21', '127.0.0.1'] });
    assert.notEqual(moved.cert, a.cert);
    assert.match(new X509Certificate(moved.cert).subjectAltName ?? '', /10\.0\.0\.21/);
  });

  it('a proxy\'s client certificate has an empty subject (etcd\'s grpc-proxy refuses a Common Name) and client use only', () => {
    const creds = new EtcdPki(dir).credentials({ kind: 'client', holder: 'w1', commonName: '', dnsNames: ['w1'], ips: ['10.0.0.61'] });
    const cert = new X509Certificate(creds.cert);
    assert.equal(cert.subject ?? '', '', 'no subject');
    assert.equal(new EtcdPki(dir).credentials({ kind: 'client', holder: 'w1', commonName: '', dnsNames: ['w1'], ips: ['10.0.0.61'] }).cert, creds.cert, 'reused');
    assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  });

  it('openssl agrees: the member certificate verifies for TLS servers and clients', { skip: findExecutable('openssl') ? false : 'openssl is not installed' }, () => {
    const creds = new EtcdPki(dir).credentials(member);
    writeFileSync(join(dir, 'ca.pem'), creds.caCert);
    writeFileSync(join(dir, 'leaf.pem'), creds.cert);
    for (const purpose of ['sslserver', 'sslclient']) {
      const result = spawnSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', purpose, join(dir, 'leaf.pem')], { encoding: 'utf8' });
      assert.equal(result.status, 0, `${purpose}: ${result.stdout}${result.stderr}`);
    }
  });

  it('refuses a holder name that is not a machine name (it names files)', () => {
    assert.throws(() => new EtcdPki(dir).credentials({ ...member, holder: '../x' }), /not a machine name/);
  });
});
