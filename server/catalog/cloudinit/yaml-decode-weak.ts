/** yaml.v3 decoding into untyped maps: the validator's "weak" tree. */
import { goFloat } from './go-format.js';
import { NIL, emptyMap } from './go-value.js';
import type { GoValue, MapValue } from './go-value.js';
import { countDecode, deref, duplicateKeys, followAlias, isMergeKey, typeError } from './yaml-decode.js';
import type { DecodeState } from './yaml-decode.js';
import { SEQ, STR, YamlFailure } from './yaml-nodes.js';
import type { YMap, YNode } from './yaml-nodes.js';
import { isNullNode, scalarValue } from './yaml-resolve.js';
/** The document into `map[interface{}]interface{}` (the validator's weak parse). */
export function decodeWeakRoot(root: YNode, state: DecodeState): GoValue | undefined {
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
export function mergeInto(
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
