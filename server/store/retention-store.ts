/**
 * Retention over the inventory database, in bounded steps: each call does at most `batch` rows of
 * work, so the caller (services/retention.ts) can yield to the event loop between steps and a
 * prune never holds the loop (or the SQLite write lock) for long.
 */
import type Database from 'better-sqlite3';
import type { Db } from './db.js';

export interface EventsStep {
  readonly deleted: number;
  /** The last event id looked at; the next step starts after it. */
  readonly cursor: number;
  /** No older event is left to look at (the scan reached an event newer than the cutoff, or the end). */
  readonly done: boolean;
}

export class RetentionStore {
  private readonly scan: Database.Statement;
  private readonly nthNewest: Database.Statement;
  private readonly deleteEvent: Database.Statement;
  private readonly staleDiscovered: Database.Statement;
  private readonly countDiscovered: Database.Statement;
  private readonly oldestDiscovered: Database.Statement;
  private readonly deleteDiscovered: Database.Statement;
  private readonly deleteOldAudit: Database.Statement;

  constructor(private readonly db: Db) {
    this.scan = db.prepare('SELECT id, machine_id, at FROM events WHERE id > ? ORDER BY id LIMIT ?');
    this.nthNewest = db.prepare('SELECT id FROM events WHERE machine_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?');
    this.deleteEvent = db.prepare('DELETE FROM events WHERE id = ?');
    this.staleDiscovered = db.prepare('SELECT rowid AS r FROM discovered WHERE last_seen < ? LIMIT ?');
    this.countDiscovered = db.prepare('SELECT count(*) AS n FROM discovered');
    this.oldestDiscovered = db.prepare('SELECT rowid AS r FROM discovered ORDER BY last_seen, rowid LIMIT ?');
    this.deleteDiscovered = db.prepare('DELETE FROM discovered WHERE rowid = ?');
    this.deleteOldAudit = db.prepare('DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY id LIMIT ?)');
  }

  /**
   * Looks at up to `batch` events after `cursor` and deletes those older than `cutoff`, except each
   * machine's newest `keepPerMachine` (its timeline keeps them whatever their age). `keepFrom`
   * caches, per machine, the id of its keepPerMachine-th newest event for one prune run.
   */
  pruneEventsStep(cutoff: number, keepPerMachine: number, cursor: number, batch: number, keepFrom: Map<number, number>): EventsStep {
    return this.db.transaction((): EventsStep => {
      const rows = this.scan.all(cursor, batch) as Array<{ id: number; machine_id: number | null; at: number }>;
      let deleted = 0;
      let last = cursor;
      for (const row of rows) {
        if (row.at >= cutoff) return { deleted, cursor: last, done: true };
        last = row.id;
        if (row.machine_id !== null && row.id >= this.keepFromFor(row.machine_id, keepPerMachine, keepFrom)) continue;
        this.deleteEvent.run(row.id);
        deleted++;
      }
      return { deleted, cursor: last, done: rows.length < batch };
    })();
  }

  private keepFromFor(machineId: number, keep: number, cache: Map<number, number>): number {
    let from = cache.get(machineId);
    if (from === undefined) {
      if (keep <= 0) from = Number.MAX_SAFE_INTEGER;
      else {
        const row = this.nthNewest.get(machineId, keep - 1) as { id: number } | undefined;
        // fewer than `keep` events: all of them stay
        from = row?.id ?? 0;
      }
      cache.set(machineId, from);
    }
    return from;
  }

  /** Deletes up to `batch` audit entries older than `cutoff` (the audit log is kept as long as events); returns how many. */
  pruneAuditStep(cutoff: number, batch: number): number {
    return this.deleteOldAudit.run(cutoff, batch).changes;
  }

  /** Deletes up to `batch` discovered records not seen since `cutoff`; returns how many. */
  pruneDiscoveredStep(cutoff: number, batch: number): number {
    return this.deleteRows(this.staleDiscovered.all(cutoff, batch) as Array<{ r: number }>);
  }

  /** Deletes up to `batch` of the least recently seen discovered records beyond `max`; returns how many. */
  trimDiscoveredStep(max: number, batch: number): number {
    const excess = (this.countDiscovered.get() as { n: number }).n - max;
    if (excess <= 0) return 0;
    return this.deleteRows(this.oldestDiscovered.all(Math.min(excess, batch)) as Array<{ r: number }>);
  }

  private deleteRows(rows: Array<{ r: number }>): number {
    if (rows.length === 0) return 0;
    this.db.transaction(() => {
      for (const row of rows) this.deleteDiscovered.run(row.r);
    })();
    return rows.length;
  }
}
