import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  hostAddressFor,
  parseIpRule,
  planIps,
  type BmcOffsetRule,
  type PlanBmc,
  type PlanChange,
  type PlanMachine,
  type SlotRule,
} from '../../../server/core/ip-policy.js';

const offsetRule: BmcOffsetRule = { kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24', offset: 0 };

const bmc = (address: string, macs: string[] = [`52:54:00:00:00:${address.split('.')[3]?.padStart(2, '0')}`], extra: Partial<PlanBmc> = {}): PlanBmc => ({
  address,
  guid: null,
  hostMacs: macs,
  machineId: null,
  ...extra,
});
const machine = (id: number, name: string, ip: string | null, macs: string[], extra: Partial<PlanMachine> = {}): PlanMachine => ({
  id,
  name,
  ip,
  macs,
  uuid: null,
  bmcAddress: null,
  ...extra,
});
const actions = (changes: readonly PlanChange[]) => changes.map((c) => `${c.action} ${c.bmc}`);

describe('IP rules', () => {
  it('bmc-offset: host base + BMC host part - offset', () => {
    assert.deepEqual(hostAddressFor(offsetRule, '10.1.0.11', 0), { ok: true, ip: '10.99.0.11' });
    assert.deepEqual(hostAddressFor({ ...offsetRule, offset: 10 }, '10.1.0.11', 0), { ok: true, ip: '10.99.0.1' });
    assert.deepEqual(hostAddressFor({ ...offsetRule, offset: -100 }, '10.1.0.11', 0), { ok: true, ip: '10.99.0.111' });
    assert.deepEqual(hostAddressFor(offsetRule, '10.2.0.11', 0), { ok: false, skip: 'outside the BMC subnet 10.1.0.0/24' });
  });

  it('refuses network, broadcast, out-of-subnet and out-of-range addresses', () => {
    assert.match((hostAddressFor({ ...offsetRule, offset: 11 }, '10.1.0.11', 0) as { conflict: string }).conflict, /network address/);
    assert.match((hostAddressFor(offsetRule, '10.1.0.255', 0) as { conflict: string }).conflict, /outside the BMC subnet|broadcast/);
    assert.match((hostAddressFor({ ...offsetRule, bmcSubnet: '10.1.0.0/23' }, '10.1.1.5', 0) as { conflict: string }).conflict, /outside the host subnet/);
    assert.match((hostAddressFor({ ...offsetRule, offset: -244 }, '10.1.0.11', 0) as { conflict: string }).conflict, /broadcast address/);
    assert.match((hostAddressFor({ ...offsetRule, first: '10.99.0.20' }, '10.1.0.11', 0) as { conflict: string }).conflict, /below the range start/);
    assert.match((hostAddressFor({ ...offsetRule, last: '10.99.0.10' }, '10.1.0.11', 0) as { conflict: string }).conflict, /above the range end/);
  });

  it('slot: base + slot * step, by address order or an explicit map', () => {
    const rule: SlotRule = { kind: 'slot', hostSubnet: '10.99.0.0/24', base: '10.99.0.100', step: 2 };
    assert.deepEqual(hostAddressFor(rule, '10.1.0.50', 3), { ok: true, ip: '10.99.0.106' });
    const mapped: SlotRule = { ...rule, slots: { '10.1.0.50': 0 } };
    assert.deepEqual(hostAddressFor(mapped, '10.1.0.50', 3), { ok: true, ip: '10.99.0.100' });
    assert.deepEqual(hostAddressFor(mapped, '10.1.0.51', 3), { ok: false, skip: 'not in the slot map' });
  });

  it('parses rules and reports every problem at once', () => {
    assert.deepEqual(parseIpRule({ kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24' }), {
      ok: true,
      rule: { offset: 0, kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24' },
    });
    const bad = parseIpRule({ kind: 'bmc-offset', hostSubnet: 'x', bmcSubnet: '10.1.0.0/33', offset: 1.5, colour: 'red' });
    assert.equal(bad.ok, false);
    assert.equal((bad as { errors: readonly string[] }).errors.length, 4);
    assert.deepEqual((parseIpRule({ kind: 'slot', hostSubnet: '10.99.0.0/24', base: '10.99.0.300', slots: { nope: -1 } }) as { errors: string[] }).errors, [
      'base: expected an IPv4 address, got "10.99.0.300"',
      'slots.nope: not an IPv4 address',
      'slots.nope: expected a slot number >= 0',
    ]);
    assert.equal(parseIpRule({ kind: 'round-robin' }).ok, false);
    assert.equal(parseIpRule(null).ok, false);
  });
});

describe('planIps: the diff ip-plan prints and applies', () => {
  it('adds machines for new BMCs with host MACs, in BMC address order', () => {
    const plan = planIps({ rule: offsetRule, bmcs: [bmc('10.1.0.12'), bmc('10.1.0.11', ['52:54:00:99:00:11'], { guid: 'a1b2c3d4-0000-0000-0000-000000000001' })], machines: [] });
    assert.equal(plan.applicable, true);
    assert.deepEqual(plan.changes[0], {
      action: 'add',
      bmc: '10.1.0.11',
      name: 'node-10-99-0-11',
      ip: '10.99.0.11',
      macs: ['52:54:00:99:00:11'],
      uuid: 'a1b2c3d4-0000-0000-0000-000000000001',
    });
    assert.deepEqual(actions(plan.changes), ['add 10.1.0.11', 'add 10.1.0.12']);
  });

  it('finds existing machines by link, BMC address, host MAC or GUID (either byte order)', () => {
    const machines = [
      machine(1, 'a', '10.99.0.11', ['52:54:00:00:00:11'], { bmcAddress: '10.1.0.11' }),
      machine(2, 'b', '10.99.0.50', ['52:54:00:00:00:12']),
      machine(3, 'c', null, ['aa:aa:aa:aa:aa:aa'], { uuid: '33221100-5544-7766-8899-aabbccddeeff' }),
      machine(4, 'd', '10.99.0.14', ['bb:bb:bb:bb:bb:bb']),
    ];
    const plan = planIps({
      rule: offsetRule,
      bmcs: [
        bmc('10.1.0.11', undefined, { machineId: 1 }),
        bmc('10.1.0.12'),
        bmc('10.1.0.13', [], { guid: '00112233-4455-6677-8899-aabbccddeeff' }),
        bmc('10.1.0.14', [], { machineId: 4 }),
      ],
      machines,
    });
    assert.deepEqual(plan.changes, [
      { action: 'unchanged', bmc: '10.1.0.11', machineId: 1, name: 'a', ip: '10.99.0.11' },
      { action: 'update', bmc: '10.1.0.12', machineId: 2, name: 'b', ipFrom: '10.99.0.50', ipTo: '10.99.0.12', link: true },
      { action: 'update', bmc: '10.1.0.13', machineId: 3, name: 'c', ipFrom: null, ipTo: '10.99.0.13', link: true },
      { action: 'update', bmc: '10.1.0.14', machineId: 4, name: 'd', ipFrom: '10.99.0.14', ipTo: '10.99.0.14', link: true },
    ]);
    assert.deepEqual(plan.counts, { add: 0, update: 3, unchanged: 1, skip: 0, conflict: 0 });
  });

  it('allows two planned machines to swap addresses', () => {
    const plan = planIps({
      rule: offsetRule,
      bmcs: [bmc('10.1.0.11', ['52:54:00:00:00:01']), bmc('10.1.0.12', ['52:54:00:00:00:02'])],
      machines: [machine(1, 'a', '10.99.0.12', ['52:54:00:00:00:01']), machine(2, 'b', '10.99.0.11', ['52:54:00:00:00:02'])],
    });
    assert.equal(plan.applicable, true);
    assert.deepEqual(actions(plan.changes), ['update 10.1.0.11', 'update 10.1.0.12']);
  });

  it('reports conflicts: an IP held by a machine outside the plan, a lease, two BMCs on one machine, a taken name', () => {
    const held = planIps({ rule: offsetRule, bmcs: [bmc('10.1.0.11')], machines: [machine(9, 'other', '10.99.0.11', ['cc:cc:cc:cc:cc:cc'])] });
    assert.equal(held.applicable, false);
    assert.deepEqual((held.changes[0] as { reasons: readonly string[] }).reasons, ['10.99.0.11 is reserved for machine other']);

    const leased = planIps({ rule: offsetRule, bmcs: [bmc('10.1.0.11')], machines: [], reservations: [{ ip: '10.99.0.11', mac: 'dd:dd:dd:dd:dd:dd', machineId: null }] });
    assert.deepEqual((leased.changes[0] as { reasons: readonly string[] }).reasons, ['10.99.0.11 is leased to dd:dd:dd:dd:dd:dd']);
    const ownLease = planIps({ rule: offsetRule, bmcs: [bmc('10.1.0.11')], machines: [], reservations: [{ ip: '10.99.0.11', mac: '52:54:00:00:00:11', machineId: null }] });
    assert.equal(ownLease.applicable, true, "the machine's own earlier lease is no conflict");

    const shared = planIps({
      rule: offsetRule,
      bmcs: [bmc('10.1.0.11', ['52:54:00:00:00:01']), bmc('10.1.0.12', ['52:54:00:00:00:01'])],
      machines: [machine(1, 'a', null, ['52:54:00:00:00:01'])],
    });
    assert.deepEqual(actions(shared.changes), ['conflict 10.1.0.11', 'conflict 10.1.0.12']);

    const named = planIps({ rule: offsetRule, bmcs: [bmc('10.1.0.11')], machines: [machine(5, 'node-10-99-0-11', null, ['ee:ee:ee:ee:ee:ee'])] });
    assert.match((named.changes[0] as { reasons: readonly string[] }).reasons[0] ?? '', /name node-10-99-0-11 is taken/);
  });

  it('reports two BMCs mapped to one address (slot map) and ambiguous matches', () => {
    const rule: SlotRule = { kind: 'slot', hostSubnet: '10.99.0.0/24', base: '10.99.0.100', slots: { '10.1.0.11': 1, '10.1.0.12': 1 } };
    const plan = planIps({ rule, bmcs: [bmc('10.1.0.11'), bmc('10.1.0.12')], machines: [] });
    assert.deepEqual((plan.changes[0] as { reasons: readonly string[] }).reasons, ['10.99.0.101 is also planned for BMC 10.1.0.12']);

    const ambiguous = planIps({
      rule: offsetRule,
      bmcs: [bmc('10.1.0.11', ['52:54:00:00:00:01'], { guid: '00112233-4455-6677-8899-aabbccddeeff' })],
      machines: [machine(1, 'a', null, ['52:54:00:00:00:01']), machine(2, 'b', null, ['ff:ff:ff:00:00:01'], { uuid: '00112233-4455-6677-8899-aabbccddeeff' })],
    });
    assert.match((ambiguous.changes[0] as { reasons: readonly string[] }).reasons[0] ?? '', /matches several machines: a \(MAC 52:54:00:00:00:01\); b \(GUID\)/);
  });

  it('skips BMCs outside the rule or without any host MAC', () => {
    const plan = planIps({ rule: offsetRule, bmcs: [bmc('10.2.0.5'), bmc('10.1.0.20', [])], machines: [] });
    assert.deepEqual(
      plan.changes.map((c) => (c.action === 'skip' ? c.reason : c.action)),
      ['no host MAC known (none in the FRU or OEM data): add the machine by hand with `machines add`', 'outside the BMC subnet 10.1.0.0/24'],
    );
    assert.equal(plan.applicable, true);
  });
});
