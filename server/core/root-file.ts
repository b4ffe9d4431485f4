import type { RootFile } from './install-types.js';

/** A file for ROOT with a here-document delimiter its content does not contain as a line. */
export function rootFile(path: string, mode: string, content: string): RootFile {
  const lines = new Set(content.split('\n'));
  let delimiter = 'RACKBOOT_EOF';
  for (let n = 1; lines.has(delimiter); n++) delimiter = `RACKBOOT_EOF_${n}`;
  return { path, mode, content, delimiter };
}
