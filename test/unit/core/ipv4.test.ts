import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cidrBroadcast, cidrContains, cidrNetmask, cidrsOverlap, formatIpv4, isIpv4, isUnspecifiedIpv4, parseCidr, parseIpv4,
} from '../../../server/core/ipv4.js';

describe('ipv4 helpers', () => {
  it('cidrsOverlap: nested or equal blocks overlap, neighbours do not', () => {
    const c = (text: string) => parseCidr(text)!;
    assert.equal(cidrsOverlap(c('10.0.0.0/16'), c('10.0.5.0/24')), true);
    assert.equal(cidrsOverlap(c('10.0.5.0/24'), c('10.0.0.0/16')), true);
    assert.equal(cidrsOverlap(c('10.0.5.0/24'), c('10.0.5.0/24')), true);
    assert.equal(cidrsOverlap(c('10.0.5.0/24'), c('10.0.6.0/24')), false);
    assert.equal(cidrsOverlap(c('10.0.0.0/25'), c('10.0.0.128/25')), false);
    assert.equal(cidrsOverlap(c('0.0.0.0/0'), c('192.168.1.0/24')), true);
  });

  it('parse and format, unsigned across 128.0.0.0', () => {
    assert.equal(parseIpv4('10.0.0.1'), 167772161);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
    assert.equal(formatIpv4(parseIpv4('200.1.2.3') ?? 0), '200.1.2.3');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', 'a.b.c.d', '1.2.3.-4']) {
      assert.equal(isIpv4(bad), false, bad);
    }
    assert.equal(isUnspecifiedIpv4('0.0.0.0'), true);
  });

  it('CIDR: contains, netmask, broadcast', () => {
    const net = parseCidr('10.98.7.5/24');
    assert.ok(net);
    assert.equal(formatIpv4(net.network), '10.98.7.0');
    assert.equal(cidrNetmask(net), '255.255.255.0');
    assert.equal(cidrBroadcast(net), '10.98.7.255');
    assert.equal(cidrContains(net, '10.98.7.200'), true);
    assert.equal(cidrContains(net, '10.98.8.1'), false);
    assert.equal(cidrContains(net, 'nope'), false);
    const all = parseCidr('0.0.0.0/0');
    assert.ok(all && cidrContains(all, '192.168.1.1'));
    const high = parseCidr('192.168.0.0/16');
    assert.ok(high && cidrContains(high, '192.168.255.1') && cidrBroadcast(high) === '192.168.255.255');
    assert.equal(parseCidr('10.0.0.0/33'), null);
    assert.equal(parseCidr('10.0.0.0'), null);
  });
});
