import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runRetention, type RetentionStats } from '../../../server/services/retention.js';
import { openDatabase } from '../../../server/store/db.js';
import { RetentionStore } from '../../../server/store/retention-store.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = 1_700_000_000_000;

test('a prune run yields to the event loop between bounded batches', async () => {
  const db = openDatabase(':memory:');
  const store = new SqliteStore(db);
  const insert = db.prepare('INSERT INTO events (machine_id, mac, at, type, message) VALUES (NULL, NULL, ?, ?, ?)');
  db.transaction(() => {
    for (let i = 0; i < 20_000; i++) insert.run(NOW - 100 * DAY + i, 'token-refused', 'x');
  })();
  for (let i = 0; i < 1200; i++) store.appendAudit({ actor: 'cli:test', action: 'machine.edit', target: 'x', message: 'old' }, NOW - 100 * DAY + i);
  for (let i = 0; i < 3; i++) store.appendAudit({ actor: 'cli:test', action: 'machine.edit', target: 'x', message: 'recent' }, NOW - DAY);
  for (let i = 0; i < 30; i++) store.noteDiscovered(`52:54:00:02:00:${i.toString(16).padStart(2, '0')}`, {}, NOW - i * DAY);
  const stats: RetentionStats = { runs: 0, eventsDeleted: 0, discoveredDeleted: 0, steps: 0, longestStepMs: 0 };
  let pauses = 0;
  const result = await runRetention(new RetentionStore(db), { eventsDays: 90, keepPerMachine: 10, discoveredDays: 20, discoveredMax: 15, batch: 500 }, NOW, stats, async () => {
    pauses++;
  });
  assert.deepEqual(result, { events: 20_000, discovered: 15, audit: 1200 });
  assert.deepEqual(store.listAudit({ limit: 100 }).map((a) => a.message), ['recent', 'recent', 'recent'], 'the audit log is kept as long as events');
  assert.ok(pauses >= 40, `it paused between the ${stats.steps} steps (${pauses} pauses)`);
  assert.equal(store.listEvents({}).length, 0);
  assert.equal(store.listDiscovered().length, 15);
  assert.ok(stats.longestStepMs < 1000, `longest step ${stats.longestStepMs} ms`);
  assert.equal(stats.runs, 1);
});
