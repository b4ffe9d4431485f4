/**
 * `npm pack` ships a working CLI (issue 16): the tarball holds the built CLI and every file it reads at
 * run time (templates, menus, cloud-configs, the dashboard, the config schema, the lab's OS build
 * script), and the unpacked package runs --version, config and config schema. A real `npm install -g`
 * of the tarball needs the registry (the dependencies are not all in the offline cache), so the
 * unpacked package is given this checkout's node_modules instead.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureBuilt } from '../../helpers/built-cli.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[] };
let dir: string;
let unpacked: string;
let shipped: Set<string>;

before(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'rackboot-apipack-pack-'));
  // --ignore-scripts: dist/ was just built (prepare would build it again)
  const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(pack.status, 0, pack.stderr);
  const [result] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(result);
  shipped = new Set(result.files.map((f) => f.path));
  const untar = spawnSync('tar', ['-xzf', join(dir, result.filename), '-C', dir], { encoding: 'utf8' });
  assert.equal(untar.status, 0, untar.stderr);
  unpacked = join(dir, 'package');
  symlinkSync(join(ROOT, 'node_modules'), join(unpacked, 'node_modules'));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function tracked(...paths: string[]): string[] {
  const result = spawnSync('git', ['ls-files', '--', ...paths], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.split('\n').filter((line) => line !== '');
}

test('the tarball holds the built CLI and every file it reads at run time, and nothing of the tests', () => {
  const needed = [
    'package.json',
    'README.md',
    'LICENSE',
    pkg.bin.rackboot as string,
    ...tracked('boot-templates', 'menus', 'cloud-configs', 'server/http/ui', 'schema', 'scripts/build-test-os.sh', 'scripts/test-os', 'deploy'),
  ];
  const missing = needed.filter((path) => !shipped.has(path));
  assert.deepEqual(missing, []);
  const stray = [...shipped].filter((path) => /^(test|bench|node_modules)\//.test(path) || (path.startsWith('server/') && !path.startsWith('server/http/ui/')) || path.endsWith('.map'));
  assert.deepEqual(stray, []);
  for (const path of shipped) if (path.startsWith('dist/')) assert.ok(path.startsWith('dist/server/'), path);
});

function run(args: string[]) {
  const result = spawnSync(process.execPath, [join(unpacked, pkg.bin.rackboot as string), ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, RACKBOOT_CONFIG: '' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('the unpacked package runs: --version, config (templates, menus, cloud-configs load) and config schema', () => {
  const version = run(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout.trim(), pkg.version);
  const config = run(['config']);
  assert.equal(config.code, 0, config.stderr);
  assert.equal(JSON.parse(config.stdout).source, '(embedded default)');
  const schema = run(['config', 'schema']);
  assert.equal(schema.code, 0, schema.stderr);
  assert.equal(schema.stdout, readFileSync(join(ROOT, 'schema', 'rackboot-config.schema.json'), 'utf8'));
  // the package root the CLI resolves is the unpacked package, not its dist/
  assert.ok(existsSync(join(unpacked, 'scripts', 'build-test-os.sh')));
  assert.ok(existsSync(join(unpacked, 'server', 'http', 'ui', 'index.html')));
});
