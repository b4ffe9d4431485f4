import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiTokenStore, hashApiToken } from '../../../server/store/api-token-store.js';
import { openDatabase } from '../../../server/store/db.js';

test('a token is made once, stored only as a hash, and rotation revokes it', () => {
  const db = openDatabase(':memory:');
  const tokens = new ApiTokenStore(db);
  assert.equal(tokens.active(), null);
  const first = tokens.ensure(1000);
  assert.ok(first);
  assert.match(first, /^rbt_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokens.ensure(2000), null, 'a later start makes no new token');
  assert.ok(tokens.verify(first));
  assert.ok(!tokens.verify(`${first}x`));
  assert.ok(!tokens.verify(''));
  const rows = db.prepare('SELECT * FROM api_tokens').all() as Array<Record<string, unknown>>;
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.hash, hashApiToken(first));
  assert.ok(!JSON.stringify(rows).includes(first), 'the token itself is not stored');
  assert.equal(tokens.active()?.hint, first.slice(0, 8));

  const second = tokens.rotate(3000);
  assert.notEqual(second, first);
  assert.ok(!tokens.verify(first), 'the old token is revoked');
  assert.ok(tokens.verify(second));
  assert.equal(tokens.active()?.createdAt, 3000);
  db.close();
});

test("the audit actor of a token is its name (rotate --name), else its hint; a revoked token is nobody", () => {
  const db = openDatabase(':memory:');
  const tokens = new ApiTokenStore(db);
  const unnamed = tokens.rotate(1000);
  assert.equal(tokens.actorFor(unnamed), `api:${unnamed.slice(0, 8)}`);
  const named = tokens.rotate(2000, 'ci-bot');
  assert.equal(tokens.actorFor(named), 'api:ci-bot');
  assert.equal(tokens.actorFor(unnamed), null);
  assert.equal(tokens.actorFor('nonsense'), null);
  db.close();
});
