/**
 * `rackboot clusters` and `rackboot clusters forget`, from source and once from the built dist/ CLI.
 * The machines have loopback addresses and never booted, so nothing is probed (no traffic leaves the
 * host); the real etcd clusters are in test/real/etcd-cluster.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FormedClusters } from '../../../server/services/etcd-membership.js';
import { rackboot } from '../../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('rackboot clusters', () => {
  let dir = '';
  let config = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rb-cli-clusters-'));
    config = join(dir, 'rackboot.yaml');
    writeFileSync(config, `dataDir: ${dir}/data\nboot: { assetsDir: ${dir}/assets }\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('without etcd roles: none, exit 0', () => {
    const result = rackboot(['--config', config, 'clusters']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /no etcd clusters/);
  });

  it('a registered cluster that never booted: not-formed, exit 1; --json and one cluster by name', () => {
    for (const n of [1, 2, 3]) {
      const add = rackboot(['--config', config, 'machines', 'add', '--mac', `52:54:00:77:00:0${n}`, '--ip', `127.0.0.${10 + n}`, '--name', `c${n}`, '--role', 'production-central', '--mode', 'memory']);
      assert.equal(add.code, 0, add.stderr);
    }
    const text = rackboot(['--config', config, 'clusters']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /^production\s+not-formed\s+leader -\s+members -\s+missing c1,c2,c3/m);
    const json = rackboot(['--config', config, 'clusters', 'production', '--json']);
    const [cluster] = JSON.parse(json.stdout) as Array<{ cluster: string; state: string; missing: string[] }>;
    assert.equal(cluster?.cluster, 'production');
    assert.deepEqual(cluster?.missing, ['c1', 'c2', 'c3']);
    const unknown = rackboot(['--config', config, 'clusters', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no etcd cluster nope \(known: production\)/);
  });

  it('forget: the built dist/ CLI drops the record of a cluster that ran, and says so when there is none', () => {
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
    new FormedClusters(join(dir, 'data')).seen('production', '42', 1);
    const dist = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist', 'server', 'cli', 'index.js'), '--config', config, ...args], { encoding: 'utf8', timeout: 60_000 });
    const forgot = dist(['clusters', 'forget', 'production']);
    assert.equal(forgot.status, 0, forgot.stderr);
    assert.match(forgot.stdout, /forgot etcd cluster production/);
    assert.equal(new FormedClusters(join(dir, 'data')).formed('production'), false);
    assert.match(dist(['clusters', 'forget', 'production']).stdout, /nothing to forget/);
  });
});
