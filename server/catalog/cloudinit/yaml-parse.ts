/**
 * YAML: parse with positions, map syntax errors to the libyaml wording, build a yaml.v3-like node tree.
 */
import { LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Document, Scalar } from 'yaml';
import { findForbiddenTab, libyamlWording } from './libyaml-errors.js';
import { MAP, MERGE, NULL, SEQ, STR, shortTag } from './yaml-nodes.js';
import type { YAlias, YMap, YNode, YScalar, YSeq } from './yaml-nodes.js';
import { resolve } from './yaml-resolve.js';
export interface ParsedYaml {
  root?: YNode;
  error?: { line: number; message: string };
}

export function parseYaml(text: string): ParsedYaml {
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
