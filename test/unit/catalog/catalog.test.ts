import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Catalog } from '../../../server/catalog/catalog.js';
import { validateCloudConfig } from '../../../server/catalog/cloud-config-check.js';
import { catalogDirs } from '../../../server/paths.js';

function tempCatalog(files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'rb-catalog-'));
  const dirs = { bootTemplates: join(root, 'boot-templates'), cloudConfigs: join(root, 'cloud-configs'), menus: join(root, 'menus') };
  mkdirSync(dirs.bootTemplates);
  mkdirSync(dirs.cloudConfigs);
  mkdirSync(dirs.menus);
  for (const [path, text] of Object.entries(files)) writeFileSync(join(root, path), text);
  return { dirs, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

test('the shipped catalog loads', () => {
  const result = Catalog.load(catalogDirs(), { requiredCloudConfigs: ['default'] });
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
});

test('every broken template and every missing one is reported in one load', () => {
  const { dirs, cleanup } = tempCatalog({
    'boot-templates/chain.ipxe.hbs': '#!ipxe\nchain {{baseUrl}\n',
    'boot-templates/machine.ipxe.hbs': '#!ipxe\n{{#each x}}\n',
    'cloud-configs/dev.yaml.hbs': '#cloud-config\n{{/if}}\n',
  });
  try {
    const result = Catalog.load(dirs, { requiredCloudConfigs: ['production-worker'] });
    assert.equal(result.ok, false);
    const errors = result.ok ? [] : result.errors;
    assert.equal(errors.length, 7, errors.join('\n'));
    assert.match(errors.join('\n'), /menu\.ipxe\.hbs: missing/);
    assert.match(errors.join('\n'), /local-disk\.ipxe\.hbs: missing/);
    assert.match(errors.join('\n'), /chain\.ipxe\.hbs: /);
    assert.match(errors.join('\n'), /machine\.ipxe\.hbs: /);
    assert.match(errors.join('\n'), /dev\.yaml\.hbs: /);
    assert.match(errors.join('\n'), /unknown\.ipxe\.hbs: missing/);
    assert.match(errors.join('\n'), /production-worker\.yaml\.hbs: missing/);
  } finally {
    cleanup();
  }
});

test('strict rendering: a missing variable is an error, not an empty string; nothing is HTML-escaped', () => {
  const { dirs, cleanup } = tempCatalog({
    'boot-templates/chain.ipxe.hbs': '#!ipxe\nchain {{baseUrl}}/ipxe?a=1&b=2\n',
    'boot-templates/machine.ipxe.hbs': '#!ipxe\n',
    'boot-templates/unknown.ipxe.hbs': '#!ipxe\n',
    'boot-templates/menu.ipxe.hbs': '#!ipxe\n',
    'boot-templates/local-disk.ipxe.hbs': '#!ipxe\n',
    'cloud-configs/default.yaml.hbs': '#cloud-config\nhostname: {{yaml machine.name}}\nssh: {{sshKey}}\n',
  });
  try {
    const result = Catalog.load(dirs);
    assert.ok(result.ok);
    assert.equal(result.catalog.bootScript('chain', { baseUrl: 'http://x' }), '#!ipxe\nchain http://x/ipxe?a=1&b=2\n');
    assert.throws(() => result.catalog.bootScript('chain', {}), /baseUrl/);
    const rendered = result.catalog.cloudConfig('default', { machine: { name: 'a' } });
    assert.equal(rendered.ok, false);
    assert.match(rendered.ok ? '' : rendered.errors.join(), /sshKey/);
  } finally {
    cleanup();
  }
});

test('the yaml helper quotes values, so a hostile value cannot inject keys', () => {
  const { dirs, cleanup } = tempCatalog({
    'boot-templates/chain.ipxe.hbs': '#!ipxe\n',
    'boot-templates/machine.ipxe.hbs': '#!ipxe\n',
    'boot-templates/unknown.ipxe.hbs': '#!ipxe\n',
    'boot-templates/menu.ipxe.hbs': '#!ipxe\n',
    'boot-templates/local-disk.ipxe.hbs': '#!ipxe\n',
    'cloud-configs/default.yaml.hbs': '#cloud-config\nhostname: {{yaml name}}\n',
  });
  try {
    const result = Catalog.load(dirs);
    assert.ok(result.ok);
    const rendered = result.catalog.cloudConfig('default', { name: 'a\nusers: [{name: evil}]' });
    assert.ok(rendered.ok);
    assert.equal(rendered.text, '#cloud-config\nhostname: "a\\nusers: [{name: evil}]"\n');
  } finally {
    cleanup();
  }
});

test('cloud-config structural checks: header, YAML, top-level mapping', () => {
  assert.deepEqual(validateCloudConfig('#cloud-config\nhostname: a\n'), []);
  assert.match(validateCloudConfig('hostname: a\n').join(), /#cloud-config/);
  assert.match(validateCloudConfig('#cloud-config\nhostname: [a\n').join(), /YAML/);
  assert.match(validateCloudConfig('#cloud-config\n- a\n- b\n').join(), /mapping/);
  assert.match(validateCloudConfig('#cloud-config\na: 1\na: 2\n').join(), /YAML/);
});
