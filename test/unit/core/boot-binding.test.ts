import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMachineSource, RefusalLog, sourceAddress, type BindingFacts } from '../../../server/core/boot-binding.js';
import type { Lease } from '../../../server/core/ports.js';
import type { Machine } from '../../../server/core/types.js';

const NOW = 1_700_000_000_000;
const machine = { id: 7, name: 'blade-07', macs: ['52:54:00:99:00:07', '52:54:00:99:01:07'], ip: '10.99.0.17' } as unknown as Machine;
const unreserved = { ...machine, ip: null } as Machine;
const lease = (over: Partial<Lease> = {}): Lease => ({ mac: '52:54:00:99:01:07', ip: '10.99.0.150', machineId: null, expiresAt: NOW + 60_000, updatedAt: NOW, ...over });
const facts = (over: Partial<BindingFacts>): BindingFacts => ({ machine, source: '10.99.0.17', leaseAtSource: null, ownsAddressing: false, now: NOW, ...over });

test('the reserved IP is the machine, in every DHCP mode; IPv4-mapped IPv6 reads as IPv4', () => {
  assert.equal(isMachineSource(facts({})), true);
  assert.equal(isMachineSource(facts({ ownsAddressing: true })), true);
  assert.equal(isMachineSource(facts({ source: sourceAddress('::ffff:10.99.0.17') })), true);
  assert.equal(isMachineSource(facts({ source: '10.99.0.18' })), false);
  assert.equal(isMachineSource(facts({ source: '::1' })), false);
  assert.equal(isMachineSource(facts({ machine: unreserved, source: '' })), false, 'no reservation matches nothing');
});

test('a lease counts only when rackboot owns addressing, it is live and it is one of the machine\'s MACs', () => {
  const at = { machine: unreserved, source: '10.99.0.150' };
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease(), ownsAddressing: true })), true, 'by MAC');
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease({ mac: '52:54:00:00:00:01', machineId: 7 }), ownsAddressing: true })), true, 'by machine id');
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease(), ownsAddressing: false })), false, 'proxy mode / no DHCP: leases are not ours');
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease({ expiresAt: NOW }), ownsAddressing: true })), false, 'expired');
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease({ mac: '52:54:00:00:00:01' }), ownsAddressing: true })), false, 'another MAC\'s lease');
  assert.equal(isMachineSource(facts({ ...at, leaseAtSource: lease({ ip: '10.99.0.151' }), ownsAddressing: true })), false, 'a lease of another address');
});

test('refusals: one report per key per interval, the count in between rides on the next report', () => {
  const log = new RefusalLog(60_000);
  assert.deepEqual(log.refuse('m1', 'callback', 'wrong-address', NOW), { report: true, suppressed: 0 });
  for (let i = 1; i <= 99; i++) assert.equal(log.refuse('m1', 'callback', 'wrong-address', NOW + i).report, false);
  assert.equal(log.refuse('m2', 'ipxe', 'wrong-address', NOW + 100).report, true, 'keys are independent');
  assert.deepEqual(log.refuse('m1', 'menu', 'wrong-address', NOW + 60_000), { report: true, suppressed: 99 });
  assert.deepEqual(log.refuse('m1', 'menu', 'wrong-address', NOW + 60_001), { report: false, suppressed: 1 });
  assert.deepEqual(
    log.totals().sort((a, b) => a.route.localeCompare(b.route)),
    [
      { route: 'callback', reason: 'wrong-address', count: 100 },
      { route: 'ipxe', reason: 'wrong-address', count: 1 },
      { route: 'menu', reason: 'wrong-address', count: 2 },
    ],
  );
});

test('refusals: the report table stays bounded under many keys', () => {
  const log = new RefusalLog(60_000);
  for (let i = 0; i < 25_000; i++) log.refuse(`k${i}`, 'callback', 'unknown-token', NOW);
  assert.equal(log.refuse('k24999', 'callback', 'unknown-token', NOW + 1).report, false, 'recent keys are kept');
  assert.equal(log.totals()[0]?.count, 25_001);
});
