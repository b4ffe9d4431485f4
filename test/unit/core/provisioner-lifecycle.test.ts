/**
 * The inventory's lifecycle through the Provisioner over in-memory SQLite: edit checked like add,
 * board replacement (RMA), delete, bulk actions by label selector, import (all or nothing) and the
 * audit log of who changed what.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeInventory } from '../../../server/core/inventory-file.js';
import type { Machine } from '../../../server/core/types.js';
import { testProvisioner } from '../../helpers/provisioner.js';

function rack(count = 3) {
  const t = testProvisioner();
  for (let i = 1; i <= count; i++) {
    t.provisioner.registerMachine({
      name: `blade-0${i}`,
      macs: [`52:54:00:00:00:0${i}`],
      ip: `10.99.0.1${i}`,
      role: i === 1 ? 'dev' : null,
      labels: { rack: i <= 2 ? 'r12' : 'r13' },
      bmcAddress: `10.1.0.1${i}`,
    }, 'cli:alice');
  }
  const m = (name: string) => t.provisioner.machineByRef(name) as Machine;
  return { ...t, p: t.provisioner, m };
}

test('edit: every operator field, an edited event with the changes, an audit entry with before and after', () => {
  const { p, m } = rack();
  const edited = p.editMachine(m('blade-02'), { name: 'blade-20', macs: ['52-54-00-00-00-20'], ip: '10.99.0.20', role: 'dev', bootMode: 'memory', uuid: '4C4C4544-0042-3510-8052-B4C04F4E3232', bmcAddress: null, labels: { rack: 'r14' } }, 'api:ops');
  assert.ok(edited.ok, edited.ok ? '' : edited.message);
  assert.deepEqual(
    { name: edited.value.name, macs: edited.value.macs, ip: edited.value.ip, role: edited.value.role, mode: edited.value.bootMode, uuid: edited.value.uuid, bmc: edited.value.bmcAddress, labels: edited.value.labels },
    { name: 'blade-20', macs: ['52:54:00:00:00:20'], ip: '10.99.0.20', role: 'dev', mode: 'memory', uuid: '4c4c4544-0042-3510-8052-b4c04f4e3232', bmc: null, labels: { rack: 'r14' } },
  );
  assert.equal(p.machineByRef('52:54:00:00:00:02'), null, 'the old MAC is free');
  const event = p.listEvents({ machineId: edited.value.id }).at(-1);
  assert.equal(event?.type, 'edited');
  assert.match(event?.message ?? '', /name blade-02 -> blade-20.*ip 10\.99\.0\.12 -> 10\.99\.0\.20/);
  const [audit] = p.listAudit({ limit: 1 });
  assert.equal(audit?.actor, 'api:ops');
  assert.equal(audit?.action, 'machine.edit');
  assert.equal(audit?.target, 'blade-02');
  assert.deepEqual(audit?.before?.ip, '10.99.0.12');
  assert.deepEqual(audit?.after?.ip, '10.99.0.20');
});

test('edit is checked like add: unique name, MAC, IP, UUID; IP inside a subnet; coded errors; nothing written on refusal', () => {
  const { p, m } = rack();
  const before = m('blade-02');
  const cases: Array<[Parameters<typeof p.editMachine>[1], string, RegExp]> = [
    [{ name: 'blade-01' }, 'RACKBOOT_ERR_CONFLICT', /name blade-01 is also machine blade-01/],
    [{ macs: ['52:54:00:00:00:01'] }, 'RACKBOOT_ERR_CONFLICT', /MAC 52:54:00:00:00:01 is also machine blade-01's/],
    [{ ip: '10.99.0.11' }, 'RACKBOOT_ERR_CONFLICT', /IP 10\.99\.0\.11 is also machine blade-01's/],
    [{ bmcAddress: '10.1.0.11' }, 'RACKBOOT_ERR_CONFLICT', /BMC address 10\.1\.0\.11/],
    [{ ip: '10.98.0.5' }, 'RACKBOOT_ERR_INVALID_INPUT', /in none of the configured subnets \(10\.99\.0\.0\/24\)/],
    [{ name: 'Blade_2' }, 'RACKBOOT_ERR_INVALID_INPUT', /name "Blade_2"/],
    [{ macs: [] }, 'RACKBOOT_ERR_INVALID_INPUT', /at least one MAC/],
    [{ labels: { Rack: 'x' } }, 'RACKBOOT_ERR_INVALID_INPUT', /label key "Rack"/],
    [{ role: 'nope' }, 'RACKBOOT_ERR_INVALID_INPUT', /role "nope"/],
  ];
  for (const [patch, code, message] of cases) {
    const outcome = p.editMachine(before, patch, 'cli:alice');
    assert.equal(outcome.ok, false, JSON.stringify(patch));
    assert.equal(outcome.ok ? '' : outcome.code, code, JSON.stringify(patch));
    assert.match(outcome.ok ? '' : outcome.message, message);
  }
  const uuid = p.editMachine(m('blade-01'), { uuid: '4c4c4544-0042-3510-8052-b4c04f4e3232' }, 'x');
  assert.ok(uuid.ok);
  const clash = p.editMachine(before, { uuid: '4c4c4544004235108052b4c04f4e3232' }, 'x');
  assert.equal(clash.ok ? '' : clash.code, 'RACKBOOT_ERR_CONFLICT');
  assert.deepEqual(m('blade-02'), before);
  assert.equal(p.listAudit({ limit: 100 }).filter((a) => a.action === 'machine.edit').length, 1);
});

test('replace (RMA): name, IP, role and labels stay; MACs, UUID, BMC are new; install state, tokens, leases reset; the timeline goes on', () => {
  const { p, m, store, db } = rack();
  const old = m('blade-01');
  store.setState(old.id, 'ready', 1);
  store.setBootToken(old.id, 'live-token');
  store.putLease({ mac: '52:54:00:00:00:01', ip: '10.99.0.11', machineId: old.id, expiresAt: Date.now() + 60_000, updatedAt: 1 });
  db.prepare("INSERT INTO bmcs (address, machine_id, first_seen, last_attempt) VALUES ('10.1.0.11', ?, 1, 1)").run(old.id);
  const eventsBefore = p.listEvents({ machineId: old.id }).length;

  const replaced = p.replaceBoard(old, { macs: ['52:54:00:00:00:99'], uuid: '4c4c4544-0042-3510-8052-b4c04f4e3299', bmcAddress: '10.1.0.99' }, 'cli:bob');
  assert.ok(replaced.ok, replaced.ok ? '' : replaced.message);
  const now = replaced.value;
  assert.deepEqual([now.id, now.name, now.ip, now.role, now.labels], [old.id, 'blade-01', '10.99.0.11', 'dev', { rack: 'r12' }]);
  assert.deepEqual([now.macs, now.uuid, now.bmcAddress], [['52:54:00:00:00:99'], '4c4c4544-0042-3510-8052-b4c04f4e3299', '10.1.0.99']);
  assert.equal(now.state, 'registered');
  assert.equal(now.bootToken, null);
  assert.equal(store.leaseByMac('52:54:00:00:00:01'), null);
  assert.equal((db.prepare("SELECT machine_id FROM bmcs WHERE address = '10.1.0.11'").get() as { machine_id: number | null }).machine_id, null);
  const events = p.listEvents({ machineId: old.id });
  assert.equal(events.length, eventsBefore + 1, 'the old timeline is kept');
  assert.equal(events.at(-1)?.type, 'board-replaced');
  assert.match(events.at(-1)?.message ?? '', /macs 52:54:00:00:00:01 -> 52:54:00:00:00:99.*name blade-01 and IP 10\.99\.0\.11 kept/);
  assert.equal(p.listAudit({ limit: 1 })[0]?.action, 'machine.replace');
  const taken = p.replaceBoard(m('blade-02'), { macs: ['52:54:00:00:00:99'] }, 'x');
  assert.equal(taken.ok ? '' : taken.code, 'RACKBOOT_ERR_CONFLICT');
});

test('delete: the name, IP and MACs are free again; the events stay, with a deleted event saying what it was', () => {
  const { p, m } = rack();
  const gone = m('blade-03');
  const deleted = p.deleteMachine(gone, 'cli:alice');
  assert.deepEqual(deleted, { ok: true, value: { name: 'blade-03' } });
  assert.equal(p.machineByRef('blade-03'), null);
  const last = p.listEvents({}).at(-1);
  assert.equal(last?.type, 'deleted');
  assert.equal(last?.machineId, null);
  assert.equal(last?.mac, '52:54:00:00:00:03');
  assert.ok(p.listEvents({}).some((e) => e.type === 'registered' && e.mac === '52:54:00:00:00:03'), 'the earlier events stay');
  assert.equal(p.deleteMachine(gone, 'x').ok ? '' : (p.deleteMachine(gone, 'x') as { code: string }).code, 'RACKBOOT_ERR_NOT_FOUND');
  assert.ok(p.registerMachine({ name: 'blade-03', macs: ['52:54:00:00:00:03'], ip: '10.99.0.13', role: null }));
  const [audit] = p.listAudit({ limit: 1 });
  assert.deepEqual([audit?.action, audit?.target, audit?.before?.ip, audit?.after], ['machine.delete', 'blade-03', '10.99.0.13', null]);
});

test('bulk by selector: a dry run lists, the action applies to every match in one go, bounded by the limit', () => {
  const { p, m } = rack();
  const dry = p.bulkAssignRole('rack=r12', 'small', 'install', 'cli:alice', { dryRun: true });
  assert.ok(dry.ok);
  assert.deepEqual([dry.value.applied, dry.value.machines.map((x) => x.name)], [false, ['blade-01', 'blade-02']]);
  assert.equal(m('blade-02').role, null, 'a dry run changes nothing');
  const done = p.bulkAssignRole('rack=r12,role!=dev', 'small', 'memory', 'cli:alice');
  assert.ok(done.ok);
  assert.deepEqual(done.value.machines.map((x) => [x.name, x.role, x.bootMode]), [['blade-02', 'small', 'memory']]);
  assert.equal(p.listAudit({ limit: 1 })[0]?.action, 'machine.assign');

  const tooMany = p.bulkReprovision('rack', 'x', { limit: 2 });
  assert.equal(tooMany.ok ? '' : tooMany.code, 'RACKBOOT_ERR_TOO_MANY');
  assert.match(tooMany.ok ? '' : tooMany.message, /matches 3 machines, more than the bulk limit/);
  const all = p.bulkReprovision('rack', 'x', { limit: 2, all: true });
  assert.ok(all.ok);
  assert.equal(all.value.machines.length, 3);
  assert.equal(p.selectMachines('rack=', {}).ok, false);
});

test('import: a dry run shows the diff and writes nothing; apply swaps addresses and adds machines in one transaction', () => {
  const { p, m } = rack();
  const csv = encodeInventory(p.listMachines(), 'csv')
    .replace('10.99.0.11', 'X')
    .replace('10.99.0.12', '10.99.0.11')
    .replace('X', '10.99.0.12')
    .concat('blade-04,52:54:00:00:00:04,10.99.0.14,dev,install,,,rack=r13\n');
  const dry = p.importInventory(csv, 'csv', { apply: false, actor: 'cli:alice' });
  assert.equal(dry.applied, false);
  assert.deepEqual(dry.errors, []);
  assert.deepEqual(dry.changes.map((c) => [c.line, c.action]), [[2, 'update'], [3, 'update'], [4, 'unchanged'], [5, 'add']]);
  assert.equal(m('blade-01').ip, '10.99.0.11');
  assert.equal(p.machineByRef('blade-04'), null);

  const applied = p.importInventory(csv, 'csv', { apply: true, actor: 'cli:alice' });
  assert.equal(applied.applied, true);
  assert.deepEqual([m('blade-01').ip, m('blade-02').ip, m('blade-04').labels], ['10.99.0.12', '10.99.0.11', { rack: 'r13' }]);
  assert.equal(p.listAudit({ limit: 1 })[0]?.action, 'inventory.import');
  // the export of the result reads back as no change at all
  const again = p.importInventory(encodeInventory(p.listMachines(), 'yaml'), 'yaml', { apply: false, actor: 'x' });
  assert.deepEqual(again.changes.map((c) => c.action), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
});

test('import: any invalid row and nothing is applied; every error has its line', () => {
  const { p, m } = rack();
  const csv = [
    'name,macs,ip,role,boot_mode,uuid,bmc_address,labels',
    'blade-01,52:54:00:00:00:01,10.99.0.21,,,,,',
    'blade-05,52:54:00:00:00:02,10.99.0.15,,,,,',
    'blade-06,52:54:00:00:00:06,10.98.0.16,,,,,',
    'blade-07,52:54:00:00:00:07,10.99.0.21,,,,,',
    'blade-08,nonsense,,,,,,',
  ].join('\n');
  const result = p.importInventory(csv, 'csv', { apply: true, actor: 'x' });
  assert.equal(result.applied, false);
  assert.deepEqual(result.errors.map((e) => e.line), [3, 4, 5, 6]);
  assert.match(result.errors[0]?.message ?? '', /MAC 52:54:00:00:00:02 is also machine blade-02's/);
  assert.match(result.errors[1]?.message ?? '', /10\.98\.0\.16 is in none of the configured subnets/);
  assert.match(result.errors[2]?.message ?? '', /IP 10\.99\.0\.21 is also line 2 \(blade-01\)'s/);
  assert.equal(m('blade-01').ip, '10.99.0.11', 'the valid row was not applied either');
  assert.equal(p.listMachines().length, 3);
});

test('audit: newest first, paged with beforeId', () => {
  const { p } = rack(3);
  const all = p.listAudit({ limit: 10 });
  assert.deepEqual(all.map((a) => a.target), ['blade-03', 'blade-02', 'blade-01']);
  assert.deepEqual(all.map((a) => a.actor), ['cli:alice', 'cli:alice', 'cli:alice']);
  const page = p.listAudit({ limit: 2, beforeId: all[0]?.id as number });
  assert.deepEqual(page.map((a) => a.target), ['blade-02', 'blade-01']);
});
