/**
 * Where a name below a served root really is, with every symlink resolved (TFTP and the HTTP boot
 * routes share this rule). A file is served when its real path is inside the root, or is, or is
 * inside, one of the targets the operator allowed for symlinks (`tftp.symlinkTargets`: Debian's
 * /usr/lib/ipxe/ipxe.efi is a link to /boot/ipxe.efi). Anything else is an escape.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';

export interface ConfinedFile {
  /** The real directory to serve from, and the path below it. */
  readonly root: string;
  readonly path: string;
  /** The real path of the file. */
  readonly real: string;
}

const within = (real: string, dir: string): boolean => real.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** Where a real path is served from, given the real root and the real allowed targets. */
export function locate(real: string, realRoot: string, realTargets: readonly string[]): ConfinedFile | 'escape' {
  if (real !== realRoot && within(real, realRoot)) return { root: realRoot, path: relative(realRoot, real), real };
  for (const target of realTargets) {
    if (real === target) return { root: dirname(real), path: basename(real), real };
    if (within(real, target)) return { root: target, path: relative(target, real), real };
  }
  return 'escape';
}

/** null: missing (or the root is); 'escape': it resolves outside the root and every allowed target. */
export async function resolveConfined(root: string, path: string, symlinkTargets: readonly string[] = []): Promise<ConfinedFile | null | 'escape'> {
  let realRoot: string;
  let real: string;
  try {
    realRoot = await fs.realpath(root);
    real = await fs.realpath(join(realRoot, path));
  } catch {
    return null;
  }
  return locate(real, realRoot, await realTargets(symlinkTargets));
}

/** The real paths of the allowed targets that exist. */
export async function realTargets(symlinkTargets: readonly string[]): Promise<string[]> {
  const real = await Promise.all(symlinkTargets.map((target) => fs.realpath(target).catch(() => null)));
  return real.filter((target): target is string => target !== null);
}
