/**
 * The re-implemented `coreos-cloudinit -validate` (Flatcar main). Expected outputs come from the
 * reference (docs install-targets.md §1.4 rules, §1.5 observed outputs) and from the validator's own
 * Go tests that §1.4 cites; rackboot's additional findings are marked as such.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Catalog } from '../../../../server/catalog/catalog.js';
import { validateUserData } from '../../../../server/catalog/cloudinit/validate.js';
import type { CloudConfigContext } from '../../../../server/core/render-context.js';
import { catalogDirs } from '../../../../server/paths.js';
import { cc, lines } from './findings-text.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures/cloud-config');

describe('fixtures: §1.5 observed outputs and documents that must pass', () => {
  const expectations = readdirSync(FIXTURES).filter((name) => name.endsWith('.expected'));
  it('has fixtures', () => assert.ok(expectations.length >= 15, expectations.join()));
  for (const expectation of expectations) {
    const base = expectation.slice(0, -'.expected'.length);
    const input = readdirSync(FIXTURES).find((name) => name.startsWith(`${base}.`) && name !== expectation);
    it(base, () => {
      assert.ok(input, `no input next to ${expectation}`);
      const expected = readFileSync(join(FIXTURES, expectation), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      const text = readFileSync(join(FIXTURES, input), 'utf8');
      const report = validateUserData(text);
      assert.equal(`kind: ${report.kind}`, expected[0]);
      assert.deepEqual(lines(text), expected.slice(1));
    });
  }
});

describe('dispatch on the header (§1.1)', () => {
  const table: Array<[string, string, string]> = [
    ['', 'empty', 'zero bytes'],
    ['#!/bin/sh\necho hi\n', 'script', 'a shebang'],
    ['#!ipxe\n', 'script', 'any #! line'],
    ['{"ignitionVersion": 1}', 'ignition', 'Ignition v1 (integer ignitionVersion)'],
    ['{"ignitionVersion": 0}', 'ignition', 'ignitionVersion 0 is still set'],
    ['{"ignition": {"version": "3.4.0"}}', 'ignition', 'Ignition v2+ (string ignition.version)'],
    ['{"Ignition": {"Version": "2.2.0"}}', 'ignition', 'encoding/json matches keys case-insensitively'],
    ['#cloud-config\nhostname: a\n', 'cloud-config', 'the header'],
    ['#cloud-config \t\r\nhostname: a\r\n', 'cloud-config', 'trailing whitespace after the header is trimmed'],
    ['Content-Type: multipart/mixed; boundary=X\nMIME-Version: 1.0\n\n--X--\n', 'multipart', 'a MIME header (Flatcar only)'],
    ['{}', 'invalid', 'JSON without an Ignition version (the validator test)'],
    ['{"ignitionVersion": "1"}', 'invalid', 'a string ignitionVersion fails the JSON decode'],
    ['{"ignition": {"version": 3}}', 'invalid', 'a numeric ignition.version fails the JSON decode'],
    ['hello', 'invalid', 'plain text'],
    ['\ufeff#cloud-config\nhostname: a\n', 'invalid', 'a byte-order mark hides the header'],
    ['# cloud-config\nhostname: a\n', 'invalid', 'the header is exact'],
    ['hostname: a\n#cloud-config\n', 'invalid', 'the header must be the first line'],
    ['Content-Type: text/plain\n\nhello\n', 'invalid', 'MIME, but not multipart/mixed'],
    ['Content-Type: multipart/mixed; boundary=X\n', 'invalid', 'a MIME header without its blank line'],
  ];
  for (const [text, kind, why] of table) {
    it(`${kind}: ${why}`, () => {
      const report = validateUserData(text);
      assert.equal(report.kind, kind);
      if (kind === 'invalid') {
        assert.deepEqual(lines(text), ['line 1: error: must be "#cloud-config", multipart mime or begin with "#!"']);
      } else if (kind !== 'cloud-config') {
        assert.deepEqual(report.findings, []);
      }
    });
  }
  it('does not validate scripts or Ignition at all', () => {
    assert.deepEqual(lines('#!/bin/sh\n\tnot: [yaml\n'), []);
    assert.deepEqual(lines('{"ignitionVersion": 1, "coreos": true}'), []);
  });
});

describe('line numbers', () => {
  it('come from the validator line finder: list items and keys in order', () => {
    const text = [
      'coreos:',
      '  units:',
      '    - name: a.service',
      '      command: start',
      '    - name: b.service',
      '      enable: true',
      '      command: begin',
      'write_files:',
      '  - path: /etc/a',
      '  - path: /usr/b',
    ].join('\n');
    assert.deepEqual(cc(text), ['line 8: error: invalid value begin', 'line 11: error: file cannot be written to a read-only filesystem']);
  });
  it('are the same with CRLF line ends', () => {
    assert.deepEqual(lines('#cloud-config\r\ncoreos:\r\n  units:\r\n    - name: a.service\r\n      command: lol\r\n'), ['line 5: error: invalid value lol']);
  });
  it('are 0 for keys the line finder cannot see (inside flow maps), as in §1.5', () => {
    assert.deepEqual(cc('coreos: {units: [{name: a.service, command: go}]}\n'), ['line 0: error: invalid value go']);
  });
  it('list items in flow sequences are at line 0 too', () => {
    assert.deepEqual(cc('ssh_authorized_keys: [key1, ~]\n'), ['line 0: warning: incorrect type for "ssh_authorized_keys[1]" (want string)']);
  });
  it('keep the finder\'s approximation (§1.4 step 5): a "- " line inside a block scalar counts as the next item', () => {
    const text = 'coreos:\n  units:\n    - name: a.service\n      content: |\n        - not a list item\n    -\n';
    assert.deepEqual(cc(text), ['line 6: warning: incorrect type for "units[1]" (want struct)']);
  });
  it('findings are sorted by line, then by rule', () => {
    const found = cc('runcmd: [ls]\ncoreos:\n  update:\n    reboot_strategy: never\nzzz: 1\nhostname: 2024-01-01\n');
    assert.deepEqual(found, [
      'line 2: warning: unrecognized key "runcmd"',
      'line 5: error: invalid value never',
      'line 6: warning: unrecognized key "zzz"',
      'line 7: warning: incorrect type for "hostname" (want string)', // a plain date is a timestamp to yaml.v3
    ]);
  });
});

describe('the shipped default template', () => {
  it('renders to a cloud-config without findings', () => {
    const loaded = Catalog.load(catalogDirs());
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.join('\n'));
    const context: CloudConfigContext = {
      machine: {
        name: 'worker-03',
        fqdn: 'worker-03.rack1.lab',
        ip: '10.0.0.23',
        prefixLength: 24,
        netmask: '255.255.255.0',
        gateway: '10.0.0.1',
        dns: ['10.0.0.1'],
        domain: 'rack1.lab',
        macs: ['52:54:00:12:34:56'],
        primaryMac: '52:54:00:12:34:56',
        role: 'production-worker',
        mode: 'install',
      },
      server: { baseUrl: 'http://10.0.0.1:8080', address: '10.0.0.1' },
      callbackUrl: 'http://10.0.0.1:8080/callback/0123456789abcdef',
      installScriptUrl: 'http://10.0.0.1:8080/install/0123456789abcdef',
      ssh: { authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq3m7tVbcR1 ops@rackboot'] },
      time: { ntpServers: ['10.0.0.1'] },
      etcd: null,
    };
    const rendered = loaded.catalog.cloudConfig('default', context as unknown as Record<string, unknown>);
    assert.ok(rendered.ok, rendered.ok ? '' : rendered.errors.join('\n'));
    assert.deepEqual(validateUserData(rendered.text), { kind: 'cloud-config', findings: [] });
  });
});
