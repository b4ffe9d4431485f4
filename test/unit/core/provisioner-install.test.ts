/**
 * Install mode in the Provisioner: the install script only to the machine's own address, the
 * reprovision flag the script sees, idempotent installed/ready, installed machines boot their disk
 * through the DHCP and iPXE steps of the next boot, stuck states, and the Kubernetes CA.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { stateAfter } from '../../../server/core/lifecycle.js';
import { bootstrapToken, caCertHash, ensureKubernetesSecrets } from '../../../server/install/kube-pki.js';
import { installProvisioner, MemoryAssetIndex, sampleInstallSettings } from '../../helpers/install.js';
import { httpStatus } from '../../../server/errors.js';

function booted(name = 'd1') {
  const t = installProvisioner();
  const machine = t.store.machineByName(name)!;
  const script = t.provisioner.machineScript({ mac: machine.macs[0], clientIp: machine.ip! });
  assert.ok(script.ok);
  const token = t.store.machineByName(name)!.bootToken!;
  return { ...t, machine: t.store.machineByName(name)!, token };
}

test('the install script goes only to the machine, in install mode, with a valid token', () => {
  const { provisioner, store, machine, token } = booted();
  const stranger = provisioner.installScript(token, '10.99.0.200');
  assert.equal(!stranger.ok && httpStatus(stranger.code), 403);
  assert.equal(store.listEvents({ machineId: machine.id }).at(-1)?.type, 'token-refused');
  assert.equal(!provisioner.installScript('forged', machine.ip!).ok, true);
  const served = provisioner.installScript(token, machine.ip!);
  assert.ok(served.ok);
  assert.match(served.value, /^#!\/bin\/bash\n/);
  assert.match(served.value, /^ALLOW_WIPE=0$/m);
  assert.equal(store.machineById(machine.id)?.state, 'installing');
  assert.match(store.listEvents({ machineId: machine.id }).at(-1)?.message ?? '', /install script served: flatcar 4081\.2\.0/);
  store.setRole(machine.id, 'dev', 'memory');
  const memory = provisioner.installScript(token, machine.ip!);
  assert.equal(!memory.ok && httpStatus(memory.code), 409);
});

test('a version that is not imported is never served: render-failed with the reason', () => {
  const t = installProvisioner({ assets: new MemoryAssetIndex([]) });
  const machine = t.store.machineByName('d1')!;
  assert.ok(t.provisioner.machineScript({ mac: machine.macs[0], clientIp: machine.ip! }).ok);
  const outcome = t.provisioner.installScript(t.store.machineByName('d1')!.bootToken!, machine.ip!);
  assert.equal(!outcome.ok && httpStatus(outcome.code), 500);
  const event = t.store.listEvents({ machineId: machine.id }).at(-1);
  assert.equal(event?.type, 'render-failed');
  assert.match(event?.message ?? '', /flatcar\/4081\.2\.0 is not imported \(rackboot assets import/);
  const unset = installProvisioner({ settings: sampleInstallSettings({ os: {} }) });
  const r = unset.provisioner.renderInstallScript(unset.store.machineByName('d1')!, 't');
  assert.ok(!r.ok && /install\.os\.version is not set/.test(r.errors.join()));
});

test('reprovision lets the next install overwrite a used disk; installed takes that back', () => {
  const { provisioner, store, machine, token } = booted();
  const flag = () => {
    const r = provisioner.renderInstallScript(store.machineById(machine.id)!, 't');
    assert.ok(r.ok);
    return r.context.allowWipe;
  };
  assert.equal(flag(), false);
  provisioner.reprovision(store.machineById(machine.id)!);
  assert.equal(flag(), true);
  assert.equal(store.machineById(machine.id)?.state, 'registered');
  assert.ok(provisioner.machineScript({ mac: machine.macs[0], clientIp: machine.ip! }).ok);
  const newToken = store.machineById(machine.id)!.bootToken!;
  assert.notEqual(newToken, token, 'the old boot token died with the reprovision');
  assert.ok(provisioner.callback(newToken, { event: 'installed' }, machine.ip!).ok);
  assert.equal(flag(), false);
});

test('installed and ready are idempotent; installed machines boot their disk through the next boot\'s DHCP and iPXE', () => {
  const { provisioner, store, machine, token } = booted();
  assert.ok(provisioner.callback(token, { event: 'progress', message: 'step 1/7 time' }, machine.ip!).ok);
  const first = provisioner.callback(token, { event: 'installed', message: 'done' }, machine.ip!);
  const again = provisioner.callback(token, { event: 'installed', message: 'retried' }, machine.ip!);
  assert.ok(first.ok && again.ok);
  assert.equal(again.value.id, first.value.id);
  const types = () => store.listEvents({ machineId: machine.id }).map((e) => e.type);
  assert.equal(types().filter((t) => t === 'installed').length, 1);
  // the reboot: DHCP and the iPXE request keep the state, and the answer is the local disk
  provisioner.record(store.machineById(machine.id)!, 'dhcp', 'ACK');
  assert.equal(store.machineById(machine.id)?.state, 'installed');
  const script = provisioner.machineScript({ mac: machine.macs[0], clientIp: machine.ip! });
  assert.ok(script.ok && /boots from its local disk/.test(script.value));
  assert.equal(store.machineById(machine.id)?.bootToken, token, 'the installed system keeps its callback token');
  assert.ok(provisioner.callback(token, { event: 'ready' }, machine.ip!).ok);
  assert.ok(provisioner.callback(token, { event: 'ready' }, machine.ip!).ok);
  assert.equal(types().filter((t) => t === 'ready').length, 1);
  assert.equal(store.machineById(machine.id)?.state, 'ready');
  // memory-mode machines still walk the DHCP/iPXE states
  assert.equal(stateAfter('dhcp', 'ready', 'memory'), 'dhcp');
  assert.equal(stateAfter('dhcp', 'ready', 'install'), null);
  assert.equal(stateAfter('booting', 'installed', 'install'), 'booting');
});

test('a state with no progress past its timeout becomes stuck, once, with the reason; progress restarts the timer', () => {
  const { provisioner, store, machine, token, clock } = booted();
  assert.ok(provisioner.installScript(token, machine.ip!).ok);
  clock.t += 3000 * 1000;
  assert.deepEqual(provisioner.checkStuck(), []);
  assert.ok(provisioner.callback(token, { event: 'progress', message: 'step 4/7 os' }, machine.ip!).ok);
  clock.t += 3000 * 1000;
  assert.deepEqual(provisioner.checkStuck(), [], 'progress restarted the timer');
  clock.t += 700 * 1000;
  const stuck = provisioner.checkStuck();
  assert.equal(stuck.length, 1);
  assert.equal(stuck[0]?.message, 'no progress in state installing for 3700 s (install.stuck.timeouts.installing is 3600 s)');
  assert.equal(store.machineById(machine.id)?.state, 'stuck');
  assert.deepEqual(provisioner.checkStuck(), []);
  // registered machines have no timeout
  assert.equal(store.machineByName('s1')?.state, 'registered');
});

test('the Kubernetes CA: generated once, self-signed, a CA, and its SPKI hash pinned for kubeadm join', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-pki-'));
  try {
    const secrets = ensureKubernetesSecrets(dir, new Date('2025-01-01T00:00:00Z'));
    const cert = new X509Certificate(secrets.caCert);
    assert.equal(cert.subject, 'CN=kubernetes');
    assert.equal(cert.issuer, 'CN=kubernetes');
    assert.equal(cert.ca, true);
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.equal(cert.validFrom, 'Jan  1 00:00:00 2025 GMT');
    assert.equal(cert.validTo, 'Dec 30 00:00:00 2034 GMT');
    assert.ok(cert.checkPrivateKey(createPrivateKey(secrets.caKey)));
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    assert.equal(secrets.caCertHash, `sha256:${createHash('sha256').update(spki).digest('hex')}`);
    assert.equal(caCertHash(secrets.caCert), secrets.caCertHash);
    assert.match(secrets.token, /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
    assert.match(secrets.certificateKey, /^[0-9a-f]{64}$/);
    assert.equal(statSync(join(dir, 'kubernetes', 'ca.key')).mode & 0o777, 0o600);
    assert.deepEqual(ensureKubernetesSecrets(dir), secrets, 'kept, not regenerated');
    assert.notEqual(bootstrapToken(), bootstrapToken());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a machine sitting in dhcp, firmware-loaded or ipxe past the default timeout becomes stuck; a roleless machine at the menu does not', () => {
  const { provisioner, store, clock } = installProvisioner();
  const [dhcp, firmware, ipxe] = ['s1', 's2', 's3'].map((name) => store.machineByName(name)!);
  store.setState(dhcp!.id, 'dhcp', clock.t);
  store.setState(firmware!.id, 'firmware-loaded', clock.t);
  store.setState(ipxe!.id, 'ipxe', clock.t);
  const menu = provisioner.registerMachine({ name: 'menu-box', macs: ['52:54:00:99:0f:01'], ip: null, role: null });
  store.setState(menu.id, 'ipxe', clock.t);
  clock.t += 48 * 60 * 1000;
  const stuck = provisioner.checkStuck();
  assert.deepEqual(stuck.map((e) => e.message).sort(), [
    'no progress in state dhcp for 2880 s (install.stuck.timeouts.dhcp is 600 s)',
    'no progress in state firmware-loaded for 2880 s (install.stuck.timeouts.firmware-loaded is 600 s)',
    'no progress in state ipxe for 2880 s (install.stuck.timeouts.ipxe is 600 s)',
  ]);
  assert.equal(store.machineById(menu.id)?.state, 'ipxe', 'no role: it left through the menu (local disk), nothing to wait for');
});

test('a booted callback after configured moves the machine to booted (docs/boot-flow.md: "as named"), which has its own timeout', () => {
  const { provisioner, store, machine, token, clock } = booted();
  store.setState(machine.id, 'configured', clock.t);
  assert.ok(provisioner.callback(token, { event: 'booted' }, machine.ip!).ok);
  assert.equal(store.machineById(machine.id)?.state, 'booted');
  assert.equal(stateAfter('booted', 'configured', 'memory'), 'booted');
  clock.t += 1801 * 1000;
  assert.equal(provisioner.checkStuck()[0]?.message, 'no progress in state booted for 1801 s (install.stuck.timeouts.booted is 1800 s)');
});
