import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEmbeddedConfig } from '../../../server/config/config.js';
import { silentLogger } from '../../../server/log.js';
import { reloadCatalog } from '../../../server/main.js';
import { catalogDirs } from '../../../server/paths.js';
import { installProvisioner } from '../../helpers/install.js';
import { testProvisioner } from '../../helpers/provisioner.js';

/** The shipped catalog copied into a temp root, to edit; and the embedded config for that root. */
function copiedCatalog() {
  const root = mkdtempSync(join(tmpdir(), 'rb-reload-'));
  const shipped = catalogDirs();
  const dirs = catalogDirs(root);
  cpSync(shipped.bootTemplates, dirs.bootTemplates, { recursive: true });
  cpSync(shipped.cloudConfigs, dirs.cloudConfigs, { recursive: true });
  cpSync(shipped.menus, dirs.menus, { recursive: true });
  return { root, shipped, dirs, config: loadEmbeddedConfig(root).config };
}

test('a reload with errors keeps the old catalog; a good reload takes effect', () => {
  const { root, shipped, dirs, config } = copiedCatalog();
  try {
    const { provisioner } = testProvisioner();
    const before = provisioner.chainScript();

    writeFileSync(join(dirs.bootTemplates, 'chain.ipxe.hbs'), '#!ipxe\nchain {{baseUrl}/broken\n');
    writeFileSync(join(dirs.menus, 'default.yaml'), 'title: x\nentries: [{id: a, label: b, role: mainframe, mode: memory}]\n');
    const errors = reloadCatalog(config!, provisioner, silentLogger(), dirs);
    assert.ok(errors.length >= 2, errors.join('\n'));
    assert.equal(provisioner.chainScript(), before, 'the old catalog still serves');

    cpSync(shipped.menus, dirs.menus, { recursive: true });
    writeFileSync(join(dirs.bootTemplates, 'chain.ipxe.hbs'), '#!ipxe\necho reloaded {{baseUrl}}\n');
    assert.deepEqual(reloadCatalog(config!, provisioner, silentLogger(), dirs), []);
    assert.equal(provisioner.chainScript(), '#!ipxe\necho reloaded http://10.99.0.1:8080\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('in install mode a reload also takes install.sh.hbs, all or nothing', () => {
  const { root, dirs, config } = copiedCatalog();
  try {
    const t = installProvisioner();
    const machine = t.store.machineByName('d1')!;
    assert.ok(t.provisioner.machineScript({ mac: machine.macs[0]!, clientIp: machine.ip! }).ok);
    const installScript = (): string => {
      const outcome = t.provisioner.installScript(t.store.machineByName('d1')!.bootToken!, machine.ip!);
      assert.ok(outcome.ok, outcome.ok ? '' : outcome.message);
      return outcome.value;
    };
    const before = installScript();
    const installPath = join(dirs.bootTemplates, 'install.sh.hbs');
    const chainPath = join(dirs.bootTemplates, 'chain.ipxe.hbs');
    const shippedInstall = readFileSync(installPath, 'utf8');
    const shippedChain = readFileSync(chainPath, 'utf8');

    writeFileSync(installPath, `${shippedInstall}\n{{#if unclosed}}\n`);
    const errors = reloadCatalog(config!, t.provisioner, silentLogger(), dirs);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0] ?? '', /install\.sh\.hbs/);
    assert.equal(installScript(), before, 'the old install template still serves');

    writeFileSync(installPath, `${shippedInstall}# reloaded by SIGHUP\n`);
    writeFileSync(chainPath, '#!ipxe\nchain {{baseUrl}/broken\n');
    assert.ok(reloadCatalog(config!, t.provisioner, silentLogger(), dirs).length >= 1);
    assert.equal(installScript(), before, 'a broken catalog holds back a good install template too');

    writeFileSync(chainPath, shippedChain);
    assert.deepEqual(reloadCatalog(config!, t.provisioner, silentLogger(), dirs), []);
    assert.match(installScript(), /# reloaded by SIGHUP$/m);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('in install mode a reload also takes boot-templates/install/*.hbs, all or nothing', () => {
  const { root, dirs, config } = copiedCatalog();
  try {
    const t = installProvisioner();
    const s1 = t.store.machineByName('s1')!;
    const installScript = (): string => {
      const rendered = t.provisioner.renderInstallScript(t.store.machineByName('s1')!, s1.bootToken ?? 'tok-s1');
      assert.ok(rendered.ok, rendered.ok ? '' : rendered.errors.join('\n'));
      return rendered.text;
    };
    const before = installScript();
    const unitPath = join(dirs.bootTemplates, 'install', 'rackboot-kubeadm.service.hbs');
    const shippedUnit = readFileSync(unitPath, 'utf8');

    writeFileSync(unitPath, `${shippedUnit}{{#if unclosed}}\n`);
    const errors = reloadCatalog(config!, t.provisioner, silentLogger(), dirs);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0] ?? '', /install\/rackboot-kubeadm\.service\.hbs/);
    assert.equal(installScript(), before, 'the old payload templates still serve');

    writeFileSync(unitPath, `${shippedUnit}# reloaded by SIGHUP\n`);
    assert.deepEqual(reloadCatalog(config!, t.provisioner, silentLogger(), dirs), []);
    assert.match(installScript(), /^# reloaded by SIGHUP$/m);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
