/**
 * `rackboot config` warns about boot files DHCP would hand out that TFTP cannot serve (issue 17):
 * missing for a firmware type (arm64 on Debian), or a symlink out of the root not allowed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bootFileWarnings } from '../../../server/config/boot-files.js';
import { parseConfig } from '../../../server/config/config.js';

const dir = mkdtempSync(join(tmpdir(), 'rb-boot-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const root = join(dir, 'root');
mkdirSync(root);
mkdirSync(join(dir, 'elsewhere'));
for (const file of ['undionly.kpxe', 'snponly.efi', 'ipxe-ia32.efi']) writeFileSync(join(root, file), 'x');
writeFileSync(join(dir, 'elsewhere', 'ipxe.efi'), 'x');
symlinkSync(join(dir, 'elsewhere', 'ipxe.efi'), join(root, 'ipxe.efi'));

const bootFiles = { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiIa32: 'ipxe-ia32.efi', efiArm64: 'ipxe-arm64.efi' };
const input = (over: Partial<typeof bootFiles>, symlinkTargets: string[] = [], enabled = true) => ({
  tftp: { enabled, root, symlinkTargets },
  dhcp: { enabled: true, bootFiles: { ...bootFiles, ...over } },
});

test('a firmware type whose file is missing is named, once, with the file', () => {
  const warnings = bootFileWarnings(input({}), 'rb.yaml');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /^rb\.yaml: dhcp\.bootFiles: not in tftp\.root .*: efiArm64 \(ipxe-arm64\.efi\); machines with that firmware/);
});

test('a link out of the root is refused unless symlinkTargets names its target', () => {
  const arm = { efiArm64: 'snponly.efi' };
  assert.deepEqual(bootFileWarnings(input({ ...arm }), 'rb.yaml'), []);
  const warnings = bootFileWarnings(input({ ...arm, efiX64: 'ipxe.efi' }), 'rb.yaml');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /dhcp\.bootFiles\.efiX64: ipxe\.efi is a link to .*elsewhere\/ipxe\.efi, outside tftp\.root, and is refused; add .* to tftp\.symlinkTargets/);
  assert.deepEqual(bootFileWarnings(input({ ...arm, efiX64: 'ipxe.efi' }, [join(dir, 'elsewhere', 'ipxe.efi')]), 'rb.yaml'), []);
});

test('a missing root is one warning; TFTP or DHCP off is none', () => {
  const missingRoot = { ...input({}), tftp: { enabled: true, root: join(dir, 'nope'), symlinkTargets: [] } };
  assert.match(bootFileWarnings(missingRoot, 'rb.yaml').join('\n'), /tftp\.root: .*nope does not exist/);
  assert.deepEqual(bootFileWarnings(input({}, [], false), 'rb.yaml'), []);
  assert.deepEqual(bootFileWarnings({ ...input({}), dhcp: { enabled: false, bootFiles } }, 'rb.yaml'), []);
});

test('the loaded configuration carries the warnings', () => {
  const result = parseConfig(`server: {address: 10.9.0.1}\ntftp: {root: ${root}}\ndhcp: {enabled: true, subnets: [{cidr: 10.9.0.0/24}]}\n`, 'rb.yaml', dir);
  assert.ok(result.config);
  assert.match(result.warnings.join('\n'), /efiArm64 \(ipxe-arm64\.efi\)/);
});
