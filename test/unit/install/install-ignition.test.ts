/**
 * Install mode with the Ignition format: the install script puts the installed system's Ignition
 * config on the OEM partition as config.ign (what `flatcar-install -i` does) instead of a
 * cloud-config in user_data; the config is the role's, valid for rackboot and ignition-validate.
 * Golden: test/fixtures/golden/install/<role>-<machine>.ignition.sh (UPDATE_GOLDEN=1 to regenerate).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AssetIndex } from '../../../server/core/assets.js';
import { checkIgnition } from '../../../server/core/ignition-check.js';
import { OEM_IGNITION_PATH, USER_DATA_PATH } from '../../../server/core/install.js';
import { ignitionValidate, SKIP_IGNITION_VALIDATE } from '../../helpers/ignition-validate.js';
import { fileEntry, installProvisioner, manifest, sampleAssets } from '../../helpers/install.js';

const GOLDEN = join(import.meta.dirname, '..', '..', 'fixtures', 'golden', 'install');
const ETCD = 'the etcd binary of the install mirror';
const sample = sampleAssets();
// etcd and the etcdctl a member's health check runs (docs/etcd.md)
const etcdManifest = manifest('etcd', 'v3.5.17', { etcd: ETCD, etcdctl: 'an etcdctl binary' });
const assets: AssetIndex = { manifest: (kind, version) => (kind === 'etcd' && version === 'v3.5.17' ? etcdManifest : sample.manifest(kind, version)) };

function render(name: string, withEtcd = true) {
  const t = installProvisioner({ assets: withEtcd ? assets : sample });
  const machine = t.provisioner.setConfigFormat(t.store.machineByName(name)!, 'ignition');
  return t.provisioner.renderInstallScript(machine, `tok-${name}`);
}

describe('install mode, Ignition format', () => {
  for (const name of ['s1', 'd1']) {
    const r = render(name);
    it(`${name}: config.ign on OEM replaces user_data, and is the installed role's valid Ignition config`, () => {
      assert.ok(r.ok, r.ok ? '' : r.errors.join('; '));
      const oem = r.context.oemIgnition;
      assert.ok(oem);
      assert.equal(oem.path, OEM_IGNITION_PATH);
      assert.equal(oem.mode, '0600');
      assert.ok(!r.context.files.os.some((f) => f.path === USER_DATA_PATH), 'no cloud-config next to the Ignition config');
      assert.deepEqual(checkIgnition(oem.content), []);
      assert.doesNotMatch(oem.content, /rackboot-install|install-script-url/, 'the installed system does not install again');
      assert.match(r.text, /^put_oem_ignition <<'RACKBOOT_EOF'$/m);
      assert.match(r.text, /installed Ignition config in config\.ign on OEM/);
      if (name === 's1') assert.match(oem.content, new RegExp(`"hash": "sha512-${fileEntry(ETCD).sha512}"`));
    });
    it(`${name}: the Ignition config passes ignition-validate`, { skip: SKIP_IGNITION_VALIDATE }, () => {
      assert.ok(r.ok);
      const result = ignitionValidate(r.context.oemIgnition?.content ?? '');
      assert.ok(result.valid, result.output);
    });
    it(`${name}: the script is valid bash and matches its golden file`, () => {
      assert.ok(r.ok);
      const syntax = spawnSync('bash', ['-n'], { input: r.text, encoding: 'utf8' });
      assert.equal(syntax.status, 0, syntax.stderr);
      if (spawnSync('sh', ['-c', 'command -v shellcheck']).status === 0) {
        const lint = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: r.text, encoding: 'utf8' });
        assert.equal(lint.status, 0, lint.stdout);
      }
      const path = join(GOLDEN, `${name === 's1' ? 'small' : 'dev'}-${name}.ignition.sh`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, r.text);
      assert.ok(existsSync(path), `${path} is missing (UPDATE_GOLDEN=1)`);
      assert.equal(r.text, readFileSync(path, 'utf8'));
    });
  }

  it('a cloud-config machine still gets user_data and no OEM config', () => {
    const t = installProvisioner();
    const r = t.provisioner.renderInstallScript(t.store.machineByName('d1')!, 'tok-d1');
    assert.ok(r.ok);
    assert.equal(r.context.oemIgnition, null);
    assert.ok(r.context.files.os.some((f) => f.path === USER_DATA_PATH));
    assert.doesNotMatch(r.text, /^put_oem_ignition </m);
  });

  it('no mirror checksum for the etcd binary: no install script (never an unverified download)', () => {
    const r = render('s1', false);
    assert.ok(!r.ok);
    assert.match(r.errors.join(' '), /installed small Ignition config: .*\/opt\/bin\/etcd/);
  });
});
