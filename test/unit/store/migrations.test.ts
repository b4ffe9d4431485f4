/** Migration 6 on a database written by the previous release: machines get empty labels, the audit table appears. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openDatabase } from '../../../server/store/db.js';
import { MIGRATIONS } from '../../../server/store/migrations.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';

test('a version-5 inventory upgrades: its machines keep every field and get labels {}; the audit log works', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-migration-6-'));
  try {
    const path = join(dir, 'rackboot.db');
    const old = new Database(path);
    for (const sql of MIGRATIONS.slice(0, 5)) old.exec(sql);
    old.pragma('user_version = 5');
    old.prepare("INSERT INTO machines (name, ip, role, state, state_changed_at, created_at) VALUES ('old-01', '10.99.0.11', 'dev', 'ready', 1, 1)").run();
    old.prepare("INSERT INTO interfaces (mac, machine_id, position) VALUES ('52:54:00:00:00:01', 1, 0)").run();
    old.prepare("INSERT INTO api_tokens (hash, hint, created_at) VALUES ('h', 'rbt_abcd', 1)").run();
    old.close();

    const db = openDatabase(path);
    assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
    const store = new SqliteStore(db);
    const machine = store.machineByName('old-01');
    assert.deepEqual([machine?.ip, machine?.role, machine?.state, machine?.macs, machine?.labels], ['10.99.0.11', 'dev', 'ready', ['52:54:00:00:00:01'], {}]);
    const entry = store.appendAudit({ actor: 'cli:test', action: 'machine.edit', target: 'old-01', before: { ip: '10.99.0.11' }, after: { ip: '10.99.0.12' }, message: 'ip' }, 5);
    assert.deepEqual(store.listAudit({ limit: 10 }), [{ ...entry, before: { ip: '10.99.0.11' }, after: { ip: '10.99.0.12' } }]);
    assert.equal((db.prepare('SELECT name FROM api_tokens').get() as { name: string | null }).name, null);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
