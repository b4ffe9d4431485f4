import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseProgress } from '../../../server/core/progress.js';

test('percentages and step counts in progress messages', () => {
  const cases: Array<[string, number | null, string | null]> = [
    ['42%', 42, null],
    ['copying image 3.5 %', 3.5, null],
    ['downloading flatcar (100%)', 100, null],
    ['step 3/7: partitioning', 42.9, '3/7'],
    ['3 / 4 disks wiped', 75, '3/4'],
    ['wrote 250%', 100, null],
    ['installing packages', null, null],
    ['kernel 6.1/amd64', null, null],
    ['10.99.0.11/24 configured', null, null],
    ['step 9/7', null, null],
    ['0/0', null, null],
  ];
  for (const [message, percent, step] of cases) {
    const parsed = parseProgress(message, 5);
    assert.equal(parsed.percent, percent, message);
    assert.equal(parsed.step, step, message);
    assert.equal(parsed.message, message);
    assert.equal(parsed.at, 5);
  }
});
