/**
 * The walking skeleton, proven with real firmware: QEMU VMs PXE-boot from a rackboot process that
 * runs inside a network namespace this test creates, and must reach the test OS's callbacks.
 *   1. SeaBIOS + the NIC's iPXE ROM: DHCP -> HTTP script -> kernel + initrd -> callback
 *   2. SeaBIOS, the ROM's iPXE told to chainload rackboot's undionly.kpxe over TFTP first
 *   3. OVMF's native UEFI PXE client -> TFTP snponly.efi -> HTTP -> callback
 *   4. the same with Debian's ipxe.efi, a symlink out of /usr/lib/ipxe that tftp.symlinkTargets allows
 * Needs root, QEMU, iPXE ROMs, OVMF and the test OS (built on first use); skips saying what is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLabNetwork, uniqueLabName, type LabNetwork } from '../../server/lab/netns.js';
import { checkLabPrereqs, testOsFiles } from '../../server/lab/prereqs.js';
import type { LabProcess } from '../../server/lab/process.js';
import { startVm, type Vm, type VmFirmware } from '../../server/lab/qemu.js';
import { rackboot } from '../helpers/cli.js';
import { assertInOrder, leaseIp, runBuildScript, waitForEvent, type EventRow } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BOOT_TIMEOUT_MS = 180_000;
const testOs = testOsFiles(join(ROOT, '.cache', 'test-os'));

function prerequisites(): string | null {
  const basic = checkLabPrereqs({ needQemu: true, needIpxeRom: true, needOvmf: true });
  if (!basic.ok) return basic.missing.join('; ');
  // always run the build: its up-to-date check takes under a second and catches an edited /init
  return runBuildScript('build-test-os.sh', [testOs.dir]);
}

const skipReason = prerequisites();

describe('real firmware PXE-boots from rackboot to the OS callback', { skip: skipReason ?? false }, () => {
  let lab: LabNetwork;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-pxe-'));
    lab = await createLabNetwork({ name: uniqueLabName('rbpxe'), subnet: '10.99.0.0/24' });
    // Limited broadcasts need a route in a namespace that has no default route (docs/real-hardware.md).
    await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
  });

  after(async () => {
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function bootOnce(options: {
    label: string;
    firmware: VmFirmware;
    mac: string;
    hostNumber: number;
    chainloadEmbeddedIpxe: boolean;
    /** null: no role, the machine gets the boot menu */
    role?: string | null;
    menuDefault?: string;
    /** extra YAML under tftp: and dhcp: */
    tftp?: string;
    dhcp?: string;
  }) {
    const dir = mkdtempSync(join(work, `${options.label}-`));
    const ip = lab.hostAddress(options.hostNumber);
    const server = lab.serverAddress;
    const config = join(dir, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${dir}/data
log: { level: debug }
server: { address: ${server} }
http: { listen: ${server}, port: 8080 }
tftp: { listen: ${server}, port: 69${options.tftp ?? ''} }
dhcp:
  enabled: true
  chainloadEmbeddedIpxe: ${options.chainloadEmbeddedIpxe}
${options.dhcp ?? ''}  subnets: [{ cidr: ${lab.subnet}, gateway: ${server}, dns: [${server}], leaseSeconds: 600 }]
boot:
  assetsDir: ${testOs.dir}
  os: { name: test-os, kernel: vmlinuz, initrds: [initrd.img], args: [rackboot.test.poweroff] }
  kernelArgs: [console=ttyS0]
  menu: { defaultItem: ${options.menuDefault ?? 'local'}, timeoutSeconds: 2 }
`,
    );
    const role = options.role === undefined ? ['--role', 'dev', '--mode', 'memory'] : options.role === null ? [] : ['--role', options.role, '--mode', 'memory'];
    const add = rackboot(['--config', config, 'machines', 'add', '--mac', options.mac, '--ip', ip, '--name', options.label, ...role]);
    assert.equal(add.code, 0, add.stderr);

    let rb: LabProcess | undefined;
    let vm: Vm | undefined;
    try {
      rb = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], {
        cwd: ROOT,
        logFile: join(dir, 'rackboot.log'),
      });
      await rb.waitForOutput(/rackboot serving/, 30_000);
      const tap = await lab.addTap(`tap-${options.label}`.slice(0, 15));
      vm = await startVm({ netns: lab, tap, mac: options.mac, firmware: options.firmware, serialLog: join(dir, 'serial.log') });
      const events = await waitForEvent(join(dir, 'data', 'rackboot.db'), options.label, 'ready', BOOT_TIMEOUT_MS, () => {
        const exit = rb?.exitStatus;
        return exit ? `rackboot exited (${JSON.stringify(exit)}):\n${rb?.output().slice(-3000)}` : null;
      }).catch((error: Error) => {
        throw new Error(`${error.message}\n--- serial (tail) ---\n${vm?.serial().slice(-3000)}\n--- rackboot (tail) ---\n${rb?.output().slice(-3000)}`);
      });
      return { events, ip, db: join(dir, 'data', 'rackboot.db'), config };
    } finally {
      await vm?.stop();
      await rb?.stop();
    }
  }

  test('SeaBIOS + iPXE ROM: DHCP -> HTTP script -> kernel + initrd -> callback', async () => {
    const result = await bootOnce({ label: 'bios-rom', firmware: 'bios-ipxe-rom', mac: '52:54:00:99:00:11', hostNumber: 11, chainloadEmbeddedIpxe: false });
    assertSequence(result.events, ['dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    assert.ok(!result.events.some((e) => e.type === 'firmware-loaded'), 'no TFTP on this path');
    assertLease(result.db, '52:54:00:99:00:11', result.ip, result.events);
  });

  test('SeaBIOS, ROM iPXE chainloads undionly.kpxe over TFTP, which boots over HTTP without a loop', async () => {
    const result = await bootOnce({ label: 'bios-undi', firmware: 'bios-ipxe-rom', mac: '52:54:00:99:00:12', hostNumber: 12, chainloadEmbeddedIpxe: true });
    assertSequence(result.events, ['dhcp', 'firmware-loaded', 'dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    const loaded = result.events.filter((e) => e.type === 'firmware-loaded');
    assert.equal(loaded.length, 1, 'undionly.kpxe is fetched exactly once: the chained iPXE is not handed iPXE again');
    assert.match(loaded[0]?.message ?? '', /undionly\.kpxe/);
    assertLease(result.db, '52:54:00:99:00:12', result.ip, result.events);
  });

  test('a machine without a role gets the boot menu; the default entry (after its timeout) boots that role and is remembered', async () => {
    const result = await bootOnce({ label: 'menu', firmware: 'bios-ipxe-rom', mac: '52:54:00:99:00:14', hostNumber: 14, chainloadEmbeddedIpxe: false, role: null, menuDefault: 'dev-memory' });
    assertSequence(result.events, ['dhcp', 'ipxe', 'menu-choice', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    const configured = result.events.find((e) => e.type === 'configured');
    assert.equal((JSON.parse(configured?.data ?? '{}') as { template?: string }).template, 'dev', 'the dev role cloud-config was served');
    const list = rackboot(['--config', result.config, 'machines', 'list', '--json']);
    const [machine] = JSON.parse(list.stdout) as Array<{ role: string; bootMode: string }>;
    assert.deepEqual({ role: machine?.role, mode: machine?.bootMode }, { role: 'dev', mode: 'memory' });
  });

  test('OVMF native UEFI PXE -> TFTP snponly.efi -> HTTP -> callback', async () => {
    const result = await bootOnce({ label: 'uefi-pxe', firmware: 'uefi-pxe', mac: '52:54:00:99:00:13', hostNumber: 13, chainloadEmbeddedIpxe: false });
    assertSequence(result.events, ['dhcp', 'firmware-loaded', 'dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    assert.match(result.events.find((e) => e.type === 'firmware-loaded')?.message ?? '', /snponly\.efi/);
    assertLease(result.db, '52:54:00:99:00:13', result.ip, result.events);
  });

  test("OVMF native UEFI PXE -> TFTP Debian's ipxe.efi (a symlink to /boot, allowed by tftp.symlinkTargets) -> HTTP -> callback", async () => {
    const result = await bootOnce({
      label: 'uefi-ipxe-efi',
      firmware: 'uefi-pxe',
      mac: '52:54:00:99:00:15',
      hostNumber: 15,
      chainloadEmbeddedIpxe: false,
      tftp: ', root: /usr/lib/ipxe, symlinkTargets: [/boot/ipxe.efi]',
      dhcp: '  bootFiles: { efiX64: ipxe.efi }\n',
    });
    assertSequence(result.events, ['dhcp', 'firmware-loaded', 'dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    assert.match(result.events.find((e) => e.type === 'firmware-loaded')?.message ?? '', /ipxe\.efi/);
    assertLease(result.db, '52:54:00:99:00:15', result.ip, result.events);
  });
});

if (skipReason) {
  test('real firmware PXE boots', { skip: `skipped: ${skipReason}` }, () => {});
}


/** Polls the server's database (read-only; WAL allows it) until the machine records `type`. */

/** The expected types appear in this order (other events, e.g. the OS's own DHCP, may come between). */
function assertSequence(events: readonly EventRow[], expected: readonly string[]) {
  const types = events.map((e) => e.type);
  assertInOrder(types, expected);
  assert.ok(!types.includes('failed'), `a failed event: ${events.find((e) => e.type === 'failed')?.message}`);
}

function assertLease(dbPath: string, mac: string, ip: string, events: readonly EventRow[]) {
  assert.equal(leaseIp(dbPath, mac), ip, 'the lease is the reserved IP');
  for (const event of events.filter((e) => e.type === 'dhcp')) {
    assert.equal((JSON.parse(event.data ?? '{}') as { ip?: string }).ip, ip, `dhcp event: ${event.message}`);
  }
}
