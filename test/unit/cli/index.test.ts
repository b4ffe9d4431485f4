import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compileServer, removeCompiledServer } from '../../../bench/lib/storm-lab.js';
import { loadConfigFile } from '../../../server/config/config.js';
import { databasePath } from '../../../server/main.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SOURCE_CLI = ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts')];

let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-pipe-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n`);
  // Enough output (well over a pipe buffer) that `head -1` closes the pipe while rackboot still writes.
  const loaded = loadConfigFile(config);
  assert.ok(loaded.config, loaded.errors.join('\n'));
  const db = openDatabase(databasePath(loaded.config));
  const store = new SqliteStore(db);
  try {
    store.transaction(() => {
      for (let i = 0; i < 250; i++) {
        const mac = `52:54:00:77:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
        const machine = store.addMachine({ name: `pipe-${i}`, macs: [mac], ip: null, role: null }, 1_000 + i);
        for (let k = 0; k < 8; k++) store.appendEvent({ machineId: machine.id, mac, type: 'note', message: `event ${k} of machine ${i} `.padEnd(80, '.') }, 2_000 + i);
      }
    });
  } finally {
    db.close();
  }
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  removeCompiledServer();
});

/** `rackboot <args> | head -1` through bash with pipefail, so rackboot's own exit status counts. */
function pipedIntoHead(entry: readonly string[], args: readonly string[]) {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `${[process.execPath, ...entry, '--config', config, ...args].map(quote).join(' ')} | head -1`;
  const result = spawnSync('bash', ['-o', 'pipefail', '-c', command], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('a reader that closes early (| head -1) ends rackboot quietly with exit 0, not an EPIPE stack trace', () => {
  for (const args of [['events', '--limit', '10000'], ['machines', 'list', '--json'], ['events', '--json', '--limit', '10000']]) {
    const result = pipedIntoHead(SOURCE_CLI, args);
    assert.equal(result.stderr, '', `rackboot ${args.join(' ')} | head -1`);
    assert.equal(result.code, 0, `rackboot ${args.join(' ')} | head -1`);
    assert.equal(result.stdout.split('\n').length, 2);
  }
});

test('the built CLI (what `npm run build` installs) also ends quietly when its reader closes early', { timeout: 240_000 }, () => {
  const built = compileServer();
  const result = pipedIntoHead([built], ['machines', 'list', '--json']);
  assert.equal(result.stderr, '');
  assert.equal(result.code, 0);
  assert.equal(result.stdout, '[\n');
});
