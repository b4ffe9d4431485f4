/**
 * Plain-text tables and times for the CLI. Text from the network (event messages, discovered facts,
 * BMC answers) is printed through terminalText: an ESC sequence in an event message must not clear
 * or retitle the operator's terminal. JSON output needs nothing: JSON.stringify escapes C0 controls.
 */

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional overrides that reorder what is shown
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line of untrusted text, safe for a terminal: each control character becomes a visible \xNN (or \uNNNN). */
export function terminalText(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Several lines of untrusted text: the line breaks stay, every other control character is made visible. */
export function terminalLines(text: string): string {
  return text.split('\n').map(terminalText).join('\n');
}

export function formatTable(header: readonly string[], untrustedRows: readonly (readonly string[])[]): string {
  if (untrustedRows.length === 0) return `${header.join('  ')}\n(none)\n`;
  const rows = untrustedRows.map((row) => row.map(terminalText));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
