import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MachinelessEvents, machinelessSource } from '../../../server/core/machineless-events.js';

const T0 = 1_700_000_000_000;

test('events from one source are one row, then counts: 4,000 requests make one summary', () => {
  const m = new MachinelessEvents({ maxKeys: 100, immediatePerInterval: 10 }, T0);
  const outcomes = Array.from({ length: 4000 }, () => m.admit('token-refused', '10.0.0.66'));
  assert.equal(outcomes.filter((o) => o === 'write').length, 1, 'only the first of a source is written');
  const summaries = m.drain(T0 + 60_000);
  assert.equal(summaries.length, 1);
  const [summary] = summaries;
  assert.equal(summary?.type, 'token-refused');
  assert.equal(summary?.data.total, 3999);
  assert.deepEqual(summary?.data.sources, { '10.0.0.66': 3999 });
  assert.equal(summary?.data.intervalSeconds, 60);
  assert.match(summary?.message ?? '', /^3999 token-refused event\(s\) from unknown sources in the last 60 s/);
  assert.deepEqual(m.drain(T0 + 120_000), [], 'a quiet interval writes nothing');
});

test('the first sighting of a new source is written while the interval budget lasts, then counted', () => {
  const m = new MachinelessEvents({ maxKeys: 100, immediatePerInterval: 3 }, T0);
  const outcomes = ['a', 'b', 'c', 'd', 'e'].map((s) => m.admit('discovered', s));
  assert.deepEqual(outcomes, ['write', 'write', 'write', 'counted', 'counted']);
  assert.equal(m.drain(T0 + 1000)[0]?.data.total, 2);
  // a new interval has a new budget
  assert.equal(m.admit('discovered', 'f'), 'write');
  assert.deepEqual(m.stats, { immediate: 4, counted: 2, folded: 0, shed: 0, summaries: 1 });
});

test('distinct sources are bounded: beyond maxKeys they fold into an "other" count', () => {
  const m = new MachinelessEvents({ maxKeys: 50, immediatePerInterval: 0, topSources: 5 }, T0);
  for (let i = 0; i < 4000; i++) m.admit('discovered', `52:54:00:00:${Math.floor(i / 256)}:${i % 256}`);
  assert.equal(m.trackedKeys, 50);
  const summary = m.drain(T0 + 60_000)[0];
  assert.equal(summary?.data.total, 4000);
  assert.equal(summary?.data.other, 3950);
  assert.equal(Object.keys(summary?.data.sources as object).length, 5, 'a summary names only the busiest sources');
  assert.equal(summary?.data.otherSources, 45);
  assert.ok(JSON.stringify(summary).length < 2000, 'a summary stays small however many sources there were');
  assert.equal(m.stats.folded, 3950);
  assert.equal(m.trackedKeys, 0, 'drain starts a fresh table');
});

test('types are summarized separately', () => {
  const m = new MachinelessEvents({ maxKeys: 10, immediatePerInterval: 0 }, T0);
  m.admit('discovered', 'x');
  m.admit('token-refused', 'x');
  m.admit('token-refused', 'y');
  assert.deepEqual(m.drain(T0 + 5000).map((s) => [s.type, s.data.total]), [['discovered', 1], ['token-refused', 2]]);
});

test('while shedding (disk low) nothing is written: first sightings are counted and summaries dropped', () => {
  const m = new MachinelessEvents({ maxKeys: 10, immediatePerInterval: 5 }, T0);
  m.setShedding(true);
  assert.equal(m.admit('discovered', 'a'), 'counted');
  assert.deepEqual(m.drain(T0 + 1000), []);
  assert.equal(m.stats.shed, 2, 'the immediate row and the summary');
  m.setShedding(false);
  assert.equal(m.admit('discovered', 'a'), 'write');
});

test('the source is the client address (IPv4-mapped unwrapped), else the MAC', () => {
  assert.equal(machinelessSource({ clientIp: '::ffff:10.0.0.5' }, '52:54:00:00:00:01'), '10.0.0.5');
  assert.equal(machinelessSource(undefined, '52:54:00:00:00:01'), '52:54:00:00:00:01');
  assert.equal(machinelessSource({ token: 'abc' }, null), 'unknown');
});
