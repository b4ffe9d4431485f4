import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testProvisioner } from '../../helpers/provisioner.js';
import { httpStatus } from '../../../server/errors.js';

const MAC = '52:54:00:99:00:01';

function registered(role: string | null = 'dev', bootMode: 'memory' | 'install' = 'memory') {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role, bootMode });
  return { ...t, machine };
}

function tokensOf(script: string) {
  const boot = /\/boot\/([^/]+)\/kernel\//.exec(script)?.[1];
  const config = /cloud-config-url=\S+\/cloud-config\/(\S+)/.exec(script)?.[1];
  assert.ok(boot && config, script);
  return { boot, config };
}

test('registering records an event and the machine starts as registered', () => {
  const { store, machine } = registered();
  assert.equal(machine.state, 'registered');
  assert.deepEqual(store.listEvents({ machineId: machine.id }).map((e) => e.type), ['registered']);
});

test('the per-machine script mints tokens and carries kernel, initrds and the callback URLs', () => {
  const { provisioner, store, machine } = registered();
  const outcome = provisioner.machineScript({ mac: '52-54-00-99-00-01', clientIp: '10.99.0.11' });
  assert.ok(outcome.ok);
  const script = outcome.value;
  assert.match(script, /^#!ipxe\n/);
  assert.match(script, /^kernel http:\/\/10\.99\.0\.1:8080\/boot\/token1\/kernel\/vmlinuz initrd=initrd\.img console=ttyS0 quiet BOOTIF=01-52-54-00-99-00-01 cloud-config-url=http:\/\/10\.99\.0\.1:8080\/cloud-config\/token2 rackboot\.callback=http:\/\/10\.99\.0\.1:8080\/callback\/token1 \|\| goto failed$/m);
  assert.match(script, /^initrd http:\/\/10\.99\.0\.1:8080\/boot\/token1\/initrd\/0\/initrd\.img \|\| goto failed$/m);
  assert.equal(store.machineById(machine.id)?.state, 'ipxe');
  // a second boot gets new tokens; the old ones stop working
  const again = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(again.ok && again.value.includes('/boot/token3/'));
  assert.equal(provisioner.cloudConfig('token2', '10.99.0.11').ok, false);
  assert.equal(provisioner.callback('token1', { event: 'ready' }, '10.99.0.11').ok, false);
});

test('the cloud-config token is one-time and only the machine itself may use it', () => {
  const { provisioner, store, machine } = registered();
  const script = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(script.ok);
  const { config } = tokensOf(script.value);
  const stranger = provisioner.cloudConfig(config, '10.99.0.66');
  assert.deepEqual(stranger, { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'this token belongs to another machine' });
  assert.match(store.listEvents({ machineId: machine.id }).at(-1)?.message ?? '', /from 10\.99\.0\.66, not from blade-01/);
  assert.ok(provisioner.cloudConfig(config, '10.99.0.11').ok, 'the stranger did not burn the token');
  const reused = provisioner.cloudConfig(config, '10.99.0.11');
  assert.equal(reused.ok, false);
  assert.equal(!reused.ok && httpStatus(reused.code), 403);
  assert.equal(store.listEvents({}).at(-1)?.type, 'token-refused');
});

test('a machine without a role gets the boot menu; its choice is remembered and boots the role', () => {
  const { provisioner, store, machine } = registered(null);
  const menu = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(menu.ok);
  assert.match(menu.value, /^menu /m);
  assert.match(menu.value, /^item small-memory Small cluster node - in memory$/m);
  assert.match(menu.value, /^item --gap -- Production/m);
  assert.match(menu.value, /^choose --default local --timeout 5000 choice \|\| goto failed$/m);
  const choiceUrl = /^chain --autofree (\S+)\/\$\{choice\}/m.exec(menu.value)?.[1];
  assert.equal(choiceUrl, 'http://10.99.0.1:8080/menu/token1');

  const chosen = provisioner.menuChoice('token1', 'dev-memory', '10.99.0.11');
  assert.ok(chosen.ok);
  assert.match(chosen.value, /^kernel /m);
  const after = store.machineById(machine.id)!;
  assert.equal(after.role, 'dev');
  assert.equal(after.bootMode, 'memory');
  assert.deepEqual(store.listEvents({ machineId: machine.id }).slice(-2).map((e) => e.type), ['menu-choice', 'ipxe']);
  // next boot: straight to the role, no menu
  const next = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(next.ok && /^kernel /m.test(next.value));
});

test('menu: local disk and debug are one-shot; an unknown entry is a 404', () => {
  const { provisioner, store, machine } = registered(null);
  assert.ok(provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' }).ok);
  const local = provisioner.menuChoice('token1', 'local', '10.99.0.11');
  assert.ok(local.ok && /sanboot --no-describe --drive 0x80/.test(local.value));
  const debug = provisioner.menuChoice('token1', 'debug', '10.99.0.11');
  assert.ok(debug.ok && /flatcar\.autologin/.test(debug.value));
  assert.equal(store.machineById(machine.id)?.role, null);
  const bad = provisioner.menuChoice('token1', 'nope', '10.99.0.11');
  assert.equal(!bad.ok && httpStatus(bad.code), 404);
  assert.equal(provisioner.menuChoice('forged', 'dev', '10.99.0.11').ok, false);
});

test('assign sets and clears a role; installed machines boot their disk until reprovisioned', () => {
  const { provisioner, store, machine } = registered(null);
  const assigned = provisioner.assignRole(machine, 'small', 'install');
  assert.equal(assigned.role, 'small');
  assert.equal(store.listEvents({ machineId: machine.id }).at(-1)?.type, 'role-assigned');
  store.setState(machine.id, 'installed', 5);
  const script = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(script.ok && /boots from its local disk/.test(script.value));
  const cleared = provisioner.assignRole(store.machineById(machine.id)!, null, 'install');
  assert.equal(cleared.role, null);
});

test('preview renders the script and cloud-config without writing anything', () => {
  const { provisioner, store, machine } = registered();
  const before = store.listEvents({}).length;
  const preview = provisioner.preview(store.machineById(machine.id)!);
  assert.equal(preview.plan, 'dev in memory');
  assert.ok(preview.script.ok && preview.script.value.includes('PREVIEW-TOKEN'));
  assert.ok(preview.cloudConfig.ok, preview.cloudConfig.ok ? '' : preview.cloudConfig.errors.join());
  assert.equal(store.listEvents({}).length, before);
  assert.equal(store.machineById(machine.id)?.bootToken, null);
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

test('an unknown machine that only asks /ipxe?mac= (the site keeps its own DHCP) is listed in Discovered', () => {
  const { provisioner } = registered();
  for (const clientIp of ['10.99.0.50', '10.99.0.51']) {
    provisioner.machineScript({ mac: '52-54-00-99-00-78', uuid: '12345678-1234-5678-9ABC-DEF012345678', clientIp });
  }
  const [found, ...others] = provisioner.listDiscovered();
  assert.equal(others.length, 0);
  assert.equal(found?.mac, '52:54:00:99:00:78');
  assert.equal(found?.sightings, 2);
  assert.deepEqual(found?.facts, { source: 'ipxe', uuid: '12345678-1234-5678-9abc-def012345678', clientIp: '10.99.0.51' });
  provisioner.machineScript({ clientIp: '10.99.0.52' });
  assert.equal(provisioner.listDiscovered().length, 1, 'without a MAC there is nothing to list');
});

test('the machine walks its lifecycle: ipxe -> booting -> configured -> booted -> ready', () => {
  const { provisioner, store, machine } = registered();
  const script = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' });
  assert.ok(script.ok);
  const kernel = provisioner.bootAsset('token1', 'kernel', 0, '10.99.0.11');
  assert.ok(kernel.ok);
  assert.equal(kernel.value.path, 'test-os/vmlinuz');
  provisioner.assetServed(kernel.value, 'kernel', 1234);
  assert.equal(store.machineById(machine.id)?.state, 'booting');
  const config = provisioner.cloudConfig(tokensOf(script.value).config, '10.99.0.11');
  assert.ok(config.ok, config.ok ? '' : config.message);
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
  assert.deepEqual(refused, { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'unknown or expired boot token' });
  assert.equal(store.listEvents({}).at(-1)?.type, 'token-refused');
  assert.ok(provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.11' }).ok);
  const bad = provisioner.callback('token1', { event: 'pwned' }, '10.99.0.11');
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && httpStatus(bad.code), 400);
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
    const m = t.provisioner.registerMachine({ name: 'blade-02', macs: [MAC], ip: '10.99.0.12', role: 'dev' });
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
