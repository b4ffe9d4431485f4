/**
 * The inventory as a file operators edit and keep in git: CSV or YAML, one machine per row, decoded
 * with every bad row listed by its line number. Pure: text in, rows (and errors) out, and back.
 */
import { isMap, isSeq, LineCounter, parseDocument, stringify, type Node } from 'yaml';
import { isValidMachineName, normaliseMac, normaliseUuid } from './identifiers.js';
import { isIpv4 } from './ipv4.js';
import { labelProblems, sortedLabels } from './labels.js';
import { isRole, ROLES } from './roles.js';
import type { Machine } from './types.js';

export const INVENTORY_FORMATS = ['csv', 'yaml'] as const;
export type InventoryFormat = (typeof INVENTORY_FORMATS)[number];

/** What an operator decides about a machine: everything but its live state. */
export interface InventoryRow {
  readonly name: string;
  readonly macs: readonly string[];
  readonly ip: string | null;
  readonly role: string | null;
  readonly bootMode: 'install' | 'memory';
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LineError {
  readonly line: number;
  readonly message: string;
}

export interface Decoded {
  readonly rows: ReadonlyArray<{ readonly line: number; readonly row: InventoryRow }>;
  readonly errors: readonly LineError[];
}

export const CSV_COLUMNS = ['name', 'macs', 'ip', 'role', 'boot_mode', 'uuid', 'bmc_address', 'labels'] as const;
/** An import is bounded like every list: more rows than this is refused as a whole. */
export const MAX_IMPORT_ROWS = 10_000;

export function rowOf(machine: Machine): InventoryRow {
  return {
    name: machine.name,
    macs: [...machine.macs],
    ip: machine.ip,
    role: machine.role,
    bootMode: machine.bootMode,
    uuid: machine.uuid,
    bmcAddress: machine.bmcAddress,
    labels: sortedLabels(machine.labels ?? {}),
  };
}

// ---- encode ----

export function encodeInventory(machines: readonly Machine[], format: InventoryFormat): string {
  const rows = [...machines].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(rowOf);
  return format === 'csv' ? encodeCsv(rows) : encodeYaml(rows);
}

function encodeCsv(rows: readonly InventoryRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const labels = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(' ');
    lines.push([r.name, r.macs.join(' '), r.ip ?? '', r.role ?? '', r.bootMode, r.uuid ?? '', r.bmcAddress ?? '', labels].map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function encodeYaml(rows: readonly InventoryRow[]): string {
  const machines = rows.map((r) => ({
    name: r.name,
    macs: [...r.macs],
    ip: r.ip,
    role: r.role,
    bootMode: r.bootMode,
    uuid: r.uuid,
    bmcAddress: r.bmcAddress,
    labels: { ...r.labels },
  }));
  // quoted: a YAML 1.1 reader would take an unquoted MAC for a base-60 number
  return stringify({ machines }, { lineWidth: 0, defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}

// ---- decode ----

export function decodeInventory(text: string, format: InventoryFormat): Decoded {
  return format === 'csv' ? decodeCsv(text) : decodeYaml(text);
}

/** Which format a file name says, or null. */
export function formatOfFile(path: string): InventoryFormat | null {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.ya?ml$/i.test(path)) return 'yaml';
  return null;
}

type RawRow = Readonly<Record<string, unknown>>;

function decodeCsv(text: string): Decoded {
  const records = parseCsv(text);
  if ('error' in records) return { rows: [], errors: [records.error] };
  const [header, ...body] = records.records;
  if (!header) return { rows: [], errors: [{ line: 1, message: `empty file: expected the header ${CSV_COLUMNS.join(',')}` }] };
  const columns = header.fields.map((f) => f.trim().toLowerCase());
  const unknown = columns.filter((c) => !(CSV_COLUMNS as readonly string[]).includes(c));
  const missing = ['name', 'macs'].filter((c) => !columns.includes(c));
  if (unknown.length > 0 || missing.length > 0) {
    const parts = [...unknown.map((c) => `unknown column ${JSON.stringify(c)}`), ...missing.map((c) => `missing column ${c}`)];
    return { rows: [], errors: [{ line: header.line, message: `${parts.join('; ')} (columns: ${CSV_COLUMNS.join(',')})` }] };
  }
  const raws: Array<{ line: number; raw: RawRow } | LineError> = [];
  for (const record of body) {
    if (record.fields.length === 1 && record.fields[0]?.trim() === '') continue;
    if (record.fields.length !== columns.length) {
      raws.push({ line: record.line, message: `${record.fields.length} fields, the header has ${columns.length}` });
      continue;
    }
    const cell = (name: string) => {
      const i = columns.indexOf(name);
      const v = i < 0 ? '' : (record.fields[i] ?? '').trim();
      return v === '' ? null : v;
    };
    const labels: Record<string, string> = {};
    const labelProblemsHere: string[] = [];
    for (const pair of (cell('labels') ?? '').split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq <= 0) labelProblemsHere.push(`label ${JSON.stringify(pair)}: expected key=value`);
      else labels[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    if (labelProblemsHere.length > 0) {
      raws.push({ line: record.line, message: labelProblemsHere.join('; ') });
      continue;
    }
    raws.push({
      line: record.line,
      raw: {
        name: cell('name'),
        macs: (cell('macs') ?? '').split(/[\s;,]+/).filter(Boolean),
        ip: cell('ip'),
        role: cell('role'),
        bootMode: cell('boot_mode'),
        uuid: cell('uuid'),
        bmcAddress: cell('bmc_address'),
        labels,
      },
    });
  }
  return validateRaws(raws);
}

interface CsvRecord {
  readonly line: number;
  readonly fields: string[];
}

/** RFC 4180: quoted fields may hold commas, quotes ("") and line breaks; each record keeps its first line. */
function parseCsv(text: string): { records: CsvRecord[] } | { error: LineError } {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const input = text.replace(/^\uFEFF/, '');
  const endRecord = () => {
    fields.push(field);
    records.push({ line: recordLine, fields });
    fields = [];
    field = '';
  };
  while (i < input.length) {
    const c = input[i] as string;
    if (quoted) {
      if (c === '"' && input[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && input[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += c;
    i++;
    if (records.length > MAX_IMPORT_ROWS + 1) return { error: { line, message: `more than ${MAX_IMPORT_ROWS} rows: split the file` } };
  }
  if (quoted) return { error: { line: recordLine, message: 'a quoted field is not closed' } };
  if (field !== '' || fields.length > 0) endRecord();
  return { records };
}

function decodeYaml(text: string): Decoded {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: Node | null | undefined) => (node?.range ? lineCounter.linePos(node.range[0]).line : 1);
  if (doc.errors.length > 0) {
    return { rows: [], errors: doc.errors.map((e) => ({ line: e.linePos?.[0]?.line ?? 1, message: e.message.split('\n')[0] ?? e.message })) };
  }
  const root = doc.contents;
  const seq = isMap(root) ? root.get('machines', true) : null;
  if (!isMap(root) || !isSeq(seq)) return { rows: [], errors: [{ line: lineOf(root as Node | null), message: 'expected a mapping with a list under "machines:"' }] };
  if (seq.items.length > MAX_IMPORT_ROWS) return { rows: [], errors: [{ line: lineOf(seq), message: `more than ${MAX_IMPORT_ROWS} machines: split the file` }] };
  const raws: Array<{ line: number; raw: RawRow } | LineError> = seq.items.map((item) => {
    const line = lineOf(item as Node);
    if (!isMap(item)) return { line, message: 'each machine is a mapping (name:, macs:, ...)' };
    const raw = (item as unknown as { toJSON(): unknown }).toJSON() as Record<string, unknown>;
    return { line, raw };
  });
  return validateRaws(raws);
}

const YAML_KEYS = ['name', 'macs', 'ip', 'role', 'bootMode', 'uuid', 'bmcAddress', 'labels'];

function validateRaws(raws: ReadonlyArray<{ line: number; raw: RawRow } | LineError>): Decoded {
  const rows: Array<{ line: number; row: InventoryRow }> = [];
  const errors: LineError[] = [];
  for (const entry of raws) {
    if ('message' in entry) {
      errors.push(entry);
      continue;
    }
    const result = validateRow(entry.raw);
    if (result.ok) rows.push({ line: entry.line, row: result.row });
    else errors.push({ line: entry.line, message: result.problems.join('; ') });
  }
  return { rows, errors };
}

const optionalString = (value: unknown): string | null | undefined => (value === undefined || value === null || value === '' ? null : typeof value === 'string' ? value : undefined);

/** One row's fields: normalised, or every problem with them. */
export function validateRow(raw: RawRow): { ok: true; row: InventoryRow } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  for (const key of Object.keys(raw)) if (!YAML_KEYS.includes(key)) problems.push(`unknown field ${key}`);
  const name = raw.name;
  if (typeof name !== 'string' || !isValidMachineName(name)) problems.push(`name ${JSON.stringify(name ?? null)}: use lower-case letters, digits and hyphens (a host name)`);
  const macsRaw = Array.isArray(raw.macs) ? raw.macs : typeof raw.macs === 'string' ? [raw.macs] : [];
  if (macsRaw.length === 0) problems.push('macs: at least one MAC address');
  if (macsRaw.length > 16) problems.push('macs: at most 16');
  const macs = macsRaw.map((m) => {
    const mac = typeof m === 'string' ? normaliseMac(m) : null;
    if (!mac) problems.push(`MAC ${JSON.stringify(m)}: not a MAC address`);
    return mac ?? '';
  });
  if (new Set(macs).size !== macs.length) problems.push('the same MAC is given twice');
  const ip = optionalString(raw.ip);
  if (ip === undefined || (ip !== null && !isIpv4(ip))) problems.push(`ip ${JSON.stringify(raw.ip)}: not an IPv4 address`);
  const role = optionalString(raw.role);
  if (role === undefined || (role !== null && !isRole(role))) problems.push(`role ${JSON.stringify(raw.role)}: not one of ${ROLES.join(', ')}`);
  const mode = optionalString(raw.bootMode) ?? 'install';
  if (mode !== 'install' && mode !== 'memory') problems.push(`boot mode ${JSON.stringify(raw.bootMode)}: install or memory`);
  const uuidRaw = optionalString(raw.uuid);
  const uuid = uuidRaw ? normaliseUuid(uuidRaw) : null;
  if (uuidRaw === undefined || (uuidRaw !== null && uuid === null)) problems.push(`uuid ${JSON.stringify(raw.uuid)}: not a UUID`);
  const bmc = optionalString(raw.bmcAddress);
  if (bmc === undefined || (bmc !== null && !isIpv4(bmc))) problems.push(`BMC address ${JSON.stringify(raw.bmcAddress)}: not an IPv4 address`);
  const labelsRaw = raw.labels ?? {};
  if (typeof labelsRaw !== 'object' || labelsRaw === null || Array.isArray(labelsRaw)) problems.push('labels: a mapping of key: value');
  else problems.push(...labelProblems(labelsRaw as Record<string, unknown>));
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    row: {
      name: name as string,
      macs,
      ip: ip ?? null,
      role: role ?? null,
      bootMode: mode as 'install' | 'memory',
      uuid,
      bmcAddress: bmc ?? null,
      labels: sortedLabels(labelsRaw as Record<string, string>),
    },
  };
}
