/** What the catalog refuses to serve. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateCloudConfig } from '../../../server/catalog/cloud-config-check.js';

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
