/**
 * Untrusted text (event messages, discovered facts, BMC answers) is printed without its control
 * characters: an event message with ESC[2J and a BEL neither clears the terminal nor rings it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { formatTable, terminalLines, terminalText } from '../../../server/cli/format.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { rackboot } from '../../helpers/cli.js';

const HOSTILE = 'boom \u001b[2J\u001b]0;owned\u0007 \u009b31m \u202eevil\r\ntail';

test('terminalText makes every control character visible; ordinary text is unchanged', () => {
  assert.equal(terminalText(HOSTILE), 'boom \\x1b[2J\\x1b]0;owned\\x07 \\x9b31m \\u202eevil\\x0d\\x0atail');
  assert.equal(terminalText('blade-01: kernel fetched (flatcar/vmlinuz) — 10 MiB, ünïcode'), 'blade-01: kernel fetched (flatcar/vmlinuz) — 10 MiB, ünïcode');
  assert.equal(terminalLines('a\u001b[2J\nb\u0007'), 'a\\x1b[2J\nb\\x07');
});

test('formatTable escapes every cell, so one hostile cell neither breaks the table nor the terminal', () => {
  const table = formatTable(['TIME', 'MESSAGE'], [['t1', HOSTILE], ['t2', 'fine']]);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/.test(table), JSON.stringify(table));
  assert.equal(table.split('\n').length, 4);
});

let dir: string;
let config: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-escape-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\n');
  const db = openDatabase(join(dir, 'data', 'rackboot.db'));
  new SqliteStore(db).appendEvent({ machineId: null, mac: null, type: 'discovered', message: `iPXE script requested by unknown machine: ${HOSTILE}` }, Date.now());
  db.close();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('rackboot events prints an ESC[2J and a BEL from an event message as visible text; --json keeps the message', () => {
  const text = rackboot(['--config', config, 'events']);
  assert.equal(text.code, 0, text.stderr);
  assert.ok(!text.stdout.includes('\u001b') && !text.stdout.includes('\u0007') && !text.stdout.includes('\u009b'), JSON.stringify(text.stdout));
  assert.match(text.stdout, /boom \\x1b\[2J\\x1b\]0;owned\\x07/);
  const json = rackboot(['--config', config, 'events', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.ok(!json.stdout.includes('\u001b') && !json.stdout.includes('\u0007'));
  assert.equal((JSON.parse(json.stdout) as { message: string }[]).at(-1)?.message, `iPXE script requested by unknown machine: ${HOSTILE}`);
});
