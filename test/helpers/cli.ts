import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs the rackboot CLI from source, as an operator would run it. */
export function rackboot(args: readonly string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The built CLI (npm run build); null when dist/ has not been built. */
export const BUILT_CLI = join(ROOT, 'dist', 'server', 'cli', 'index.js');

/**
 * Runs the CLI without blocking this process (a server the test runs in-process keeps answering):
 * from source, or with `built` the dist/ CLI as `npm install -g` would run it.
 */
export function rackbootAsync(args: readonly string[], options: { env?: Record<string, string | undefined>; built?: boolean } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const entry = options.built ? [BUILT_CLI] : ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts')];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...entry, ...args], { env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
