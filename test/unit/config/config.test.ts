import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadEmbeddedConfig, parseConfig } from '../../../server/config/config.js';

test('the embedded default is valid, loopback-only, with DHCP off', () => {
  const { config, errors } = loadEmbeddedConfig('/srv/rb');
  assert.deepEqual(errors, []);
  assert.ok(config);
  assert.equal(config.dhcp.enabled, false);
  assert.equal(config.http.listen, '127.0.0.1');
  assert.equal(config.tftp.listen, '127.0.0.1');
  assert.equal(config.dataDir, '/srv/rb/var');
  assert.equal(config.http.publicUrl, 'http://127.0.0.1:8080');
  assert.ok(Object.isFrozen(config.dhcp.bootFiles));
});

test('every error in a file is reported at once, each with its key path', () => {
  const text = `
server: { address: 10.0.0.300 }
http: { port: 70000 }
dhcp:
  enabled: true
  subnets:
    - cidr: 10.0.0.0/24
      gateway: 10.1.0.1
    - cidr: nonsense
tftp: { maxBlockSize: 3, colour: blue }
`;
  const { config, errors } = parseConfig(text, 'rb.yaml', '/etc/rackboot');
  assert.equal(config, null);
  const joined = errors.join('\n');
  for (const expected of ['server.address', 'http.port', 'dhcp.subnets.1.cidr', 'tftp.maxBlockSize', 'tftp']) {
    assert.match(joined, new RegExp(`rb.yaml: ${expected.replace(/\./g, '\\.')}`), `missing error for ${expected}:\n${joined}`);
  }
  assert.match(joined, /colour/);
  assert.ok(errors.length >= 5, joined);
});

test('cross-field rules: gateway outside its subnet, DHCP with no subnet, loopback server address', () => {
  const gateway = parseConfig(
    'server: {address: 10.0.0.1}\ndhcp: {enabled: true, subnets: [{cidr: 10.0.0.0/24, gateway: 10.1.0.1}]}\n',
    'f',
    '/',
  );
  assert.match(gateway.errors.join('\n'), /gateway: 10\.1\.0\.1 is outside 10\.0\.0\.0\/24/);
  const none = parseConfig('server: {address: 10.0.0.1}\ndhcp: {enabled: true}\n', 'f', '/');
  assert.match(none.errors.join('\n'), /no subnet/);
  const loop = parseConfig('dhcp: {enabled: true, subnets: [{cidr: 10.0.0.0/24}]}\n', 'f', '/');
  assert.match(loop.errors.join('\n'), /loopback/);
  const overlap = parseConfig('server: {address: 10.0.0.1}\ndhcp: {enabled: true, subnets: [{cidr: 10.0.0.0/16}, {cidr: 10.1.0.0/24}, {cidr: 10.0.9.0/24}]}\n', 'f', '/');
  assert.deepEqual(overlap.errors.filter((e) => /overlaps/.test(e)), ['f: dhcp.subnets.2.cidr: 10.0.9.0/24 overlaps dhcp.subnets.0 (10.0.0.0/16); a machine\'s address must name one subnet']);
});

test('a relay-only setup warns when the server address is in no subnet, but loads', () => {
  const { config, warnings } = parseConfig('server: {address: 10.9.0.1}\ndhcp: {enabled: true, subnets: [{cidr: 10.0.0.0/24}]}\n', 'f', '/');
  assert.ok(config);
  assert.match(warnings.join('\n'), /in no dhcp subnet/);
});

test('YAML syntax errors are reported with the file name, not thrown', () => {
  const { config, errors } = parseConfig('http: [unclosed\n', 'bad.yaml', '/');
  assert.equal(config, null);
  assert.match(errors[0] ?? '', /^bad\.yaml: YAML:/);
});

test('relative paths resolve against the config file directory; publicUrl loses a trailing slash', () => {
  const { config } = parseConfig('dataDir: data\nboot: {assetsDir: /srv/assets}\nhttp: {publicUrl: "http://pxe.example:80/"}\n', 'f', '/etc/rb');
  assert.equal(config?.dataDir, '/etc/rb/data');
  assert.equal(config?.boot.assetsDir, '/srv/assets');
  assert.equal(config?.http.publicUrl, 'http://pxe.example:80');
});

test('ipmi.ranges: per-range protocol and Redfish endpoint; plain HTTP warns; paths resolve against the config', () => {
  const text = `
ipmi:
  ranges:
    - { range: 10.1.0.0/24, protocol: redfish, caFile: certs/bmc-ca.pem }
    - { range: 10.2.0.0/24, protocol: auto, scheme: http, port: 8000 }
    - { range: 10.3.0.7, protocol: ipmi }
  redfish: { timeoutMs: 5000, trustFile: state/fingerprints.json }
`;
  const { config, errors, warnings } = parseConfig(text, 'rb.yaml', '/etc/rackboot');
  assert.deepEqual(errors, []);
  assert.deepEqual(config?.ipmi.ranges, [
    { range: '10.1.0.0/24', protocol: 'redfish', scheme: 'https', caFile: '/etc/rackboot/certs/bmc-ca.pem' },
    { range: '10.2.0.0/24', protocol: 'auto', scheme: 'http', port: 8000 },
    { range: '10.3.0.7', protocol: 'ipmi', scheme: 'https' },
  ]);
  assert.deepEqual(config?.ipmi.redfish, { timeoutMs: 5000, maxResponseBytes: 1048576, taskTimeoutMs: 120000, trustFile: '/etc/rackboot/state/fingerprints.json' });
  assert.deepEqual(warnings, ['rb.yaml: ipmi.ranges.1: Redfish over plain HTTP for 10.2.0.0/24: the BMC password crosses the network in clear (labs only)']);

  const bad = parseConfig(
    `
ipmi:
  ranges:
    - { range: 10.1.0.0/24, protocol: redfish, scheme: http, caFile: ca.pem }
    - { range: 10.1.0.0/24, protocol: ipmi }
    - { range: 10.9.0.0/33, protocol: smoke-signals }
`,
    'rb.yaml',
    '/etc/rackboot',
  );
  assert.equal(bad.config, null);
  assert.match(bad.errors.join('\n'), /ipmi\.ranges\.2\.range/);
  assert.match(bad.errors.join('\n'), /ipmi\.ranges\.2\.protocol/);
  const crossed = parseConfig(
    `
ipmi:
  ranges:
    - { range: 10.1.0.0/24, protocol: redfish, scheme: http, caFile: ca.pem }
    - { range: 10.1.0.0/24, protocol: ipmi }
`,
    'rb.yaml',
    '/etc/rackboot',
  );
  assert.deepEqual(crossed.errors, ['rb.yaml: ipmi.ranges.0.caFile: a CA file needs scheme https', 'rb.yaml: ipmi.ranges.1.range: 10.1.0.0/24 is listed twice']);
  assert.deepEqual(loadEmbeddedConfig('/srv/rb').config?.ipmi.ranges, [], 'no ranges by default: every BMC speaks IPMI');
});
