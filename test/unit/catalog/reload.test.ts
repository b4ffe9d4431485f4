import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadEmbeddedConfig } from '../../../server/config.js';
import { silentLogger } from '../../../server/log.js';
import { reloadCatalog } from '../../../server/main.js';
import { catalogDirs } from '../../../server/paths.js';
import { testProvisioner } from '../../helpers/provisioner.js';

test('a reload with errors keeps the old catalog; a good reload takes effect', () => {
  const root = mkdtempSync(join(tmpdir(), 'rb-reload-'));
  try {
    const shipped = catalogDirs();
    const dirs = { bootTemplates: join(root, 'boot-templates'), cloudConfigs: join(root, 'cloud-configs'), menus: join(root, 'menus') };
    cpSync(shipped.bootTemplates, dirs.bootTemplates, { recursive: true });
    cpSync(shipped.cloudConfigs, dirs.cloudConfigs, { recursive: true });
    cpSync(shipped.menus, dirs.menus, { recursive: true });
    const { config } = loadEmbeddedConfig(root);
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
