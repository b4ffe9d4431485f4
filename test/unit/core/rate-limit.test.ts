import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SourceRateLimiter } from '../../../server/core/rate-limit.js';

test('a source gets its burst at once, then its rate', () => {
  const limiter = new SourceRateLimiter({ perSecond: 10, burst: 5, maxSources: 100 });
  const first = Array.from({ length: 8 }, () => limiter.take('10.0.0.1', 0));
  assert.deepEqual(first, [true, true, true, true, true, false, false, false]);
  assert.equal(limiter.retryAfterSeconds('10.0.0.1'), 1);
  assert.equal(limiter.take('10.0.0.1', 100), true, '100 ms at 10/s refills one token');
  assert.equal(limiter.take('10.0.0.1', 100), false);
  assert.equal(limiter.take('10.0.0.1', 60_000), true);
  assert.deepEqual(limiter.stats, { allowed: 7, refused: 4, evicted: 0 });
});

test('sources have separate buckets', () => {
  const limiter = new SourceRateLimiter({ perSecond: 1, burst: 1, maxSources: 100 });
  assert.equal(limiter.take('a', 0), true);
  assert.equal(limiter.take('a', 0), false);
  assert.equal(limiter.take('b', 0), true);
});

test('the source table is bounded: the least recently used is evicted', () => {
  const limiter = new SourceRateLimiter({ perSecond: 1, burst: 1, maxSources: 3 });
  for (const s of ['a', 'b', 'c']) limiter.take(s, 0);
  limiter.take('a', 0); // a is now the most recent (refused: its bucket is empty)
  for (let i = 0; i < 10_000; i++) limiter.take(`x${i}`, 0);
  assert.equal(limiter.trackedSources, 3);
  assert.equal(limiter.stats.evicted, 10_000);
  const small = new SourceRateLimiter({ perSecond: 1, burst: 1, maxSources: 2 });
  small.take('a', 0);
  small.take('b', 0);
  small.take('a', 0); // refused, and a moves to the end
  small.take('c', 0); // evicts b, not a
  assert.equal(small.take('a', 0), false, 'a kept its empty bucket');
  assert.equal(small.take('b', 0), true, 'b was forgotten and starts full');
});
