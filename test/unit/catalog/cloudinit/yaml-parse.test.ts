/** YAML syntax errors, in libyaml's wording and at its lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cc } from './findings-text.js';

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
