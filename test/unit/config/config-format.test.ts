/**
 * boot.configFormat (cloud-config by default, ignition per role) and the kernel-argument rules:
 * flatcar.autologin and the config URLs are never configured by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';

const parse = (yaml: string) => parseConfig(yaml, 'test.yaml', '/tmp');

test('the default: cloud-config for every role, and no autologin among the OS arguments', () => {
  const { config, errors } = parse('dataDir: /tmp/rb\n');
  assert.deepEqual(errors, []);
  assert.deepEqual(config?.boot.configFormat, { default: 'cloud-config', roles: {} });
  assert.deepEqual(config?.boot.os.args, ['flatcar.first_boot=1']);
});

test('ignition for every role, or per role', () => {
  const all = parse('dataDir: /tmp/rb\nboot: {configFormat: {default: ignition}}\n');
  assert.equal(all.config?.boot.configFormat.default, 'ignition');
  const some = parse('dataDir: /tmp/rb\nboot: {configFormat: {roles: {small: ignition, dev: cloud-config}}}\n');
  assert.deepEqual(some.errors, []);
  assert.deepEqual(some.config?.boot.configFormat.roles, { small: 'ignition', dev: 'cloud-config' });
});

test('an unknown format or role is an error naming it', () => {
  const format = parse('dataDir: /tmp/rb\nboot: {configFormat: {default: yaml}}\n');
  assert.equal(format.config, null);
  assert.match(format.errors.join('\n'), /boot\.configFormat\.default/);
  const role = parse('dataDir: /tmp/rb\nboot: {configFormat: {roles: {kube: ignition}}}\n');
  assert.equal(role.config, null);
  assert.match(role.errors.join('\n'), /boot\.configFormat\.roles/);
});

test('flatcar.autologin and the config URLs are refused in os.args and kernelArgs', () => {
  const autologin = parse('dataDir: /tmp/rb\nboot: {os: {args: [flatcar.first_boot=1, flatcar.autologin]}}\n');
  assert.equal(autologin.config, null);
  assert.match(autologin.errors.join('\n'), /flatcar\.autologin .*debug entry/);
  const extra = parse('dataDir: /tmp/rb\nboot: {kernelArgs: [flatcar.autologin, "ignition.config.url=http://x/y"]}\n');
  assert.equal(extra.config, null);
  assert.match(extra.errors.join('\n'), /debug entry/);
  assert.match(extra.errors.join('\n'), /rackboot adds the config URL itself/);
});
