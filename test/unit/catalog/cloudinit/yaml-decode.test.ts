/** yaml.v3 decode failures of the weak and the strong tree. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cc } from './findings-text.js';

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
