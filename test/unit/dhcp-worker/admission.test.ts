/** The pure admission policy of the DHCP load shedding (issue 18). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpAdmission } from '../../../server/dhcp-worker/admission.js';

const mac = (i: number): string => `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

describe('DhcpAdmission', () => {
  it('admits every MAC while the queue is below the bound', () => {
    const a = new DhcpAdmission({ queueBound: 10, maxAdmitted: 100, idleMs: 1000 });
    for (let i = 0; i < 20; i++) assert.equal(a.decide(mac(i), true, 9, 0), 'admit');
    assert.equal(a.stats.admitted, 20);
    assert.equal(a.stats.shed, 0);
    assert.equal(a.stats.admittedMacs, 20);
  });

  it('sheds DISCOVERs from new MACs above the bound, and finishes the admitted ones', () => {
    const a = new DhcpAdmission({ queueBound: 10, maxAdmitted: 100, idleMs: 1000 });
    assert.equal(a.decide(mac(1), true, 0, 0), 'admit');
    assert.equal(a.decide(mac(2), true, 10, 1), 'shed', 'new MAC over the bound');
    assert.equal(a.decide(mac(1), true, 50, 2), 'admit', 'a retransmitted DISCOVER of an admitted MAC');
    assert.equal(a.decide(mac(1), false, 50, 3), 'admit', 'its REQUEST');
    assert.equal(a.isAdmitted(mac(2)), false);
    assert.deepEqual({ ...a.stats }, { admitted: 3, shed: 1, admittedMacs: 1 });
  });

  it('admits a REQUEST from an untracked MAC whatever the queue (it got an OFFER or holds a lease)', () => {
    const a = new DhcpAdmission({ queueBound: 1, maxAdmitted: 100, idleMs: 1000 });
    assert.equal(a.decide(mac(7), false, 1000, 0), 'admit');
    assert.equal(a.isAdmitted(mac(7)), true);
    assert.equal(a.decide(mac(7), true, 1000, 1), 'admit', 'then its later DISCOVER (the chained iPXE) too');
  });

  it('forgets a MAC after idleMs of silence, so a later burst can shed it', () => {
    const a = new DhcpAdmission({ queueBound: 1, maxAdmitted: 100, idleMs: 1000 });
    assert.equal(a.decide(mac(1), true, 0, 0), 'admit');
    assert.equal(a.decide(mac(1), true, 5, 999), 'admit', 'still within idleMs');
    assert.equal(a.decide(mac(1), true, 5, 1999), 'shed', 'silent for idleMs after its last packet');
    assert.equal(a.stats.admittedMacs, 0);
  });

  it('never tracks more than maxAdmitted MACs and never evicts a live one', () => {
    const a = new DhcpAdmission({ queueBound: 1000, maxAdmitted: 5, idleMs: 1000 });
    for (let i = 0; i < 5; i++) assert.equal(a.decide(mac(i), true, 0, i), 'admit');
    assert.equal(a.decide(mac(99), true, 0, 10), 'shed', 'full of live entries: a new DISCOVER is shed even below the bound');
    assert.equal(a.decide(mac(98), false, 0, 11), 'admit', 'a REQUEST is still answered');
    assert.equal(a.isAdmitted(mac(98)), false, 'but not tracked');
    for (let i = 0; i < 5; i++) assert.equal(a.isAdmitted(mac(i)), true);
    assert.equal(a.stats.admittedMacs, 5);
    assert.equal(a.decide(mac(99), true, 0, 1005), 'admit', 'the first entries expired: room again');
  });
});
