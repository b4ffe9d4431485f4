/**
 * A re-implementation of `coreos-cloudinit -validate` as Flatcar ships it today (yaml.v3 era),
 * plus the checks rackboot adds because a Flatcar machine would otherwise apply the document wrongly.
 * Reference: docs install-targets.md §1 (§1.1 dispatch, §1.2 schema, §1.4 algorithm and rules R1–R6,
 * §1.5 observed outputs). Pure: no I/O; the `yaml` package is used only as a parser with positions.
 *
 * How Flatcar's validator works, and so how this module is organised:
 *  1. dispatch on the header (empty, `#!` script, Ignition JSON, `#cloud-config`, multipart MIME);
 *  2. parse the YAML twice with yaml.v3: into untyped maps (the "weak" tree) and into the Go structs
 *     (the "strong" tree). A YAML error becomes an entry at its line; a decode failure of either tree
 *     (duplicate keys, a value that cannot become its Go type) makes the whole validation fail with no
 *     entries, which flatcar-install treats as a rejection. Here such failures are `error` findings;
 *  3. give every weak node a line with the validator's own forward-scanning line finder (so a key
 *     inside a flow map is at line 0, as the real tool prints), turn `-` into `_` in key names, and
 *     let strong leaves replace compatible weak leaves;
 *  4. run R1–R6 in order. A panic inside a rule (a null value for a key with a `valid` pattern)
 *     fails the whole validation, as in Go.
 * Output is sorted by (line, rule), as §1.5 recommends; the real tool prints in rule order.
 */
import { CST, LineCounter, Lexer, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Scalar } from 'yaml';
import { CLOUD_CONFIG, findField, goTypeName, humanType } from './cloudinit-schema.js';
import type { FieldSpec, SchemaType } from './cloudinit-schema.js';

export type UserDataKind = 'cloud-config' | 'script' | 'ignition' | 'empty' | 'multipart' | 'invalid';

export interface Finding {
  readonly kind: 'error' | 'warning';
  readonly line: number;
  readonly message: string;
}

export interface UserDataReport {
  readonly kind: UserDataKind;
  readonly findings: Finding[];
}

/** Validates user-data the way `coreos-cloudinit -validate` does; see the module comment. */
export function validateUserData(text: string): UserDataReport {
  // §1.1, in the order of validate.Validate
  if (text.length === 0) return { kind: 'empty', findings: [] };
  const header = text.split('\n', 1)[0] ?? '';
  if (header.startsWith('#!')) return { kind: 'script', findings: [] };
  if (isIgnitionConfig(text)) return { kind: 'ignition', findings: [] };
  if (trimRightGoSpace(header) === '#cloud-config') return { kind: 'cloud-config', findings: validateCloudConfigText(text) };
  if (isMultipartMime(text)) return { kind: 'multipart', findings: [] };
  return {
    kind: 'invalid',
    findings: [{ kind: 'error', line: 1, message: 'must be "#cloud-config", multipart mime or begin with "#!"' }],
  };
}

// ---------------------------------------------------------------------------------------------
// Dispatch helpers (§1.1)

/** Go's unicode.IsSpace, which differs from JavaScript's \s (no U+FEFF, but U+0085). */
const GO_SPACE_AT_END = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

function trimRightGoSpace(line: string): string {
  return line.replace(GO_SPACE_AT_END, '');
}

/**
 * config.IsIgnitionConfig: encoding/json into a struct with `ignitionVersion *int` and
 * `ignition.version *string`. Keys match case-insensitively; any type mismatch fails the decode.
 */
function isIgnitionConfig(text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  if (value === null) return false;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  const version = jsonField(value as Record<string, unknown>, 'ignitionVersion');
  if (version !== undefined && version !== null && !(typeof version === 'number' && Number.isInteger(version))) return false;
  const ignition = jsonField(value as Record<string, unknown>, 'ignition');
  let nestedVersion: unknown = undefined;
  if (ignition !== undefined && ignition !== null) {
    if (typeof ignition !== 'object' || Array.isArray(ignition)) return false;
    nestedVersion = jsonField(ignition as Record<string, unknown>, 'version');
    if (nestedVersion !== undefined && nestedVersion !== null && typeof nestedVersion !== 'string') return false;
  }
  return (version !== undefined && version !== null) || (nestedVersion !== undefined && nestedVersion !== null);
}

/** encoding/json field lookup: an exact key wins, otherwise the last case-insensitive match. */
function jsonField(object: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(object, name)) return object[name];
  let found: unknown = undefined;
  for (const key of Object.keys(object)) if (key.toLowerCase() === name.toLowerCase()) found = object[key];
  return found;
}

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** config.IsMultipartMime: net/textproto ReadMIMEHeader succeeds and Content-Type contains multipart/mixed. */
function isMultipartMime(text: string): boolean {
  const pieces = text.split('\n');
  // the piece after the last newline is a line only if it is not empty (otherwise it is EOF)
  const lines = pieces.slice(0, -1).concat((pieces.at(-1) ?? '') === '' ? [] : [pieces.at(-1) ?? '']);
  const first = lines[0];
  if (first !== undefined && (first.startsWith(' ') || first.startsWith('\t'))) return false;
  let contentType: string | undefined;
  let index = 0;
  for (;;) {
    let line = lines[index++];
    if (line === undefined) return false; // EOF before the blank line that ends a header
    line = line.replace(/\r$/, '');
    if (line === '') break;
    while (lines[index] !== undefined && /^[ \t]/.test(lines[index] ?? '')) {
      line = `${line.replace(/[ \t]+$/, '')} ${(lines[index] ?? '').replace(/\r$/, '').trim()}`;
      index++;
    }
    const colon = line.indexOf(':');
    if (colon < 0) return false;
    const key = line.slice(0, colon);
    if (!TOKEN_CHARS.test(key)) return false;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return false;
    if (key.toLowerCase() === 'content-type' && contentType === undefined) contentType = value;
  }
  return contentType !== undefined && contentType.includes('multipart/mixed');
}

// ---------------------------------------------------------------------------------------------
// The cloud-config pipeline

/** Where a finding comes from; findings on one line are ordered by this (§1.4 rule order). */
const Rank = {
  Yaml: 0,
  DiscoveryUrl: 1,
  Encoding: 2,
  Structure: 3,
  Validity: 4,
  WriteFiles: 5,
  WriteFilesUnderCoreos: 6,
  Rackboot: 7,
} as const;
type Rank = (typeof Rank)[keyof typeof Rank];

interface RankedFinding extends Finding {
  readonly rank: Rank;
}

function validateCloudConfigText(text: string): Finding[] {
  try {
    return validateCloudConfigUnsafe(text);
  } catch (error) {
    // e.g. a stack overflow on absurd nesting: refuse the document rather than crash the caller
    return [{ kind: 'error', line: 1, message: `the validator failed: ${(error as Error).message}` }];
  }
}

function validateCloudConfigUnsafe(text: string): Finding[] {
  const findings: RankedFinding[] = [];
  const parsed = parseYaml(text);
  if (parsed.error) {
    // The validator then runs the rules on an empty tree, which only adds the meaningless
    // `line 0: warning: incorrect type for "" (want struct)` seen in §1.5; it is not reproduced.
    findings.push({ kind: 'error', line: parsed.error.line, message: `YAML: ${parsed.error.message}`, rank: Rank.Yaml });
    return sortFindings(findings);
  }
  const root = parsed.root;
  findings.push(...rackbootChecks(root, text));
  findings.push(...flatcarValidate(root, text));
  return sortFindings(findings);
}

function sortFindings(findings: RankedFinding[]): Finding[] {
  return findings
    .map((finding, index) => ({ finding, index }))
    .sort((a, b) => a.finding.line - b.finding.line || a.finding.rank - b.finding.rank || a.index - b.index)
    .map(({ finding }) => ({ kind: finding.kind, line: finding.line, message: finding.message }));
}

function flatcarValidate(root: YNode | undefined, text: string): RankedFinding[] {
  const state = newDecodeState();
  const fatal = (line: number, message: string): RankedFinding => ({ kind: 'error', line, message, rank: Rank.Yaml });
  let weak: GoValue | undefined;
  try {
    weak = root === undefined ? emptyMap() : decodeWeakRoot(root, state);
  } catch (error) {
    if (error instanceof YamlFailure) return [fatal(1, `YAML: ${error.message}`)];
    throw error;
  }
  // yaml.v3's TypeError ("unmarshal errors:\n  line N: ...") matches neither line pattern of the
  // validator: validation fails with no entries. Each of its lines becomes a finding here.
  if (state.terrors.length > 0 || weak === undefined) return state.terrors.map((e) => fatal(e.line, `YAML: ${e.message}`));

  let strong: Strong;
  try {
    strong = root === undefined ? zeroValue(CLOUD_CONFIG) : decodeStrong(root, CLOUD_CONFIG, state).value;
  } catch (error) {
    if (error instanceof YamlFailure) return [fatal(1, `YAML: ${error.message}`)];
    throw error;
  }
  if (state.terrors.length > 0) return state.terrors.map((e) => fatal(e.line, `YAML: ${e.message}`));

  const finder = new LineFinder(text);
  const tree = normalizeNames(toVNode('', 0, weak, finder.start(), finder));
  coerce(tree, strong, '');

  const report = new Report();
  checkDiscoveryUrl(tree, report);
  checkEncoding(tree, report);
  checkStructure(tree, CLOUD_CONFIG, report);
  const panics = checkValidity(tree, report);
  if (panics.length > 0) {
    // Go recovers the panic and returns it as the validation error; the entries so far are dropped.
    return panics.map((p) => fatal(p.line, p.message));
  }
  checkWriteFiles(tree, report);
  checkWriteFilesUnderCoreos(tree, report);
  return report.entries;
}

// ---------------------------------------------------------------------------------------------
// YAML: parse with positions, map syntax errors to the libyaml wording, build a yaml.v3-like node tree

type YNode = YScalar | YMap | YSeq | YAlias;
interface YScalar {
  readonly kind: 'scalar';
  /** yaml.v3 Node.Tag: the explicit tag, else !!str for quoted/block scalars, else the resolved tag */
  tag: string;
  value: string;
  line: number;
}
interface YMap {
  readonly kind: 'map';
  tag: string;
  pairs: Array<{ key: YNode; value: YNode }>;
  line: number;
}
interface YSeq {
  readonly kind: 'seq';
  tag: string;
  items: YNode[];
  line: number;
}
interface YAlias {
  readonly kind: 'alias';
  anchor: string;
  target: YNode;
  line: number;
}

interface ParsedYaml {
  root?: YNode;
  error?: { line: number; message: string };
}

class YamlFailure extends Error {}

function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, schema: 'failsafe', uniqueKeys: false, prettyErrors: false });
  const document: Document | undefined = documents[0];
  // yaml.v3's Unmarshal reads the first document only, so later ones cannot fail it
  const end = document?.range?.[2] ?? text.length;
  const problems: Array<{ offset: number; message: string; line?: number }> = [];
  const streamErrors = 'errors' in documents ? documents.errors : [];
  for (const error of document?.errors ?? streamErrors) problems.push(libyamlWording(error.code, error.message, error.pos[0], text));
  const tab = findForbiddenTab(text, end);
  if (tab !== undefined) problems.push({ offset: tab, message: 'found character that cannot start any token' });
  let root: YNode | undefined;
  if (document && document.contents !== null) {
    const builder = new TreeBuilder(document, lineCounter, problems);
    root = builder.build(document.contents);
  }
  const first = problems.sort((a, b) => a.offset - b.offset)[0];
  if (first) return { error: { line: first.line ?? lineCounter.linePos(first.offset).line, message: first.message } };
  return root === undefined ? {} : { root };
}

/**
 * The libyaml message for the common syntax errors (the ones §1.4 quotes and their neighbours);
 * anything else keeps the parser's own first sentence.
 */
function libyamlWording(code: string, message: string, offset: number, text: string): { offset: number; message: string } {
  const own = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
  switch (code) {
    case 'TAB_AS_INDENT':
    case 'BAD_SCALAR_START':
      return { offset, message: 'found character that cannot start any token' };
    case 'BAD_DQ_ESCAPE':
      return { offset, message: 'found unknown escape character' };
    case 'BLOCK_AS_IMPLICIT_KEY': {
      // libyaml stops at the second ':' of `a: b: c`, possibly on a later line
      const colon = /:(?=[ \t\r\n]|$)/g;
      colon.lastIndex = offset;
      const match = colon.exec(text);
      return { offset: match ? match.index : offset, message: 'mapping values are not allowed in this context' };
    }
    case 'MISSING_CHAR':
      if (own.startsWith('Implicit map keys need to be followed by map values')) return { offset, message: "could not find expected ':'" };
      if (own.startsWith('Missing closing')) return { offset, message: 'found unexpected end of stream' };
      return { offset, message: own };
    case 'BAD_INDENT':
      if (own.startsWith('Flow sequence')) return { offset, message: "did not find expected ',' or ']'" };
      if (own.startsWith('Flow map')) return { offset, message: "did not find expected ',' or '}'" };
      return { offset, message: own };
    default:
      return { offset, message: own };
  }
}

/**
 * libyaml refuses a tab where a token could start in block context: at the start of a line (after
 * the indentation spaces) and after `-`, `?` or `:`. The `yaml` package accepts most of these, so
 * they are found on its token stream. Returns the offset of the first such tab.
 */
function findForbiddenTab(text: string, end: number): number | undefined {
  let offset = 0;
  let flow = 0;
  let armed = true;
  let scalarBody = false;
  for (const token of new Lexer().lex(text)) {
    if (offset >= end) return undefined;
    if (token === CST.DOCUMENT || token === CST.FLOW_END) continue;
    if (token === CST.SCALAR) {
      scalarBody = true;
      continue;
    }
    if (scalarBody) {
      scalarBody = false;
      armed = false;
      offset += token.length;
      continue;
    }
    switch (CST.tokenType(token)) {
      case 'newline':
        armed = flow === 0;
        break;
      case 'space':
        if (armed && flow === 0 && token.includes('\t')) return offset + token.indexOf('\t');
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
      case 'map-value-ind':
        armed = flow === 0;
        break;
      case 'flow-map-start':
      case 'flow-seq-start':
        flow++;
        armed = false;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        flow = Math.max(0, flow - 1);
        armed = false;
        break;
      case 'byte-order-mark':
        break;
      default:
        armed = false;
    }
    offset += token.length;
  }
  return undefined;
}

class TreeBuilder {
  private readonly built = new Map<unknown, YNode>();

  constructor(
    private readonly document: Document,
    private readonly lineCounter: LineCounter,
    private readonly problems: Array<{ offset: number; message: string; line?: number }>,
  ) {}

  build(node: unknown): YNode {
    const done = this.built.get(node);
    if (done) return done;
    const line = this.lineOf(node);
    if (isScalar(node)) {
      const scalar = node as Scalar;
      const value = typeof scalar.source === 'string' ? scalar.source : String(scalar.value ?? '');
      const explicit = scalar.tag !== undefined && scalar.tag !== '!' ? shortTag(scalar.tag) : undefined;
      const plain = scalar.type === 'PLAIN' || scalar.type === undefined;
      const tag = explicit ?? (!plain ? STR : value === '<<' ? MERGE : resolve('', value).tag);
      const result: YScalar = { kind: 'scalar', tag, value, line };
      this.built.set(node, result);
      return result;
    }
    if (isMap(node)) {
      const result: YMap = { kind: 'map', tag: this.collectionTag(node.tag, MAP), pairs: [], line };
      this.built.set(node, result);
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = this.buildOrNull(item.key, line);
        const value = this.buildOrNull(item.value, key.line);
        result.pairs.push({ key, value });
      }
      return result;
    }
    if (isSeq(node)) {
      const result: YSeq = { kind: 'seq', tag: this.collectionTag(node.tag, SEQ), items: [], line };
      this.built.set(node, result);
      for (const item of node.items) result.items.push(isPair(item) ? this.pairAsMap(item, line) : this.buildOrNull(item, line));
      return result;
    }
    if (isAlias(node)) {
      const target = node.resolve(this.document);
      if (target === undefined) {
        // a parser failure in yaml.v3 (no line): "yaml: unknown anchor 'x' referenced"
        this.problems.push({ offset: node.range?.[0] ?? 0, message: `unknown anchor '${node.source}' referenced`, line: 1 });
        return this.nullAt(line);
      }
      const result: YAlias = { kind: 'alias', anchor: node.source, target: this.nullAt(line), line };
      this.built.set(node, result);
      result.target = this.build(target);
      return result;
    }
    return this.nullAt(line);
  }

  private buildOrNull(node: unknown, line: number): YNode {
    return node === null || node === undefined ? this.nullAt(line) : this.build(node as unknown);
  }

  /** `[a: b]` is a sequence holding a single-pair map */
  private pairAsMap(pair: { key: unknown; value: unknown }, line: number): YNode {
    const key = this.buildOrNull(pair.key, line);
    return { kind: 'map', tag: MAP, pairs: [{ key, value: this.buildOrNull(pair.value, key.line) }], line: key.line };
  }

  private collectionTag(tag: string | undefined, fallback: string): string {
    return tag !== undefined && tag !== '!' ? shortTag(tag) : fallback;
  }

  private nullAt(line: number): YScalar {
    return { kind: 'scalar', tag: NULL, value: '', line };
  }

  private lineOf(node: unknown): number {
    const range = (node as { range?: [number, number, number] | null }).range;
    return range ? this.lineCounter.linePos(range[0]).line : 0;
  }
}

// ---------------------------------------------------------------------------------------------
// yaml.v3 scalar resolution (resolve.go): which Go value a scalar becomes in an untyped tree

const NULL = '!!null';
const BOOL = '!!bool';
const STR = '!!str';
const INT = '!!int';
const FLOAT = '!!float';
const TIMESTAMP = '!!timestamp';
const SEQ = '!!seq';
const MAP = '!!map';
const BINARY = '!!binary';
const MERGE = '!!merge';
const LONG_TAG_PREFIX = 'tag:yaml.org,2002:';

function shortTag(tag: string): string {
  return tag.startsWith(LONG_TAG_PREFIX) ? `!!${tag.slice(LONG_TAG_PREFIX.length)}` : tag;
}

/** The Go values the validator can meet; `time` is a time.Time (a struct to reflection). */
type GoValue =
  | { readonly k: 'nil' }
  | { readonly k: 'string'; readonly s: string; readonly bytes?: Uint8Array }
  | { readonly k: 'int'; readonly n: bigint }
  | { readonly k: 'uint64'; readonly n: bigint }
  | { readonly k: 'float64'; readonly f: number }
  | { readonly k: 'bool'; readonly b: boolean }
  | { readonly k: 'time'; readonly text: string }
  | { readonly k: 'map'; readonly entries: Map<string, { name: string; value: GoValue }>; readonly stringKeys: boolean }
  | { readonly k: 'slice'; readonly items: GoValue[] };

const NIL: GoValue = { k: 'nil' };
const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);
const MAX_UINT64 = 2n ** 64n - 1n;

function emptyMap(): MapValue {
  return { k: 'map', entries: new Map(), stringKeys: true };
}

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
function resolve(tag: string, input: string): { tag: string; value: GoValue } {
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
function scalarValue(node: YScalar): { tag: string; value: GoValue } {
  if (node.tag === STR) return { tag: STR, value: { k: 'string', s: node.value } };
  const resolved = resolve(node.tag, node.value);
  if (resolved.tag !== BINARY) return resolved;
  const bytes = goBase64(node.value);
  if (bytes === undefined) throw new YamlFailure('!!binary value contains invalid base64 data');
  return { tag: BINARY, value: { k: 'string', s: Buffer.from(bytes).toString('utf8'), bytes } };
}

/** The node's ShortTag(): resolution decides whether a plain scalar is null. */
function isNullNode(node: YNode): boolean {
  return node.kind === 'scalar' && node.tag === NULL;
}

// ---------------------------------------------------------------------------------------------
// yaml.v3 decoding: the untyped ("weak") tree and the typed ("strong") tree, with its type errors

interface DecodeState {
  terrors: Array<{ line: number; message: string }>;
  decodeCount: number;
  aliasCount: number;
  aliasDepth: number;
  active: Set<YAlias>;
}

function newDecodeState(): DecodeState {
  return { terrors: [], decodeCount: 0, aliasCount: 0, aliasDepth: 0, active: new Set() };
}

function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= 400_000) return 0.99;
  if (decodeCount >= 4_000_000) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - 400_000) / 3_600_000);
}

function countDecode(state: DecodeState): void {
  state.decodeCount++;
  if (state.aliasDepth > 0) state.aliasCount++;
  if (state.aliasCount > 100 && state.decodeCount > 1000 && state.aliasCount / state.decodeCount > allowedAliasRatio(state.decodeCount)) {
    throw new YamlFailure('document contains excessive aliasing');
  }
}

function followAlias<T>(node: YAlias, state: DecodeState, decode: (target: YNode) => T): T {
  if (state.active.has(node)) throw new YamlFailure(`anchor '${node.anchor}' value contains itself`);
  state.active.add(node);
  state.aliasDepth++;
  try {
    return decode(node.target);
  } finally {
    state.aliasDepth--;
    state.active.delete(node);
  }
}

function deref(node: YNode): YNode {
  const seen = new Set<YNode>();
  while (node.kind === 'alias' && !seen.has(node)) {
    seen.add(node);
    node = node.target;
  }
  return node;
}

function isMergeKey(node: YNode): boolean {
  return node.kind === 'scalar' && node.value === '<<' && node.tag === MERGE;
}

/** `line N: mapping key "k" already defined at line M`, for every later duplicate (same kind and raw value). */
function duplicateKeys(node: YMap, state: DecodeState): boolean {
  let found = false;
  node.pairs.forEach(({ key: a }, i) => {
    for (const { key: b } of node.pairs.slice(i + 1)) {
      if (a.kind === b.kind && rawValue(a) === rawValue(b)) {
        state.terrors.push({ line: b.line, message: `mapping key ${goQuote(rawValue(b))} already defined at line ${a.line}` });
        found = true;
      }
    }
  });
  return found;
}

function rawValue(node: YNode): string {
  return node.kind === 'scalar' ? node.value : node.kind === 'alias' ? node.anchor : '';
}

/** yaml.v3 terror: `line N: cannot unmarshal !!tag `value` into <Go type>` */
function typeError(node: YNode, tag: string, goType: string, state: DecodeState): void {
  const nodeTag = node.kind !== 'alias' && node.tag !== '' ? node.tag : tag;
  let value = '';
  if (nodeTag !== SEQ && nodeTag !== MAP) {
    const raw = node.kind === 'scalar' ? node.value : '';
    const bytes = Buffer.from(raw, 'utf8');
    value = bytes.length > 10 ? ` \`${bytes.subarray(0, 7).toString('utf8')}...\`` : ` \`${raw}\``;
  }
  state.terrors.push({ line: node.line, message: `cannot unmarshal ${nodeTag}${value} into ${goType}` });
}

/** The document into `map[interface{}]interface{}` (the validator's weak parse). */
function decodeWeakRoot(root: YNode, state: DecodeState): GoValue | undefined {
  countDecode(state);
  if (root.kind === 'alias') return followAlias(root, state, (target) => decodeWeakRoot(target, state));
  const rootType = 'map[interface {}]interface {}';
  if (root.kind === 'map') {
    const out = emptyMap();
    return weakMapping(root, state, out, null, true) ? out : undefined;
  }
  // rackboot's wording adds why: a cloud-config is a mapping of keys to values
  if (root.kind === 'seq') typeError(root, SEQ, rootType, state);
  else if (scalarValue(root).value.k === 'nil') return emptyMap();
  else typeError(root, '', rootType, state);
  const last = state.terrors.at(-1);
  if (last) last.message += ' (the top level must be a mapping)';
  return undefined;
}

/** Decoding into interface{}; undefined when the node could not be decoded. */
function decodeWeak(node: YNode, state: DecodeState): GoValue | undefined {
  countDecode(state);
  switch (node.kind) {
    case 'alias':
      return followAlias(node, state, (target) => decodeWeak(target, state));
    case 'scalar':
      return scalarValue(node).value;
    case 'seq': {
      const items: GoValue[] = [];
      for (const item of node.items) {
        const value = decodeWeak(item, state);
        if (value !== undefined) items.push(value);
      }
      return { k: 'slice', items };
    }
    case 'map': {
      const stringKeys = node.pairs.every(({ key }) => isMergeKey(key) || (key.kind === 'scalar' && key.tag === STR));
      const out: GoValue = { k: 'map', entries: new Map(), stringKeys };
      return weakMapping(node, state, out, null, true) ? out : undefined;
    }
  }
}

function keyIdentity(value: GoValue): string {
  switch (value.k) {
    case 'string':
      return `s:${value.s}`;
    case 'int':
    case 'uint64':
      return `i:${value.n}`;
    case 'float64':
      return Number.isInteger(value.f) ? `i:${value.f}` : `f:${value.f}`;
    case 'bool':
      return `b:${value.b}`;
    case 'time':
      return `t:${value.text}`;
    default:
      return value.k;
  }
}

/** fmt.Sprintf("%s", key): how the validator names a map key. */
function keyName(value: GoValue): string {
  switch (value.k) {
    case 'string':
      return value.s;
    case 'int':
      return `%!s(int=${value.n})`;
    case 'uint64':
      return `%!s(uint64=${value.n})`;
    case 'float64':
      return `%!s(float64=${goFloat(value.f)})`;
    case 'bool':
      return `%!s(bool=${value.b})`;
    case 'nil':
      return '%!s(<nil>)';
    case 'time':
      return value.text;
    default:
      return '';
  }
}

type MapValue = Extract<GoValue, { k: 'map' }>;

function weakMapping(node: YMap, state: DecodeState, out: MapValue, mergedFields: Set<string> | null, isNew: boolean): boolean {
  if (duplicateKeys(node, state)) return false;
  let mergeNode: YNode | undefined;
  for (const { key, value } of node.pairs) {
    if (isMergeKey(key)) {
      mergeNode = value;
      continue;
    }
    const k = decodeWeak(key, state);
    if (k === undefined) continue;
    if (k.k === 'map' || k.k === 'slice') throw new YamlFailure(`invalid map key: ${k.k === 'map' ? 'map[string]interface {}{...}' : '[]interface {}{...}'}`);
    const id = keyIdentity(k);
    if (mergedFields) {
      if (mergedFields.has(id)) continue;
      mergedFields.add(id);
    }
    const v = decodeWeak(value, state);
    if (v !== undefined || (isNullNode(deref(value)) && (isNew || !out.entries.has(id)))) {
      out.entries.set(id, { name: keyName(k), value: v ?? NIL });
    }
  }
  if (mergeNode) {
    mergeInto(node, mergeNode, state, mergedFields, (source, fields) => {
      weakMapping(source, state, out, fields, false);
    });
  }
  return true;
}

/** yaml.v3 decoder.merge: `<<` takes keys the mapping does not set itself, first source first. */
function mergeInto(
  parent: YMap,
  merge: YNode,
  state: DecodeState,
  mergedFields: Set<string> | null,
  decodeSource: (source: YMap, fields: Set<string>) => void,
): void {
  let fields = mergedFields;
  if (fields === null) {
    fields = new Set();
    for (const { key } of parent.pairs) {
      const k = decodeWeak(key, state);
      if (k !== undefined) fields.add(keyIdentity(k));
    }
  }
  const sources: YNode[] = merge.kind === 'seq' ? merge.items : [merge];
  if (merge.kind !== 'seq' && merge.kind !== 'map' && merge.kind !== 'alias') throw new YamlFailure('map merge requires map or sequence of maps as the value');
  for (const source of sources) {
    const target = deref(source);
    if (target.kind !== 'map') throw new YamlFailure('map merge requires map or sequence of maps as the value');
    countDecode(state);
    if (source.kind === 'alias') followAlias(source, state, () => decodeSource(target, fields));
    else decodeSource(target, fields);
  }
}

/** A decoded value of the Go structs: leaves keep their Go value, structs their fields, slices their elements. */
type Strong =
  | { readonly kind: 'leaf'; readonly value: GoValue }
  | { readonly kind: 'struct'; readonly fields: Map<string, Strong> }
  | { readonly kind: 'slice'; readonly items: Strong[] };

function zeroValue(type: SchemaType): Strong {
  switch (type.kind) {
    case 'string':
      return { kind: 'leaf', value: { k: 'string', s: '' } };
    case 'bool':
      return { kind: 'leaf', value: { k: 'bool', b: false } };
    case 'int':
      return { kind: 'leaf', value: { k: 'int', n: 0n } };
    case 'float64':
      return { kind: 'leaf', value: { k: 'float64', f: 0 } };
    case 'struct':
      return { kind: 'struct', fields: new Map(type.fields.map((f) => [f.key, zeroValue(f.type)])) };
    case 'slice':
      return { kind: 'slice', items: [] };
  }
}

const BOOL_WORDS = new Map<string, boolean>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map((w) => [w, true] as [string, boolean]),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map((w) => [w, false] as [string, boolean]),
]);

/** yaml.v3 decoding into a Go type; `ok` false drops the element from a slice. */
function decodeStrong(node: YNode, type: SchemaType, state: DecodeState): { ok: boolean; value: Strong } {
  countDecode(state);
  if (node.kind === 'alias') return followAlias(node, state, (target) => decodeStrong(target, type, state));
  const goType = goTypeName(type);
  const fail = (tag: string) => {
    typeError(node, tag, goType, state);
    return { ok: false, value: zeroValue(type) };
  };
  if (node.kind === 'scalar') {
    const { tag, value } = scalarValue(node);
    if (value.k === 'nil') return { ok: type.kind === 'slice', value: zeroValue(type) };
    const leaf = (v: GoValue) => ({ ok: true, value: { kind: 'leaf', value: v } as Strong });
    switch (type.kind) {
      case 'string':
        return leaf(value.k === 'string' && value.bytes ? value : { k: 'string', s: node.value });
      case 'bool':
        if (value.k === 'bool') return leaf(value);
        if (value.k === 'string' && BOOL_WORDS.has(value.s)) return leaf({ k: 'bool', b: BOOL_WORDS.get(value.s) === true });
        return fail(tag);
      case 'int':
        if (value.k === 'int') return leaf(value);
        if (value.k === 'uint64' && value.n <= MAX_INT64) return leaf({ k: 'int', n: value.n });
        if (value.k === 'float64' && !Number.isNaN(value.f) && value.f <= 2 ** 63) {
          const truncated = Number.isFinite(value.f) ? BigInt(Math.trunc(value.f)) : MIN_INT64;
          return leaf({ k: 'int', n: truncated < MIN_INT64 ? MIN_INT64 : truncated });
        }
        return fail(tag);
      case 'float64':
        if (value.k === 'int' || value.k === 'uint64') return leaf({ k: 'float64', f: Number(value.n) });
        if (value.k === 'float64') return leaf(value);
        return fail(tag);
      default:
        return fail(tag);
    }
  }
  if (node.kind === 'seq') {
    if (type.kind !== 'slice') return fail(SEQ);
    const items: Strong[] = [];
    for (const item of node.items) {
      const decoded = decodeStrong(item, type.elem, state);
      if (decoded.ok) items.push(decoded.value);
    }
    return { ok: true, value: { kind: 'slice', items } };
  }
  if (duplicateKeys(node, state)) return { ok: false, value: zeroValue(type) };
  if (type.kind !== 'struct') return fail(MAP);
  const out = zeroValue(type) as Extract<Strong, { kind: 'struct' }>;
  strongStruct(node, type, state, out, null);
  return { ok: true, value: out };
}

/** The name a struct key decodes to (yaml.v3 unmarshals the key into a string); undefined skips the pair. */
function structKeyName(key: YNode, state: DecodeState): string | undefined {
  countDecode(state);
  if (key.kind === 'alias') return followAlias(key, state, (target) => structKeyName(target, state));
  if (key.kind !== 'scalar') {
    typeError(key, key.kind === 'map' ? MAP : SEQ, 'string', state);
    return undefined;
  }
  const { value } = scalarValue(key);
  if (value.k === 'nil') return undefined;
  return value.k === 'string' && value.bytes ? value.s : key.value;
}

function strongStruct(
  node: YMap,
  type: Extract<SchemaType, { kind: 'struct' }>,
  state: DecodeState,
  out: Extract<Strong, { kind: 'struct' }>,
  mergedFields: Set<string> | null,
): void {
  let mergeNode: YNode | undefined;
  const done = new Set<string>();
  for (const { key, value } of node.pairs) {
    if (isMergeKey(key)) {
      mergeNode = value;
      continue;
    }
    const name = structKeyName(key, state);
    if (name === undefined) continue;
    if (mergedFields) {
      if (mergedFields.has(`s:${name}`)) continue;
      mergedFields.add(`s:${name}`);
    }
    const field = findField(type, name);
    if (!field) continue; // yaml.v3 ignores unknown fields (KnownFields is off)
    if (done.has(name)) {
      state.terrors.push({ line: key.line, message: `field ${name} already set in type ${type.goType}` });
      continue;
    }
    done.add(name);
    out.fields.set(name, decodeStrong(value, field.type, state).value);
  }
  if (mergeNode) {
    mergeInto(node, mergeNode, state, mergedFields, (source, fields) => {
      if (!duplicateKeys(source, state)) strongStruct(source, type, state, out, fields);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The validator's node tree: weak values, lines from its line finder, normalised names, coerced leaves

interface VNode {
  name: string;
  line: number;
  /** undefined: reflect's invalid Value (a null, or a key that is not there) */
  value: GoValue | undefined;
  children: VNode[];
}

/**
 * config/validate/context.go + node.go: a key is found on the first line at or after its parent's
 * line whose text matches `^ *-? ?(key):`; list items are the successive lines matching `^ *-`.
 * A key it cannot find (inside a flow map, quoted, ...) is at line 0, as in the real tool.
 */
class LineFinder {
  private readonly lines: string[];
  private readonly remainingLength: number[];

  constructor(text: string) {
    this.lines = text.replace(/\r/g, '').split('\n');
    this.remainingLength = new Array<number>(this.lines.length + 1).fill(0);
    for (let i = this.lines.length - 2; i >= 0; i--) {
      const next = this.lines[i + 1] ?? '';
      const after = this.remainingLength[i + 1] ?? 0;
      this.remainingLength[i] = next.length + (i + 1 < this.lines.length - 1 ? 1 + after : 0);
    }
  }

  start(): number {
    return 0;
  }

  private exhausted(index: number): boolean {
    return (this.lines[index] ?? '') === '' && (this.remainingLength[index] ?? 0) === 0;
  }

  increment(index: number): number {
    return this.exhausted(index) ? index : index + 1;
  }

  find(pattern: RegExp, key: string | undefined, index: number): { index: number; found: boolean } {
    while (!this.exhausted(index)) {
      const match = pattern.exec(this.lines[index] ?? '');
      if (match && (key === undefined || match[1] === key)) return { index, found: true };
      index = this.increment(index);
    }
    return { index, found: false };
  }
}

const YAML_KEY_LINE = /^ *-? ?([\s\S]*?):/;
const YAML_ELEM_LINE = /^ *-/;

function toVNode(name: string, line: number, value: GoValue, context: number, finder: LineFinder): VNode {
  const node: VNode = { name, line, value: value.k === 'nil' ? undefined : value, children: [] };
  if (value.k === 'map') {
    for (const entry of value.entries.values()) {
      const at = finder.find(YAML_KEY_LINE, entry.name, context);
      node.children.push(toVNode(entry.name, at.found ? at.index + 1 : 0, entry.value, at.index, finder));
    }
  } else if (value.k === 'slice') {
    let at = context;
    value.items.forEach((item, i) => {
      const found = finder.find(YAML_ELEM_LINE, undefined, at);
      at = found.index;
      node.children.push(toVNode(`${name}[${i}]`, found.found ? at + 1 : 0, item, at, finder));
      at = finder.increment(at);
    });
  }
  return node;
}

function normalizeNames(node: VNode): VNode {
  node.name = node.name.replace(/-/g, '_');
  node.children.forEach(normalizeNames);
  return node;
}

type GoKind = 'invalid' | 'string' | 'int' | 'uint64' | 'float64' | 'bool' | 'struct' | 'map' | 'slice';

function kindOf(value: GoValue | undefined): GoKind {
  if (value === undefined) return 'invalid';
  switch (value.k) {
    case 'nil':
      return 'invalid';
    case 'time':
      return 'struct';
    default:
      return value.k;
  }
}

/** rules.go isCompatible(n, g) */
function isCompatible(n: GoKind, g: GoKind): boolean {
  switch (g) {
    case 'string':
      return n === 'string' || n === 'int' || n === 'float64' || n === 'bool';
    case 'struct':
      return n === 'struct' || n === 'map';
    case 'float64':
      return n === 'float64' || n === 'int';
    default:
      return n === g;
  }
}

/** coerceNodes: a strong leaf replaces a compatible weak leaf (0744 -> "0744", false -> "false"). */
function coerce(weak: VNode, strong: Strong | undefined, strongName: string): void {
  if (weak.children.length === 0 && strong?.kind === 'leaf' && weak.value !== undefined && isCompatible(kindOf(weak.value), kindOf(strong.value))) {
    weak.value = strong.value;
  }
  for (const child of weak.children) {
    let next: Strong | undefined;
    if (strong?.kind === 'struct') next = strong.fields.get(child.name);
    else if (strong?.kind === 'slice') {
      const m = /\[(\d+)\]$/.exec(child.name);
      next = m && child.name === `${strongName}[${m[1]}]` ? strong.items[Number(m[1])] : undefined;
    }
    coerce(child, next, child.name);
  }
}

function childOf(node: VNode | undefined, name: string): VNode | undefined {
  return node?.children.find((c) => c.name === name);
}

// ---------------------------------------------------------------------------------------------
// Rules R1–R6 (rules.go), run in this order

class Report {
  readonly entries: RankedFinding[] = [];

  error(line: number, message: string, rank: Rank): void {
    this.entries.push({ kind: 'error', line, message, rank });
  }

  warning(line: number, message: string, rank: Rank): void {
    this.entries.push({ kind: 'warning', line, message, rank });
  }
}

/** R1: coreos.etcd.discovery (etcd 0.4 only) must pass url.ParseRequestURI. */
function checkDiscoveryUrl(root: VNode, report: Report): void {
  const node = childOf(childOf(childOf(root, 'coreos'), 'etcd'), 'discovery');
  if (node?.value === undefined) return;
  if (!goParseRequestURI(goReflectString(node.value))) report.warning(node.line, 'discovery URL is not valid', Rank.DiscoveryUrl);
}

/** R2: every write_files entry with an encoding must decode its content. */
function checkEncoding(root: VNode, report: Report): void {
  for (const file of childOf(root, 'write_files')?.children ?? []) {
    const encoding = childOf(file, 'encoding');
    if (encoding?.value === undefined) continue;
    const content = childOf(file, 'content');
    const name = goReflectString(encoding.value);
    if (!decodeContent(goReflectBytes(content?.value), name)) {
      report.error(content?.line ?? 0, `content cannot be decoded as ${goQuote(name)}`, Rank.Encoding);
    }
  }
}

/** R3: unknown keys, deprecated keys and type mismatches against the schema. */
function checkStructure(node: VNode, type: SchemaType, report: Report): void {
  if (!isCompatible(kindOf(node.value), type.kind === 'struct' ? 'struct' : type.kind)) {
    report.warning(node.line, `incorrect type for ${goQuote(node.name)} (want ${humanType(type)})`, Rank.Structure);
    return;
  }
  if (type.kind === 'struct') {
    for (const child of node.children) {
      const field = findField(type, child.name);
      if (!field) {
        report.warning(child.line, `unrecognized key ${goQuote(child.name)}`, Rank.Structure);
        continue;
      }
      if (field.deprecated) report.warning(child.line, `deprecated key ${goQuote(child.name)} (${field.deprecated})`, Rank.Structure);
      checkStructure(child, field.type, report);
    }
  } else if (type.kind === 'slice') {
    for (const child of node.children) checkStructure(child, type.elem, report);
  }
}

/** R4: non-zero values must match their `valid` pattern. Returns the panics (validation failures). */
function checkValidity(root: VNode, report: Report): Array<{ line: number; message: string }> {
  const panics: Array<{ line: number; message: string }> = [];
  const visit = (node: VNode, type: SchemaType, field: FieldSpec | undefined) => {
    if (field?.valid) {
      const value = node.value;
      if (value === undefined) {
        panics.push({
          line: node.line,
          message: `null value for ${goQuote(node.name)} makes coreos-cloudinit -validate fail (reflect: call of reflect.Value.Interface on zero Value)`,
        });
      } else if (value.k === 'map' || value.k === 'slice') {
        panics.push({ line: node.line, message: `coreos-cloudinit -validate fails: runtime error: comparing uncomparable type for ${goQuote(node.name)}` });
      } else if (!isZeroValue(value) && !field.valid.test(goFormatV(value))) {
        report.error(node.line, `invalid value ${goFormatV(value)}`, Rank.Validity);
      }
    }
    if (type.kind === 'struct') {
      for (const child of node.children) {
        const childField = findField(type, child.name);
        if (childField) visit(child, childField.type, childField);
      }
    } else if (type.kind === 'slice') {
      for (const child of node.children) visit(child, type.elem, undefined);
    }
  };
  visit(root, CLOUD_CONFIG, undefined);
  return panics;
}

/** R5: nothing may be written under /usr (path.Dir, cleaned, starting with /usr, as in Go). */
function checkWriteFiles(root: VNode, report: Report): void {
  for (const file of childOf(root, 'write_files')?.children ?? []) {
    const path = childOf(file, 'path');
    if (path?.value === undefined) continue;
    if (goPathDir(goReflectString(path.value)).startsWith('/usr')) {
      report.error(path.line, 'file cannot be written to a read-only filesystem', Rank.WriteFiles);
    }
  }
}

/** R6: coreos.write_files (an info in Go; this API only has errors and warnings). */
function checkWriteFilesUnderCoreos(root: VNode, report: Report): void {
  const node = childOf(childOf(root, 'coreos'), 'write_files');
  if (node?.value !== undefined) report.warning(node.line, "write_files doesn't belong under coreos", Rank.WriteFilesUnderCoreos);
}

function isZeroValue(value: GoValue): boolean {
  switch (value.k) {
    case 'string':
      return value.s === '' && (value.bytes === undefined || value.bytes.length === 0);
    case 'int':
    case 'uint64':
      return value.n === 0n;
    case 'float64':
      return value.f === 0;
    case 'bool':
      return !value.b;
    case 'time':
      return true; // time.Time has only unexported fields, which isZero skips
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Checks rackboot adds (§1.4 "Gaps our validator should add"): things Flatcar accepts at validation
// time but applies wrongly or not at all on a bare-metal machine.

const UNIT_TYPES = new Set([
  'service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope',
  'network', 'netdev', 'link',
]);

const INITIAL_CLUSTER_ITEM = /^[^=,\s]+=[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s,]+$/;

function rackbootChecks(root: YNode | undefined, text: string): RankedFinding[] {
  const findings: RankedFinding[] = [];
  const add = (kind: 'error' | 'warning', line: number, message: string) => findings.push({ kind, line, message, rank: Rank.Rackboot });

  // substitution variables are replaced textually before parsing (initialize/env.go)
  text.split('\n').forEach((line, index) => {
    const seen = new Set<string>();
    for (const m of line.matchAll(/(?<!\\)\$(?:public|private)_ipv[46]/g)) {
      const variable = m[0];
      if (seen.has(variable)) continue;
      seen.add(variable);
      add('error', index + 1, `${variable} becomes an empty string on bare metal (cloud-config-url has no metadata): render the address`);
    }
  });
  if (root === undefined) return findings;

  const visiting = new Set<YNode>();
  const walk = (node: YNode, type: SchemaType, path: string) => {
    const target = deref(node);
    if (visiting.has(target)) return;
    visiting.add(target);
    try {
      if (type.kind === 'slice' && target.kind === 'seq') {
        target.items.forEach((item, i) => walk(item, type.elem, `${path}[${i}]`));
      } else if (type.kind === 'struct' && target.kind === 'map') {
        const values = new Map<string, YNode>();
        for (const { key, value, keyNode } of effectivePairs(target)) {
          let field = findField(type, key);
          if (!field && key.includes('-')) {
            field = findField(type, key.replace(/-/g, '_'));
            if (field) add('error', keyNode.line, `key "${key}" is ignored by Flatcar >= 3975.2.0 (only "${field.key}" is read)`);
          }
          if (!field) continue;
          values.set(field.key, value);
          walk(value, field.type, path ? `${path}.${field.key}` : field.key);
        }
        structChecks(type, path, target, values, add);
      }
    } finally {
      visiting.delete(target);
    }
  };
  walk(root, CLOUD_CONFIG, '');
  return findings;
}

function structChecks(
  type: Extract<SchemaType, { kind: 'struct' }>,
  path: string,
  node: YMap,
  values: Map<string, YNode>,
  add: (kind: 'error' | 'warning', line: number, message: string) => void,
): void {
  const text = (key: string): string | undefined => {
    const value = values.get(key);
    const target = value === undefined ? undefined : deref(value);
    return target?.kind === 'scalar' && target.tag !== NULL ? target.value : undefined;
  };
  const lineOf = (key: string) => (values.get(key) ? deref(values.get(key) as YNode).line : node.line);
  switch (type.goType) {
    case 'config.CloudConfig': {
      const hosts = text('manage_etc_hosts');
      if (hosts !== undefined && hosts !== '' && hosts !== 'localhost') {
        add('error', lineOf('manage_etc_hosts'), `manage_etc_hosts ${goQuote(hosts)} makes coreos-cloudinit fail ("Invalid option to manage_etc_hosts"): only "localhost" is supported`);
      }
      break;
    }
    case 'config.Unit': {
      const name = text('name');
      if (!name) {
        add('error', node.line, `${path} has no name: coreos-cloudinit skips it`);
        break;
      }
      const dot = name.lastIndexOf('.');
      if (dot < 0 || !UNIT_TYPES.has(name.slice(dot + 1))) {
        add('error', lineOf('name'), `unit name ${goQuote(name)} does not end in a unit type (.service, .socket, .timer, .mount, .network, ...)`);
      }
      break;
    }
    case 'config.UnitDropIn':
      if (!text('name') || !text('content')) add('error', node.line, `${path} needs both a name and a content: coreos-cloudinit skips it`);
      break;
    case 'config.User':
      if (!text('name')) add('error', node.line, `${path} has no name`);
      break;
    case 'config.File': {
      const path_ = text('path');
      if (!path_) add('error', node.line, `${path} has no path`);
      else if (!path_.startsWith('/')) add('error', lineOf('path'), `write_files path ${goQuote(path_)} is not absolute`);
      break;
    }
    case 'config.Etcd2': {
      const cluster = text('initial_cluster');
      if (cluster && !cluster.split(',').every((item) => INITIAL_CLUSTER_ITEM.test(item.trim()))) {
        add('warning', lineOf('initial_cluster'), `initial_cluster ${goQuote(cluster)} is not name=url[,name=url...]`);
      }
      break;
    }
    default:
      break;
  }
}

/** The pairs a map really has: its own keys, then keys from `<<` sources it does not set itself. */
function effectivePairs(node: YMap, seen = new Set<YMap>()): Array<{ key: string; value: YNode; keyNode: YNode }> {
  if (seen.has(node)) return [];
  seen.add(node);
  const own: Array<{ key: string; value: YNode; keyNode: YNode }> = [];
  const merged: Array<{ key: string; value: YNode; keyNode: YNode }> = [];
  for (const { key, value } of node.pairs) {
    if (isMergeKey(key)) {
      const source = deref(value);
      const sources = source.kind === 'seq' ? source.items.map(deref) : [source];
      for (const s of sources) if (s.kind === 'map') merged.push(...effectivePairs(s, seen));
      continue;
    }
    const k = deref(key);
    if (k.kind === 'scalar' && k.tag !== NULL) own.push({ key: k.value, value, keyNode: key });
  }
  const names = new Set(own.map((p) => p.key));
  for (const pair of merged) {
    if (names.has(pair.key)) continue;
    names.add(pair.key);
    own.push(pair);
  }
  return own;
}

// ---------------------------------------------------------------------------------------------
// Go library behaviour the rules depend on

/** strconv.Quote: Go's double-quoted form (used by %q). */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x20 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(ch)) out += ch;
    else if (c <= 0xffff) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** fmt's %v for a float64: shortest representation, exponent form below 1e-4 or from 1e21. */
function goFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Number.POSITIVE_INFINITY) return '+Inf';
  if (f === Number.NEGATIVE_INFINITY) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mantissa = '0', exponentText = '0'] = f.toExponential().split('e');
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 21) return `${mantissa}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  return String(f);
}

/** fmt's %v */
function goFormatV(value: GoValue): string {
  switch (value.k) {
    case 'string':
      return value.s;
    case 'int':
    case 'uint64':
      return String(value.n);
    case 'float64':
      return goFloat(value.f);
    case 'bool':
      return String(value.b);
    case 'nil':
      return '<nil>';
    case 'time':
      return value.text;
    default:
      return value.k === 'map' ? 'map[]' : '[]';
  }
}

/** reflect.Value.String(): the string, or "<T Value>" for any other kind. */
function goReflectString(value: GoValue | undefined): string {
  if (value === undefined || value.k === 'nil') return '<invalid Value>';
  switch (value.k) {
    case 'string':
      return value.s;
    case 'time':
      return '<time.Time Value>';
    case 'map':
      return value.stringKeys ? '<map[string]interface {} Value>' : '<map[interface {}]interface {} Value>';
    case 'slice':
      return '<[]interface {} Value>';
    default:
      return `<${value.k} Value>`;
  }
}

function goReflectBytes(value: GoValue | undefined): Uint8Array {
  if (value?.k === 'string' && value.bytes) return value.bytes;
  return Buffer.from(goReflectString(value), 'utf8');
}

const BASE64_VALUE = new Map<number, number>(
  [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c.charCodeAt(0), i]),
);

/** base64.StdEncoding.DecodeString: padded, CR and LF ignored, anything else outside the alphabet fails. */
function goBase64(input: string | Uint8Array): Uint8Array | undefined {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const clean = bytes.filter((b) => b !== 0x0a && b !== 0x0d);
  if (clean.length % 4 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < clean.length; i += 4) {
    const quad = clean.subarray(i, i + 4);
    const last = i + 4 === clean.length;
    const pad = quad[3] === 0x3d ? (quad[2] === 0x3d ? 2 : 1) : 0;
    if (pad > 0 && !last) return undefined;
    const values: number[] = [];
    for (let j = 0; j < 4 - pad; j++) {
      const v = BASE64_VALUE.get(quad[j] ?? 0);
      if (v === undefined) return undefined;
      values.push(v);
    }
    if (pad === 2 && values.length !== 2) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = values;
    out.push(((a << 2) | (b >> 4)) & 0xff);
    if (pad < 2) out.push(((b << 4) | (c >> 2)) & 0xff);
    if (pad < 1) out.push(((c << 6) | d) & 0xff);
  }
  return Uint8Array.from(out);
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = (crcTable[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * gzip.NewReader only reads the header (RFC 1952 §2.3) and the validator ignores read errors after
 * it, so a content "decodes as gzip" when its header is complete and consistent.
 */
function gzipHeaderOk(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 8) return false;
  const flags = bytes[3] ?? 0;
  let at = 10;
  if (flags & 4) {
    if (at + 2 > bytes.length) return false;
    at += 2 + ((bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8));
    if (at > bytes.length) return false;
  }
  for (const flag of [8, 16]) {
    if (!(flags & flag)) continue;
    const nul = bytes.indexOf(0, at);
    if (nul < 0 || nul - at >= 512) return false;
    at = nul + 1;
  }
  if (flags & 2) {
    if (at + 2 > bytes.length) return false;
    const stored = (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
    if (stored !== (crc32(bytes.subarray(0, at)) & 0xffff)) return false;
  }
  return true;
}

/** config.DecodeContent */
function decodeContent(content: Uint8Array, encoding: string): boolean {
  switch (encoding) {
    case '':
      return true;
    case 'b64':
    case 'base64':
      return goBase64(content) !== undefined;
    case 'gz':
    case 'gzip':
      return gzipHeaderOk(content);
    case 'gz+base64':
    case 'gzip+base64':
    case 'gz+b64':
    case 'gzip+b64': {
      const decoded = goBase64(content);
      return decoded !== undefined && gzipHeaderOk(decoded);
    }
    default:
      return false;
  }
}

/** path.Clean */
function goPathClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  return rooted ? `/${joined}` : joined === '' ? '.' : joined;
}

/** path.Dir */
function goPathDir(path: string): string {
  return goPathClean(path.slice(0, path.lastIndexOf('/') + 1));
}

const HOST_OK = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"%]*$/;
const USERINFO_OK = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

/** net/url.ParseRequestURI, for the checks it can fail on. */
function goParseRequestURI(raw: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return false;
  if (raw === '') return false;
  if (raw === '*') return true;
  let scheme = '';
  let rest = raw;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] ?? '';
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) return false; // missing protocol scheme
      scheme = raw.slice(0, i);
      rest = raw.slice(i + 1);
    }
    break;
  }
  const query = rest.indexOf('?');
  if (query >= 0) rest = rest.slice(0, query);
  if (!rest.startsWith('/')) return scheme !== ''; // opaque with a scheme, else "invalid URI for request"
  if (scheme !== '' && rest.startsWith('//')) {
    const slash = rest.indexOf('/', 2);
    const authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    rest = slash < 0 ? '' : rest.slice(slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0 && !USERINFO_OK.test(authority.slice(0, at))) return false;
    const host = at >= 0 ? authority.slice(at + 1) : authority;
    if (!goHostOk(host)) return false;
  }
  return validEscapes(rest);
}

function goHostOk(host: string): boolean {
  let port = '';
  let name = host;
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) return false;
    port = host.slice(close + 1);
    name = host.slice(0, close + 1);
    if (port !== '' && !/^:[0-9]*$/.test(port)) return false;
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      port = host.slice(colon);
      name = host.slice(0, colon);
      if (!/^:[0-9]*$/.test(port)) return false;
    }
  }
  return HOST_OK.test(name) && validEscapes(name);
}

function validEscapes(s: string): boolean {
  return !/%(?![0-9A-Fa-f]{2})/.test(s);
}
