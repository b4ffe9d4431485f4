/**
 * API bearer tokens: only a SHA-256 hash is stored (a token is 256 random bits, so a plain hash is
 * enough: there is nothing to brute-force). One token is active at a time; rotating revokes it.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export interface ApiTokenInfo {
  readonly id: number;
  /** The first characters of the token, to tell tokens apart; never enough to use one. */
  readonly hint: string;
  readonly createdAt: number;
}

export const API_TOKEN_PREFIX = 'rbt_';

export function newApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class ApiTokenStore {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  active(): ApiTokenInfo | null {
    const row = this.db.prepare('SELECT id, hint, created_at FROM api_tokens WHERE revoked_at IS NULL ORDER BY id DESC LIMIT 1').get() as
      | { id: number; hint: string; created_at: number }
      | undefined;
    return row ? { id: row.id, hint: row.hint, createdAt: row.created_at } : null;
  }

  /** True when `token` is the active token. Read on every call: a rotation applies at once, also to a running server. */
  verify(token: string): boolean {
    if (!token.startsWith(API_TOKEN_PREFIX)) return false;
    const row = this.db.prepare('SELECT 1 FROM api_tokens WHERE hash = ? AND revoked_at IS NULL').get(hashApiToken(token));
    return row !== undefined;
  }

  /** First start: creates a token when there is none and returns it (the only time it is seen); else null. */
  ensure(now: number): string | null {
    return this.db.transaction(() => (this.active() ? null : this.insert(now)))();
  }

  /** Revokes the active token and returns a new one; `name` is who the audit log says made a change with it. */
  rotate(now: number, name?: string): string {
    return this.db.transaction(() => {
      this.db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE revoked_at IS NULL').run(now);
      return this.insert(now, name);
    })();
  }

  /** The audit actor of an active token: `api:<name>`, or `api:<hint>` for a token made without a name. */
  actorFor(token: string): string | null {
    if (!token.startsWith(API_TOKEN_PREFIX)) return null;
    const row = this.db.prepare('SELECT hint, name FROM api_tokens WHERE hash = ? AND revoked_at IS NULL').get(hashApiToken(token)) as { hint: string; name: string | null } | undefined;
    return row ? `api:${row.name ?? row.hint}` : null;
  }

  private insert(now: number, name?: string): string {
    const token = newApiToken();
    this.db.prepare('INSERT INTO api_tokens (hash, hint, created_at, name) VALUES (?, ?, ?, ?)').run(hashApiToken(token), token.slice(0, API_TOKEN_PREFIX.length + 4), now, name ?? null);
    return token;
  }
}
