/**
 * ProxyDHCP with real firmware: the site's DHCP server (busybox udhcpd, no PXE options) hands out
 * the address, rackboot runs with `dhcp.mode: proxy`, and OVMF's native UEFI PXE client boots:
 * proxy OFFER (yiaddr 0, PXEClient, no 43) -> REQUEST to port 4011 -> TFTP snponly.efi -> iPXE's
 * DHCP + proxy OFFER with the script URL -> HTTP -> kernel -> the test OS's callback.
 * Everything runs in network namespaces this test creates. Needs root, QEMU, OVMF, busybox and the
 * test OS (built on first use); skips saying what is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { createLabNetwork, uniqueLabName, type LabNetwork } from '../../server/lab/netns.js';
import { checkLabPrereqs, findExecutable, testOsFiles } from '../../server/lab/prereqs.js';
import type { LabProcess } from '../../server/lab/process.js';
import { startVm, type Vm } from '../../server/lab/qemu.js';
import { rackboot } from '../helpers/cli.js';
import { assertInOrder, runBuildScript, waitForEvent } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BOOT_TIMEOUT_MS = 150_000;
const testOs = testOsFiles(join(ROOT, '.cache', 'test-os'));
const MAC = '52:54:00:95:00:21';

function prerequisites(): string | null {
  const basic = checkLabPrereqs({ needQemu: true, needOvmf: true });
  if (!basic.ok) return basic.missing.join('; ');
  if (!findExecutable('busybox')) return 'busybox (udhcpd, the site DHCP server) is not installed';
  return runBuildScript('build-test-os.sh', [testOs.dir]);
}

const skipReason = prerequisites();

describe('proxyDHCP: OVMF boots through rackboot in proxy mode next to another DHCP server', { skip: skipReason ?? false }, () => {
  let lab: LabNetwork;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-proxy-'));
    lab = await createLabNetwork({ name: uniqueLabName('rbproxy'), subnet: '10.95.0.0/24' });
    await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
  });

  after(async () => {
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('OVMF native PXE -> proxy OFFER -> 4011 -> TFTP snponly.efi -> iPXE -> HTTP -> callback', async () => {
    const server = lab.serverAddress;
    const ip = lab.hostAddress(21);
    // The site's DHCP server: addresses only (a static lease, so the machine keeps its inventory address).
    const dhcpd = await lab.addPeer('dhcpd', { address: lab.hostAddress(3) });
    const udhcpdConf = join(work, 'udhcpd.conf');
    writeFileSync(udhcpdConf, [
      `start ${lab.hostAddress(100)}`, `end ${lab.hostAddress(150)}`, 'interface eth0', `lease_file ${join(work, 'udhcpd.leases')}`,
      `pidfile ${join(work, 'udhcpd.pid')}`, 'option subnet 255.255.255.0', 'option lease 600', `static_lease ${MAC} ${ip}`, '',
    ].join('\n'));
    writeFileSync(join(work, 'udhcpd.leases'), '');
    const udhcpd = await dhcpd.spawn(findExecutable('busybox') ?? 'busybox', ['udhcpd', '-f', udhcpdConf]);

    const config = join(work, 'rackboot.yaml');
    writeFileSync(config, `dataDir: ${work}/data
log: { level: debug }
server: { address: ${server} }
http: { listen: ${server}, port: 8080 }
tftp: { listen: ${server}, port: 69 }
dhcp:
  enabled: true
  mode: proxy
  subnets: [{ cidr: ${lab.subnet} }]
boot:
  assetsDir: ${testOs.dir}
  os: { name: test-os, kernel: vmlinuz, initrds: [initrd.img], args: [rackboot.test.poweroff] }
  kernelArgs: [console=ttyS0]
`);
    const add = rackboot(['--config', config, 'machines', 'add', '--mac', MAC, '--ip', ip, '--name', 'proxy-uefi', '--role', 'dev', '--mode', 'memory']);
    assert.equal(add.code, 0, add.stderr);

    let rb: LabProcess | undefined;
    let vm: Vm | undefined;
    try {
      rb = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], { cwd: ROOT, logFile: join(work, 'rackboot.log') });
      await rb.waitForOutput(/rackboot serving/, 30_000);
      const tap = await lab.addTap('tap-proxy');
      vm = await startVm({ netns: lab, tap, mac: MAC, firmware: 'uefi-pxe', serialLog: join(work, 'serial.log') });
      const events = await waitForEvent(join(work, 'data', 'rackboot.db'), 'proxy-uefi', 'ready', BOOT_TIMEOUT_MS, () => {
        const exit = rb?.exitStatus ?? udhcpd.exitStatus;
        return exit ? `rackboot or udhcpd exited (${JSON.stringify(exit)}):\n${rb?.output().slice(-2000)}\n${udhcpd.output()}` : null;
      }).catch((error: Error) => {
        throw new Error(`${error.message}\n--- serial (tail) ---\n${vm?.serial().slice(-3000)}\n--- rackboot (tail) ---\n${rb?.output().slice(-4000)}`);
      });
      const types = events.map((e) => e.type);
      assertSequence(types, ['dhcp', 'firmware-loaded', 'dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
      const dhcp = events.filter((e) => e.type === 'dhcp').map((e) => JSON.parse(e.data ?? '{}') as { mode?: string; port?: number; ip?: string | null; bootTarget?: { rule?: string } });
      assert.deepEqual({ mode: dhcp[0]?.mode, port: dhcp[0]?.port, ip: dhcp[0]?.ip, rule: dhcp[0]?.bootTarget?.rule }, { mode: 'proxy', port: 4011, ip, rule: 'pxe' }, 'the firmware got its file on 4011');
      assert.equal(dhcp[1]?.bootTarget?.rule, 'ipxe-script', 'the chained iPXE got the script from the proxy offer');
      assert.match(events.find((e) => e.type === 'firmware-loaded')?.message ?? '', /snponly\.efi/);
      const db = new Database(join(work, 'data', 'rackboot.db'), { readonly: true, fileMustExist: true });
      try {
        assert.equal((db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number }).n, 0, 'a proxy hands out no address');
      } finally {
        db.close();
      }
    } finally {
      await vm?.stop();
      await rb?.stop();
    }
  });
});

if (skipReason) {
  test('proxyDHCP firmware boot', { skip: `skipped: ${skipReason}` }, () => {});
}



function assertSequence(types: readonly string[], expected: readonly string[]): void {
  assertInOrder(types, expected);
  assert.ok(!types.includes('failed'), 'no failed event');
}
