/** What both yaml.v3 decodes share: the decode state with its type errors, aliases, merge keys, duplicate keys. */
import { goQuote } from './go-format.js';
import { MAP, MERGE, SEQ, YamlFailure } from './yaml-nodes.js';
import type { YAlias, YMap, YNode } from './yaml-nodes.js';
export interface DecodeState {
  terrors: Array<{ line: number; message: string }>;
  decodeCount: number;
  aliasCount: number;
  aliasDepth: number;
  active: Set<YAlias>;
}

export function newDecodeState(): DecodeState {
  return { terrors: [], decodeCount: 0, aliasCount: 0, aliasDepth: 0, active: new Set() };
}

function allowedAliasRatio(decodeCount: number): number {
  if (decodeCount <= 400_000) return 0.99;
  if (decodeCount >= 4_000_000) return 0.1;
  return 0.99 - 0.89 * ((decodeCount - 400_000) / 3_600_000);
}

export function countDecode(state: DecodeState): void {
  state.decodeCount++;
  if (state.aliasDepth > 0) state.aliasCount++;
  if (state.aliasCount > 100 && state.decodeCount > 1000 && state.aliasCount / state.decodeCount > allowedAliasRatio(state.decodeCount)) {
    throw new YamlFailure('document contains excessive aliasing');
  }
}

export function followAlias<T>(node: YAlias, state: DecodeState, decode: (target: YNode) => T): T {
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

export function deref(node: YNode): YNode {
  const seen = new Set<YNode>();
  while (node.kind === 'alias' && !seen.has(node)) {
    seen.add(node);
    node = node.target;
  }
  return node;
}

export function isMergeKey(node: YNode): boolean {
  return node.kind === 'scalar' && node.value === '<<' && node.tag === MERGE;
}

/** `line N: mapping key "k" already defined at line M`, for every later duplicate (same kind and raw value). */
export function duplicateKeys(node: YMap, state: DecodeState): boolean {
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
export function typeError(node: YNode, tag: string, goType: string, state: DecodeState): void {
  const nodeTag = node.kind !== 'alias' && node.tag !== '' ? node.tag : tag;
  let value = '';
  if (nodeTag !== SEQ && nodeTag !== MAP) {
    const raw = node.kind === 'scalar' ? node.value : '';
    const bytes = Buffer.from(raw, 'utf8');
    value = bytes.length > 10 ? ` \`${bytes.subarray(0, 7).toString('utf8')}...\`` : ` \`${raw}\``;
  }
  state.terrors.push({ line: node.line, message: `cannot unmarshal ${nodeTag}${value} into ${goType}` });
}
