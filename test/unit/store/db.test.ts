/**
 * The inventory database's files: private (0600, directory 0700) whatever the umask, and a database
 * that cannot be trusted (0 bytes, not SQLite, truncated, damaged) stops rackboot with a recovery hint.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isRackbootError } from '../../../server/errors.js';
import { ensureKubernetesSecrets } from '../../../server/install/kube-pki.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { rackboot } from '../../helpers/cli.js';

const root = mkdtempSync(join(tmpdir(), 'rb-db-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `case-${++n}`);
const mode = (path: string) => statSync(path).mode & 0o777;

function withUmask<T>(umask: number, work: () => T): T {
  const previous = process.umask(umask);
  try {
    return work();
  } finally {
    process.umask(previous);
  }
}

/** A closed database with `machines` machines, checkpointed into the main file. */
function populated(dir: string, machines: number): string {
  const path = join(dir, 'rackboot.db');
  const db = openDatabase(path);
  const store = new SqliteStore(db);
  for (let i = 0; i < machines; i++) store.addMachine({ name: `m-${i}`, macs: [`52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`], ip: null, role: null }, 1);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return path;
}

function refusal(path: string): { message: string; details: readonly string[] } {
  try {
    openDatabase(path).close();
  } catch (error) {
    assert.ok(isRackbootError(error), String(error));
    assert.equal(error.code, 'RACKBOOT_ERR_STORE_UNUSABLE', error.message);
    assert.ok(error.details.some((d) => d.includes(`mv ${path} ${path}.broken`)), error.details.join('\n'));
    assert.ok(error.details.some((d) => d.includes(`restore ${path} from a backup`)));
    return { message: error.message, details: error.details };
  }
  assert.fail(`${path} was opened`);
}

test('a new database, its -wal and -shm are 0600 and its new directory 0700, even with umask 0', () => {
  const dir = join(fresh(), 'data');
  const path = join(dir, 'rackboot.db');
  const db = withUmask(0, () => openDatabase(path));
  try {
    new SqliteStore(db).addMachine({ name: 'a', macs: ['52:54:00:00:00:01'], ip: null, role: null }, 1);
    assert.equal(mode(dir), 0o700);
    for (const file of [path, `${path}-wal`, `${path}-shm`]) assert.equal(mode(file), 0o600, file);
  } finally {
    db.close();
  }
});

test('an existing 0644 database is made 0600 when it is opened', () => {
  const path = populated(fresh(), 1);
  chmodSync(path, 0o644);
  openDatabase(path).close();
  assert.equal(mode(path), 0o600);
});

test('a 0-byte database is refused (not turned into an empty inventory); a missing one is created', () => {
  const dir = fresh();
  const path = join(dir, 'rackboot.db');
  withUmask(0o022, () => openDatabase(path)).close();
  assert.ok(statSync(path).size > 0);
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  writeFileSync(path, '');
  assert.match(refusal(path).message, /cannot be used: the file is empty \(0 bytes\)/);
  assert.equal(statSync(path).size, 0, 'left as it was');
});

test('random bytes, a truncated file and a damaged page are refused with the hint', () => {
  const junk = join(fresh(), 'rackboot.db');
  populated(join(junk, '..'), 0);
  writeFileSync(junk, randomBytes(8192));
  assert.match(refusal(junk).message, /not a readable SQLite database/);

  const truncated = populated(fresh(), 2000);
  truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
  assert.match(refusal(truncated).message, /cannot be used/);

  const damaged = populated(fresh(), 2000);
  const size = statSync(damaged).size;
  // the schema can spill past page 1 (migrations that ALTER a table grow it): those pages stay intact
  const schemaDb = openDatabase(damaged);
  const schemaPages = new Set((schemaDb.prepare("SELECT pageno FROM dbstat WHERE name = 'sqlite_schema'").all() as Array<{ pageno: number }>).map((r) => r.pageno));
  schemaDb.close();
  const fd = openSync(damaged, 'r+');
  // the pages in the middle hold machines and their index: scribble over a few of them, past page 1
  for (let offset = 4096 * 3; offset < size - 4096; offset += 4096 * 5) {
    if (!schemaPages.has(offset / 4096 + 1)) writeSync(fd, randomBytes(512), 0, 512, offset + 100);
  }
  closeSync(fd);
  // the header and schema are intact, so opening succeeds: quick_check is what notices
  assert.match(refusal(damaged).message, /cannot be used: PRAGMA quick_check found damage: \*\*\* in database main \*\*\* /);
});

test('the CLI stops with exit code 2, the message and the hint, no stack trace, for a 0-byte or a corrupt database', () => {
  const dir = fresh();
  mkdirSync(dir);
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\nhttp: {port: 18999}\ntftp: {port: 18998}\n');
  const path = join(dir, 'data', 'rackboot.db');
  assert.equal(rackboot(['--config', config, 'machines', 'list']).code, 0); // creates it
  for (const [label, content] of [['empty', Buffer.alloc(0)], ['corrupt', randomBytes(20_000)]] as const) {
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    writeFileSync(path, content);
    for (const args of [['machines', 'list'], ['serve'], ['api-token', 'status']]) {
      const run = rackboot(['--config', config, ...args]);
      assert.equal(run.code, 2, `${label} ${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, new RegExp(`the inventory database ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot be used`));
      assert.match(run.stderr, /\[RACKBOOT_ERR_STORE_UNUSABLE\]/);
      assert.match(run.stderr, /move it aside to start with an empty inventory: mv /);
      assert.ok(!/\n\s+at /.test(run.stderr), `a stack trace: ${run.stderr}`);
    }
  }
  assert.ok(existsSync(path) && readFileSync(path).length === 20_000, 'the broken file is left for the operator');
});

test('the Kubernetes CA key and secrets are 0600 in a 0700 directory, even with umask 0', () => {
  const dataDir = fresh();
  withUmask(0, () => ensureKubernetesSecrets(dataDir));
  assert.equal(mode(join(dataDir, 'kubernetes')), 0o700);
  for (const name of ['ca.key', 'ca.crt', 'token', 'certificate-key']) assert.equal(mode(join(dataDir, 'kubernetes', name)), 0o600, name);
});
