/** How `coreos-cloudinit -validate` tells user-data kinds apart by their first bytes (§1.1). */

/** Go's unicode.IsSpace, which differs from JavaScript's \s (no U+FEFF, but U+0085). */
const GO_SPACE_AT_END = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/;

export function trimRightGoSpace(line: string): string {
  return line.replace(GO_SPACE_AT_END, '');
}

/**
 * config.IsIgnitionConfig: encoding/json into a struct with `ignitionVersion *int` and
 * `ignition.version *string`. Keys match case-insensitively; any type mismatch fails the decode.
 */
export function isIgnitionConfig(text: string): boolean {
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
export function isMultipartMime(text: string): boolean {
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
