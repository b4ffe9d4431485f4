/** The Go values the validator's trees hold. */

/** The Go values the validator can meet; `time` is a time.Time (a struct to reflection). */
export type GoValue =
  | { readonly k: 'nil' }
  | { readonly k: 'string'; readonly s: string; readonly bytes?: Uint8Array }
  | { readonly k: 'int'; readonly n: bigint }
  | { readonly k: 'uint64'; readonly n: bigint }
  | { readonly k: 'float64'; readonly f: number }
  | { readonly k: 'bool'; readonly b: boolean }
  | { readonly k: 'time'; readonly text: string }
  | { readonly k: 'map'; readonly entries: Map<string, { name: string; value: GoValue }>; readonly stringKeys: boolean }
  | { readonly k: 'slice'; readonly items: GoValue[] };

export const NIL: GoValue = { k: 'nil' };
export const MAX_INT64 = 2n ** 63n - 1n;
export const MIN_INT64 = -(2n ** 63n);
export const MAX_UINT64 = 2n ** 64n - 1n;

export function emptyMap(): MapValue {
  return { k: 'map', entries: new Map(), stringKeys: true };
}

export type MapValue = Extract<GoValue, { k: 'map' }>;
