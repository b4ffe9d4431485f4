/**
 * The pure decision behind edit, board replacement and import: the inventory as it would be after
 * the change, checked as a whole (names, MACs, IPs, UUIDs and BMC addresses unique, reserved IPs
 * inside a configured subnet), and what changes for each machine. The Provisioner applies a plan
 * only when it has no errors.
 */
import { cidrContains, parseCidr } from './ipv4.js';
import { rowOf, type InventoryRow, type LineError } from './inventory-file.js';
import type { Machine } from './types.js';

export const ROW_FIELDS = ['name', 'macs', 'ip', 'role', 'bootMode', 'uuid', 'bmcAddress', 'labels'] as const;
export type RowField = (typeof ROW_FIELDS)[number];

export interface FieldChange {
  readonly field: RowField;
  readonly from: unknown;
  readonly to: unknown;
}

export interface Desired {
  /** The machine this row updates, or null for a new one. */
  readonly id: number | null;
  readonly row: InventoryRow;
  /** The line of an imported row; 0 for a single edit. */
  readonly line: number;
}

export type PlannedChange =
  | { readonly action: 'add'; readonly line: number; readonly row: InventoryRow }
  | { readonly action: 'update'; readonly line: number; readonly id: number; readonly name: string; readonly row: InventoryRow; readonly changes: readonly FieldChange[] }
  | { readonly action: 'unchanged'; readonly line: number; readonly id: number; readonly name: string };

/** A row's problem; `conflict`: it clashes with another machine (HTTP 409), else the row itself is wrong. */
export interface PlanError extends LineError {
  readonly conflict?: boolean;
}

export interface Plan {
  readonly changes: readonly PlannedChange[];
  readonly errors: readonly PlanError[];
}

export function diffRows(before: InventoryRow, after: InventoryRow): FieldChange[] {
  const out: FieldChange[] = [];
  for (const field of ROW_FIELDS) {
    const from = before[field];
    const to = after[field];
    if (JSON.stringify(from) !== JSON.stringify(to)) out.push({ field, from, to });
  }
  return out;
}

/** `ip 10.0.0.1 -> 10.0.0.2, macs a -> b`: a change list for events, audit lines and dry runs. */
export function describeChanges(changes: readonly FieldChange[]): string {
  const show = (v: unknown) => (v === null ? '(none)' : Array.isArray(v) ? v.join(' ') || '(none)' : typeof v === 'object' ? Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`).join(' ') || '(none)' : String(v));
  return changes.map((c) => `${c.field} ${show(c.from)} -> ${show(c.to)}`).join(', ');
}

/**
 * The plan for `desired` over `inventory`. Machines not named in `desired` stay as they are but
 * still count for uniqueness. Subnets: a reserved IP that changes must lie in one of them (when
 * any is configured).
 */
export function planInventory(inventory: readonly Machine[], desired: readonly Desired[], subnets: readonly string[]): Plan {
  const errors: PlanError[] = [];
  const byId = new Map(inventory.map((m) => [m.id, m]));
  const touched = new Set<number>();
  const finalRows: Array<{ owner: string; line: number | null; row: InventoryRow }> = [];
  for (const d of desired) {
    if (d.id !== null) {
      if (touched.has(d.id)) errors.push({ line: d.line, conflict: true, message: `${d.row.name}: the same machine is changed twice` });
      touched.add(d.id);
    }
  }
  for (const m of inventory) if (!touched.has(m.id)) finalRows.push({ owner: m.name, line: null, row: rowOf(m) });
  for (const d of desired) finalRows.push({ owner: d.row.name, line: d.line, row: d.row });

  const claims: Array<[string, (r: InventoryRow) => readonly string[]]> = [
    ['name', (r) => [r.name]],
    ['MAC', (r) => r.macs],
    ['IP', (r) => (r.ip ? [r.ip] : [])],
    ['UUID', (r) => (r.uuid ? [r.uuid] : [])],
    ['BMC address', (r) => (r.bmcAddress ? [r.bmcAddress] : [])],
  ];
  for (const [what, values] of claims) {
    const first = new Map<string, { owner: string; line: number | null }>();
    for (const entry of finalRows) {
      for (const value of values(entry.row)) {
        const holder = first.get(value);
        if (!holder) {
          first.set(value, { owner: entry.owner, line: entry.line });
          continue;
        }
        // report on a row of the change (an untouched machine cannot be the one at fault)
        const line = entry.line ?? holder.line ?? 0;
        const where = holder.line === null ? `machine ${holder.owner}` : holder.line === 0 ? holder.owner : `line ${holder.line} (${holder.owner})`;
        errors.push({ line, conflict: true, message: what === 'name' ? `name ${value} is also ${where}` : `${what} ${value} is also ${where}'s` });
      }
    }
  }

  const cidrs = subnets.map(parseCidr).filter((c): c is NonNullable<typeof c> => c !== null);
  const changes: PlannedChange[] = [];
  for (const d of desired) {
    const current = d.id === null ? null : (byId.get(d.id) ?? null);
    if (d.id !== null && current === null) {
      errors.push({ line: d.line, conflict: true, message: `machine ${d.row.name} no longer exists` });
      continue;
    }
    const ipChanged = d.row.ip !== null && d.row.ip !== current?.ip;
    if (ipChanged && cidrs.length > 0 && !cidrs.some((c) => cidrContains(c, d.row.ip as string))) {
      errors.push({ line: d.line, message: `IP ${d.row.ip} is in none of the configured subnets (${subnets.join(', ')})` });
    }
    if (current === null) changes.push({ action: 'add', line: d.line, row: d.row });
    else {
      const diff = diffRows(rowOf(current), d.row);
      changes.push(diff.length === 0 ? { action: 'unchanged', line: d.line, id: current.id, name: current.name } : { action: 'update', line: d.line, id: current.id, name: current.name, row: d.row, changes: diff });
    }
  }
  errors.sort((a, b) => a.line - b.line);
  return { changes, errors };
}

/** Import rows match existing machines by name. */
export function desiredFromImport(inventory: readonly Machine[], rows: ReadonlyArray<{ line: number; row: InventoryRow }>): Desired[] {
  const byName = new Map(inventory.map((m) => [m.name, m.id]));
  return rows.map(({ line, row }) => ({ id: byName.get(row.name) ?? null, row, line }));
}
