/**
 * A machine with several registered NICs boots from whichever asked: the OS is told which one
 * (BOOTIF=) and its network config matches that NIC (issue 17).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testProvisioner } from '../../helpers/provisioner.js';

const FIRST = '52:54:00:99:01:01';
const SECOND = '52:54:00:99:01:02';

function setup(role: string | null = 'dev') {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'two-nics', macs: [FIRST, SECOND], ip: '10.99.0.31', role, bootMode: 'memory' });
  return { ...t, machine };
}

const configToken = (script: string): string => /cloud-config\/([^\s]+)/.exec(script)?.[1] ?? '';

test('the second NIC boots: BOOTIF names it and the cloud-config configures it', () => {
  const { provisioner } = setup();
  const script = provisioner.machineScript({ mac: SECOND.replaceAll(':', '-'), clientIp: '10.99.0.31' });
  assert.ok(script.ok);
  assert.match(script.value, / BOOTIF=01-52-54-00-99-01-02 /);
  const config = provisioner.cloudConfig(configToken(script.value), '10.99.0.31');
  assert.ok(config.ok, config.ok ? '' : config.message);
  assert.match(config.value, /MACAddress=52:54:00:99:01:02/);
  assert.doesNotMatch(config.value, /MACAddress=52:54:00:99:01:01/);
});

test('the first NIC boots: BOOTIF and the network config follow it', () => {
  const { provisioner } = setup();
  const script = provisioner.machineScript({ mac: FIRST, clientIp: '10.99.0.31' });
  assert.ok(script.ok);
  assert.match(script.value, / BOOTIF=01-52-54-00-99-01-01 /);
  const config = provisioner.cloudConfig(configToken(script.value), '10.99.0.31');
  assert.ok(config.ok);
  assert.match(config.value, /MACAddress=52:54:00:99:01:01/);
});

test('through the boot menu, the chosen entry boots the NIC that asked for the menu', () => {
  const { provisioner } = setup(null);
  const menu = provisioner.machineScript({ mac: SECOND, clientIp: '10.99.0.31' });
  assert.ok(menu.ok);
  const token = /menu\/([^/\s]+)\//.exec(menu.value)?.[1] ?? '';
  const chosen = provisioner.menuChoice(token, 'dev-memory', '10.99.0.31');
  assert.ok(chosen.ok, chosen.ok ? '' : chosen.message);
  assert.match(chosen.value, / BOOTIF=01-52-54-00-99-01-02 /);
});

test('preview (no boot yet) names no BOOTIF and configures the first registered NIC', () => {
  const { provisioner, machine } = setup();
  const preview = provisioner.preview(machine);
  assert.ok(preview.script.ok);
  assert.doesNotMatch(preview.script.value, /BOOTIF=/);
});
