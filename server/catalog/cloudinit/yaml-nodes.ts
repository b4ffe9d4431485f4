/** The yaml.v3-like node tree the decoders read, its tags, and the failure that aborts a decode. */

export type YNode = YScalar | YMap | YSeq | YAlias;
export interface YScalar {
  readonly kind: 'scalar';
  /** yaml.v3 Node.Tag: the explicit tag, else !!str for quoted/block scalars, else the resolved tag */
  tag: string;
  value: string;
  line: number;
}
export interface YMap {
  readonly kind: 'map';
  tag: string;
  pairs: Array<{ key: YNode; value: YNode }>;
  line: number;
}
export interface YSeq {
  readonly kind: 'seq';
  tag: string;
  items: YNode[];
  line: number;
}
export interface YAlias {
  readonly kind: 'alias';
  anchor: string;
  target: YNode;
  line: number;
}

/** A yaml.v3 failure without a line: the whole decode stops. */
export class YamlFailure extends Error {}

export const NULL = '!!null';
export const BOOL = '!!bool';
export const STR = '!!str';
export const INT = '!!int';
export const FLOAT = '!!float';
export const TIMESTAMP = '!!timestamp';
export const SEQ = '!!seq';
export const MAP = '!!map';
export const BINARY = '!!binary';
export const MERGE = '!!merge';
const LONG_TAG_PREFIX = 'tag:yaml.org,2002:';

export function shortTag(tag: string): string {
  return tag.startsWith(LONG_TAG_PREFIX) ? `!!${tag.slice(LONG_TAG_PREFIX.length)}` : tag;
}
