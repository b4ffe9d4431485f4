import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The rackboot package directory (holds boot-templates/, menus/, cloud-configs/), from source or dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'boot-templates'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the rackboot package directory (boot-templates/ is missing)');
}

export function catalogDirs(root: string = packageRoot()) {
  return { bootTemplates: join(root, 'boot-templates'), cloudConfigs: join(root, 'cloud-configs'), menus: join(root, 'menus') };
}

/** The version in the package's package.json ("0.0.0" when it cannot be read). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
