import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { outOfScope, RateLimiter, resolveDhcpScope, rogueSighting } from '../../../server/core/dhcp-guard.js';
import { BOOTP_REPLY, DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { ipv4Value } from '../../../server/protocol/dhcp/options.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';

const host = {
  lo: [{ address: '127.0.0.1', family: 'IPv4' }],
  prov0: [{ address: '10.98.0.1', family: 'IPv4' }, { address: 'fe80::1', family: 'IPv6' }],
  mgmt0: [{ address: '192.168.7.5', family: 'IPv4' }],
  v6only: [{ address: 'fd00::1', family: 'IPv6' }],
};
const subnets = ['10.98.0.0/24', '10.77.0.0/24'];
const from = (address: string) => ({ address, port: 68 });

describe('dhcp.interfaces scope', () => {
  it('refuses a missing interface or one without IPv4, naming what exists', () => {
    const missing = resolveDhcpScope(['prov9'], host, subnets);
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.error, /interface prov9 does not exist \(have: lo, mgmt0, prov0, v6only\)/);
    const v6 = resolveDhcpScope(['v6only'], host, subnets);
    assert.match(v6.ok ? '' : v6.error, /v6only has no IPv4 address/);
  });

  it('a listed interface on a configured subnet serves it directly; relays are checked against every subnet', () => {
    const r = resolveDhcpScope(['prov0'], host, subnets);
    assert.ok(r.ok);
    const scope = r.scope;
    assert.equal(scope.localSubnets.length, 1);
    assert.equal(outOfScope(requestPacket(), from('0.0.0.0'), scope), null, 'a broadcast DISCOVER');
    assert.equal(outOfScope(requestPacket({ ciaddr: '10.98.0.11' }), from('10.98.0.11'), scope), null, 'a renewal from the subnet');
    assert.equal(outOfScope(requestPacket({ ciaddr: '192.168.7.9' }), from('192.168.7.9'), scope), 'foreign-source');
    assert.equal(outOfScope(requestPacket({ giaddr: '10.77.0.1' }), from('10.77.0.1'), scope), null, 'a relay of a configured subnet');
    assert.equal(outOfScope(requestPacket({ giaddr: '172.16.0.1' }), from('172.16.0.1'), scope), 'foreign-relay');
  });

  it('when no listed interface is on a configured subnet, only relayed packets pass', () => {
    const r = resolveDhcpScope(['mgmt0'], host, subnets);
    assert.ok(r.ok);
    assert.equal(outOfScope(requestPacket(), from('0.0.0.0'), r.scope), 'no-local-subnet');
    assert.equal(outOfScope(requestPacket({ giaddr: '10.77.0.1' }), from('10.77.0.1'), r.scope), null);
  });
});

describe('rogue DHCP detection', () => {
  const own = { serverAddress: '10.98.0.1', peers: ['10.98.0.2'] };

  it('a BOOTREPLY from anyone but us or a peer is a sighting (server id, else source)', () => {
    const offer = { ...requestPacket({ type: T.Offer, options: [[54, ipv4Value('10.98.0.66')]] }), op: BOOTP_REPLY, yiaddr: '10.98.0.200' };
    assert.deepEqual(rogueSighting(offer, from('10.98.0.66'), own), {
      serverId: '10.98.0.66', via: 'reply', source: '10.98.0.66', mac: '52:54:00:99:00:01', messageType: 'OFFER', yiaddr: '10.98.0.200',
    });
    const noId = { ...requestPacket({ type: T.Ack }), op: BOOTP_REPLY };
    assert.equal(rogueSighting(noId, from('10.98.0.77'), own)?.serverId, '10.98.0.77');
    const ours = { ...requestPacket({ type: T.Offer, options: [[54, ipv4Value('10.98.0.1')]] }), op: BOOTP_REPLY };
    const peer = { ...requestPacket({ type: T.Offer, options: [[54, ipv4Value('10.98.0.2')]] }), op: BOOTP_REPLY };
    assert.equal(rogueSighting(ours, from('10.98.0.1'), own), null);
    assert.equal(rogueSighting(peer, from('10.98.0.2'), own), null);
  });

  it('a REQUEST naming a foreign server is a sighting; ours, a peer\'s, or none is not', () => {
    const req = (sid: string) => requestPacket({ type: T.Request, options: [[54, ipv4Value(sid)], [50, ipv4Value('10.98.0.200')]] });
    assert.equal(rogueSighting(req('10.98.0.66'), from('0.0.0.0'), own)?.via, 'request');
    assert.equal(rogueSighting(req('10.98.0.1'), from('0.0.0.0'), own), null);
    assert.equal(rogueSighting(req('10.98.0.2'), from('0.0.0.0'), own), null);
    assert.equal(rogueSighting(requestPacket({ type: T.Request, ciaddr: '10.98.0.11' }), from('10.98.0.11'), own), null);
    assert.equal(rogueSighting(requestPacket(), from('0.0.0.0'), own), null, 'a DISCOVER');
  });

  it('rate limiter: one report per key per interval, with a bounded memory', () => {
    const limiter = new RateLimiter(1000, 2);
    assert.equal(limiter.allow('a', 0), true);
    assert.equal(limiter.allow('a', 999), false);
    assert.equal(limiter.allow('b', 10), true);
    assert.equal(limiter.allow('a', 1000), true);
    assert.equal(limiter.allow('c', 1001), true, 'evicts the oldest key');
    assert.equal(limiter.allow('b', 1002), true, 'b was evicted, so it is news again');
  });

  it('rate limiter: a flood of distinct keys gets at most maxPerInterval reports per interval', () => {
    const limiter = new RateLimiter(1000, 1024, 3);
    const allowed = Array.from({ length: 100 }, (_, i) => limiter.allow(`spoof-${i}`, 10 + i)).filter(Boolean).length;
    assert.equal(allowed, 3);
    assert.equal(limiter.allow('later', 1010), true, 'a new interval');
  });
});
