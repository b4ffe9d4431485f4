import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:99:00:01';

function registered() {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role: 'dev' });
  return { ...t, machine };
}

test('registering records an event and the machine starts as registered', () => {
  const { store, machine } = registered();
  assert.equal(machine.state, 'registered');
  assert.deepEqual(store.listEvents({ machineId: machine.id }).map((e) => e.type), ['registered']);
});

test('the per-machine script mints a token and carries kernel, initrds and the callback URLs', () => {
  const { provisioner, store, machine } = registered();
  const outcome = provisioner.machineScript({ mac: '52-54-00-99-00-01', clientIp: '10.99.0.11' });
  assert.ok(outcome.ok);
  const script = outcome.value;
  assert.match(script, /^#!ipxe\n/);
  assert.match(script, /^kernel http:\/\/10\.99\.0\.1:8080\/boot\/token1\/kernel\/vmlinuz initrd=initrd\.img console=ttyS0 quiet cloud-config-url=http:\/\/10\.99\.0\.1:8080\/cloud-config\/token1 rackboot\.callback=http:\/\/10\.99\.0\.1:8080\/callback\/token1 \|\| goto failed$/m);
  assert.match(script, /^initrd http:\/\/10\.99\.0\.1:8080\/boot\/token1\/initrd\/0\/initrd\.img \|\| goto failed$/m);
  assert.equal(store.machineById(machine.id)?.state, 'ipxe');
  // a second boot gets a new token; the old one stops working
  const again = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(again.ok && again.value.includes('token2'));
  assert.equal(provisioner.cloudConfig('token1', '10.99.0.11').ok, false);
});

test('an unknown machine gets an explanatory script and shows up as discovered', () => {
  const { provisioner, store } = registered();
  const outcome = provisioner.machineScript({ mac: '52:54:00:99:00:77', clientIp: '10.99.0.50' });
  assert.ok(outcome.ok);
  assert.match(outcome.value, /no machine with MAC 52:54:00:99:00:77/);
  assert.match(outcome.value, /rackboot machines add --mac 52:54:00:99:00:77/);
  const events = store.listEvents({});
  assert.equal(events.at(-1)?.type, 'discovered');
  assert.equal(events.at(-1)?.mac, '52:54:00:99:00:77');
});

test('the machine walks its lifecycle: ipxe -> booting -> configured -> booted -> ready', () => {
  const { provisioner, store, machine } = registered();
  assert.ok(provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' }).ok);
  const kernel = provisioner.bootAsset('token1', 'kernel', 0);
  assert.ok(kernel.ok);
  assert.equal(kernel.value.path, 'test-os/vmlinuz');
  provisioner.assetServed(kernel.value, 'kernel', 1234);
  assert.equal(store.machineById(machine.id)?.state, 'booting');
  const config = provisioner.cloudConfig('token1', '10.99.0.11');
  assert.ok(config.ok);
  assert.match(config.value, /^#cloud-config\n/);
  assert.match(config.value, /^hostname: "blade-01"$/m);
  assert.match(config.value, /http:\/\/10\.99\.0\.1:8080\/callback\/token1/);
  assert.ok(provisioner.callback('token1', { event: 'booted' }, '10.99.0.11').ok);
  assert.ok(provisioner.callback('token1', { event: 'ready', message: 'up' }, '10.99.0.11').ok);
  assert.equal(store.machineById(machine.id)?.state, 'ready');
  assert.deepEqual(
    store.listEvents({ machineId: machine.id }).map((e) => e.type),
    ['registered', 'ipxe', 'booting', 'configured', 'booted', 'ready'],
  );
});

test('callbacks with a wrong token are refused and recorded; unknown event names are rejected', () => {
  const { provisioner, store } = registered();
  const refused = provisioner.callback('forged', { event: 'ready' }, '10.99.0.66');
  assert.deepEqual(refused, { ok: false, status: 403, message: 'unknown or expired boot token' });
  assert.equal(store.listEvents({}).at(-1)?.type, 'token-refused');
  assert.ok(provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' }).ok);
  const bad = provisioner.callback('token1', { event: 'pwned' }, '10.99.0.11');
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.status, 400);
});

test('a completed TFTP transfer to a machine IP marks its firmware loaded; failures do not', () => {
  const { provisioner, store, machine } = registered();
  provisioner.tftpTransferEnded({ path: 'undionly.kpxe', clientIp: '10.99.0.11', bytes: 70000, durationMs: 80, result: 'aborted' });
  assert.equal(store.machineById(machine.id)?.state, 'registered');
  provisioner.tftpTransferEnded({ path: 'undionly.kpxe', clientIp: '10.99.0.11', bytes: 70000, durationMs: 80, result: 'complete' });
  assert.equal(store.machineById(machine.id)?.state, 'firmware-loaded');
});

test('an iPXE value with a line break is never rendered into a script', () => {
  const { provisioner, store, machine } = (() => {
    const t = testProvisioner({ kernelArgs: ['a\nshell'] });
    const m = t.provisioner.registerMachine({ name: 'blade-02', macs: [MAC], ip: '10.99.0.12', role: null });
    return { ...t, machine: m };
  })();
  const outcome = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.12' });
  assert.equal(outcome.ok, false);
  assert.equal(store.machineById(machine.id)?.state, 'failed');
});

test('machines can be referred to by name, MAC or IP', () => {
  const { provisioner, machine } = registered();
  for (const ref of ['blade-01', MAC.toUpperCase(), '10.99.0.11']) assert.equal(provisioner.machineByRef(ref)?.id, machine.id, ref);
  assert.equal(provisioner.machineByRef('blade-99'), null);
});
