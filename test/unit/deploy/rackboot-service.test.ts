/**
 * deploy/rackboot.service passes `systemd-analyze verify` (in a throw-away root holding this
 * machine's system units and stand-ins for /usr/bin/node and the built CLI), and keeps the
 * hardening the operators' guide promises. Skips when systemd-analyze is missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { findExecutable } from '../../../server/lab/prereqs.js';

const UNIT = join(import.meta.dirname, '..', '..', '..', 'deploy', 'rackboot.service');
const text = readFileSync(UNIT, 'utf8');

const which = (tool: string): boolean => findExecutable(tool) !== undefined;

const available = which('systemd-analyze') && existsSync('/usr/lib/systemd/system/multi-user.target');
const skip = available ? false : 'systemd-analyze (Debian package systemd) is not installed';

describe('deploy/rackboot.service', () => {
  const roots: string[] = [];
  after(() => {
    for (const root of roots) rmSync(root, { recursive: true, force: true });
  });

  function verify(unitText: string): { output: string; status: number | null } {
    const root = mkdtempSync(join(tmpdir(), 'rb-unit-'));
    roots.push(root);
    cpSync('/usr/lib/systemd/system', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const path of ['/usr/bin/node', '/opt/rackboot/dist/server/cli/index.js', '/bin/kill']) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), '#!/bin/sh\n');
      chmodSync(join(root, path), 0o755);
    }
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    writeFileSync(join(root, 'etc/systemd/system/rackboot.service'), unitText);
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${root}`, 'rackboot.service'], { encoding: 'utf8' });
    return { output: `${result.stdout}${result.stderr}`, status: result.status };
  }

  it('systemd-analyze verify finds nothing', { skip }, () => {
    const { output, status } = verify(text);
    assert.equal(output, '', 'systemd-analyze verify printed findings');
    assert.equal(status, 0);
  });

  it('verify does report a broken unit (the check is live)', { skip }, () => {
    const { output } = verify(text.replace('NoNewPrivileges=yes', 'NoNewPrivileges=yes\nBogusKey=1'));
    assert.match(output, /BogusKey/);
  });

  it('runs as rackboot with only the capabilities it needs, in a read-only system', () => {
    for (const line of [
      'User=rackboot',
      'AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW',
      'CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_NET_RAW',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'StateDirectory=rackboot',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ]) {
      assert.ok(text.split('\n').includes(line), `${line} is in the unit`);
    }
    assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes/m, "Node's JIT needs W+X memory");
  });
});
