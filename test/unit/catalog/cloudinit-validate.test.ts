/**
 * The re-implemented `coreos-cloudinit -validate` (Flatcar main). Expected outputs come from the
 * reference (docs install-targets.md §1.4 rules, §1.5 observed outputs) and from the validator's own
 * Go tests that §1.4 cites; rackboot's additional findings are marked as such.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Catalog } from '../../../server/catalog/catalog.js';
import { validateCloudConfig } from '../../../server/catalog/cloud-config-check.js';
import { WINDOW_LENGTH } from '../../../server/catalog/cloudinit-schema.js';
import { validateUserData } from '../../../server/catalog/cloudinit-validate.js';
import type { CloudConfigContext } from '../../../server/core/render-context.js';
import { catalogDirs } from '../../../server/paths.js';

const FIXTURES = join(import.meta.dirname, '../../fixtures/cloud-config');

/** Findings as the validator prints them. */
function lines(text: string): string[] {
  return validateUserData(text).findings.map((f) => `line ${f.line}: ${f.kind}: ${f.message}`);
}

/** A cloud-config body below the header (so line 2 is the first line of `body`). */
function cc(body: string): string[] {
  return lines(`#cloud-config\n${body}`);
}

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

describe('YAML errors (§1.4 parse phase)', () => {
  it('a tab at the start of a line: libyaml wording, its line, and no spurious line-0 warning (§1.5)', () => {
    assert.deepEqual(cc('coreos:\n\tunits: []\n'), ['line 3: error: YAML: found character that cannot start any token']);
  });
  it('a tab after ":" or "-" is refused too (libyaml), a tab after a value is not', () => {
    assert.deepEqual(cc('hostname:\tfoo\n'), ['line 2: error: YAML: found character that cannot start any token']);
    assert.deepEqual(cc('ssh_authorized_keys:\n  -\tkey\n'), ['line 3: error: YAML: found character that cannot start any token']);
    assert.deepEqual(cc('hostname: foo\t# comment\n'), []);
    assert.deepEqual(cc('write_files:\n  - path: /etc/x\n    content: |\n      a\tb\n'), []);
  });
  it('a key without ":" is "could not find expected \':\'" at its line (the validator test "a:\\na")', () => {
    assert.deepEqual(cc('hostname: a\nhostname2\n'), ["line 3: error: YAML: could not find expected ':'"]);
  });
  it('an unclosed flow sequence', () => {
    const found = cc('hostname: [a\n');
    assert.equal(found.length, 1);
    assert.match(found[0] ?? '', /^line \d+: error: YAML: did not find expected ',' or '\]'$/);
  });
  it('an unknown alias fails the whole parse without a line, so at line 1', () => {
    assert.deepEqual(cc('hostname: a\nusers:\n  - *nobody\n'), ["line 1: error: YAML: unknown anchor 'nobody' referenced"]);
  });
  it('an explicit tag that does not fit its value, and bad !!binary data', () => {
    assert.deepEqual(cc('hostname: !!int abc\n'), ['line 1: error: YAML: cannot decode !!str `abc` as a !!int']);
    assert.deepEqual(cc('write_files:\n  - path: /x\n    content: !!binary "not base64"\n'), ['line 1: error: YAML: !!binary value contains invalid base64 data']);
  });
  it('only the first document counts (yaml.v3 Unmarshal)', () => {
    assert.deepEqual(cc('hostname: a\n---\nnot: [valid\n'), []);
  });
  it('a document that is a comment only is valid', () => {
    assert.deepEqual(cc('# nothing yet\n'), []);
  });
});

describe('yaml.v3 decode failures: Flatcar fails validation with no entry (§1.4 dialect, §1.5)', () => {
  it('duplicate keys anywhere, at the later key, naming the earlier line', () => {
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      command: start\n      command: stop\n'), [
      'line 6: error: YAML: mapping key "command" already defined at line 5',
    ]);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      command: start\n'), []);
  });
  it('a value that cannot become its Go type: the yaml.v3 message at the value', () => {
    assert.deepEqual(cc('coreos: true\n'), ['line 2: error: YAML: cannot unmarshal !!bool `true` into config.CoreOS']);
    assert.deepEqual(cc('coreos:\n  units:\n    name: a.service\n'), ['line 4: error: YAML: cannot unmarshal !!map into []config.Unit']);
    assert.deepEqual(cc('manage_etc_hosts: [localhost]\n'), ['line 2: error: YAML: cannot unmarshal !!seq into config.EtcHosts']);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      enable: "true"\n'), [
      'line 5: error: YAML: cannot unmarshal !!str `true` into bool',
    ]);
  });
  it('ssh keys must be a list: a long value is cut to 7 bytes as yaml.v3 does', () => {
    assert.deepEqual(cc('ssh_authorized_keys: "ssh-ed25519 AAAAC3Nza ops@rackboot"\n'), [
      'line 2: error: YAML: cannot unmarshal !!str `ssh-ed2...` into []string',
    ]);
    assert.deepEqual(cc('ssh_authorized_keys:\n  - "ssh-ed25519 AAAAC3Nza ops@rackboot"\n'), []);
  });
  it('every failing value is reported, not only the first', () => {
    assert.deepEqual(cc('coreos:\n  fleet:\n    verbosity: high\n    token_limit: [1]\n'), [
      'line 4: error: YAML: cannot unmarshal !!str `high` into int',
      'line 5: error: YAML: cannot unmarshal !!seq into int',
    ]);
  });
  it('a document that is not a mapping', () => {
    assert.deepEqual(cc('- a\n- b\n'), [
      'line 2: error: YAML: cannot unmarshal !!seq into map[interface {}]interface {} (the top level must be a mapping)',
    ]);
  });
  it('decodable mismatches are R3 warnings instead: yes/on for bool, a float for an int', () => {
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      mask: on\n'), ['line 5: warning: incorrect type for "mask" (want bool)']);
    assert.deepEqual(cc('coreos:\n  locksmith:\n    group: 3\n'), []); // an int is a fine string
  });
});

describe('R1 checkDiscoveryUrl: coreos.etcd.discovery must be a request URI', () => {
  const deprecatedEtcd = 'line 3: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux)';
  it('warns on a relative reference', () => {
    assert.deepEqual(cc('coreos:\n  etcd:\n    discovery: disco\n'), [deprecatedEtcd, 'line 4: warning: discovery URL is not valid']);
  });
  it('accepts absolute URLs', () => {
    assert.deepEqual(cc('coreos:\n  etcd:\n    discovery: https://discovery.etcd.io/00000000000000000000000000000000\n'), [deprecatedEtcd]);
    assert.deepEqual(cc('coreos:\n  etcd:\n    discovery: http://custom.domain/mytoken\n'), [deprecatedEtcd]);
  });
  it('does not look at etcd2', () => {
    assert.deepEqual(cc('coreos:\n  etcd2:\n    discovery: disco\n'), [
      'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)',
    ]);
  });
});

describe('R2 checkEncoding: content must decode as its encoding', () => {
  const file = (encoding: string, content: string) => cc(`write_files:\n  - path: /etc/x\n    encoding: ${encoding}\n    content: ${content}\n`);
  it('accepts base64, gzip+base64, and !!binary gzip', () => {
    assert.deepEqual(file('base64', 'aGVsbG8K'), []);
    assert.deepEqual(file('b64', '|\n      aGVs\n      bG8K'), []); // line breaks inside base64 are ignored
    assert.deepEqual(file('gzip+base64', 'H4sIAOC3tVQAA8tIzcnJ5wIAIDA6NgYAAAA='), []);
    assert.deepEqual(file('gzip', '!!binary H4sIAOC3tVQAA8tIzcnJ5wIAIDA6NgYAAAA='), []);
    assert.deepEqual(cc('write_files:\n  - path: /etc/x\n    content: !!binary aGVsbG8K\n'), []);
  });
  it('refuses content that does not decode, at the content line', () => {
    assert.deepEqual(file('base64', '"not base64!"'), ['line 5: error: content cannot be decoded as "base64"']);
    assert.deepEqual(file('base64', 'aGVsbG8'), ['line 5: error: content cannot be decoded as "base64"']); // unpadded
    assert.deepEqual(file('gzip', 'plain text'), ['line 5: error: content cannot be decoded as "gzip"']);
    assert.deepEqual(file('gz+b64', 'aGVsbG8K'), ['line 5: error: content cannot be decoded as "gz+b64"']); // base64, not gzip
  });
  it('an unknown encoding fails R2 and R4', () => {
    assert.deepEqual(file('custom', 'hello'), ['line 4: error: invalid value custom', 'line 5: error: content cannot be decoded as "custom"']);
  });
});

describe('R3 checkStructure: unknown keys, deprecated keys, types', () => {
  it('unknown keys, with the normalised name', () => {
    assert.deepEqual(cc('runcmd: [ls]\n'), ['line 2: warning: unrecognized key "runcmd"']);
    assert.deepEqual(cc('coreos:\n  flannel:\n    bad:\n'), ['line 4: warning: unrecognized key "bad"']);
    assert.deepEqual(cc('coreos:\n  flannel:\n    interface: eth0\n'), []);
    assert.deepEqual(cc('boot-cmd: [ls]\n'), ['line 2: warning: unrecognized key "boot_cmd"']);
  });
  it('deprecated keys warn and are still checked inside', () => {
    assert.deepEqual(cc('coreos:\n  etcd:\n    proxy: hi\n'), [
      'line 3: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux)',
      'line 4: warning: deprecated key "proxy" (etcd2 options no longer work for etcd)',
    ]);
    assert.deepEqual(cc('coreos:\n  fleet:\n    verbosity: 2\n    nope: 1\n'), [
      'line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux)',
      'line 5: warning: unrecognized key "nope"',
    ]);
  });
  it('type compatibility: a string takes any scalar, a bool only a bool', () => {
    assert.deepEqual(cc('hostname: 4\n'), []);
    assert.deepEqual(cc('hostname: true\n'), []);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      enable: true\n'), []);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: a.service\n      enable: yes\n'), ['line 5: warning: incorrect type for "enable" (want bool)']);
  });
  it('a null value has no type (Go reflect: invalid), list items are named name[i]', () => {
    assert.deepEqual(cc('hostname:\n'), ['line 2: warning: incorrect type for "hostname" (want string)']);
    assert.deepEqual(cc('coreos:\n'), ['line 2: warning: incorrect type for "coreos" (want struct)']);
    assert.deepEqual(cc('ssh_authorized_keys:\n  - key1\n  -\n'), ['line 4: warning: incorrect type for "ssh_authorized_keys[1]" (want string)']);
  });
  it('a float for an int field decodes (truncated) but warns', () => {
    assert.deepEqual(cc('coreos:\n  etcd2:\n    heartbeat_interval: 2.5\n'), [
      'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)',
      'line 4: warning: incorrect type for "heartbeat_interval" (want int)',
    ]);
  });
});

describe('R4 checkValidity: value patterns', () => {
  const update = (value: string) => cc(`coreos:\n  update:\n    reboot_strategy: ${value}\n`);
  it('coreos.update.reboot_strategy: etcd-lock, reboot or off', () => {
    for (const ok of ['etcd-lock', 'reboot', 'off', '"off"']) assert.deepEqual(update(ok), [], ok);
    assert.deepEqual(update('always'), ['line 4: error: invalid value always']);
    assert.deepEqual(update('best-effort'), ['line 4: error: invalid value best-effort']); // only CoreOS <= v1.13 took it
  });
  it('a null value for a key with a pattern makes the Go validator panic: the validation fails', () => {
    assert.deepEqual(update(''), [
      'line 4: error: null value for "reboot_strategy" makes coreos-cloudinit -validate fail (reflect: call of reflect.Value.Interface on zero Value)',
    ]);
    assert.deepEqual(cc('coreos:\n  update:\n    group:\n'), ['line 4: warning: incorrect type for "group" (want string)']);
  });
  const unit = (command: string) => cc(`coreos:\n  units:\n    - name: a.service\n      command: ${command}\n`);
  it('coreos.units[].command', () => {
    for (const ok of ['start', 'stop', 'restart', 'reload', 'try-restart', 'reload-or-restart', 'reload-or-try-restart']) assert.deepEqual(unit(ok), [], ok);
    assert.deepEqual(unit('lol'), ['line 5: error: invalid value lol']);
    assert.deepEqual(unit('enable'), ['line 5: error: invalid value enable']);
  });
  const permissions = (value: string) => cc(`write_files:\n  - path: /etc/x\n    permissions: ${value}\n`);
  it('write_files[].permissions: octal, written in any of the forms the validator test accepts', () => {
    for (const ok of ['0744', "'0744'", '744', "'744'", '"0600"', '"1755"']) assert.deepEqual(permissions(ok), [], ok);
    assert.deepEqual(permissions('"0999"'), ['line 4: error: invalid value 0999']);
    assert.deepEqual(permissions('rw-r--r--'), ['line 4: error: invalid value rw-r--r--']);
    assert.deepEqual(permissions('"77777"'), ['line 4: error: invalid value 77777']);
  });
  it('write_files[].encoding', () => {
    const encoding = (value: string) => cc(`write_files:\n  - path: /etc/x\n    encoding: ${value}\n    content: ""\n`);
    for (const ok of ['base64', 'b64', 'gz+b64', 'gzip+base64']) assert.ok(!encoding(ok).some((l) => l.includes('invalid value')), ok);
    assert.deepEqual(encoding('base32'), ['line 4: error: invalid value base32', 'line 5: error: content cannot be decoded as "base32"']);
  });
  const locksmith = (key: string, value: string) => cc(`coreos:\n  locksmith:\n    ${key}: ${value}\n`);
  it('coreos.locksmith.window_start: [day ]hh:mm, day names in any case', () => {
    for (const ok of ['"Thu 04:00"', '"thu 4:0"', '"SUN 23:59"', '"04:00"', '"0:00"']) assert.deepEqual(locksmith('window_start', ok), [], ok);
    assert.deepEqual(locksmith('window_start', '"Thursday 04:00"'), ['line 4: error: invalid value Thursday 04:00']);
    assert.deepEqual(locksmith('window_start', '"24:00"'), ['line 4: error: invalid value 24:00']);
    assert.deepEqual(locksmith('window_start', '"4am"'), ['line 4: error: invalid value 4am']);
  });
  it('coreos.locksmith.window_length: a duration', () => {
    for (const ok of ['1h', '1h30m', '90m', '1.5h', '-2m', '.5h']) assert.deepEqual(locksmith('window_length', ok), [], ok);
    assert.deepEqual(locksmith('window_length', '90'), ['line 4: error: invalid value 90']);
    assert.deepEqual(locksmith('window_length', '"1 hour"'), ['line 4: error: invalid value 1 hour']);
    assert.deepEqual(locksmith('window_length', '1.5.3h'), ['line 4: error: invalid value 1.5.3h']);
  });
  it('coreos.etcd2.proxy: on, off or readonly', () => {
    const deprecated = 'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)';
    assert.deepEqual(cc('coreos:\n  etcd2:\n    proxy: readonly\n'), [deprecated]);
    assert.deepEqual(cc('coreos:\n  etcd2:\n    proxy: maybe\n'), [deprecated, 'line 4: error: invalid value maybe']);
  });
  it('hyphenated keys are ignored by the typed decode, so their values are never checked (§1.4 step 3)', () => {
    assert.deepEqual(cc('coreos:\n  update:\n    reboot-strategy: sometimes\n'), [
      'line 4: error: key "reboot-strategy" is ignored by Flatcar >= 3975.2.0 (only "reboot_strategy" is read)',
    ]);
  });
});

describe('the window_length pattern', () => {
  it('accepts exactly what the Go expression accepts', () => {
    const go = /^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$/; // fine in JavaScript on short inputs
    const alphabet = '01.hm+-x ';
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const length = Math.floor(random() * 7);
      for (let j = 0; j < length; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      assert.equal(WINDOW_LENGTH.test(s), go.test(s), JSON.stringify(s));
    }
  });
  it('does not backtrack exponentially', () => {
    const started = Date.now();
    assert.equal(WINDOW_LENGTH.test(`${'1a'.repeat(20000)}!`), false);
    assert.equal(WINDOW_LENGTH.test(`${'a'.repeat(50000)}1`), false);
    assert.ok(Date.now() - started < 1000);
  });
});

describe('R5 checkWriteFiles: nothing under /usr', () => {
  const path = (p: string) => cc(`write_files:\n  - path: ${p}\n    content: x\n`);
  it('refuses /usr and paths that clean to it', () => {
    assert.deepEqual(path('/usr/share/x'), ['line 3: error: file cannot be written to a read-only filesystem']);
    assert.deepEqual(path('/tmp/../usr/invalid'), ['line 3: error: file cannot be written to a read-only filesystem']);
    assert.deepEqual(path('/usr/lib/systemd/system/x.service'), ['line 3: error: file cannot be written to a read-only filesystem']);
  });
  it('accepts other paths (and /usr itself, whose directory is /)', () => {
    assert.deepEqual(path('/etc/x'), []);
    assert.deepEqual(path('/tmp/usr/valid'), []);
    assert.deepEqual(path('/usr'), []);
  });
  it('applies to hyphenated write-files too, which Flatcar then ignores', () => {
    assert.deepEqual(cc('write-files:\n  - path: /tmp/../usr/invalid\n'), [
      'line 2: error: key "write-files" is ignored by Flatcar >= 3975.2.0 (only "write_files" is read)',
      'line 3: error: file cannot be written to a read-only filesystem',
    ]);
  });
});

describe('R6 checkWriteFilesUnderCoreos', () => {
  it('coreos.write_files is unknown and misplaced (an info in Go, a warning here)', () => {
    assert.deepEqual(cc('coreos:\n  write_files:\n    - path: /hi\n'), [
      'line 3: warning: unrecognized key "write_files"',
      "line 3: warning: write_files doesn't belong under coreos",
    ]);
    assert.deepEqual(cc('coreos:\n  write-files:\n    - path: /hyphen\n'), [
      'line 3: warning: unrecognized key "write_files"',
      "line 3: warning: write_files doesn't belong under coreos",
    ]);
  });
  it('a null coreos.write_files is only unknown; top-level write_files is fine', () => {
    assert.deepEqual(cc('coreos:\n  write_files:\n'), ['line 3: warning: unrecognized key "write_files"']);
    assert.deepEqual(cc('write_files:\n  - path: /hi\n'), []);
  });
});

describe('rackboot checks (§1.4 "gaps our validator should add")', () => {
  it('manage_etc_hosts: only localhost', () => {
    assert.deepEqual(cc('manage_etc_hosts: localhost\n'), []);
    assert.deepEqual(cc('manage_etc_hosts: true\n'), [
      'line 2: error: manage_etc_hosts "true" makes coreos-cloudinit fail ("Invalid option to manage_etc_hosts"): only "localhost" is supported',
    ]);
  });
  it('units need a name with a unit type', () => {
    assert.deepEqual(cc('coreos:\n  units:\n    - command: start\n'), ['line 4: error: coreos.units[0] has no name: coreos-cloudinit skips it']);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: docker\n'), [
      'line 4: error: unit name "docker" does not end in a unit type (.service, .socket, .timer, .mount, .network, ...)',
    ]);
    assert.deepEqual(cc('coreos:\n  units:\n    - name: 10-eth0.network\n    - name: data.mount\n    - name: getty@tty1.service\n'), []);
  });
  it('drop-ins need a name and a content', () => {
    const unit = 'coreos:\n  units:\n    - name: docker.service\n      drop_ins:\n';
    assert.deepEqual(cc(`${unit}        - name: 10-x.conf\n`), ['line 6: error: coreos.units[0].drop_ins[0] needs both a name and a content: coreos-cloudinit skips it']);
    assert.deepEqual(cc(`${unit}        - name: 10-x.conf\n          content: "[Service]"\n`), []);
  });
  it('users need a name', () => {
    assert.deepEqual(cc('users:\n  - groups: [docker]\n'), ['line 3: error: users[0] has no name']);
    assert.deepEqual(cc('users:\n  - name: deploy\n    groups: [docker]\n'), []);
  });
  it('write_files need an absolute path', () => {
    assert.deepEqual(cc('write_files:\n  - path: etc/x\n'), ['line 3: error: write_files path "etc/x" is not absolute']);
    assert.deepEqual(cc('write_files:\n  - content: x\n'), ['line 3: error: write_files[0] has no path']);
  });
  it('$private_ipv4 and friends become empty strings on bare metal; \\$ keeps them literal', () => {
    assert.deepEqual(cc('hostname: a\ncoreos:\n  etcd2:\n    listen_client_urls: http://$private_ipv4:2379\n').filter((l) => !l.includes('deprecated')), [
      'line 5: error: $private_ipv4 becomes an empty string on bare metal (cloud-config-url has no metadata): render the address',
    ]);
    assert.deepEqual(cc('write_files:\n  - path: /etc/x\n    content: echo \\$public_ipv6\n'), []);
  });
  it('etcd2.initial_cluster must be name=url[,name=url...]', () => {
    const deprecated = 'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux)';
    assert.deepEqual(cc('coreos:\n  etcd2:\n    initial_cluster: n1=http://10.0.0.11:2380,n2=http://10.0.0.12:2380\n'), [deprecated]);
    assert.deepEqual(cc('coreos:\n  etcd2:\n    initial_cluster: 10.0.0.11:2380,10.0.0.12:2380\n'), [
      deprecated,
      'line 4: warning: initial_cluster "10.0.0.11:2380,10.0.0.12:2380" is not name=url[,name=url...]',
    ]);
  });
  it('follows YAML merge keys like yaml.v3 does', () => {
    const text = 'units: &base\n  name: a.service\n  command: bogus\ncoreos:\n  units:\n    - <<: *base\n      command: start\n';
    // the merged command is overridden by the unit's own; the top-level "units" key is unknown
    assert.deepEqual(cc(text), ['line 2: warning: unrecognized key "units"']);
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

describe('validateCloudConfig: what the catalog refuses to serve', () => {
  it('formats every finding as "line N: kind: message"', () => {
    assert.deepEqual(validateCloudConfig('#cloud-config\nhostname: a\n'), []);
    assert.deepEqual(validateCloudConfig('#cloud-config\nruncmd: [ls]\ncoreos:\n  units:\n    - name: a.service\n      command: go\n'), [
      'line 2: warning: unrecognized key "runcmd"',
      'line 6: error: invalid value go',
    ]);
  });
  it('refuses valid user-data that is not a cloud-config', () => {
    for (const text of ['', '#!/bin/sh\n', '{"ignition": {"version": "3.4.0"}}', 'Content-Type: multipart/mixed; boundary=X\n\n--X--\n']) {
      const found = validateCloudConfig(text);
      assert.equal(found.length, 1, JSON.stringify(text));
      assert.match(found[0] ?? '', /^line 1: error: rackboot serves only cloud-configs/);
    }
    assert.deepEqual(validateCloudConfig('hostname: a\n'), ['line 1: error: must be "#cloud-config", multipart mime or begin with "#!"']);
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
