/**
 * Opens the inventory database: WAL, foreign keys, numbered migrations tracked in user_version.
 * A migration runs in its own transaction, so a failed one leaves the schema as it was.
 *
 * A database that cannot be trusted stops rackboot with RACKBOOT_ERR_STORE_UNUSABLE (exit code 2) and
 * a recovery hint, never with a stack trace or an empty inventory: a 0-byte file where a database is
 * expected (a missing file is created), a file that is not SQLite, and one `PRAGMA quick_check` finds
 * damaged. The files are private: the database, its -wal and -shm are 0600, its directory 0700 when
 * rackboot creates it, whatever the umask.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { RackbootError } from '../errors.js';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

const SIDE_FILES = ['-wal', '-shm'] as const;
/** SQLite result codes that mean the file is not a usable database (not an I/O or locking problem). */
const UNUSABLE_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE', 'SQLITE_CORRUPT_INDEX']);

export function openDatabase(path: string): Db {
  if (path !== ':memory:') prepareFile(path);
  let db: Db;
  try {
    db = new Database(path);
  } catch (error) {
    throw new RackbootError('RACKBOOT_ERR_STORE', `cannot open the inventory database at ${path}`, { cause: error });
  }
  try {
    db.pragma('journal_mode = WAL');
    // NORMAL in WAL mode survives a process crash (kill -9); only an OS crash may lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    if (path !== ':memory:') {
      checkIntegrity(db, path);
      for (const suffix of SIDE_FILES) if (existsSync(path + suffix)) chmodSync(path + suffix, 0o600);
    }
    migrate(db);
  } catch (error) {
    db.close();
    if (error instanceof RackbootError) throw error;
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && UNUSABLE_CODES.has(code)) throw unusable(path, `it is not a readable SQLite database (${(error as Error).message})`, error);
    throw error;
  }
  return db;
}

/** The directory (0700 when created here) and the file (created 0600, or made 0600); refuses a 0-byte database. */
function prepareFile(path: string): void {
  ensurePrivateDir(dirname(path));
  if (!existsSync(path)) {
    closeSync(openSync(path, 'wx', 0o600));
    chmodSync(path, 0o600);
    return;
  }
  // a WAL database never has a 0-byte main file once written: such a file was truncated or replaced, so an empty
  // inventory would silently "lose" every machine (unless its committed pages still wait in the -wal file)
  if (statSync(path).size === 0 && !(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0)) {
    throw unusable(path, 'the file is empty (0 bytes), so every machine, lease and token would be gone');
  }
  chmodSync(path, 0o600);
}

/** Creates `dir` (and its parents) when missing; the directory itself is made 0700, whatever the umask. */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** PRAGMA quick_check: 0.12-0.15 s on a 10,000-machine, 100,000-event database (docs/security/config.md). */
function checkIntegrity(db: Db, path: string): void {
  const rows = db.pragma('quick_check') as { quick_check: string }[];
  const problems = rows.map((row) => row.quick_check.replace(/\s+/g, ' ').trim()).filter((line) => line !== 'ok');
  if (problems.length > 0) throw unusable(path, `PRAGMA quick_check found damage: ${problems.slice(0, 3).join('; ')}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ''}`);
}

function unusable(path: string, why: string, cause?: unknown): RackbootError {
  return new RackbootError('RACKBOOT_ERR_STORE_UNUSABLE', `the inventory database ${path} cannot be used: ${why}`, {
    details: [
      `restore ${path} from a backup (stop rackboot first; remove ${path}-wal and ${path}-shm if the backup does not include them), or`,
      `move it aside to start with an empty inventory: mv ${path} ${path}.broken; mv ${path}-wal ${path}-wal.broken; mv ${path}-shm ${path}-shm.broken (the -wal and -shm files may not exist)`,
    ],
    ...(cause === undefined ? {} : { cause }),
  });
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new RackbootError(
      'RACKBOOT_ERR_STORE',
      `the database schema is version ${current}, newer than this rackboot knows (${MIGRATIONS.length}); upgrade rackboot`,
    );
  }
  for (let version = current + 1; version <= MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version - 1] as string;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}
