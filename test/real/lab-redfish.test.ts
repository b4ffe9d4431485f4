/**
 * `rackboot lab up --bmc-protocol redfish`: the lab's blades get Redfish BMCs (the emulator of
 * server/lab/redfish-bmc.ts on HTTPS 443 in the BMC namespace) whose ComputerSystem.Reset drives
 * the QEMU VM. Through the CLI inside the namespace: discover (over Redfish: the PROTOCOL column,
 * the VM's UUID and NIC MAC), ip-plan --apply, power on --pxe --all; the blade PXE-boots and calls
 * back `ready`, as the IPMI path does (lab-cli.test.ts). lab down leaves nothing behind.
 * Needs root, openssl, QEMU + iPXE ROMs and the test OS; skips saying what is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkLabPrereqs, findExecutable, testOsFiles } from '../../server/lab/prereqs.js';
import { execCommand, pidAlive, type ExecResult } from '../../server/lab/process.js';
import { labDown, readLabState, recordedPids, type LabState } from '../../server/lab/rack.js';
import { assertInOrder, runBuildScript, waitForEvent } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'server', 'cli', 'index.ts');

function prerequisites(): string | null {
  const lab = checkLabPrereqs({ needQemu: true, needIpxeRom: true });
  if (!lab.ok) return lab.missing.join('; ');
  if (!findExecutable('openssl')) return 'openssl is not installed';
  if (!findExecutable('ss')) return 'ss: apt-get install iproute2';
  return runBuildScript('build-test-os.sh', [testOsFiles(join(ROOT, '.cache', 'test-os')).dir]);
}

const skipReason = prerequisites();

function rackboot(args: readonly string[], netns?: string): Promise<ExecResult> {
  const node = [process.execPath, '--import', 'tsx', CLI, ...args];
  const [cmd, ...rest] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
  return execCommand(cmd as string, rest, { cwd: ROOT, allowFailure: true, timeoutMs: 120_000 });
}

describe('rackboot lab with Redfish BMCs', { skip: skipReason ?? false, timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-lab-redfish-'));

  after(async () => {
    await labDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('up --bmc-protocol redfish, discover, ip-plan, power on --pxe --all: the blade calls back ready through a Redfish power-on', async (t) => {
    const started = Date.now();
    const up = await rackboot(['lab', 'up', '--nodes', '1', '--dir', dir, '--menu-timeout', '2', '--bmc-protocol', 'redfish']);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const state = readLabState(dir) as LabState;
    assert.equal(state.status, 'up');
    assert.equal(state.bmcProtocol, 'redfish');
    assert.ok(state.processes.some((p) => p.role === 'redfish-bmc' && pidAlive(p.pid)), 'a Redfish BMC process runs');
    assert.ok(!state.processes.some((p) => p.role === 'ipmi_sim'), 'no ipmi_sim');
    assert.match(up.stdout, /Redfish BMC https:\/\/10\.98\.1\.11/);
    t.diagnostic(`lab up: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const ns = state.netns;
    const config = state.config as string;
    const blade = state.bmcs[0]!;

    const discover = await rackboot(['--config', config, 'discover', '--bmc', state.bmcRange as string], ns);
    assert.equal(discover.code, 0, discover.stdout + discover.stderr);
    assert.match(discover.stdout, new RegExp(`10\\.98\\.1\\.11\\s+ok\\s+5a1e0000-0000-4000-8000-980000000001\\s+52:54:00:99:00:01\\s+${blade.hostMac} \\(Redfish\\)\\s+Contoso\\s+redfish\\s+redfish https session`));
    assert.ok(existsSync(join(dir, 'data', 'redfish-fingerprints.json')), 'the BMC certificate was recorded at first contact');

    const plan = await rackboot(['--config', config, 'ip-plan', '--apply'], ns);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /applied: 1 to add/);
    const poweredAt = Date.now();
    const on = await rackboot(['--config', config, 'power', 'on', '--pxe', '--all'], ns);
    assert.equal(on.code, 0, on.stdout + on.stderr);
    assert.match(on.stdout, /off\s+on\s+boot device PXE \(read back\), on -> power is on/);

    const rb = state.processes.find((p) => p.role === 'rackboot');
    assert.ok(rb);
    let vmPid = 0;
    const events = await waitForEvent(state.database as string, blade.machine, 'ready', 180_000, () => {
      const pid = existsSync(blade.vmPidFile) ? Number(readFileSync(blade.vmPidFile, 'utf8').trim()) : 0;
      if (pid > 0) vmPid = pid;
      return pidAlive(rb.pid) ? null : `rackboot serve exited; ${rb.log}:\n${readFileSync(rb.log, 'utf8').slice(-2000)}`;
    }).catch((error: Error) => {
      const serial = join(dir, blade.name, 'serial.log');
      throw new Error(`${error.message}\n--- serial ---\n${existsSync(serial) ? readFileSync(serial, 'utf8').slice(-2000) : ''}`);
    });
    assertInOrder(
      events.map((e) => e.type),
      ['registered', 'power', 'dhcp', 'ipxe', 'menu-choice', 'booting', 'ready'],
    );
    assert.match(readFileSync(join(dir, blade.name, 'redfish-bmc.log'), 'utf8'), /Reset On \(was Off\)/);
    assert.match(readFileSync(join(dir, blade.name, 'chassis.log'), 'utf8'), /set power 1/);
    t.diagnostic(`power on -> ready: ${((Date.now() - poweredAt) / 1000).toFixed(1)} s`);

    const pids = new Set([...state.processes.map((p) => p.pid), ...recordedPids(state), ...(vmPid > 0 ? [vmPid] : [])]);
    const down = await rackboot(['lab', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} recorded by the lab is gone`);
    assert.equal(readLabState(dir), undefined, 'lab.json removed');
  });
});

if (skipReason) {
  test('rackboot lab with Redfish BMCs', { skip: `skipped: ${skipReason}` }, () => {});
}
