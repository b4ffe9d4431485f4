/** How Go's fmt, strconv and reflect print values: the validator's messages are built with them. */
import type { GoValue } from './go-value.js';
/** strconv.Quote: Go's double-quoted form (used by %q). */
export function goQuote(s: string): string {
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
export function goFloat(f: number): string {
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
export function goFormatV(value: GoValue): string {
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
export function goReflectString(value: GoValue | undefined): string {
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

export function goReflectBytes(value: GoValue | undefined): Uint8Array {
  if (value?.k === 'string' && value.bytes) return value.bytes;
  return Buffer.from(goReflectString(value), 'utf8');
}
