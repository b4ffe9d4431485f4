import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';
import { dhcpSettings } from '../../../server/services/dhcp-service.js';

const parse = (dhcp: string) => parseConfig(`server: { address: 10.99.0.1 }\ndhcp:\n  enabled: true\n${dhcp}`, 'rb.yaml', '/tmp');

describe('dhcp configuration keys', () => {
  it('defaults: full mode, no pool, no interface filter, rogue detection on, 4011 for proxy', () => {
    const r = parse('  subnets: [{ cidr: 10.99.0.0/24 }]');
    assert.deepEqual(r.errors, []);
    const d = r.config?.dhcp;
    assert.equal(d?.mode, 'full');
    assert.equal(d?.pxePort, 4011);
    assert.deepEqual(d?.interfaces, []);
    assert.deepEqual(d?.peers, []);
    assert.equal(d?.subnets[0]?.pool, undefined);
    assert.deepEqual(d?.rogue, { detect: true, reportIntervalSeconds: 300, watchClientPort: false });
    const s = dhcpSettings(r.config!);
    assert.equal(s.declineMs, 600_000);
    assert.equal(s.offerHoldMs, 30_000);
  });

  it('a pool must lie in its subnet, in order, and is refused in proxy mode', () => {
    assert.deepEqual(parse('  subnets: [{ cidr: 10.99.0.0/24, pool: { start: 10.99.0.100, end: 10.99.0.150 } }]').errors, []);
    const bad = parse('  subnets: [{ cidr: 10.99.0.0/24, pool: { start: 10.99.1.100, end: 10.99.0.50 } }]');
    assert.ok(bad.errors.some((e) => /dhcp\.subnets\.0\.pool\.start: 10\.99\.1\.100 is outside 10\.99\.0\.0\/24/.test(e)), bad.errors.join('\n'));
    assert.ok(bad.errors.some((e) => /end 10\.99\.0\.50 is before start/.test(e)));
    const proxy = parse('  mode: proxy\n  subnets: [{ cidr: 10.99.0.0/24, pool: { start: 10.99.0.100, end: 10.99.0.150 } }]');
    assert.ok(proxy.errors.some((e) => /proxy mode never hands out addresses/.test(e)));
  });

  it('interfaces, peers, mode and rogue settings are validated', () => {
    const r = parse('  mode: proxy\n  interfaces: [eth1, "br-prov"]\n  peers: [10.99.0.2]\n  rogue: { watchClientPort: true }\n  subnets: [{ cidr: 10.99.0.0/24 }]');
    assert.deepEqual(r.errors, []);
    assert.equal(dhcpSettings(r.config!).mode, 'proxy');
    assert.ok(parse('  mode: relay\n  subnets: [{ cidr: 10.99.0.0/24 }]').errors.some((e) => /dhcp\.mode/.test(e)));
    assert.ok(parse('  peers: [nope]\n  subnets: [{ cidr: 10.99.0.0/24 }]').errors.some((e) => /dhcp\.peers\.0/.test(e)));
    assert.ok(parse('  interfaces: ["eth 1"]\n  subnets: [{ cidr: 10.99.0.0/24 }]').errors.some((e) => /dhcp\.interfaces\.0/.test(e)));
    assert.ok(parse('  mode: proxy\n  pxePort: 67\n  subnets: [{ cidr: 10.99.0.0/24 }]').errors.some((e) => /pxePort/.test(e)));
  });
});
