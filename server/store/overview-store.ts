/**
 * The read model behind the dashboard (core/overview.ts) in a few indexed queries: the newest event,
 * the newest progress callback and the newest problem of every machine.
 */
import { PROBLEM_EVENTS, type EventBrief, type MachineSummary, type OverviewReader } from '../core/overview.js';
import { parseProgress } from '../core/progress.js';
import type { Db } from './db.js';

interface Row {
  id: number;
  machine_id: number;
  at: number;
  type: string;
  message: string;
}

const PROBLEM_LIST = PROBLEM_EVENTS.map((t) => `'${t}'`).join(', ');

export class OverviewStore implements OverviewReader {
  private readonly statements;

  constructor(db: Db) {
    const newest = (where: string) =>
      `SELECT id, machine_id, at, type, message FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE machine_id IS NOT NULL ${where} GROUP BY machine_id)`;
    const newestOne = (where: string) => `SELECT id, machine_id, at, type, message FROM events WHERE machine_id = ? ${where} ORDER BY id DESC LIMIT 1`;
    this.statements = {
      last: db.prepare(newest('')),
      progress: db.prepare(newest("AND type = 'progress'")),
      problem: db.prepare(newest(`AND type IN (${PROBLEM_LIST})`)),
      lastOne: db.prepare(newestOne('')),
      progressOne: db.prepare(newestOne("AND type = 'progress'")),
      problemOne: db.prepare(newestOne(`AND type IN (${PROBLEM_LIST})`)),
      latest: db.prepare('SELECT MAX(id) AS id FROM events'),
    };
  }

  summaries(): ReadonlyMap<number, MachineSummary> {
    const byMachine = new Map<number, { lastEvent: EventBrief | null; progress: MachineSummary['progress']; problem: EventBrief | null }>();
    const entry = (id: number) => {
      let value = byMachine.get(id);
      if (!value) byMachine.set(id, (value = { lastEvent: null, progress: null, problem: null }));
      return value;
    };
    for (const row of this.statements.last.all() as Row[]) entry(row.machine_id).lastEvent = brief(row);
    for (const row of this.statements.progress.all() as Row[]) entry(row.machine_id).progress = parseProgress(row.message, row.at);
    for (const row of this.statements.problem.all() as Row[]) entry(row.machine_id).problem = brief(row);
    return byMachine;
  }

  summary(machineId: number): MachineSummary {
    const last = this.statements.lastOne.get(machineId) as Row | undefined;
    const progress = this.statements.progressOne.get(machineId) as Row | undefined;
    const problem = this.statements.problemOne.get(machineId) as Row | undefined;
    return {
      lastEvent: last ? brief(last) : null,
      progress: progress ? parseProgress(progress.message, progress.at) : null,
      problem: problem ? brief(problem) : null,
    };
  }

  latestEventId(): number {
    return (this.statements.latest.get() as { id: number | null }).id ?? 0;
  }
}

function brief(row: Row): EventBrief {
  return { id: row.id, at: row.at, type: row.type, message: row.message };
}
