/**
 * Boot secrets are bound to the machine (docs/security/tokens.md): minted only for the machine's own
 * address, and every route that uses them checks it; refusals are recorded at most once a minute.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DhcpSettings } from '../../../server/core/dhcp-decision.js';
import { httpStatus } from '../../../server/errors.js';
import { TEST_DHCP, testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:99:00:01';
const OWN = '10.99.0.11';
const STRANGER = '10.99.0.66';
const DHCP: DhcpSettings = TEST_DHCP;

function booted(role: string | null = 'dev', bootMode: 'memory' | 'install' = 'memory') {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: OWN, role, bootMode });
  const script = t.provisioner.machineScript({ mac: MAC, clientIp: OWN });
  assert.ok(script.ok);
  return { ...t, machine, script: script.value };
}

const refusals = (t: ReturnType<typeof booted>) => t.store.listEvents({ machineId: t.machine.id }).filter((e) => e.type === 'token-refused');

test('/ipxe for a known MAC from another address: no secrets, the live tokens stay, one event a minute', () => {
  const t = booted();
  const live = t.store.machineById(t.machine.id)!;
  for (let i = 0; i < 50; i++) {
    const outcome = t.provisioner.machineScript({ mac: MAC, clientIp: STRANGER });
    assert.ok(outcome.ok);
    assert.doesNotMatch(outcome.value, /\/boot\/|cloud-config|callback|\/menu\/|token/, 'nothing that carries a token');
    assert.match(outcome.value, /not from the machine's own address/);
  }
  const after = t.store.machineById(t.machine.id)!;
  assert.equal(after.bootToken, live.bootToken, 'the boot token was not replaced');
  assert.equal(after.configToken, live.configToken, 'the config token was not replaced');
  assert.equal(after.state, live.state);
  assert.equal(refusals(t).length, 1, 'fifty refusals, one row');
  assert.match(refusals(t)[0]!.message, /iPXE script requested from 10\.99\.0\.66, not from blade-01's address 10\.99\.0\.11/);
  // the real machine still boots on the tokens it already holds
  assert.ok(t.provisioner.bootAsset(live.bootToken!, 'kernel', 0, OWN).ok);
  assert.ok(t.provisioner.cloudConfig(live.configToken!, OWN).ok);
  assert.ok(t.provisioner.callback(live.bootToken!, { event: 'ready' }, OWN).ok);
  t.clock.t += 60_000;
  assert.ok(t.provisioner.machineScript({ mac: MAC, clientIp: STRANGER }).ok);
  assert.equal(refusals(t).length, 2);
  assert.match(refusals(t)[1]!.message, /\(49 more refused since the last report\)/);
  assert.equal(refusals(t)[1]!.data?.suppressed, 49);
});

test('/ipxe by UUID from another address is refused the same way; an installed machine too', () => {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: OWN, role: 'dev', uuid: '4c4c4544-0042-3510-8051-b4c04f4e3232' });
  const byUuid = t.provisioner.machineScript({ uuid: '4c4c4544-0042-3510-8051-b4c04f4e3232', clientIp: STRANGER });
  assert.ok(byUuid.ok && !byUuid.value.includes('/boot/'));
  t.store.setState(machine.id, 'installed', t.clock.t);
  const installed = t.provisioner.machineScript({ mac: MAC, clientIp: STRANGER });
  assert.ok(installed.ok && !/sanboot/.test(installed.value));
  assert.equal(t.store.machineById(machine.id)?.state, 'installed', 'no ipxe event moved it');
  assert.equal(t.store.machineById(machine.id)?.bootToken, null, 'nothing minted');
});

test('a menu choice from another address is refused: the role stays, no script, 403', () => {
  const t = booted(null);
  const chosen = t.provisioner.menuChoice('token1', 'production-central-install', STRANGER);
  assert.deepEqual(chosen, { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'this token belongs to another machine' });
  assert.equal(!chosen.ok && httpStatus(chosen.code), 403);
  assert.equal(t.store.machineById(t.machine.id)?.role, null);
  assert.equal(t.store.machineById(t.machine.id)?.configToken, null, 'no config token minted');
  assert.ok(t.provisioner.menuChoice('token1', 'dev-memory', OWN).ok, 'the machine itself still chooses');
});

test('callbacks from another address are refused (403) whatever the event, and written at most once a minute', () => {
  const t = booted('dev', 'install');
  const before = t.store.listEvents({}).length;
  for (const event of ['installed', 'ready', 'failed', 'booted', 'installing', 'progress']) {
    for (let i = 0; i < 20; i++) {
      const outcome = t.provisioner.callback('token1', { event, message: 'forged' }, STRANGER);
      assert.deepEqual(outcome, { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'this token belongs to another machine' }, event);
    }
  }
  assert.equal(t.store.machineById(t.machine.id)?.state, 'ipxe', 'no forged state');
  assert.equal(t.store.listEvents({}).length, before + 1, '120 refused callbacks, one row');
  assert.ok(t.provisioner.callback('token1', { event: 'installing' }, OWN).ok);
  assert.equal(t.store.machineById(t.machine.id)?.state, 'installing');
});

test('kernel and initrd URLs are refused from another address; the install script too, with one row', () => {
  const t = booted('dev', 'install');
  const kernel = t.provisioner.bootAsset('token1', 'kernel', 0, STRANGER);
  assert.equal(!kernel.ok && kernel.code, 'RACKBOOT_ERR_TOKEN');
  assert.equal(t.provisioner.bootAsset('token1', 'initrd', 0, STRANGER).ok, false);
  for (let i = 0; i < 10; i++) assert.equal(t.provisioner.installScript('token1', STRANGER).ok, false);
  assert.equal(refusals(t).length, 1);
  assert.ok(t.provisioner.bootAsset('token1', 'kernel', 0, OWN).ok);
});

test('refusals are counted by route and reason for /metrics', () => {
  const t = booted();
  t.provisioner.callback('token1', { event: 'ready' }, STRANGER);
  t.provisioner.callback('token1', { event: 'ready' }, STRANGER);
  t.provisioner.machineScript({ mac: MAC, clientIp: STRANGER });
  t.provisioner.callback('forged', { event: 'ready' }, STRANGER);
  const totals = Object.fromEntries(t.provisioner.tokenRefusals().map((r) => [`${r.route} ${r.reason}`, r.count]));
  assert.deepEqual(totals, { 'callback wrong-address': 2, 'ipxe wrong-address': 1, 'callback unknown-token': 1 });
});

test('rackboot as the DHCP server: a machine without a reservation is its live lease; a stale or foreign lease is not', () => {
  const t = testProvisioner({ dhcp: DHCP });
  const machine = t.provisioner.registerMachine({ name: 'pool-01', macs: [MAC], ip: null, role: 'dev' });
  const minted = () => t.provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.150' });
  const refused = minted();
  assert.ok(refused.ok && !refused.value.includes('/boot/'));
  assert.equal(t.store.machineById(machine.id)?.bootToken, null, 'no lease: nothing minted');
  t.store.putLease({ mac: MAC, ip: '10.99.0.150', machineId: null, expiresAt: t.clock.t + 3_600_000, updatedAt: t.clock.t });
  const script = minted();
  assert.ok(script.ok && /\/boot\/token\d+\/kernel/.test(script.value), 'the leased address gets its script');
  const token = t.store.machineById(machine.id)!.bootToken!;
  assert.ok(t.provisioner.callback(token, { event: 'booted' }, '::ffff:10.99.0.150').ok);
  assert.equal(t.provisioner.callback(token, { event: 'ready' }, '10.99.0.151').ok, false);
  t.clock.t += 3_600_000;
  assert.equal(t.provisioner.callback(token, { event: 'ready' }, '10.99.0.150').ok, false, 'an expired lease no longer vouches');
});

test('proxy DHCP or no DHCP: only the reserved IP counts, whatever the lease table says', () => {
  for (const settings of [{ dhcp: { ...DHCP, mode: 'proxy' as const } }, {}]) {
    const t = testProvisioner(settings);
    const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: OWN, role: 'dev' });
    t.store.putLease({ mac: MAC, ip: '10.99.0.150', machineId: machine.id, expiresAt: t.clock.t + 3_600_000, updatedAt: t.clock.t });
    const fromLease = t.provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.150' });
    assert.ok(fromLease.ok && !fromLease.value.includes('/boot/'));
    const own = t.provisioner.machineScript({ mac: MAC, clientIp: OWN });
    assert.ok(own.ok && own.value.includes('/boot/'));
  }
});
