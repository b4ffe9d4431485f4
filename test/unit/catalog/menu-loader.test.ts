import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadMenus } from '../../../server/catalog/menu-loader.js';

test('a menu label or title iPXE would read as syntax (separators, ${, line breaks) is refused at load', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-menus-'));
  try {
    writeFileSync(
      join(dir, 'bad.yaml'),
      'title: "Rack ${net0/mac}"\nentries:\n  - {id: a, label: "Install && shell", action: debug}\n  - {id: b, label: "x ; reboot", action: local-disk}\n  - {section: "# hidden"}\n',
    );
    writeFileSync(join(dir, 'good.yaml'), 'title: "Rack 1 (lab)"\nentries:\n  - {id: local, label: "Boot from disk; the safe choice", action: local-disk}\n');
    const errors: string[] = [];
    const menus = loadMenus(dir, errors);
    const joined = errors.join('\n');
    assert.match(joined, /bad\.yaml: title: a menu label contains \$\{/);
    assert.match(joined, /bad\.yaml: entries\.0\.label: a menu label contains the word &&/);
    assert.match(joined, /bad\.yaml: entries\.1\.label: a menu label contains the word ;/);
    assert.match(joined, /bad\.yaml: entries\.2\.section: a menu label contains a word starting with #/);
    assert.ok(menus.has('good') && !menus.has('bad'), joined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
