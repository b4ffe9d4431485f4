/**
 * What may go into a line of an iPXE script. iPXE has no quoting: it expands `${...}` settings over
 * the whole line first, then splits it at white space, and a word `||`, `&&` or `;` ends the command
 * (the next word starts a new one) while a word starting with `#` ends the line. A value carrying any
 * of these, or a line break, would run commands of its own. Pure.
 */

const COMMAND_SEPARATORS = new Set(['||', '&&', ';']);

/** Why `text` cannot be placed in an iPXE script line, or null when it can. */
export function ipxeTextProblem(text: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(text)) return 'contains a line break or another control character (iPXE would read the rest as a new command)';
  if (text.includes('${')) return 'contains ${ (iPXE expands settings before it splits the line, so an expanded value could carry commands)';
  for (const word of text.split(/[ ]+/)) {
    if (COMMAND_SEPARATORS.has(word)) return `contains the word ${word} (an iPXE command separator)`;
    if (word.startsWith('#')) return 'contains a word starting with # (iPXE ignores the rest of the line)';
  }
  return null;
}

/**
 * `text` made safe for an iPXE `echo`: what ipxeTextProblem refuses is replaced by `?`. For text
 * from the network (a MAC or UUID a client sent), which is shown, never refused.
 */
export function ipxeSafeText(text: string): string {
  return (
    text
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f]/g, '?')
      .replace(/\$\{/g, '?{')
      .split(' ')
      .map((word) => (COMMAND_SEPARATORS.has(word) || word.startsWith('#') ? '?'.repeat(word.length) : word))
      .join(' ')
  );
}
