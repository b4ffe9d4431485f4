/**
 * rackboot's Ignition check against Debian's real ignition-validate on the corpus in
 * test/fixtures/ignition/: valid/ (both accept), invalid/ (both refuse: wrong versions, unknown keys,
 * bad paths and modes, duplicates, bad units, hashes, URLs and data URLs) and stricter/ (documented
 * cases ignition-validate 2.14 lets through and rackboot refuses).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { checkIgnition, hashProblem, unitContentProblem } from '../../../server/core/ignition-check.js';
import { ignitionValidate, SKIP_IGNITION_VALIDATE } from '../../helpers/ignition-validate.js';

const CORPUS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'ignition');

function corpus(kind: 'valid' | 'invalid' | 'stricter'): Array<{ name: string; text: string }> {
  return readdirSync(join(CORPUS, kind))
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(CORPUS, kind, name), 'utf8') }));
}

describe('checkIgnition: the corpus', () => {
  it('has cases in every folder', () => {
    assert.ok(corpus('valid').length >= 10);
    assert.ok(corpus('invalid').length >= 40);
    assert.ok(corpus('stricter').length >= 1);
  });
  for (const { name, text } of corpus('valid')) {
    it(`valid/${name}: no finding`, () => assert.deepEqual(checkIgnition(text), []));
  }
  for (const { name, text } of corpus('invalid')) {
    it(`invalid/${name}: at least one finding`, () => assert.notDeepEqual(checkIgnition(text), [], 'rackboot would serve it'));
  }
  for (const { name, text } of corpus('stricter')) {
    it(`stricter/${name}: refused by rackboot`, () => assert.notDeepEqual(checkIgnition(text), []));
  }
});

describe('checkIgnition agrees with ignition-validate', { skip: SKIP_IGNITION_VALIDATE }, () => {
  for (const kind of ['valid', 'invalid'] as const) {
    for (const { name, text } of corpus(kind)) {
      it(`${kind}/${name}`, () => {
        const real = ignitionValidate(text);
        const ours = checkIgnition(text);
        assert.equal(real.valid, kind === 'valid', `ignition-validate: ${real.output || '(nothing)'}`);
        assert.equal(ours.length === 0, real.valid, `rackboot: ${ours.join('; ') || '(nothing)'}; ignition-validate: ${real.output || '(nothing)'}`);
      });
    }
  }
  for (const { name, text } of corpus('stricter')) {
    it(`stricter/${name}: ignition-validate accepts what rackboot refuses (the documented difference)`, () => {
      assert.equal(ignitionValidate(text).valid, true, 'ignition-validate refuses it now: move it to invalid/');
    });
  }
});

describe('checkIgnition: details', () => {
  it('names the hash problems as Ignition does', () => {
    assert.equal(hashProblem(`sha512-${'a'.repeat(128)}`), null);
    assert.equal(hashProblem('sha512'), 'malformed hash specifier');
    assert.equal(hashProblem('md5-00'), 'unrecognized hash function');
    assert.equal(hashProblem('sha256-00'), 'incorrect size for hash sum');
  });
  it('parses unit text the way go-systemd does', () => {
    assert.equal(unitContentProblem('[Service]\nExecStart=/bin/true\n'), null);
    assert.equal(unitContentProblem('[Service]\nExecStart=/bin/echo \\\n  a b\n'), null);
    assert.match(unitContentProblem('[Service\n') ?? '', /end of section/);
    assert.match(unitContentProblem('[Service]\nFoo\nA=b\n') ?? '', /newline/);
  });
  it('refuses sections rackboot never renders', () => {
    const text = JSON.stringify({ ignition: { version: '3.3.0' }, storage: { disks: [{ device: '/dev/sda', wipeTable: true }] } });
    assert.match(checkIgnition(text).join(' '), /storage\.disks: rackboot never renders/);
  });
});
