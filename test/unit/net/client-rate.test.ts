import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClientRate } from '../../../server/net/client-rate.js';

describe('ClientRate (a token bucket per client address)', () => {
  it('allows a burst, then the refill rate, per address', () => {
    const rate = new ClientRate({ perSecond: 2, burst: 3 });
    assert.deepEqual([1, 2, 3, 4].map(() => rate.take('10.0.0.1', 0)), [true, true, true, false]);
    assert.equal(rate.take('10.0.0.2', 0), true, 'another address has its own bucket');
    assert.equal(rate.take('10.0.0.1', 499), false);
    assert.equal(rate.take('10.0.0.1', 500), true, 'one token per 500 ms');
    assert.equal(rate.take('10.0.0.1', 500), false);
    assert.deepEqual([1, 2, 3, 4].map(() => rate.take('10.0.0.1', 60_000)), [true, true, true, false], 'never more than the burst');
  });

  it('remembers a bounded number of addresses', () => {
    const rate = new ClientRate({ perSecond: 1, burst: 1, maxClients: 100 });
    for (let i = 0; i < 10_000; i += 1) rate.take(`10.0.${i >> 8}.${i & 255}`, i);
    assert.ok(rate.size <= 100, String(rate.size));
  });

  it('refuses nonsense settings', () => {
    assert.throws(() => new ClientRate({ perSecond: 0, burst: 1 }), RangeError);
    assert.throws(() => new ClientRate({ perSecond: 1, burst: 0 }), RangeError);
  });
});
