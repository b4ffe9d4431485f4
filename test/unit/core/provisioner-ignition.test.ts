/**
 * The Ignition path through the Provisioner: the format chosen per role (boot.configFormat) and per
 * machine, the kernel arguments, the one-time /ignition/<token>, the mirror checksum on the etcd
 * binary, and a config with any finding never served (RACKBOOT_ERR_RENDER, render-failed event).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpStatus } from '../../../server/errors.js';
import { checkIgnition } from '../../../server/core/ignition-check.js';
import { fileEntry, manifest, MemoryAssetIndex } from '../../helpers/install.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const ETCD = 'an etcd binary';
// the member's etcd and the etcdctl its ready unit's health check runs (docs/etcd.md)
const MIRROR = new MemoryAssetIndex([manifest('etcd', 'v3.5.17', { etcd: ETCD, etcdctl: 'an etcdctl binary' })]);
const SMALL = [
  { name: 's1', mac: '52:54:00:99:00:11', ip: '10.99.0.11' },
  { name: 's2', mac: '52:54:00:99:00:12', ip: '10.99.0.12' },
  { name: 's3', mac: '52:54:00:99:00:13', ip: '10.99.0.13' },
];

function smallCluster(options: { mirror?: boolean; roles?: Record<string, 'ignition' | 'cloud-config'> } = {}) {
  const t = testProvisioner(
    {
      cluster: { name: 'test', sshAuthorizedKeys: [], ntpServers: [], etcdBinary: 'etcd/v3.5.17/etcd' },
      configFormat: { default: 'cloud-config', roles: options.roles ?? { small: 'ignition' } },
    },
    options.mirror === false ? {} : { assets: MIRROR },
  );
  const machines = SMALL.map((m) => t.provisioner.registerMachine({ name: m.name, macs: [m.mac], ip: m.ip, role: 'small', bootMode: 'memory' }));
  return { ...t, machines };
}

function boot(t: ReturnType<typeof smallCluster>, index = 0): string {
  const m = SMALL[index]!;
  const script = t.provisioner.machineScript({ mac: m.mac, clientIp: m.ip });
  assert.ok(script.ok, script.ok ? '' : script.message);
  return script.value;
}

function kernelLine(script: string): string {
  return /^kernel .*$/m.exec(script)?.[0] ?? '';
}

test('a role set to ignition boots with flatcar.first_boot=1 ignition.config.url=<one-time URL>, no cloud-config-url, no autologin', () => {
  const t = smallCluster();
  const line = kernelLine(boot(t));
  assert.match(line, / flatcar\.first_boot=1 /);
  assert.equal(line.split(' ').filter((a) => a === 'flatcar.first_boot=1').length, 1);
  assert.match(line, / ignition\.config\.url=http:\/\/10\.99\.0\.1:8080\/ignition\/token2 /);
  assert.doesNotMatch(line, /cloud-config-url=|flatcar\.autologin/);
});

test('the Ignition config is served once, to the machine only, with the etcd binary verified by the mirror checksum', () => {
  const t = smallCluster();
  boot(t);
  const stranger = t.provisioner.ignitionConfig('token2', '10.99.0.66');
  assert.equal(!stranger.ok && stranger.code, 'RACKBOOT_ERR_TOKEN');
  const served = t.provisioner.ignitionConfig('token2', '10.99.0.11');
  assert.ok(served.ok, served.ok ? '' : served.message);
  assert.deepEqual(checkIgnition(served.value), []);
  const doc = JSON.parse(served.value) as { storage: { files: Array<{ path: string; contents: { source: string; verification?: { hash: string } } }> } };
  const etcd = doc.storage.files.find((f) => f.path === '/opt/bin/etcd');
  assert.equal(etcd?.contents.source, 'http://10.99.0.1:8080/assets/etcd/v3.5.17/etcd');
  assert.equal(etcd?.contents.verification?.hash, `sha512-${fileEntry(ETCD).sha512}`);
  const configured = t.store.listEvents({ machineId: t.machines[0]!.id }).at(-1);
  assert.equal(configured?.type, 'configured');
  assert.match(configured?.message ?? '', /^Ignition config small served$/);
  assert.equal(configured?.data?.format, 'ignition');
  const again = t.provisioner.ignitionConfig('token2', '10.99.0.11');
  assert.equal(!again.ok && httpStatus(again.code), 403);
});

test('the other format\'s URL is refused without burning the token', () => {
  const t = smallCluster();
  boot(t);
  const wrong = t.provisioner.cloudConfig('token2', '10.99.0.11');
  assert.equal(!wrong.ok && wrong.code, 'RACKBOOT_ERR_CONFLICT');
  assert.match(!wrong.ok ? wrong.message : '', /boots with Ignition/);
  assert.ok(t.provisioner.ignitionConfig('token2', '10.99.0.11').ok);
});

test('a config with a finding is never served: no mirror checksum for the etcd binary is RACKBOOT_ERR_RENDER and a render-failed event', () => {
  const t = smallCluster({ mirror: false });
  boot(t);
  const refused = t.provisioner.ignitionConfig('token2', '10.99.0.11');
  assert.equal(!refused.ok && refused.code, 'RACKBOOT_ERR_RENDER');
  const event = t.store.listEvents({ machineId: t.machines[0]!.id }).at(-1);
  assert.equal(event?.type, 'render-failed');
  assert.match(event?.message ?? '', /Ignition config not served: .*\/opt\/bin\/etcd: .* is not a file of an imported mirror version/);
  assert.equal(t.store.machineById(t.machines[0]!.id)?.configToken, 'token2', 'the token stays for a retry once the mirror is imported');
});

test('per machine: its own format wins over the role\'s; clearing it falls back to the role\'s', () => {
  const t = smallCluster();
  const m = t.machines[1]!;
  const own = t.provisioner.setConfigFormat(m, 'cloud-config');
  assert.equal(own.configFormat, 'cloud-config');
  assert.equal(t.provisioner.configFormat(own), 'cloud-config');
  assert.match(kernelLine(boot(t, 1)), /cloud-config-url=/);
  assert.equal(t.store.listEvents({ machineId: m.id }).find((e) => e.type === 'role-assigned')?.message, 'config format cloud-config, from the next PXE boot');
  const cleared = t.provisioner.setConfigFormat(own, null);
  assert.equal(cleared.configFormat, null);
  assert.equal(t.provisioner.configFormat(cleared), 'ignition');
  assert.match(kernelLine(boot(t, 1)), /ignition\.config\.url=/);
});

test('the default stays cloud-config; a machine can still choose ignition', () => {
  const t = smallCluster({ roles: {} });
  assert.match(kernelLine(boot(t)), /cloud-config-url=/);
  const m = t.provisioner.setConfigFormat(t.machines[2]!, 'ignition');
  assert.match(kernelLine(boot(t, 2)), /ignition\.config\.url=/);
  assert.equal(t.provisioner.preview(m).configFormat, 'ignition');
});

test('preview renders the Ignition config of an ignition machine without writing anything', () => {
  const t = smallCluster();
  const before = t.store.listEvents({}).length;
  const preview = t.provisioner.preview(t.machines[0]!);
  assert.equal(preview.configFormat, 'ignition');
  assert.ok(preview.cloudConfig.ok, preview.cloudConfig.ok ? '' : preview.cloudConfig.errors.join());
  assert.equal((JSON.parse(preview.cloudConfig.text) as { ignition: { version: string } }).ignition.version, '3.3.0');
  assert.equal(t.store.listEvents({}).length, before);
});

test('flatcar.autologin: only the menu\'s debug entry, even when the OS image lists it', () => {
  const t = testProvisioner({ os: { name: 'test-os', kernel: 'test-os/vmlinuz', initrds: ['test-os/initrd.img'], args: ['flatcar.autologin', 'console=ttyS0'] } });
  t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:99:00:01'], ip: '10.99.0.21', role: null, bootMode: 'memory' });
  const role = testProvisioner();
  role.provisioner.registerMachine({ name: 'blade-02', macs: ['52:54:00:99:00:02'], ip: '10.99.0.22', role: 'dev', bootMode: 'memory' });
  const plain = role.provisioner.machineScript({ mac: '52:54:00:99:00:02', clientIp: '10.99.0.22' });
  assert.ok(plain.ok);
  assert.doesNotMatch(plain.value, /autologin/);
  assert.ok(t.provisioner.machineScript({ mac: '52:54:00:99:00:01', clientIp: '10.99.0.21' }).ok);
  const dev = t.provisioner.menuChoice('token1', 'dev-memory', '10.99.0.21');
  assert.ok(dev.ok);
  assert.doesNotMatch(kernelLine(dev.value), /autologin/);
  const debug = t.provisioner.menuChoice('token1', 'debug', '10.99.0.21');
  assert.ok(debug.ok);
  assert.equal(kernelLine(debug.value).split(' ').filter((a) => a === 'flatcar.autologin').length, 1);
});
