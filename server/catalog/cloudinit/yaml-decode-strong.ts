/** yaml.v3 decoding into the Go structs: the validator's "strong" tree, with its type errors. */
import { MAX_INT64, MIN_INT64 } from './go-value.js';
import type { GoValue } from './go-value.js';
import { findField, goTypeName } from './schema.js';
import type { SchemaType } from './schema.js';
import { countDecode, duplicateKeys, followAlias, isMergeKey, typeError } from './yaml-decode.js';
import type { DecodeState } from './yaml-decode.js';
import { mergeInto } from './yaml-decode-weak.js';
import { MAP, SEQ } from './yaml-nodes.js';
import type { YMap, YNode } from './yaml-nodes.js';
import { scalarValue } from './yaml-resolve.js';
/** A decoded value of the Go structs: leaves keep their Go value, structs their fields, slices their elements. */
export type Strong =
  | { readonly kind: 'leaf'; readonly value: GoValue }
  | { readonly kind: 'struct'; readonly fields: Map<string, Strong> }
  | { readonly kind: 'slice'; readonly items: Strong[] };

export function zeroValue(type: SchemaType): Strong {
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
export function decodeStrong(node: YNode, type: SchemaType, state: DecodeState): { ok: boolean; value: Strong } {
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
