/** Labels and label selectors: the syntax, the limits, the match (matchbox-style, built-in keys). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyLabelChanges, BULK_DEFAULT_LIMIT, BULK_MAX, bulkLimit, labelProblems, matchesSelector, MAX_LABELS, parseSelector, type Selector } from '../../../server/core/labels.js';

const machine = (over: Partial<{ name: string; role: string | null; state: 'registered' | 'ready'; labels: Record<string, string> }> = {}) => ({
  name: 'blade-01',
  role: 'small' as string | null,
  state: 'registered' as const,
  labels: { rack: 'r12', 'site.example/row': 'b' } as Record<string, string>,
  ...over,
});

function selector(text: string): Selector {
  const parsed = parseSelector(text);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
  return parsed.selector;
}

test('label keys and values: the k8s-like alphabet, one prefix/, at most 63 characters, at most MAX_LABELS', () => {
  assert.deepEqual(labelProblems({ rack: 'r12', 'site.example/row': 'b-2', a_b: 'x.y' }), []);
  for (const bad of ['Rack', '-rack', 'rack-', 'a/b/c', '', 'r'.repeat(64), 'a b']) {
    assert.equal(labelProblems({ [bad]: 'x' }).length > 0, true, bad);
  }
  for (const bad of ['R12', '', 'x-', 'a b', 'v'.repeat(64)]) assert.equal(labelProblems({ rack: bad }).length, 1, bad);
  assert.match(labelProblems({ role: 'x' }).join(), /reserved/);
  const many = Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`k${i}`, 'v']));
  assert.match(labelProblems(many).join(), /at most 32/);
  assert.deepEqual(labelProblems(Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`k${i}`, 'v']))), []);
});

test('label changes: key=value sets, key- removes, the result is checked and sorted', () => {
  const changed = applyLabelChanges({ rack: 'r1', old: 'x' }, ['zone=a', 'old-', 'rack=r2']);
  assert.deepEqual(changed, { ok: true, labels: { rack: 'r2', zone: 'a' } });
  const bad = applyLabelChanges({}, ['nokey', 'Rack=1']);
  assert.equal(bad.ok, false);
  assert.equal(bad.ok ? 0 : bad.problems.length, 2);
});

test('selectors: every requirement must hold; name, role and state are built-in keys', () => {
  assert.equal(matchesSelector(machine(), selector('rack=r12,role=small')), true);
  assert.equal(matchesSelector(machine(), selector('rack=r12,role=large')), false);
  assert.equal(matchesSelector(machine(), selector('name=blade-01')), true);
  assert.equal(matchesSelector(machine(), selector('state=registered')), true);
  assert.equal(matchesSelector(machine({ state: 'ready' }), selector('state=registered')), false);
  assert.equal(matchesSelector(machine(), selector('site.example/row=b')), true);
  assert.equal(matchesSelector(machine(), selector(' rack = r12 , role==small ')), true);
});

test('selectors: key!=value (absent counts as different), key exists, !key absent', () => {
  assert.equal(matchesSelector(machine(), selector('rack!=r12')), false);
  assert.equal(matchesSelector(machine(), selector('rack!=r13')), true);
  assert.equal(matchesSelector(machine(), selector('zone!=a')), true);
  assert.equal(matchesSelector(machine(), selector('rack')), true);
  assert.equal(matchesSelector(machine(), selector('zone')), false);
  assert.equal(matchesSelector(machine(), selector('!zone')), true);
  assert.equal(matchesSelector(machine({ role: null }), selector('role')), false);
  assert.equal(matchesSelector(machine({ role: null }), selector('!role')), true);
});

test('selectors: malformed ones are refused with a reason', () => {
  for (const [text, reason] of [
    ['', /empty selector/],
    ['   ', /empty selector/],
    ['rack=r12,', /empty requirement/],
    ['=r12', /key is missing/],
    ['Rack=r12', /not a label key/],
    ['rack=R12', /not a label value/],
    ['rack=a b', /not a label value/],
    ['rack=', /not a label value/],
    [Array.from({ length: 33 }, (_, i) => `k${i}`).join(','), /more than 32/],
  ] as const) {
    const parsed = parseSelector(text);
    assert.equal(parsed.ok, false, text);
    assert.match(parsed.ok ? '' : parsed.message, reason, text);
  }
});

test('bulk limit: a default, a --limit, --all up to the hard maximum', () => {
  assert.equal(bulkLimit({}), BULK_DEFAULT_LIMIT);
  assert.equal(bulkLimit({ limit: 7 }), 7);
  assert.equal(bulkLimit({ limit: BULK_MAX * 2 }), BULK_MAX);
  assert.equal(bulkLimit({ all: true }), BULK_MAX);
});
