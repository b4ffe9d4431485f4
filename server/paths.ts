import { existsSync } from 'node:fs';
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
