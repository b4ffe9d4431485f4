/** The pure plan behind edit, RMA and import: the inventory after the change, checked as a whole. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowOf } from '../../../server/core/inventory-file.js';
import { describeChanges, desiredFromImport, diffRows, planInventory } from '../../../server/core/inventory-plan.js';
import type { Machine } from '../../../server/core/types.js';

function machine(id: number, over: Partial<Machine> = {}): Machine {
  return {
    id,
    name: `m-${id}`,
    uuid: null,
    bmcAddress: null,
    ip: `10.0.0.${id}`,
    role: null,
    bootMode: 'install',
    state: 'ready',
    stateChangedAt: 0,
    macs: [`52:54:00:00:00:0${id}`],
    bootToken: null,
    configToken: null,
    ipxeChainedAt: null,
    createdAt: 0,
    labels: {},
    ...over,
  };
}

const INVENTORY = [machine(1), machine(2), machine(3, { uuid: '00000000-0000-0000-0000-000000000003' })];
const SUBNETS = ['10.0.0.0/24'];

test('two machines can swap addresses and MACs in one plan', () => {
  const [a, b] = INVENTORY as [Machine, Machine];
  const plan = planInventory(INVENTORY, [
    { id: a.id, line: 2, row: { ...rowOf(a), ip: b.ip, macs: b.macs } },
    { id: b.id, line: 3, row: { ...rowOf(b), ip: a.ip, macs: a.macs } },
  ], SUBNETS);
  assert.deepEqual(plan.errors, []);
  assert.deepEqual(plan.changes.map((c) => (c.action === 'update' ? c.changes.map((x) => x.field) : c.action)), [['macs', 'ip'], ['macs', 'ip']]);
});

test('a clash names the other machine (untouched) or the other line, and is a conflict', () => {
  const [a] = INVENTORY as [Machine];
  const plan = planInventory(INVENTORY, [
    { id: a.id, line: 2, row: { ...rowOf(a), uuid: '00000000-0000-0000-0000-000000000003' } },
    { id: null, line: 3, row: { ...rowOf(machine(9)), ip: '10.0.0.50' } },
    { id: null, line: 4, row: { ...rowOf(machine(8)), ip: '10.0.0.50' } },
  ], SUBNETS);
  assert.deepEqual(plan.errors, [
    { line: 2, conflict: true, message: "UUID 00000000-0000-0000-0000-000000000003 is also machine m-3's" },
    { line: 4, conflict: true, message: "IP 10.0.0.50 is also line 3 (m-9)'s" },
  ]);
});

test('a new IP outside every subnet is refused; one that stays is not re-checked; no subnets, no check', () => {
  const outside = machine(7, { ip: '192.168.0.7' });
  const inventory = [...INVENTORY, outside];
  const kept = planInventory(inventory, [{ id: 7, line: 0, row: { ...rowOf(outside), role: 'dev' } }], SUBNETS);
  assert.deepEqual(kept.errors, []);
  const moved = planInventory(inventory, [{ id: 1, line: 0, row: { ...rowOf(INVENTORY[0] as Machine), ip: '192.168.0.1' } }], SUBNETS);
  assert.match(moved.errors[0]?.message ?? '', /192\.168\.0\.1 is in none of the configured subnets \(10\.0\.0\.0\/24\)/);
  assert.equal(moved.errors[0]?.conflict, undefined);
  assert.deepEqual(planInventory(inventory, [{ id: 1, line: 0, row: { ...rowOf(INVENTORY[0] as Machine), ip: '192.168.0.1' } }], []).errors, []);
});

test('import rows match by name; the same machine twice is an error; unchanged rows say so', () => {
  const rows = [
    { line: 2, row: rowOf(INVENTORY[0] as Machine) },
    { line: 3, row: { ...rowOf(INVENTORY[0] as Machine), role: 'dev' } },
    { line: 4, row: rowOf(machine(5)) },
  ];
  const desired = desiredFromImport(INVENTORY, rows);
  assert.deepEqual(desired.map((d) => d.id), [1, 1, null]);
  const plan = planInventory(INVENTORY, desired, SUBNETS);
  assert.ok(plan.errors.some((e) => e.line === 3 && /changed twice/.test(e.message)));
  assert.deepEqual(plan.changes.map((c) => c.action), ['unchanged', 'update', 'add']);
});

test('diffs and their one-line description', () => {
  const a = rowOf(machine(1));
  const changes = diffRows(a, { ...a, ip: null, macs: ['52:54:00:00:00:09', '52:54:00:00:00:0a'], labels: { rack: 'r1' } });
  assert.equal(describeChanges(changes), 'macs 52:54:00:00:00:01 -> 52:54:00:00:00:09 52:54:00:00:00:0a, ip 10.0.0.1 -> (none), labels (none) -> rack=r1');
});
