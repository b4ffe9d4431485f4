/** The findings rackboot adds to Flatcar's. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cc } from './findings-text.js';

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
