import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DuplicateFilter } from '../../../server/net/duplicate-filter.js';

const bytes = (text: string) => Buffer.from(text);

test('the same bytes from the same source within the window are a duplicate; after it, not', () => {
  let now = 0;
  const filter = new DuplicateFilter({ windowMs: 250, now: () => now });
  assert.equal(filter.isDuplicate('a', bytes('discover')), false);
  now = 100;
  assert.equal(filter.isDuplicate('a', bytes('discover')), true);
  assert.equal(filter.isDuplicate('b', bytes('discover')), false, 'another source');
  assert.equal(filter.isDuplicate('a', bytes('request')), false, 'other bytes');
  now = 400;
  assert.equal(filter.isDuplicate('a', bytes('discover')), false, 'a retransmission after the window');
});

test('window 0 turns it off; the memory is bounded', () => {
  const off = new DuplicateFilter({ windowMs: 0 });
  assert.equal(off.isDuplicate('a', bytes('x')), false);
  assert.equal(off.isDuplicate('a', bytes('x')), false);
  const now = 0;
  const bounded = new DuplicateFilter({ windowMs: 1000, maxEntries: 16, now: () => now });
  for (let i = 0; i < 1000; i += 1) bounded.isDuplicate('a', bytes(`packet ${i}`));
  assert.ok(bounded.size <= 16, `size ${bounded.size}`);
  assert.equal(bounded.isDuplicate('a', bytes('packet 999')), true, 'the newest are kept');
});
