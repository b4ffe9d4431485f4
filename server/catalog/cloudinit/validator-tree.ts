/** The validator's node tree: weak values, lines from its line finder, normalised names, coerced leaves. */
import type { GoValue } from './go-value.js';
import type { Strong } from './yaml-decode-strong.js';
export interface VNode {
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
export class LineFinder {
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

export function toVNode(name: string, line: number, value: GoValue, context: number, finder: LineFinder): VNode {
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

export function normalizeNames(node: VNode): VNode {
  node.name = node.name.replace(/-/g, '_');
  node.children.forEach(normalizeNames);
  return node;
}

type GoKind = 'invalid' | 'string' | 'int' | 'uint64' | 'float64' | 'bool' | 'struct' | 'map' | 'slice';

export function kindOf(value: GoValue | undefined): GoKind {
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
export function isCompatible(n: GoKind, g: GoKind): boolean {
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
export function coerce(weak: VNode, strong: Strong | undefined, strongName: string): void {
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

export function childOf(node: VNode | undefined, name: string): VNode | undefined {
  return node?.children.find((c) => c.name === name);
}
