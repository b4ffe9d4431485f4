/**
 * Issue 15, the configuration part, against rackboot as production runs it: the CLI compiled by tsc
 * (bench/lib/storm-lab.ts compileServer), not through tsx. No root, no namespace and no served
 * instance are needed: every other rule of this part (served roots, listen addresses, iPXE/YAML/shell
 * values, terminal escapes, database files) is proven by unit tests (test/unit/config/safety.test.ts,
 * core/ipxe-text.test.ts, catalog/menu-loader.test.ts, cli/format.test.ts, store/db.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { compileServer, removeCompiledServer } from '../../bench/lib/storm-lab.js';

let cli = '';
let dir = '';
before(() => {
  const started = Date.now();
  cli = compileServer();
  console.log(`attacks-config: compiled the CLI in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  dir = mkdtempSync(join(tmpdir(), 'rb-attacks-config-'));
});
after(() => {
  removeCompiledServer();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: readonly string[]) {
  const started = Date.now();
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - started };
}

test('the built CLI: rackboot config and rackboot serve refuse tftp.root: / (and the rest) with the same errors, exit 2', { timeout: 300_000 }, () => {
  const config = join(dir, 'hostile.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\ntftp: {root: /, port: 18969}\nboot: {assetsDir: /etc, os: {name: "flatcar\\nshell"}}\nhttp: {listen: 0.0.0.0, port: 18968}\n`);
  const checked = run(['--config', config, 'config']);
  const served = run(['--config', config, 'serve']);
  console.log(`attacks-config: rackboot config exit ${checked.code} in ${checked.ms} ms, rackboot serve exit ${served.code} in ${served.ms} ms`);
  assert.equal(checked.code, 2, checked.stderr);
  assert.equal(served.code, 2, served.stderr);
  assert.equal(checked.stdout, '', 'nothing printed as an effective configuration');
  assert.equal(served.stdout, '', 'serve never started');
  assert.equal(served.stderr, checked.stderr, 'the same errors from both');
  for (const expected of [
    /tftp\.root: \/ is the system directory \/;.*tftp\.allowSystemRoot: true/,
    /tftp\.root: \/ contains dataDir .*allowDataDirInServedRoot: true/,
    /boot\.assetsDir: \/etc .*is the system directory .*boot\.allowSystemAssetsDir: true/,
    /http\.listen: 0\.0\.0\.0 .*http\.allowAllAddresses: true/,
    /boot\.os\.name: contains a line break/,
  ]) {
    assert.match(checked.stderr, expected);
  }
  assert.ok(!/\n\s+at /.test(checked.stderr), checked.stderr);

  const fixed = join(dir, 'fixed.yaml');
  writeFileSync(fixed, `dataDir: ${join(dir, 'data')}\ntftp: {root: /, allowSystemRoot: true, port: 18969}\nallowDataDirInServedRoot: true\n`);
  const overridden = run(['--config', fixed, 'config', '--quiet']);
  assert.equal(overridden.code, 0, overridden.stderr);
});
