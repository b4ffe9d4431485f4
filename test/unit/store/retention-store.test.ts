import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openDatabase } from '../../../server/store/db.js';
import { RetentionStore } from '../../../server/store/retention-store.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = 1_700_000_000_000;

function seeded() {
  const db = openDatabase(':memory:');
  const store = new SqliteStore(db);
  const machine = store.addMachine({ name: 'blade-01', macs: ['52:54:00:00:00:01'], ip: null, role: null }, NOW - 400 * DAY);
  // 300 old machine-less events, 50 old events of blade-01, then 20 recent ones of each kind
  for (let i = 0; i < 300; i++) store.appendEvent({ machineId: null, mac: null, type: 'token-refused', message: `old ${i}` }, NOW - 200 * DAY + i);
  for (let i = 0; i < 50; i++) store.appendEvent({ machineId: machine.id, mac: null, type: 'ipxe', message: `old ${i}` }, NOW - 150 * DAY + i);
  for (let i = 0; i < 20; i++) {
    store.appendEvent({ machineId: null, mac: null, type: 'token-refused', message: `new ${i}` }, NOW - DAY + i);
    store.appendEvent({ machineId: machine.id, mac: null, type: 'ipxe', message: `new ${i}` }, NOW - DAY + i);
  }
  return { db, store, retention: new RetentionStore(db), machine };
}

function pruneAll(retention: RetentionStore, cutoff: number, keep: number, batch: number) {
  const keepFrom = new Map<number, number>();
  let cursor = 0;
  const deletedPerStep: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const step = retention.pruneEventsStep(cutoff, keep, cursor, batch, keepFrom);
    deletedPerStep.push(step.deleted);
    cursor = step.cursor;
    if (step.done) break;
  }
  return deletedPerStep;
}

test('events older than the cutoff go, in steps of at most `batch` rows', () => {
  const { store, retention } = seeded();
  const steps = pruneAll(retention, NOW - 90 * DAY, 0, 64);
  assert.ok(steps.length >= 6, `several steps: ${steps.join(',')}`);
  assert.ok(steps.every((n) => n <= 64));
  assert.equal(steps.reduce((a, b) => a + b, 0), 350);
  assert.equal(store.listEvents({}).length, 40, 'the 40 recent events remain');
});

test('a machine keeps its newest keepPerMachine events whatever their age', () => {
  const { store, retention, machine } = seeded();
  pruneAll(retention, NOW - 90 * DAY, 30, 100);
  const timeline = store.listEvents({ machineId: machine.id });
  assert.equal(timeline.length, 30, 'its 20 recent events and the 10 newest old ones');
  assert.deepEqual(timeline.slice(0, 10).map((e) => e.message), Array.from({ length: 10 }, (_, i) => `old ${40 + i}`));
  assert.equal(store.listEvents({}).filter((e) => e.machineId === null).length, 20, 'machine-less events get no such floor');
});

test('the scan stops at the first event newer than the cutoff (it never reads the whole table to find nothing)', () => {
  const { retention } = seeded();
  const step = retention.pruneEventsStep(NOW - 300 * DAY, 0, 0, 10, new Map());
  assert.deepEqual(step, { deleted: 0, cursor: 0, done: true });
});

test('discovered records: not seen for M days go, and at most K stay (the least recently seen go first)', () => {
  const { store, retention } = seeded();
  for (let i = 0; i < 100; i++) store.noteDiscovered(`52:54:00:01:00:${i.toString(16).padStart(2, '0')}`, {}, NOW - (i < 30 ? 40 : 1) * DAY + i);
  assert.equal(retention.pruneDiscoveredStep(NOW - 30 * DAY, 20), 20);
  assert.equal(retention.pruneDiscoveredStep(NOW - 30 * DAY, 20), 10);
  assert.equal(retention.pruneDiscoveredStep(NOW - 30 * DAY, 20), 0);
  assert.equal(store.listDiscovered().length, 70);
  assert.equal(retention.trimDiscoveredStep(50, 15), 15);
  assert.equal(retention.trimDiscoveredStep(50, 15), 5);
  assert.equal(retention.trimDiscoveredStep(50, 15), 0);
  const left = store.listDiscovered();
  assert.equal(left.length, 50);
  assert.equal(Math.min(...left.map((d) => d.lastSeen)), NOW - DAY + 50, 'the 20 least recently seen went');
});
