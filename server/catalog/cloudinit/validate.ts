/**
 * A re-implementation of `coreos-cloudinit -validate` as Flatcar ships it today (yaml.v3 era),
 * plus the checks rackboot adds because a Flatcar machine would otherwise apply the document wrongly.
 * Reference: docs install-targets.md §1 (§1.1 dispatch, §1.2 schema, §1.4 algorithm and rules R1–R6,
 * §1.5 observed outputs). Pure: no I/O; the `yaml` package is used only as a parser with positions.
 *
 * How Flatcar's validator works, and so how this folder is organised:
 *  1. dispatch on the header (empty, `#!` script, Ignition JSON, `#cloud-config`, multipart MIME):
 *     dispatch.ts;
 *  2. parse the YAML twice with yaml.v3: into untyped maps (the "weak" tree) and into the Go structs
 *     (the "strong" tree). A YAML error becomes an entry at its line; a decode failure of either tree
 *     (duplicate keys, a value that cannot become its Go type) makes the whole validation fail with no
 *     entries, which flatcar-install treats as a rejection. Here such failures are `error` findings:
 *     yaml-parse.ts (with libyaml-errors.ts), yaml-resolve.ts, yaml-decode*.ts, against schema.ts;
 *  3. give every weak node a line with the validator's own forward-scanning line finder (so a key
 *     inside a flow map is at line 0, as the real tool prints), turn `-` into `_` in key names, and
 *     let strong leaves replace compatible weak leaves: validator-tree.ts;
 *  4. run R1–R6 in order. A panic inside a rule (a null value for a key with a `valid` pattern)
 *     fails the whole validation, as in Go: flatcar-rules.ts. rackboot-checks.ts adds its own.
 * Output is sorted by (line, rule), as §1.5 recommends; the real tool prints in rule order.
 */
import { isIgnitionConfig, isMultipartMime, trimRightGoSpace } from './dispatch.js';
import { Rank, Report } from './findings.js';
import type { Finding, RankedFinding } from './findings.js';
import { checkDiscoveryUrl, checkEncoding, checkStructure, checkValidity, checkWriteFiles, checkWriteFilesUnderCoreos } from './flatcar-rules.js';
import { emptyMap } from './go-value.js';
import type { GoValue } from './go-value.js';
import { rackbootChecks } from './rackboot-checks.js';
import { CLOUD_CONFIG } from './schema.js';
import { LineFinder, coerce, normalizeNames, toVNode } from './validator-tree.js';
import { newDecodeState } from './yaml-decode.js';
import { decodeStrong, zeroValue } from './yaml-decode-strong.js';
import type { Strong } from './yaml-decode-strong.js';
import { decodeWeakRoot } from './yaml-decode-weak.js';
import { YamlFailure } from './yaml-nodes.js';
import type { YNode } from './yaml-nodes.js';
import { parseYaml } from './yaml-parse.js';

export type UserDataKind = 'cloud-config' | 'script' | 'ignition' | 'empty' | 'multipart' | 'invalid';

export type { Finding } from './findings.js';

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
// The cloud-config pipeline

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
