/**
 * Which machines the list shows: the state, role and label filters and the search box. Pure (no
 * DOM, no network): the page imports it, and test/unit/http/ui/filter.test.ts runs it in Node.
 */

/** A typed MAC fragment with separators (52-54-00-1, 52:54:00, 5254.0010.00) as bare hex; otherwise null. */
export function macHex(word) {
  if (/^[0-9a-f]{1,2}([:-][0-9a-f]{2})*[:-][0-9a-f]{0,2}$/.test(word)) return word.replace(/[:-]/g, '');
  // Cisco's dotted form has groups of four; an IPv4 address never does, so `10.99` stays an address
  if (/^[0-9a-f]{4}(\.[0-9a-f]{4})?\.[0-9a-f]{0,4}$/.test(word)) return word.replace(/\./g, '');
  return null;
}

/** The search's words, lower case; every one must match. */
export function searchWords(text) {
  return String(text ?? '').trim().toLowerCase().split(/\s+/).filter(Boolean);
}

/** A machine's labels as an object of strings, or {} (records from before labels have none). */
export function labelsOf(machine) {
  const labels = machine?.labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return {};
  return labels;
}

/**
 * `rack=r12,role=small` or `rack=r12 row=3`: every term must hold; `key` alone: the label is set.
 * @returns {{ ok: true, terms: Array<{ key: string, value: string | null }> } | { ok: false, error: string }}
 */
export function parseLabelSelector(text) {
  const terms = [];
  for (const part of String(text ?? '').split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? null : part.slice(eq + 1);
    if (key === '' || value === '' || (value !== null && value.includes('='))) return { ok: false, error: `"${part}": write key=value (or key alone)` };
    terms.push({ key, value });
  }
  return { ok: true, terms };
}

export function matchesLabels(machine, terms) {
  if (terms.length === 0) return true;
  const labels = labelsOf(machine);
  return terms.every(({ key, value }) => Object.hasOwn(labels, key) && (value === null || String(labels[key]) === value));
}

const haystacks = new WeakMap();

/** Everything the search looks in, built once per machine object (an update brings a new object). */
function haystackOf(m) {
  let found = haystacks.get(m);
  if (found) return found;
  const macs = (m.macs ?? []).map((mac) => String(mac).toLowerCase());
  const bare = macs.map((mac) => mac.replace(/[^0-9a-f]/g, ''));
  const uuid = typeof m.uuid === 'string' ? m.uuid.toLowerCase() : null;
  const labels = Object.entries(labelsOf(m)).map(([k, v]) => `${k}=${v}`.toLowerCase());
  const fields = [m.name, m.ip, m.bmcAddress, m.role, m.state, uuid, uuid?.replace(/-/g, ''), ...macs, ...bare, ...labels];
  found = { text: fields.filter((f) => typeof f === 'string' && f !== '').map((f) => f.toLowerCase()).join('\n'), macs: bare.join('\n') };
  haystacks.set(m, found);
  return found;
}

/** Every word matches some field: name, IP, BMC, role, state, UUID (with or without dashes), a MAC in any form, a label. */
export function matchesSearch(machine, words) {
  if (words.length === 0) return true;
  const hay = haystackOf(machine);
  return words.every((word) => {
    if (hay.text.includes(word)) return true;
    const hex = macHex(word);
    return hex !== null && hex !== '' && hay.macs.includes(hex);
  });
}

/** The role filter's value for machines without a role. */
export const NO_ROLE = '\u0000none';

/**
 * One predicate for the list.
 * @param {{ state?: string | null, role?: string | null, labels?: string, search?: string }} filters
 * @returns {{ ok: true, test: (machine: any) => boolean } | { ok: false, error: string }}
 */
export function machineFilter(filters) {
  const selector = parseLabelSelector(filters.labels ?? '');
  if (!selector.ok) return selector;
  const words = searchWords(filters.search);
  const wantState = filters.state ?? null;
  const wantRole = filters.role ?? null;
  return {
    ok: true,
    test: (m) =>
      (wantState === null || m.state === wantState) &&
      (wantRole === null || (wantRole === NO_ROLE ? !m.role : m.role === wantRole)) &&
      matchesLabels(m, selector.terms) &&
      matchesSearch(m, words),
  };
}
