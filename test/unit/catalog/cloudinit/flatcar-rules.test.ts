/** The validator's rules R1–R6 (docs install-targets.md §1.4). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cc } from './findings-text.js';

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
