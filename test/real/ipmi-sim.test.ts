/**
 * rackboot's native IPMI client against OpenIPMI `ipmi_sim` BMCs in a namespace this test creates,
 * with `ipmitool -I lanplus -C 3` as the independent witness of what each BMC says:
 *   - discover: GUID, BMC MAC and IP, host MACs from FRU custom fields and from Dell's OEM query;
 *     a dead address fails with a bounded timeout; the results land in the inventory
 *   - a wrong password is a clean, quick auth error; IPMI 1.5 (MD5) sessions work
 *   - boot device PXE set + read back, power on/off
 *   - the whole path: discover -> ip-plan --apply -> power on --pxe -> ipmi_sim starts a QEMU VM ->
 *     it PXE-boots from a rackboot server in the namespace -> the test OS calls back `ready`
 * The rackboot commands run inside the lab namespace (the BMCs are only reachable there).
 * Needs root, ipmi_sim, ipmitool, gcc, QEMU + iPXE ROMs and the test OS; skips saying what is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { compareUuids } from '../../server/core/uuid-match.js';
import { checkBmcLabPrereqs, startVirtualBmcs, type VirtualBmcRack, type VirtualBmcSpec } from '../../server/lab/bmc.js';
import { createLabNetwork, uniqueLabName, type LabNetwork } from '../../server/lab/netns.js';
import { findExecutable, testOsFiles } from '../../server/lab/prereqs.js';
import type { ExecResult, LabProcess } from '../../server/lab/process.js';
import type { DiscoveredBmc, DiscoveryResult, FailedBmc } from '../../server/bmc/discover.js';
import type { IpmiSessionInfo } from '../../server/bmc/ipmi/operations.js';
import type { PowerOutcome } from '../../server/bmc/power.js';
import { rackboot } from '../helpers/cli.js';
import { assertInOrder, leaseIp, runBuildScript, waitForEvent } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const testOs = testOsFiles(join(ROOT, '.cache', 'test-os'));
const PASSWORD = 'lab-secret-7';
const HOST_SUBNET = '10.96.7.0/24';
const BMC_SUBNET = '10.97.7.0/24';
const DEAD_BMC = '10.97.7.99';

const SPECS: readonly VirtualBmcSpec[] = [
  {
    name: 'blade-a',
    address: '10.97.7.11',
    guid: '5a1e0000-0000-4000-8000-000000000011',
    bmcMac: '52:54:00:97:00:11',
    password: PASSWORD,
    fru: { board: { manufacturer: 'Rackboot Lab', productName: 'Blade A', serialNumber: 'A-11', extras: ['MAC0=52:54:00:96:00:11'] } },
    vm: { tap: 'tap-blade-a', mac: '52:54:00:96:00:11', uuid: '5a1e0000-0000-4000-8000-000000000011' },
  },
  {
    name: 'blade-b',
    address: '10.97.7.12',
    guid: '5a1e0000-0000-4000-8000-000000000012',
    bmcMac: '52:54:00:97:00:12',
    password: PASSWORD,
    fru: { board: { manufacturer: 'Rackboot Lab', productName: 'Blade B', extras: ['MAC0=52:54:00:96:00:12', 'MAC1=52:54:00:96:01:12'] } },
  },
  {
    name: 'dell-c',
    address: '10.97.7.13',
    guid: '5a1e0000-0000-4000-8000-000000000013',
    bmcMac: '52:54:00:97:00:13',
    password: PASSWORD,
    manufacturerId: 674,
    fru: { board: { manufacturer: 'Dell Inc.', productName: 'PowerEdge (virtual)' } },
    dellMacs: ['52:54:00:96:00:13', '52:54:00:96:01:13'],
  },
];

function prerequisites(): string | null {
  const bmc = checkBmcLabPrereqs({ needDellOem: true, needVm: true });
  if (!bmc.ok) return bmc.missing.join('; ');
  if (!findExecutable('ipmitool')) return 'ipmitool: apt-get install ipmitool';
  return runBuildScript('build-test-os.sh', [testOs.dir]);
}

const skipReason = prerequisites();

/** Runs `rackboot <args>` with the IPMI commands registered, inside the lab namespace. */
const RUNNER = `
import { Command } from 'commander';
import { registerIpmiCommands } from ${JSON.stringify(join(ROOT, 'server', 'cli', 'bmc.ts'))};
import { loadConfigFile } from ${JSON.stringify(join(ROOT, 'server', 'config', 'config.ts'))};
const program = new Command().name('rackboot').option('-c, --config <file>');
registerIpmiCommands(program, {
  config: () => {
    const result = loadConfigFile(program.opts().config);
    if (!result.config) throw new Error(result.errors.join('; '));
    return result.config;
  },
});
await program.parseAsync(process.argv.slice(1), { from: 'user' });
`;

/** Opens sessions directly (IPMI 1.5, wrong password) and prints what happened as JSON. */
const PROBE = `
import { IpmiClient } from ${JSON.stringify(join(ROOT, 'server', 'bmc', 'ipmi', 'client.ts'))};
const [address, password, version] = process.argv.slice(1);
const started = Date.now();
try {
  const bmc = await IpmiClient.open({ address, port: 623 }, { username: 'admin', password }, { ipmiVersion: version, timeoutMs: 500 });
  const guid = Buffer.from(await bmc.systemGuid()).toString('hex');
  const power = await bmc.powerState();
  await bmc.close();
  console.log(JSON.stringify({ ok: true, session: bmc.session, guid, power, ms: Date.now() - started }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, name: error.name, message: error.message, ms: Date.now() - started }));
}
`;

describe('IPMI against ipmi_sim BMCs in a namespace', { skip: skipReason ?? false }, () => {
  let lab: LabNetwork;
  let rack: VirtualBmcRack;
  let work: string;
  let config: string;
  let dbPath: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-ipmi-'));
    lab = await createLabNetwork({ name: uniqueLabName('rbipmi'), subnet: HOST_SUBNET });
    await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
    for (const spec of SPECS) if (spec.vm) await lab.addTap(spec.vm.tap);
    rack = await startVirtualBmcs({ lab, subnet: BMC_SUBNET }, SPECS);
    const server = lab.serverAddress;
    config = join(work, 'rackboot.yaml');
    dbPath = join(work, 'data', 'rackboot.db');
    writeFileSync(
      config,
      `dataDir: ${work}/data
log: { level: debug }
server: { address: ${server} }
http: { listen: ${server}, port: 8080 }
tftp: { listen: ${server}, port: 69 }
dhcp:
  enabled: true
  subnets: [{ cidr: ${HOST_SUBNET}, gateway: ${server}, dns: [${server}], leaseSeconds: 600 }]
boot:
  assetsDir: ${testOs.dir}
  os: { name: test-os, kernel: vmlinuz, initrds: [initrd.img], args: [rackboot.test.poweroff] }
  kernelArgs: [console=ttyS0]
`,
    );
  });

  after(async () => {
    await rack?.stop().catch(() => {});
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function cli(args: readonly string[], password = PASSWORD): Promise<ExecResult & { ms: number }> {
    const started = Date.now();
    const r = await lab.exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', RUNNER, '--', '--config', config, ...args], {
      cwd: ROOT,
      env: { RACKBOOT_IPMI_PASSWORD: password },
      allowFailure: true,
      timeoutMs: 90_000,
    });
    return { ...r, ms: Date.now() - started };
  }

  async function ipmitool(address: string, args: readonly string[], password = PASSWORD): Promise<ExecResult> {
    return lab.exec('ipmitool', ['-I', 'lanplus', '-H', address, '-U', 'admin', '-E', '-C', '3', '-N', '1', '-R', '2', ...args], {
      env: { IPMI_PASSWORD: password },
      allowFailure: true,
      timeoutMs: 20_000,
    });
  }

  function field(text: string, label: string): string | undefined {
    const line = text.split('\n').find((l) => l.trim().startsWith(label));
    return line?.slice(line.indexOf(':') + 1).trim();
  }

  test('discover: GUID, BMC MAC/IP and host MACs (FRU, Dell OEM) agree with ipmitool; a dead address times out, bounded', async () => {
    const r = await cli(['discover', '--bmc', '10.97.7.11-13', '--bmc', DEAD_BMC, '--timeout', '500', '--json']);
    assert.equal(r.code, 1, `exit 1 because one BMC failed; stderr: ${r.stderr}`);
    const results = JSON.parse(r.stdout) as DiscoveryResult[];
    assert.equal(results.length, 4);

    const dead = results.find((x) => x.address === DEAD_BMC) as FailedBmc;
    assert.equal(dead.ok, false);
    assert.equal(dead.error.kind, 'timeout');
    assert.ok(dead.durationMs < 3500, `the dead BMC gave up after ${dead.durationMs} ms (4 tries x 500 ms)`);

    for (const spec of SPECS) {
      const result = results.find((x) => x.address === spec.address);
      assert.equal(result?.ok, true, `${spec.name}: ${JSON.stringify(result)}`);
      const found = result as DiscoveredBmc & { session: IpmiSessionInfo };
      assert.ok(found.guid && found.lan);
      assert.equal(found.session.protocol, 'rmcp+');
      assert.equal(found.session.cipherSuite, 3, 'ipmi_sim has no SHA-256: suite 17 is refused and 3 used');

      const rawGuid = await ipmitool(spec.address, ['raw', '0x06', '0x37']);
      assert.equal(rawGuid.code, 0, rawGuid.stderr);
      assert.equal(found.guid.replace(/-/g, ''), rawGuid.stdout.replace(/\s+/g, ''), 'GUID bytes as the BMC sends them');
      const mcGuid = await ipmitool(spec.address, ['mc', 'guid']);
      assert.equal(compareUuids(found.guid, field(mcGuid.stdout, 'System GUID')), 'match', `ipmitool decodes it as ${field(mcGuid.stdout, 'System GUID')}`);

      const lan = await ipmitool(spec.address, ['lan', 'print', '1']);
      assert.equal(found.lan.mac, field(lan.stdout, 'MAC Address'));
      assert.equal(found.lan.mac, spec.bmcMac);
      assert.equal(found.lan.ip, field(lan.stdout, 'IP Address  '));
      assert.equal(found.device.manufacturerId, spec.manufacturerId ?? 4753);

      if (spec.dellMacs) {
        assert.deepEqual(found.hostMacs, spec.dellMacs.map((mac, i) => ({ mac, source: 'dell-oem', label: `NIC${i}` })));
        const oem = await ipmitool(spec.address, ['raw', '0x06', '0x59', '0x00', '0xda', '0x00', '0x00', '0x08', '0x08']);
        assert.equal(oem.code, 0, oem.stderr);
        assert.match(oem.stdout.replace(/\s+/g, ' '), new RegExp((spec.dellMacs[1] as string).replace(/:/g, ' ')));
      } else {
        const fru = await ipmitool(spec.address, ['fru', 'print', '0']);
        const extras = fru.stdout.split('\n').filter((l) => l.includes('Board Extra')).map((l) => l.slice(l.indexOf(':') + 1).trim());
        assert.deepEqual(
          found.hostMacs.map((h) => `${h.label}=${h.mac}`),
          extras,
          'host MACs are the FRU board extras ipmitool shows',
        );
        assert.ok(found.hostMacs.every((h) => h.source === 'fru'));
      }
    }

    const db = new Database(dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT address, guid, bmc_mac, host_macs, last_error FROM bmcs ORDER BY address').all() as Array<Record<string, string | null>>;
      assert.deepEqual(rows.map((row) => row.address), ['10.97.7.11', '10.97.7.12', '10.97.7.13'], 'a dead address leaves no row');
      assert.ok(rows.every((row) => row.last_error === null && row.guid !== null));
      assert.ok(!JSON.stringify(rows).includes(PASSWORD), 'no password in the inventory');
    } finally {
      db.close();
    }
  });

  test('a wrong password is an auth error within a second (ipmitool is refused too)', async () => {
    const r = await cli(['discover', '--bmc', '10.97.7.12', '--json'], 'not-the-password');
    assert.equal(r.code, 1);
    const [result] = JSON.parse(r.stdout) as FailedBmc[];
    assert.ok(result && !result.ok);
    assert.equal(result.error.kind, 'auth', result.error.message);
    assert.match(result.error.message, /wrong password/);
    assert.ok(result.durationMs < 1000, `${result.durationMs} ms`);
    const witness = await ipmitool('10.97.7.12', ['mc', 'guid'], 'not-the-password');
    assert.notEqual(witness.code, 0);
  });

  test('IPMI 1.5 sessions use MD5; a wrong 1.5 password is an auth error, not a hang', async () => {
    const probe = async (password: string, version: string) => {
      const r = await lab.exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', PROBE, '10.97.7.12', password, version], {
        cwd: ROOT,
        allowFailure: true,
        timeoutMs: 60_000,
      });
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ok: boolean; name?: string; message?: string; ms: number; guid?: string; session?: { protocol: string } };
    };
    const good = await probe(PASSWORD, '1.5');
    assert.equal(good.ok, true, good.message);
    assert.equal(good.session?.protocol, 'ipmi-1.5');
    assert.equal(good.guid, '5a1e0000000040008000000000000012');
    const bad = await probe('wrong', '1.5');
    assert.equal(bad.ok, false);
    assert.equal(bad.name, 'IpmiAuthError', bad.message);
    assert.ok(bad.ms < 3000, `${bad.ms} ms`);
  });

  test('power on --pxe sets the boot device and reads it back; power off; ipmitool agrees', async () => {
    const on = await cli(['power', 'on', '--pxe', '10.97.7.12', '--json']);
    assert.equal(on.code, 0, on.stdout + on.stderr);
    const [outcome] = JSON.parse(on.stdout) as PowerOutcome[];
    assert.ok(outcome?.ok);
    assert.equal(outcome.before, 'off');
    assert.equal(outcome.after, 'on');
    assert.equal(outcome.bootDevice?.readBack.device, 'pxe');
    assert.equal(rack.bmc('blade-b').bootDevice(), 'pxe');
    const param = await ipmitool('10.97.7.12', ['chassis', 'bootparam', 'get', '5']);
    assert.match(param.stdout, /Boot Device Selector : Force PXE/);
    assert.match((await ipmitool('10.97.7.12', ['chassis', 'power', 'status'])).stdout, /Chassis Power is on/);

    const off = await cli(['power', 'off', '10.97.7.12', '--json', '--yes']);
    assert.equal(off.code, 0, off.stdout + off.stderr);
    assert.equal((JSON.parse(off.stdout) as PowerOutcome[])[0]?.after, 'off');
    assert.match((await ipmitool('10.97.7.12', ['chassis', 'power', 'status'])).stdout, /Chassis Power is off/);

    const status = await cli(['power', 'status', '10.97.7.11', '10.97.7.12', '10.97.7.13']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /10\.97\.7\.12\s+10\.97\.7\.12\s+off\s+off/);
  });

  test('power on a blade: ip-plan --apply, power on --pxe, ipmi_sim starts the VM, it PXE-boots from rackboot to ready', async (t) => {
    const plan = await cli(['ip-plan', '--rule', 'bmc-offset', '--host-subnet', HOST_SUBNET, '--bmc-subnet', BMC_SUBNET, '--offset', '0', '--apply']);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /add\s+10\.97\.7\.11\s+node-10-96-7-11\s+10\.96\.7\.11\s+MACs 52:54:00:96:00:11/);
    assert.match(plan.stdout, /applied: 3 to add/);
    const again = await cli(['ip-plan', '--rule', 'bmc-offset', '--host-subnet', HOST_SUBNET, '--bmc-subnet', BMC_SUBNET, '--plan']);
    assert.match(again.stdout, /0 to add, 0 to update, 3 unchanged/);

    const machine = 'node-10-96-7-11';
    // Newer trees show role-less machines a boot menu: give it the in-memory test role when `assign` exists.
    if (/\bassign\b/.test(rackboot(['--help']).stdout)) {
      const assign = rackboot(['--config', config, 'assign', machine, '--role', 'dev', '--mode', 'memory']);
      assert.equal(assign.code, 0, assign.stderr);
    }

    let rb: LabProcess | undefined;
    try {
      rb = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], {
        cwd: ROOT,
        logFile: join(work, 'rackboot.log'),
      });
      await rb.waitForOutput(/rackboot serving/, 30_000);
      const started = Date.now();
      const on = await cli(['power', 'on', '--pxe', machine, '--json']);
      assert.equal(on.code, 0, on.stdout + on.stderr);
      assert.ok(rack.bmc('blade-a').vmPid() !== null, 'ipmi_sim started the VM through chassis_control');
      const events = await waitForEvent(dbPath, machine, 'ready', 150_000, () => (rb?.exitStatus ? `rackboot exited: ${rb.output().slice(-2000)}` : null)).catch(
        (error: Error) => {
          throw new Error(`${error.message}\n--- serial ---\n${rack.bmc('blade-a').serial().slice(-3000)}\n--- rackboot ---\n${rb?.output().slice(-3000)}`);
        },
      );
      const types = events.map((e) => e.type);
      assertInOrder(types, ['registered', 'power', 'dhcp', 'ipxe', 'booting', 'ready']);
      const lease = leaseIp(dbPath, '52:54:00:96:00:11');
      assert.equal(lease, '10.96.7.11', 'the VM got the address ip-plan reserved');
      t.diagnostic(`blade-a: power on -> ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // The test OS powers off after `ready`: the BMC sees the chassis go off.
      const deadline = Date.now() + 60_000;
      let status = '';
      while (Date.now() < deadline) {
        status = (await ipmitool('10.97.7.11', ['chassis', 'power', 'status'])).stdout;
        if (/off/.test(status)) break;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      assert.match(status, /Chassis Power is off/);
    } finally {
      await rb?.stop();
    }
  });
});

if (skipReason) {
  test('IPMI against ipmi_sim BMCs', { skip: `skipped: ${skipReason}` }, () => {});
}




