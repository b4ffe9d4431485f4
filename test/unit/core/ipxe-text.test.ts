/**
 * What may go into an iPXE script line (iPXE has no quoting), and how values from the config, the
 * menus and the network are kept from running commands of their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findIpxeUnsafe } from '../../../server/core/boot-plan.js';
import { ipxeSafeText, ipxeTextProblem } from '../../../server/core/ipxe-text.js';
import { isRackbootError } from '../../../server/errors.js';
import { testProvisioner } from '../../helpers/provisioner.js';

test('ipxeTextProblem: line breaks, control characters, ${, separator words and # words', () => {
  for (const bad of ['a\nshell', 'a\rb', 'a\tb', 'a\u0000', 'a\u001b[2J', 'a\u007f', '${net0/mac}', 'x ${y}', '||', 'a || b', 'a && b', 'a ; b', '#', 'a #b']) {
    assert.notEqual(ipxeTextProblem(bad), null, JSON.stringify(bad));
  }
  for (const good of ['flatcar', 'Flatcar 3510.2.0 (stable)', 'console=ttyS0,115200n8', 'a#b', 'x=$y', 'a;b', 'a|b', 'a&b', 'http://h/p?a=1&b=2']) {
    assert.equal(ipxeTextProblem(good), null, good);
  }
});

test('ipxeSafeText replaces what ipxeTextProblem refuses, and the result passes', () => {
  assert.equal(ipxeSafeText('a\nshell'), 'a?shell');
  assert.equal(ipxeSafeText('x ${y} && reboot ; #z'), 'x ?{y} ?? reboot ? ??');
  for (const hostile of ['a\nshell', '${a}', 'a && b', '\u001b[2J', 'a #b ||']) assert.equal(ipxeTextProblem(ipxeSafeText(hostile)), null, hostile);
});

test('findIpxeUnsafe names the key and the reason', () => {
  assert.deepEqual(findIpxeUnsafe({ a: 'fine', os: 'x\nshell' })?.key, 'os');
  assert.match(findIpxeUnsafe({ kernelArgs: 'quiet ; shell' })?.problem ?? '', /separator/);
  assert.equal(findIpxeUnsafe({ a: 'fine' }), null);
});

test('an os name with a line break (reaching the machine script) is refused at render, not served', () => {
  const t = testProvisioner({ os: { name: 'test-os\nshell', kernel: 'k', initrds: ['i'], args: [] } });
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:99:00:01'], ip: '10.99.0.11', role: 'dev' });
  const outcome = t.provisioner.machineScript({ mac: '52:54:00:99:00:01', clientIp: '10.99.0.11' });
  assert.equal(outcome.ok, false);
  assert.match(outcome.ok ? '' : outcome.message, /value os contains a line break/);
  assert.equal(t.store.machineById(machine.id)?.state, 'failed');
});

test('an unknown MAC sent with a line break does not put a command into the script it is answered with', () => {
  const t = testProvisioner();
  const outcome = t.provisioner.machineScript({ mac: 'x\nshell\n${net0/mac} && reboot', uuid: 'u\nreboot', clientIp: '10.99.0.50' });
  assert.ok(outcome.ok);
  const lines = outcome.value.split('\n');
  assert.ok(!lines.some((line) => /^(shell|reboot)\b/.test(line.trim())), outcome.value);
  assert.ok(!outcome.value.includes('${net0/mac}'), outcome.value);
  assert.match(outcome.value, /^echo rackboot: no machine with MAC x\?shell\?\?\{net0\/mac\} \?\? reboot /m);
});

test('a hostile machine name never reaches a template: the Provisioner refuses it for every caller', () => {
  const t = testProvisioner();
  for (const name of ['blade\nshell', 'a b', 'x;reboot', '${a}', 'A', '-a', `a${'b'.repeat(63)}`]) {
    assert.throws(
      () => t.provisioner.registerMachine({ name, macs: ['52:54:00:99:00:09'], ip: null, role: null }),
      (error: unknown) => isRackbootError(error) && error.code === 'RACKBOOT_ERR_INVALID_INPUT',
      JSON.stringify(name),
    );
  }
  assert.equal(t.provisioner.listMachines().length, 0);
});
