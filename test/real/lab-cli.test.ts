/**
 * `rackboot lab up|down` as a user runs it: the CLI creates the lab (namespaces, two ipmi_sim
 * blades, rackboot serve inside the lab namespace, all detached) and exits; then, through the CLI
 * inside the namespace, discover -> ip-plan --apply -> power on --pxe --all; both blades PXE-boot,
 * get the boot menu, its default (dev-memory) after the timeout, and call back `ready`; `lab down`
 * leaves no namespace and no recorded process behind, and a second `lab down` is a no-op.
 * Needs root, ipmi_sim, QEMU + iPXE ROMs and the test OS; skips saying what is missing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkBmcLabPrereqs } from '../../server/lab/bmc.js';
import { testOsFiles } from '../../server/lab/prereqs.js';
import { execCommand, pidAlive, type ExecResult } from '../../server/lab/process.js';
import { labDown, readLabState, recordedPids, type LabState } from '../../server/lab/rack.js';
import { assertInOrder, runBuildScript, waitForEvent } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'server', 'cli', 'index.ts');

function prerequisites(): string | null {
  const bmc = checkBmcLabPrereqs({ needVm: true });
  if (!bmc.ok) return bmc.missing.join('; ');
  return runBuildScript('build-test-os.sh', [testOsFiles(join(ROOT, '.cache', 'test-os')).dir]);
}

const skipReason = prerequisites();

function rackboot(args: readonly string[], netns?: string): Promise<ExecResult> {
  const node = [process.execPath, '--import', 'tsx', CLI, ...args];
  const [cmd, ...rest] = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
  return execCommand(cmd as string, rest, { cwd: ROOT, allowFailure: true, timeoutMs: 120_000 });
}

async function namespaces(): Promise<string[]> {
  const r = await execCommand('ip', ['netns', 'list'], { allowFailure: true });
  return r.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n !== '');
}

describe('rackboot lab up / lab down', { skip: skipReason ?? false, timeout: 240_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-lab-cli-'));

  after(async () => {
    // A failed test must not leave the lab running: the state file knows everything.
    await labDown(dir).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('up --nodes 2, discover, ip-plan, power on --pxe --all: both blades call back ready; down leaves nothing', async (t) => {
    const started = Date.now();
    const up = await rackboot(['lab', 'up', '--nodes', '2', '--dir', dir, '--menu-timeout', '2']);
    assert.equal(up.code, 0, up.stdout + up.stderr);
    t.diagnostic(`lab up: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const state = readLabState(dir) as LabState;
    assert.ok(state, 'lab.json written');
    assert.equal(state.status, 'up');
    assert.equal(state.bmcs.length, 2);
    assert.deepEqual(state.namespaces, [state.netns, `${state.netns}-bmc`]);
    const ns = state.netns;
    const config = state.config as string;
    assert.match(up.stdout, new RegExp(`ip netns exec ${ns} rackboot --config \\S+ discover --bmc 10\\.98\\.1\\.11-12`));
    assert.match(up.stdout, /power on --pxe --all/);
    // The lab outlives the `up` command.
    for (const p of state.processes) assert.ok(pidAlive(p.pid), `${p.name} (pid ${p.pid}) still runs after lab up exited`);

    const discover = await rackboot(['--config', config, 'discover', '--bmc', state.bmcRange as string], ns);
    assert.equal(discover.code, 0, discover.stdout + discover.stderr);
    for (const b of state.bmcs) assert.match(discover.stdout, new RegExp(`${b.address.replace(/\./g, '\\.')}\\s+ok\\s.*${b.hostMac}`));
    const plan = await rackboot(['--config', config, 'ip-plan', '--apply'], ns);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /applied: 2 to add/);
    const poweredAt = Date.now();
    const on = await rackboot(['--config', config, 'power', 'on', '--pxe', '--all'], ns);
    assert.equal(on.code, 0, on.stdout + on.stderr);

    const rb = state.processes.find((p) => p.role === 'rackboot');
    assert.ok(rb);
    const vmPids = new Set<number>();
    await Promise.all(
      state.bmcs.map(async (b) => {
        const events = await waitForEvent(state.database as string, b.machine, 'ready', 150_000, () => {
          const pid = existsSync(b.vmPidFile) ? Number(readFileSync(b.vmPidFile, 'utf8').trim()) : 0;
          if (pid > 0) vmPids.add(pid);
          return pidAlive(rb.pid) ? null : `rackboot serve exited; ${rb.log}:\n${readFileSync(rb.log, 'utf8').slice(-2000)}`;
        }).catch((error: Error) => {
          const serial = join(dir, b.name, 'serial.log');
          throw new Error(`${error.message}\n--- ${b.name} serial ---\n${existsSync(serial) ? readFileSync(serial, 'utf8').slice(-2000) : ''}`);
        });
        assertInOrder(
          events.map((e) => e.type),
          ['registered', 'power', 'dhcp', 'ipxe', 'menu-choice', 'booting', 'ready'],
        );
      }),
    );
    t.diagnostic(`power on -> both ready: ${((Date.now() - poweredAt) / 1000).toFixed(1)} s`);

    const pids = new Set([...state.processes.map((p) => p.pid), ...recordedPids(state), ...vmPids]);
    const down = await rackboot(['lab', 'down', '--dir', dir]);
    assert.equal(down.code, 0, down.stdout + down.stderr);
    const left = await namespaces();
    for (const n of state.namespaces) assert.ok(!left.includes(n), `namespace ${n} was deleted`);
    for (const pid of pids) assert.ok(!pidAlive(pid), `pid ${pid} recorded by the lab is gone`);
    assert.equal(readLabState(dir), undefined, 'lab.json removed');
    const again = await rackboot(['lab', 'down', '--dir', dir]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to do/);
    t.diagnostic(`whole test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});

if (skipReason) {
  test('rackboot lab up / lab down', { skip: `skipped: ${skipReason}` }, () => {});
}
