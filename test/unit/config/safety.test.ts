/**
 * The configuration's safety rules (issue 15): served roots, the data directory, listening on every
 * address, and values that reach iPXE scripts, unit files and URLs. Each refusal names its override key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';
import { assetPathProblem, contains, realLocation } from '../../../server/config/safety.js';

const dir = mkdtempSync(join(tmpdir(), 'rb-config-safety-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function errorsOf(yaml: string): string {
  const result = parseConfig(yaml, 'rb.yaml', dir);
  if (result.config !== null) assert.deepEqual(result.errors, []);
  return result.errors.join('\n');
}

function loads(yaml: string): void {
  const result = parseConfig(yaml, 'rb.yaml', dir);
  assert.deepEqual(result.errors, []);
  assert.ok(result.config);
}

test('tftp.root: / and system directories are refused, naming tftp.allowSystemRoot', () => {
  for (const root of ['/', '/etc', '/usr', '/bin', '/boot', '/root', '/var', '/home', '/proc', '/sys', '/dev']) {
    const errors = errorsOf(`tftp: {root: ${root}}\n`);
    assert.match(errors, /rb\.yaml: tftp\.root: .*system directory.*set tftp\.allowSystemRoot: true/, root);
  }
  // / also contains the data directory: that is a second risk with its own override
  assert.match(errorsOf('tftp: {root: /, allowSystemRoot: true}\n'), /tftp\.root: \/ contains dataDir/);
  loads('tftp: {root: /, allowSystemRoot: true}\nallowDataDirInServedRoot: true\n');
  loads('tftp: {root: /usr/lib/ipxe}\n');
});

test('a root that is a system directory through a symlink is refused with its real path', () => {
  const link = join(dir, 'looks-harmless');
  symlinkSync('/etc', link);
  assert.match(errorsOf(`tftp: {root: ${link}}\n`), new RegExp(`tftp\\.root: ${link} \\(really /etc\\) is the system directory /etc`));
  assert.match(errorsOf(`boot: {assetsDir: ${link}/}\n`), /boot\.assetsDir: .*really \/etc/);
});

test('boot.assetsDir: / or a system directory is refused, naming boot.allowSystemAssetsDir', () => {
  assert.match(errorsOf('boot: {assetsDir: /}\n'), /boot\.assetsDir: \/ is the system directory \/;.*set boot\.allowSystemAssetsDir: true/);
  assert.match(errorsOf('boot: {assetsDir: /etc}\n'), /boot\.assetsDir: \/etc is the system directory \/etc/);
  loads('boot: {assetsDir: /, allowSystemAssetsDir: true}\ndataDir: /srv/rb-data-outside\nallowDataDirInServedRoot: true\n');
});

test('a data directory inside a served root is refused, naming allowDataDirInServedRoot', () => {
  const assets = errorsOf('dataDir: ./site/var\nboot: {assetsDir: ./site}\n');
  assert.match(assets, /boot\.assetsDir: .*\/site contains dataDir .*\/site\/var;.*database and the Kubernetes CA key.*allowDataDirInServedRoot: true/);
  const tftp = errorsOf('dataDir: /srv/tftp/rackboot\ntftp: {root: /srv/tftp}\n');
  assert.match(tftp, /tftp\.root: \/srv\/tftp contains dataDir \/srv\/tftp\/rackboot/);
  assert.match(errorsOf('dataDir: /srv/same\ntftp: {root: /srv/same}\n'), /tftp\.root: \/srv\/same contains dataDir/);
  loads('dataDir: ./site/var\nboot: {assetsDir: ./site}\nallowDataDirInServedRoot: true\n');
  loads('dataDir: ./var\nboot: {assetsDir: ./var/assets}\n'); // the default: assets inside the data dir is fine
});

test('http.listen 0.0.0.0 is refused unless http.allowAllAddresses; :: is not an accepted address at all', () => {
  assert.match(errorsOf('http: {listen: 0.0.0.0}\n'), /http\.listen: 0\.0\.0\.0 serves the API.*set http\.allowAllAddresses: true \(and configure http\.tls/);
  loads('http: {listen: 0.0.0.0, allowAllAddresses: true}\n');
  assert.match(errorsOf('http: {listen: "::"}\n'), /http\.listen/);
  loads('http: {listen: 10.0.0.1}\n');
});

test('every refusal is reported at once, each with its override key', () => {
  const errors = parseConfig('tftp: {root: /}\nboot: {assetsDir: /, os: {name: "x\\nshell"}}\nhttp: {listen: 0.0.0.0}\n', 'rb.yaml', dir).errors;
  const joined = errors.join('\n');
  for (const key of ['tftp.allowSystemRoot', 'boot.allowSystemAssetsDir', 'allowDataDirInServedRoot', 'http.allowAllAddresses', 'boot.os.name']) {
    assert.ok(joined.includes(key), `${key} missing:\n${joined}`);
  }
  assert.ok(errors.length >= 5, joined);
});

test('boot.os.name: a line break, ${ or an iPXE command separator is refused', () => {
  for (const name of ['flatcar\nshell', 'flatcar\rshell', 'a\u0007b', 'x ${net0/mac}', 'x && shell', 'x || shell', 'x ; shell', 'x #comment']) {
    assert.match(errorsOf(`boot: {os: {name: ${JSON.stringify(name)}}}\n`), /boot\.os\.name: contains/, JSON.stringify(name));
  }
  loads('boot: {os: {name: "Flatcar 3510.2.0 (stable)"}}\n');
});

test('kernel arguments: ${, separators and words starting with # are refused; ordinary arguments load', () => {
  for (const arg of [';', '||', '&&', '#x', 'ip=${ip}', 'a\u0000b']) {
    assert.match(errorsOf(`boot: {kernelArgs: [${JSON.stringify(arg)}]}\n`), /boot\.kernelArgs\.0: contains/, JSON.stringify(arg));
    assert.match(errorsOf(`boot: {os: {args: [ok, ${JSON.stringify(arg)}]}}\n`), /boot\.os\.args\.1: contains/, JSON.stringify(arg));
  }
  loads('boot: {kernelArgs: ["console=ttyS0,115200n8", "a#b", "x=$y"]}\n');
});

test('kernel, initrd and etcd paths are plain relative paths below the assets directory', () => {
  for (const path of ['../../etc/shadow', '/etc/shadow', 'a b', 'x/${y}', 'a\nb', 'flatcar/.hidden', 'a//b', '']) {
    assert.notEqual(assetPathProblem(path), null, JSON.stringify(path));
  }
  assert.equal(assetPathProblem('flatcar/flatcar_production_pxe.vmlinuz'), null);
  assert.equal(assetPathProblem('etcd/v3.5.17/etcd'), null);
  assert.match(errorsOf('boot: {os: {kernel: ../../etc/shadow}}\n'), /boot\.os\.kernel: a relative path below boot\.assetsDir/);
  assert.match(errorsOf('boot: {os: {initrds: [ok.img, "x y"]}}\n'), /boot\.os\.initrds\.1: a relative path/);
  assert.match(errorsOf('cluster: {etcdBinary: "etcd\\nExecStart=/bin/sh"}\n'), /cluster\.etcdBinary: a relative path/);
});

test('values written into unit files: NTP servers and subnet domains carry no syntax', () => {
  assert.match(errorsOf('cluster: {ntpServers: ["pool.ntp.org\\nExecStart=/bin/sh"]}\n'), /cluster\.ntpServers\.0: a host name or an IP address/);
  assert.match(errorsOf('dhcp: {subnets: [{cidr: 10.0.0.0/24, domain: "rack\\n[Match]"}]}\n'), /dhcp\.subnets\.0\.domain: a DNS domain name/);
  loads('cluster: {ntpServers: [pool.ntp.org, 10.0.0.1, "[2001:db8::1]"]}\ndhcp: {subnets: [{cidr: 10.0.0.0/24, domain: rack1.example.com}]}\n');
});

test('realLocation resolves the nearest existing ancestor; contains compares whole segments', () => {
  const link = join(dir, 'to-usr');
  symlinkSync('/usr', link);
  assert.equal(realLocation(join(link, 'not-yet', 'here')), join(realLocation('/usr'), 'not-yet', 'here'));
  assert.ok(contains('/', '/etc'));
  assert.ok(contains('/srv/a', '/srv/a/b'));
  assert.ok(!contains('/srv/a', '/srv/ab'));
});

test('tftp.symlinkTargets: never a place with secrets or the data directory; a firmware file is fine', () => {
  for (const target of ['/', '/etc', '/etc/shadow', '/root/.ssh', '/home', '/proc/self', '/run']) {
    assert.match(errorsOf(`tftp: {symlinkTargets: [${target}]}\n`), /rb\.yaml: tftp\.symlinkTargets\.0: .*secrets/, target);
  }
  assert.match(errorsOf(`dataDir: ${join(dir, 'var')}\ntftp: {symlinkTargets: [${dir}]}\n`), /tftp\.symlinkTargets\.0: .*contains dataDir/);
  assert.match(errorsOf('tftp: {symlinkTargets: [relative/ipxe.efi]}\n'), /tftp\.symlinkTargets\.0: an absolute path/);
  loads('tftp: {symlinkTargets: [/boot/ipxe.efi, /usr/share/ipxe]}\n');
});
