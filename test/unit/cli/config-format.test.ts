/**
 * `rackboot config-format` and `rackboot preview` for an Ignition machine, from source and once with
 * the built CLI (what `npm run build` installs).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compileServer, removeCompiledServer } from '../../../bench/lib/storm-lab.js';
import { checkIgnition } from '../../../server/core/ignition-check.js';
import { rackboot } from '../../helpers/cli.js';

let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-format-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n');
  const add = rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:01', '--ip', '10.99.0.11', '--role', 'dev', '--mode', 'memory', '--name', 'dev-01']);
  assert.equal(add.code, 0, add.stderr);
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  removeCompiledServer();
});

test('config-format ignition: the machine previews with ignition.config.url and a valid Ignition config', () => {
  const set = rackboot(['--config', config, 'config-format', 'ignition', 'dev-01']);
  assert.equal(set.code, 0, set.stderr);
  assert.equal(set.stdout, 'dev-01: ignition\n');
  const preview = rackboot(['--config', config, 'preview', 'dev-01']);
  assert.match(preview.stdout, /ignition\.config\.url=http:\/\/10\.99\.0\.1:8080\/ignition\/\S+ /);
  const ignition = preview.stdout.split('# Ignition config (dev)\n')[1]?.split('\n#')[0];
  assert.ok(ignition, preview.stdout);
  assert.deepEqual(checkIgnition(ignition), []);
});

test('a format that does not exist is a usage error (exit 2)', () => {
  const bad = rackboot(['--config', config, 'config-format', 'yaml', 'dev-01']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Allowed choices are cloud-config, ignition, role/);
  const missing = rackboot(['--config', config, 'config-format', 'ignition', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such machine: nope/);
});

test('the built CLI: config-format role gives the machine back its role\'s format', { timeout: 240_000 }, () => {
  const built = compileServer();
  const result = spawnSync(process.execPath, [built, '--config', config, 'config-format', 'role', 'dev-01', '--json'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  const [machine] = JSON.parse(result.stdout) as Array<{ name: string; configFormat: string | null }>;
  assert.equal(machine?.configFormat, null);
  const text = rackboot(['--config', config, 'config-format', 'role', 'dev-01']);
  assert.equal(text.stdout, "dev-01: cloud-config (its role's or the default)\n");
});
