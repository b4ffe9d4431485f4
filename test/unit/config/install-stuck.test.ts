import assert from 'node:assert/strict';
import { test } from 'node:test';
import { installSchema } from '../../../server/config/install.js';

const DEFAULTS = { dhcp: 600, 'firmware-loaded': 600, ipxe: 600, booting: 900, configured: 1800, booted: 1800, installing: 3600, installed: 1800 };

test('install.stuck.timeouts: every boot state has a default, including dhcp, firmware-loaded and ipxe', () => {
  assert.deepEqual(installSchema.parse({}).stuck.timeouts, DEFAULTS);
});

test('install.stuck.timeouts: one timeout set in the config merges with the defaults; 0 turns a state off', () => {
  assert.deepEqual(installSchema.parse({ stuck: { timeouts: { booting: 60 } } }).stuck.timeouts, { ...DEFAULTS, booting: 60 });
  assert.deepEqual(installSchema.parse({ stuck: { timeouts: { dhcp: 0 } } }).stuck.timeouts, { ...DEFAULTS, dhcp: 0 });
  assert.equal(installSchema.safeParse({ stuck: { timeouts: { registered: 60 } } }).success, false, 'registered machines wait for a boot');
});
