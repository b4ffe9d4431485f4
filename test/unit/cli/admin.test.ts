/**
 * The CLI for scripts: api-token rotate/status, --json on assign, and exit codes (0 ok, 1 failed,
 * 2 usage) also for commander's own usage errors.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { openDatabase } from '../../../server/store/db.js';
import { rackboot } from '../../helpers/cli.js';

let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-op-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('api-token rotate prints a new token once; status never shows it', () => {
  const none = rackboot(['--config', config, 'api-token', 'status', '--json']);
  assert.equal(none.code, 0, none.stderr);
  assert.deepEqual(JSON.parse(none.stdout), { active: false, hint: null, createdAt: null });

  const first = rackboot(['--config', config, 'api-token', 'rotate']);
  assert.equal(first.code, 0, first.stderr);
  const token = first.stdout.trim();
  assert.match(token, /^rbt_[A-Za-z0-9_-]{43}$/);
  const second = rackboot(['--config', config, 'api-token', 'rotate', '--json']);
  const newer = (JSON.parse(second.stdout) as { token: string }).token;
  assert.notEqual(newer, token);

  const db = openDatabase(join(dir, 'data', 'rackboot.db'));
  try {
    const tokens = new ApiTokenStore(db);
    assert.ok(!tokens.verify(token), 'rotated away');
    assert.ok(tokens.verify(newer));
  } finally {
    db.close();
  }
  const status = rackboot(['--config', config, 'api-token', 'status']);
  assert.match(status.stdout, /^API token rbt_.{4}… made /);
  assert.ok(!status.stdout.includes(newer));
});

test('exit codes: usage errors are 2 (commander included), failures 1, --json on assign', () => {
  assert.equal(rackboot(['--no-such-option']).code, 2);
  assert.equal(rackboot(['--config', config, 'machines', 'list', '--bogus']).code, 2);
  assert.equal(rackboot(['--config', config, 'assign']).code, 2, 'missing argument');
  assert.equal(rackboot(['frobnicate']).code, 2, 'unknown command');
  assert.equal(rackboot(['--config', config, 'events', '--limit', 'lots']).code, 2);
  assert.equal(rackboot(['--help']).code, 0);
  assert.equal(rackboot(['--config', config, 'assign', 'ghost', '--role', 'dev']).code, 1);
  assert.equal(rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:31', '--ip', '10.99.0.31']).code, 0);
  const assign = rackboot(['--config', config, 'assign', 'node-10-99-0-31', '--role', 'small', '--json']);
  assert.equal(assign.code, 0, assign.stderr);
  const [machine] = JSON.parse(assign.stdout) as Array<{ name: string; role: string; bootToken?: string }>;
  assert.equal(machine?.role, 'small');
  assert.equal(machine?.bootToken, undefined);
});

test('rackboot config refuses what serve refuses: a menu or default item the catalog does not have', () => {
  const misspelled = join(dir, 'menu.yaml');
  writeFileSync(misspelled, `dataDir: ${join(dir, 'menu-data')}\nhttp: {port: 1}\ntftp: {enabled: false}\nboot: {menu: {name: defualt, defaultItem: nowhere}}\n`);
  const checked = rackboot(['--config', misspelled, 'config', '--quiet']);
  assert.equal(checked.code, 2, checked.stderr);
  assert.match(checked.stderr, /defualt/);
  // serve stops before it listens, with the same errors (port 1 would need root: it never gets there)
  const served = rackboot(['--config', misspelled, 'serve']);
  assert.equal(served.code, 2, served.stderr);
  const errors = (text: string) => text.split('\n').filter((line) => line.startsWith('  - ')).sort();
  assert.deepEqual(errors(checked.stderr), errors(served.stderr));
  assert.ok(errors(checked.stderr).length >= 1);
});
