/** yaml.v3 scalar resolution (resolve.go): which Go value a scalar becomes in an untyped tree. */
import { goBase64 } from './go-content.js';
import { MAX_INT64, MAX_UINT64, MIN_INT64, NIL } from './go-value.js';
import type { GoValue } from './go-value.js';
import { BINARY, BOOL, FLOAT, INT, MERGE, NULL, STR, TIMESTAMP, YamlFailure, shortTag } from './yaml-nodes.js';
import type { YNode, YScalar } from './yaml-nodes.js';
const RESOLVE_MAP = new Map<string, { tag: string; value: GoValue }>();
for (const [tag, value, spellings] of [
  [BOOL, { k: 'bool', b: true }, ['true', 'True', 'TRUE']],
  [BOOL, { k: 'bool', b: false }, ['false', 'False', 'FALSE']],
  [NULL, NIL, ['', '~', 'null', 'Null', 'NULL']],
  [FLOAT, { k: 'float64', f: Number.NaN }, ['.nan', '.NaN', '.NAN']],
  [FLOAT, { k: 'float64', f: Number.POSITIVE_INFINITY }, ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']],
  [FLOAT, { k: 'float64', f: Number.NEGATIVE_INFINITY }, ['-.inf', '-.Inf', '-.INF']],
  [MERGE, { k: 'string', s: '<<' }, ['<<']],
] as Array<[string, GoValue, string[]]>) {
  for (const spelling of spellings) RESOLVE_MAP.set(spelling, { tag, value });
}

function hintOf(input: string): string {
  if (input === '') return 'N';
  const c = input[0] ?? '';
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return '';
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** yaml.v3 resolve(tag, in), including its check that an explicit tag fits the value. */
export function resolve(tag: string, input: string): { tag: string; value: GoValue } {
  tag = shortTag(tag);
  if (!['', STR, BOOL, INT, FLOAT, NULL, TIMESTAMP].includes(tag)) return { tag, value: { k: 'string', s: input } };
  const result = resolveUnchecked(tag, input);
  if (tag === '' || tag === result.tag || tag === STR || tag === BINARY) return result;
  if (tag === FLOAT && result.tag === INT && result.value.k === 'int') return { tag: FLOAT, value: { k: 'float64', f: Number(result.value.n) } };
  throw new YamlFailure(`cannot decode ${result.tag} \`${input}\` as a ${tag}`);
}

function resolveUnchecked(tag: string, input: string): { tag: string; value: GoValue } {
  const hint = hintOf(input);
  if (hint !== '' && tag !== STR && tag !== BINARY) {
    const known = RESOLVE_MAP.get(input);
    if (known) return known;
    if (hint === '.') {
      if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(input)) {
        const f = Number(input);
        if (Number.isFinite(f)) return { tag: FLOAT, value: { k: 'float64', f } };
      }
    } else if (hint === 'D' || hint === 'S') {
      if ((tag === '' || tag === TIMESTAMP) && isGoTimestamp(input)) return { tag: TIMESTAMP, value: { k: 'time', text: input } };
      const plain = input.replace(/_/g, '');
      const signed = goParseInt(plain);
      if (signed !== undefined) return { tag: INT, value: { k: 'int', n: signed } };
      const unsigned = goParseUint(plain);
      if (unsigned !== undefined) return { tag: INT, value: { k: 'uint64', n: unsigned } };
      if (YAML_STYLE_FLOAT.test(plain)) {
        const f = Number(plain);
        if (Number.isFinite(f)) return { tag: FLOAT, value: { k: 'float64', f } };
      }
      for (const [prefix, base] of [['0b', 2], ['-0b', 2], ['0o', 8], ['-0o', 8]] as const) {
        if (!plain.startsWith(prefix)) continue;
        const negative = prefix.startsWith('-');
        const digits = plain.slice(prefix.length);
        const value = parseDigits(digits, base);
        if (value === undefined) continue;
        const n = negative ? -value : value;
        if (n >= MIN_INT64 && n <= MAX_INT64) return { tag: INT, value: { k: 'int', n } };
        if (!negative && n <= MAX_UINT64) return { tag: INT, value: { k: 'uint64', n } };
      }
    }
  }
  return { tag: STR, value: { k: 'string', s: input } };
}

function parseDigits(digits: string, base: number): bigint | undefined {
  if (digits === '') return undefined;
  let n = 0n;
  for (const c of digits.toLowerCase()) {
    const d = c >= '0' && c <= '9' ? c.charCodeAt(0) - 48 : c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 87 : 99;
    if (d >= base) return undefined;
    n = n * BigInt(base) + BigInt(d);
  }
  return n;
}

/** strconv.ParseUint(s, 0, 64) */
function goParseUint(s: string): bigint | undefined {
  if (s === '') return undefined;
  let base = 10;
  let digits = s;
  if (s[0] === '0') {
    const second = (s[1] ?? '').toLowerCase();
    if (s.length >= 3 && second === 'b') [base, digits] = [2, s.slice(2)];
    else if (s.length >= 3 && second === 'o') [base, digits] = [8, s.slice(2)];
    else if (s.length >= 3 && second === 'x') [base, digits] = [16, s.slice(2)];
    else [base, digits] = [8, s.slice(1)];
    if (digits === '') return base === 8 ? 0n : undefined;
  }
  const n = parseDigits(digits, base);
  return n !== undefined && n <= MAX_UINT64 ? n : undefined;
}

/** strconv.ParseInt(s, 0, 64) */
function goParseInt(s: string): bigint | undefined {
  let negative = false;
  let rest = s;
  if (s[0] === '+' || s[0] === '-') {
    negative = s[0] === '-';
    rest = s.slice(1);
  }
  const n = goParseUint(rest);
  if (n === undefined) return undefined;
  const value = negative ? -n : n;
  return value >= MIN_INT64 && value <= MAX_INT64 ? value : undefined;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** yaml.v3 parseTimestamp: time.Parse with its four layouts (dates with 4-digit years). */
function isGoTimestamp(s: string): boolean {
  if (!/^[0-9]{4}-/.test(s)) return false;
  const layouts = [
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[Tt]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})$/,
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2}) ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,][0-9]+)?$/,
    /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$/,
  ];
  for (const layout of layouts) {
    const m = layout.exec(s);
    if (!m) continue;
    const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1).filter((x) => x !== undefined).map(Number) as number[];
    if (year === undefined || month === undefined || day === undefined) continue;
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
    if (month < 1 || month > 12 || day < 1 || day > days) continue;
    if (hour > 23 || minute > 59 || second > 59) continue;
    return true;
  }
  return false;
}

/** The resolved Go value of a scalar as yaml.v3's decoder.scalar computes it (binary decoded). */
export function scalarValue(node: YScalar): { tag: string; value: GoValue } {
  if (node.tag === STR) return { tag: STR, value: { k: 'string', s: node.value } };
  const resolved = resolve(node.tag, node.value);
  if (resolved.tag !== BINARY) return resolved;
  const bytes = goBase64(node.value);
  if (bytes === undefined) throw new YamlFailure('!!binary value contains invalid base64 data');
  return { tag: BINARY, value: { k: 'string', s: Buffer.from(bytes).toString('utf8'), bytes } };
}

/** The node's ShortTag(): resolution decides whether a plain scalar is null. */
export function isNullNode(node: YNode): boolean {
  return node.kind === 'scalar' && node.tag === NULL;
}
