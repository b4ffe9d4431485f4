import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CliError, exitCodeFor, reportFailure, wantsJson } from '../../../server/cli/errors-out.js';
import { ERROR_CODES, RackbootError } from '../../../server/errors.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('docs/cli.md\'s exit code table says what exitCodeFor does, for every code it lists', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| (\d) \| [^|]+\| ([^|]*)\|$/gm)];
  assert.ok(rows.length >= 4, 'the table is there');
  let checked = 0;
  for (const [, exit, codes] of rows) {
    const names = [...(codes ?? '').matchAll(/`(?:RACKBOOT_ERR)?(_[A-Z_]+)`/g)].map((m) => `RACKBOOT_ERR${m[1]}`);
    for (const code of names) {
      assert.ok(code in ERROR_CODES, `${code} is registered`);
      assert.equal(exitCodeFor(code), Number(exit), code);
      checked += 1;
    }
  }
  assert.ok(checked >= 12, `${checked} codes checked`);
});

test('a failure prints as text with its code, or as one JSON line with --json', () => {
  let text = '';
  const code = reportFailure(new RackbootError('RACKBOOT_ERR_AUTH', 'the API token is wrong'), false, { write: (s: string) => (text += s) });
  assert.equal(code, 4);
  assert.equal(text, 'rackboot: the API token is wrong [RACKBOOT_ERR_AUTH]\n');
  let json = '';
  assert.equal(reportFailure(new CliError('give either --role or --menu', 2, ['a \x1b[2J detail']), true, { write: (s: string) => (json += s) }), 2);
  assert.deepEqual(JSON.parse(json), { error: { code: 'RACKBOOT_ERR_USAGE', message: 'give either --role or --menu', details: ['a \x1b[2J detail'] }, exitCode: 2 });
  let escaped = '';
  reportFailure(new CliError('bad', 2, ['a \x1b[2J detail']), false, { write: (s: string) => (escaped += s) });
  assert.ok(!escaped.includes('\x1b'), 'text mode makes control characters visible');
});

test('--json is seen before the action runs, but not after --', () => {
  assert.equal(wantsJson(['machines', 'list', '--json']), true);
  assert.equal(wantsJson(['machines', 'list']), false);
  assert.equal(wantsJson(['events', '--', '--json']), false);
});
