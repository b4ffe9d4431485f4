import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PAYLOAD_TEMPLATE_NAMES } from '../../../server/core/payload-templates.js';
import { loadInstallRenderer, loadInstallTemplate } from '../../../server/install/templates.js';
import { catalogDirs } from '../../../server/paths.js';
import { installProvisioner } from '../../helpers/install.js';

describe('install templates: install.sh.hbs and boot-templates/install/*.hbs', () => {
  const roots: string[] = [];
  const copied = (): string => {
    const root = mkdtempSync(join(tmpdir(), 'rb-install-templates-'));
    roots.push(root);
    cpSync(catalogDirs().bootTemplates, root, { recursive: true });
    return root;
  };
  after(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  it('the shipped templates load, one per payload template name', () => {
    const result = loadInstallRenderer();
    assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
    assert.ok(PAYLOAD_TEMPLATE_NAMES.length > 0);
  });

  it('lists every broken or missing template at load', () => {
    const dir = copied();
    writeFileSync(join(dir, 'install.sh.hbs'), '{{#if unclosed}}\n');
    writeFileSync(join(dir, 'install', 'kubelet.service.hbs'), '{{#each broken}}\n');
    unlinkSync(join(dir, 'install', 'resolv.conf.hbs'));
    const result = loadInstallRenderer(dir);
    assert.equal(result.ok, false);
    const errors = result.ok ? [] : result.errors;
    assert.equal(errors.length, 3, errors.join('\n'));
    assert.match(errors[0] ?? '', /install\.sh\.hbs/);
    assert.match(errors[1] ?? '', /install\/kubelet\.service\.hbs/);
    assert.match(errors[2] ?? '', /install\/resolv\.conf\.hbs: missing/);
    assert.throws(() => loadInstallTemplate(dir), /kubelet\.service\.hbs[\s\S]*resolv\.conf\.hbs/);
  });

  it('a payload template edit shows in the rendered file; a value the context lacks fails the render with the template name', () => {
    const dir = copied();
    const t = installProvisioner();
    const s1 = t.store.machineByName('s1')!;
    writeFileSync(join(dir, 'install', 'kubelet.service.hbs'), '[Service]\nExecStart=/opt/bin/kubelet\n# {{kubernetesVersion}} edited\n');
    t.provisioner.setInstallRenderer(loadInstallTemplate(dir));
    const edited = t.provisioner.renderInstallScript(s1, 'tok-s1');
    assert.ok(edited.ok, edited.ok ? '' : edited.errors.join('\n'));
    assert.match(edited.text, /^# v1\.31\.2 edited$/m);

    writeFileSync(join(dir, 'install', 'kubelet.service.hbs'), '[Service]\nExecStart={{binary}}\n');
    t.provisioner.setInstallRenderer(loadInstallTemplate(dir));
    const failed = t.provisioner.renderInstallScript(s1, 'tok-s1');
    assert.equal(failed.ok, false);
    assert.match(failed.ok ? '' : failed.errors.join('\n'), /install\/kubelet\.service\.hbs: .*binary/);
  });
});
