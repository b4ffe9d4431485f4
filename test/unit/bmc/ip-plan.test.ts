import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runIpPlan } from '../../../server/bmc/ip-plan.js';
import type { BmcObservation } from '../../../server/bmc/registry.js';
import type { BmcOffsetRule } from '../../../server/core/ip-policy.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const rule: BmcOffsetRule = { kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24', offset: 0 };

function observation(address: string, macs: string[], guid: string | null = null): BmcObservation {
  return {
    address,
    port: 623,
    username: 'admin',
    guid,
    bmcMac: null,
    bmcIp: address,
    lanChannel: 1,
    manufacturerId: 674,
    productId: 1,
    firmware: '1.00',
    ipmiVersion: '2.0',
    session: 'rmcp+ suite 17',
    hostMacs: macs.map((mac, i) => ({ mac, source: 'fru', label: `MAC${i}` })),
  };
}

function setup() {
  const t = testProvisioner();
  const stores = { bmcs: new BmcStore(t.db), inventory: t.provisioner };
  return { db: t.db, stores, bmcs: stores.bmcs, inventory: t.store };
}

describe('ip-plan against the inventory', () => {
  it('--plan changes nothing; --apply adds machines with their MACs, IPs and BMC links, with events', () => {
    const { stores, bmcs, inventory } = setup();
    bmcs.recordObservation(observation('10.1.0.12', ['52:54:00:99:00:12']), 1);
    bmcs.recordObservation(observation('10.1.0.11', ['52:54:00:99:00:11', '52:54:00:99:01:11'], '00112233-4455-6677-8899-aabbccddeeff'), 1);

    const planned = runIpPlan(stores, rule, { apply: false, now: 10 });
    assert.equal(planned.applied, false);
    assert.deepEqual(planned.plan.counts, { add: 2, update: 0, unchanged: 0, skip: 0, conflict: 0 });
    assert.equal(inventory.listMachines().length, 0);

    const applied = runIpPlan(stores, rule, { apply: true, now: 20 });
    assert.equal(applied.applied, true);
    const machine = inventory.machineByName('node-10-99-0-11');
    assert.deepEqual([machine?.ip, machine?.macs, machine?.uuid, machine?.bmcAddress, machine?.state], [
      '10.99.0.11',
      ['52:54:00:99:00:11', '52:54:00:99:01:11'],
      '00112233-4455-6677-8899-aabbccddeeff',
      '10.1.0.11',
      'registered',
    ]);
    assert.equal(bmcs.byAddress('10.1.0.11')?.machineId, machine?.id);
    assert.match(inventory.listEvents({ machineId: machine?.id as number })[0]?.message ?? '', /registered by ip-plan from BMC 10\.1\.0\.11/);

    const again = runIpPlan(stores, rule, { apply: true, now: 30 });
    assert.deepEqual(again.plan.counts, { add: 0, update: 0, unchanged: 2, skip: 0, conflict: 0 });
  });

  it('moves reserved IPs, including a swap between two machines, in one transaction', () => {
    const { stores, bmcs, inventory } = setup();
    const a = inventory.addMachine({ name: 'a', macs: ['52:54:00:99:00:11'], ip: '10.99.0.12', role: null }, 1);
    const b = inventory.addMachine({ name: 'b', macs: ['52:54:00:99:00:12'], ip: '10.99.0.11', role: null }, 1);
    bmcs.recordObservation(observation('10.1.0.11', ['52:54:00:99:00:11']), 1);
    bmcs.recordObservation(observation('10.1.0.12', ['52:54:00:99:00:12']), 1);
    const result = runIpPlan(stores, rule, { apply: true, now: 5 });
    assert.equal(result.applied, true);
    assert.equal(inventory.machineById(a.id)?.ip, '10.99.0.11');
    assert.equal(inventory.machineById(b.id)?.ip, '10.99.0.12');
    assert.equal(inventory.machineById(a.id)?.bmcAddress, '10.1.0.11');
    assert.ok(inventory.listEvents({ machineId: a.id }).some((e) => e.type === 'ip-plan' && /10\.99\.0\.12 -> 10\.99\.0\.11/.test(e.message)));
  });

  it('applies nothing at all when any change conflicts', () => {
    const { stores, bmcs, inventory } = setup();
    inventory.addMachine({ name: 'squatter', macs: ['aa:aa:aa:aa:aa:aa'], ip: '10.99.0.12', role: null }, 1);
    bmcs.recordObservation(observation('10.1.0.11', ['52:54:00:99:00:11']), 1);
    bmcs.recordObservation(observation('10.1.0.12', ['52:54:00:99:00:12']), 1);
    const result = runIpPlan(stores, rule, { apply: true, now: 5 });
    assert.equal(result.applied, false);
    assert.equal(result.plan.counts.conflict, 1);
    assert.equal(inventory.listMachines().length, 1, 'the good add was not applied either');
  });

  it('counts only BMCs that answered, and unexpired leases as reservations', () => {
    const { db, stores, bmcs, inventory } = setup();
    bmcs.recordFailure({ address: '10.1.0.13', port: 623, username: 'admin', kind: 'auth', message: 'wrong password' }, 1);
    bmcs.recordObservation(observation('10.1.0.11', ['52:54:00:99:00:11']), 1);
    inventory.putLease({ mac: 'dd:dd:dd:dd:dd:dd', ip: '10.99.0.11', machineId: null, expiresAt: 1000, updatedAt: 1 });
    assert.equal(runIpPlan(stores, rule, { apply: false, now: 500 }).plan.counts.conflict, 1);
    const later = runIpPlan(stores, rule, { apply: false, now: 2000 });
    assert.deepEqual(later.plan.counts, { add: 1, update: 0, unchanged: 0, skip: 0, conflict: 0 });
    db.close();
  });

  it('plans Redfish and IPMI records together: one rule, one plan, each machine once', () => {
    const { stores, bmcs, inventory } = setup();
    bmcs.recordObservation(observation('10.1.0.11', ['52:54:00:99:00:11']), 1);
    bmcs.recordObservation(
      {
        ...observation('10.1.0.12', [], '38947555-7742-3448-3784-823347823834'),
        manufacturerId: null,
        productId: null,
        lanChannel: null,
        ipmiVersion: '1.15.0',
        session: 'redfish https session',
        hostMacs: [
          { mac: '12:44:6a:3b:04:11', source: 'redfish', label: '12446A3B0411' },
          { mac: '12:44:6a:3b:88:90', source: 'redfish', label: '12446A3B8890' },
        ],
      },
      1,
    );
    assert.deepEqual([bmcs.byAddress('10.1.0.11')?.protocol, bmcs.byAddress('10.1.0.12')?.protocol], ['ipmi', 'redfish']);
    const applied = runIpPlan(stores, rule, { apply: true, now: 10 });
    assert.deepEqual(applied.plan.counts, { add: 2, update: 0, unchanged: 0, skip: 0, conflict: 0 });
    const redfish = inventory.machineByName('node-10-99-0-12');
    assert.deepEqual([redfish?.ip, redfish?.macs, redfish?.uuid, redfish?.bmcAddress], ['10.99.0.12', ['12:44:6a:3b:04:11', '12:44:6a:3b:88:90'], '38947555-7742-3448-3784-823347823834', '10.1.0.12']);
    assert.deepEqual(inventory.machineByName('node-10-99-0-11')?.macs, ['52:54:00:99:00:11']);

    // The same host seen again over the other protocol (a BMC switched from IPMI to Redfish) is the same machine.
    bmcs.recordObservation({ ...observation('10.1.0.11', []), session: 'redfish https session', hostMacs: [{ mac: '52:54:00:99:00:11', source: 'redfish', label: 'NIC.1' }] }, 20);
    const again = runIpPlan(stores, rule, { apply: true, now: 30 });
    assert.deepEqual(again.plan.counts, { add: 0, update: 0, unchanged: 2, skip: 0, conflict: 0 });
    assert.equal(inventory.listMachines().length, 2);
  });
});
