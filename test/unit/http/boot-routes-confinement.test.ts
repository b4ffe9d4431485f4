/**
 * /assets/* and /ipxe/:file never serve a file outside their directory, symlinks included
 * (issue 15): a link pointing out is refused (404) and counted; links that stay inside still work.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { confinedPath } from '../../../server/http/boot-routes.js';
import { silentLogger } from '../../../server/log.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let base: string;
let assets: string;
let firmware: string;
let app: FastifyInstance;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'rb-confine-'));
  assets = join(base, 'assets');
  firmware = join(base, 'firmware');
  mkdirSync(join(assets, 'os'), { recursive: true });
  mkdirSync(firmware);
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(base, 'outside', 'secret.key'), 'CA PRIVATE KEY');
  writeFileSync(join(assets, 'os', 'vmlinuz'), 'kernel');
  writeFileSync(join(firmware, 'snponly.efi'), 'MZ efi');
  symlinkSync(join(base, 'outside', 'secret.key'), join(assets, 'os', 'leak'));
  symlinkSync(join(base, 'outside'), join(assets, 'elsewhere'));
  symlinkSync('/etc', join(assets, 'etc'));
  symlinkSync('vmlinuz', join(assets, 'os', 'kernel-link'));
  symlinkSync(join(base, 'outside', 'secret.key'), join(firmware, 'ipxe.efi'));
  symlinkSync('snponly.efi', join(firmware, 'ipxe-x64.efi'));
  app = await buildApp({ provisioner: testProvisioner().provisioner, assetsDir: assets, firmwareDir: firmware, logger: silentLogger(), operator: { defaultMetrics: false } });
});

after(async () => {
  await app.close();
  rmSync(base, { recursive: true, force: true });
});

test('a symlink pointing out of the assets directory is refused and counted', async () => {
  for (const url of ['/assets/os/leak', '/assets/elsewhere/secret.key', '/assets/etc/passwd']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 404, url);
    assert.doesNotMatch(res.body, /PRIVATE|root:/);
  }
  const metrics = (await app.inject('/metrics')).body;
  assert.match(metrics, /^rackboot_http_path_escapes_total 3$/m);
});

test('a symlink that stays inside still works', async () => {
  const res = await app.inject('/assets/os/kernel-link');
  assert.equal(res.statusCode, 200);
  assert.equal(res.body, 'kernel');
  assert.equal((await app.inject('/assets/os/vmlinuz')).body, 'kernel');
});

test('/ipxe/:file follows no symlink out of the firmware directory', async () => {
  assert.equal((await app.inject('/ipxe/ipxe.efi')).statusCode, 404);
  const inside = await app.inject('/ipxe/ipxe-x64.efi');
  assert.equal(inside.statusCode, 200);
  assert.equal(inside.body, 'MZ efi');
});

test('/ipxe/:file follows a link out only to an allowed target (tftp.symlinkTargets)', async () => {
  const allowed = await buildApp({
    provisioner: testProvisioner().provisioner,
    assetsDir: assets,
    firmwareDir: firmware,
    firmwareSymlinkTargets: [join(base, 'outside', 'secret.key')],
    logger: silentLogger(),
    operator: { defaultMetrics: false },
  });
  try {
    const res = await allowed.inject('/ipxe/ipxe.efi');
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'CA PRIVATE KEY');
  } finally {
    await allowed.close();
  }
  assert.equal((await app.inject('/ipxe/ipxe.efi')).statusCode, 404);
});

test('confinedPath: missing is null, outside is an escape, inside is relative to the real root', async () => {
  assert.equal(await confinedPath(assets, 'os/missing'), null);
  assert.equal(await confinedPath(assets, 'os/leak'), 'escape');
  assert.equal(await confinedPath(join(base, 'nonexistent'), 'x'), null);
  const found = await confinedPath(assets, 'os/kernel-link');
  assert.ok(found !== null && found !== 'escape');
  assert.equal(found.path, join('os', 'vmlinuz'));
});
