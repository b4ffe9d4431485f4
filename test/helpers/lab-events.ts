/**
 * Shared by the QEMU suites: build the test OS, poll a rackboot server's database for a machine's
 * events, and check that a timeline holds the expected steps in order.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const ROOT = join(import.meta.dirname, '..', '..');

export interface EventRow {
  readonly id: number;
  readonly type: string;
  readonly message: string;
  readonly data: string | null;
}

/** Runs one of scripts/*.sh (its own up-to-date check makes a repeat cheap); null, or why it failed. */
export function runBuildScript(script: string, args: readonly string[]): string | null {
  const build = spawnSync('bash', [join(ROOT, 'scripts', script), ...args], { encoding: 'utf8', timeout: 600_000 });
  if (build.status === 0) return null;
  return `${script} failed: ${(build.stderr || build.stdout).trim().split('\n').slice(-3).join(' ')}`;
}

/** Reads the machine's timeline from a running server's database (read-only; WAL allows it). */
export function machineEvents(dbPath: string, machine: string): EventRow[] {
  if (!existsSync(dbPath)) return [];
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT e.id, e.type, e.message, e.data FROM events e JOIN machines m ON m.id = e.machine_id WHERE m.name = ? ORDER BY e.id')
      .all(machine) as EventRow[];
  } finally {
    db.close();
  }
}

/** Polls until the machine records `type`; `fatal` aborts early (e.g. the server exited). */
export async function waitForEvent(
  dbPath: string,
  machine: string,
  type: string,
  timeoutMs: number,
  fatal: () => string | null = () => null,
): Promise<EventRow[]> {
  const deadline = Date.now() + timeoutMs;
  let last: EventRow[] = [];
  while (Date.now() < deadline) {
    const problem = fatal();
    if (problem) throw new Error(problem);
    last = machineEvents(dbPath, machine);
    if (last.some((e) => e.type === type)) return last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${machine} did not reach '${type}' within ${timeoutMs / 1000} s; events so far: ${last.map((e) => e.type).join(' -> ') || '(none)'}`);
}

/** The expected types appear in this order (other events may come between them). */
export function assertInOrder(types: readonly string[], expected: readonly string[]): void {
  let at = 0;
  for (const type of types) if (type === expected[at]) at++;
  assert.equal(at, expected.length, `expected ${expected.join(' -> ')} in order; got ${types.join(' -> ')}`);
}

export function leaseIp(dbPath: string, mac: string): string | undefined {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT ip FROM leases WHERE mac = ?').get(mac) as { ip: string } | undefined)?.ip;
  } finally {
    db.close();
  }
}
