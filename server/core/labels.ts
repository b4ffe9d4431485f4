/**
 * Machine labels (`rack=r12`) and matchbox-style label selectors (`rack=r12,role=small`) for bulk
 * actions. Pure: the syntax, the limits and the match.
 */
import type { Machine } from './types.js';

export type Labels = Readonly<Record<string, string>>;

/** A label name or value: lower-case, digits, `.`, `_`, `-`, starting and ending alphanumeric, at most 63 characters. */
const PART = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
export const LABEL_PART_PATTERN = PART.source;
/** A key may carry one `prefix/` (e.g. `site.example/rack`). */
export const LABEL_KEY_PATTERN = '^([a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?/)?[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$';
export const MAX_LABELS = 32;

/** Keys every machine answers from its own fields; they cannot be set as labels. */
export const BUILT_IN_KEYS = ['name', 'role', 'state'] as const;

/** Bulk actions act on at most this many machines unless the caller says --all (or a larger --limit). */
export const BULK_DEFAULT_LIMIT = 100;
/** The hard bound of any bulk action, --all included. */
export const BULK_MAX = 5000;

export function isLabelKey(key: string): boolean {
  const parts = key.split('/');
  if (parts.length > 2) return false;
  return parts.every((p) => PART.test(p));
}

export function isLabelValue(value: string): boolean {
  return PART.test(value);
}

/** Every problem with a label map, each naming the label; empty when it is valid. */
export function labelProblems(labels: Readonly<Record<string, unknown>>): string[] {
  const problems: string[] = [];
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) problems.push(`${keys.length} labels: at most ${MAX_LABELS} per machine`);
  for (const key of keys) {
    const value = labels[key];
    if (!isLabelKey(key)) problems.push(`label key ${JSON.stringify(key)}: use lower-case letters, digits, '.', '_', '-' (at most 63, one optional prefix/)`);
    else if ((BUILT_IN_KEYS as readonly string[]).includes(key)) problems.push(`label key ${key}: reserved (every machine's ${key} is a built-in selector key)`);
    if (typeof value !== 'string' || !isLabelValue(value)) problems.push(`label ${key} value ${JSON.stringify(value)}: use lower-case letters, digits, '.', '_', '-' (1 to 63, alphanumeric at both ends)`);
  }
  return problems;
}

/** `key=value` pairs, `key-` removes a key: the labels after the change, or the problems. */
export function applyLabelChanges(current: Labels, changes: readonly string[]): { ok: true; labels: Record<string, string> } | { ok: false; problems: string[] } {
  const next: Record<string, string> = { ...current };
  const problems: string[] = [];
  for (const change of changes) {
    if (change.endsWith('-') && !change.includes('=')) {
      delete next[change.slice(0, -1)];
      continue;
    }
    const eq = change.indexOf('=');
    if (eq <= 0) {
      problems.push(`${JSON.stringify(change)}: expected key=value, or key- to remove a label`);
      continue;
    }
    next[change.slice(0, eq)] = change.slice(eq + 1);
  }
  problems.push(...labelProblems(next));
  return problems.length > 0 ? { ok: false, problems } : { ok: true, labels: sortedLabels(next) };
}

export function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export type Requirement =
  | { readonly key: string; readonly op: 'eq' | 'ne'; readonly value: string }
  | { readonly key: string; readonly op: 'exists' | 'absent' };

export interface Selector {
  readonly text: string;
  readonly requirements: readonly Requirement[];
}

const MAX_SELECTOR_LENGTH = 1000;
const MAX_REQUIREMENTS = 32;

/**
 * `rack=r12,role=small`: every requirement must hold. `key!=value` (the key is absent or has
 * another value), `key` (the key exists), `!key` (it does not). `name`, `role` and `state` are the
 * machine's own fields.
 */
export function parseSelector(text: string): { ok: true; selector: Selector } | { ok: false; message: string } {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, message: 'empty selector: give at least one requirement such as rack=r12' };
  if (trimmed.length > MAX_SELECTOR_LENGTH) return { ok: false, message: `selector longer than ${MAX_SELECTOR_LENGTH} characters` };
  const parts = trimmed.split(',').map((p) => p.trim());
  if (parts.length > MAX_REQUIREMENTS) return { ok: false, message: `more than ${MAX_REQUIREMENTS} requirements` };
  const requirements: Requirement[] = [];
  for (const part of parts) {
    const parsed = parseRequirement(part);
    if (typeof parsed === 'string') return { ok: false, message: `selector ${JSON.stringify(text)}: ${parsed}` };
    requirements.push(parsed);
  }
  return { ok: true, selector: { text: trimmed, requirements } };
}

function parseRequirement(part: string): Requirement | string {
  if (part === '') return 'an empty requirement (two commas, or a trailing one)';
  const ne = part.indexOf('!=');
  const eq = part.indexOf('=');
  if (ne > 0) return keyValue(part.slice(0, ne).trim(), part.slice(ne + 2).trim(), 'ne');
  if (eq > 0) return keyValue(part.slice(0, eq).trim(), part.slice(eq + 1).trim().replace(/^=/, ''), 'eq');
  if (eq === 0 || ne === 0) return `${JSON.stringify(part)}: the key is missing`;
  const absent = part.startsWith('!');
  const key = absent ? part.slice(1).trim() : part;
  if (!isSelectorKey(key)) return `${JSON.stringify(key)} is not a label key`;
  return { key, op: absent ? 'absent' : 'exists' };
}

function keyValue(key: string, value: string, op: 'eq' | 'ne'): Requirement | string {
  if (!isSelectorKey(key)) return `${JSON.stringify(key)} is not a label key`;
  // state values and names have hyphens only; roles and labels the label alphabet: both fit PART
  if (!isLabelValue(value)) return `${JSON.stringify(value)} is not a label value`;
  return { key, op, value };
}

function isSelectorKey(key: string): boolean {
  return isLabelKey(key);
}

/** The value a machine has for `key`: a built-in field, else its label; undefined when it has none. */
export function machineValue(machine: Pick<Machine, 'name' | 'role' | 'state' | 'labels'>, key: string): string | undefined {
  if (key === 'name') return machine.name;
  if (key === 'role') return machine.role ?? undefined;
  if (key === 'state') return machine.state;
  return machine.labels?.[key];
}

export function matchesSelector(machine: Pick<Machine, 'name' | 'role' | 'state' | 'labels'>, selector: Selector): boolean {
  return selector.requirements.every((r) => {
    const value = machineValue(machine, r.key);
    switch (r.op) {
      case 'eq':
        return value === r.value;
      case 'ne':
        return value !== r.value;
      case 'exists':
        return value !== undefined;
      case 'absent':
        return value === undefined;
    }
  });
}

/** How many machines a bulk action may touch: the default, a --limit, or --all (up to BULK_MAX). */
export function bulkLimit(options: { readonly all?: boolean; readonly limit?: number }): number {
  if (options.all) return BULK_MAX;
  if (options.limit !== undefined) return Math.min(Math.max(1, Math.floor(options.limit)), BULK_MAX);
  return BULK_DEFAULT_LIMIT;
}
