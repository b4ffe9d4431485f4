/**
 * What `rackboot config` and `serve` say about the boot files DHCP hands out (issue 17): a firmware
 * type whose file is not in tftp.root stops at a TFTP "not found", and a file that is a symlink out of
 * the root is refused unless tftp.symlinkTargets allows its target. Warnings, not errors: a site may
 * have no machine of that firmware type. Only when rackboot's DHCP hands the names out.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { locate } from '../net/confine.js';

interface BootFilesInput {
  readonly tftp: { readonly enabled: boolean; readonly root: string; readonly symlinkTargets: readonly string[] };
  readonly dhcp: { readonly enabled: boolean; readonly bootFiles: Readonly<Record<string, string>> };
}

const realOrNull = (path: string): string | null => {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
};

export function bootFileWarnings(config: BootFilesInput, source: string): string[] {
  // the names reach machines through rackboot's DHCP (full or proxy mode)
  if (!config.tftp.enabled || !config.dhcp.enabled) return [];
  const root = realOrNull(config.tftp.root);
  if (root === null) return [`${source}: tftp.root: ${config.tftp.root} does not exist; no machine can load a boot file over TFTP`];
  const targets = config.tftp.symlinkTargets.map(realOrNull).filter((target): target is string => target !== null);
  const warnings: string[] = [];
  const missing: string[] = [];
  for (const [firmware, file] of Object.entries(config.dhcp.bootFiles)) {
    const real = existsSync(join(root, file)) ? realOrNull(join(root, file)) : null;
    if (real === null) {
      missing.push(`${firmware} (${file})`);
    } else if (locate(real, root, targets) === 'escape') {
      warnings.push(`${source}: dhcp.bootFiles.${firmware}: ${file} is a link to ${real}, outside tftp.root, and is refused; add ${real} to tftp.symlinkTargets to serve it`);
    }
  }
  if (missing.length > 0) {
    warnings.push(
      `${source}: dhcp.bootFiles: not in tftp.root ${config.tftp.root}: ${missing.join(', ')}; machines with that firmware get a file name that does not exist and stop (Debian ships no arm64 or ia32 iPXE: build them, or leave such machines out)`,
    );
  }
  return warnings;
}
