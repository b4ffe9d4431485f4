/**
 * What the lab needs from the host, and where the firmware files are.
 *
 * Everything here is a synchronous look at the file system, so tests can decide to skip at
 * definition time: `test('...', { skip: reason }, ...)`.
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export interface LabPrereqOptions {
  /** qemu-system-x86_64 and SeaBIOS. */
  readonly needQemu?: boolean;
  /** iPXE option ROMs for QEMU's NICs (firmware 'bios-ipxe-rom' and 'uefi-ipxe-rom'). */
  readonly needIpxeRom?: boolean;
  /** OVMF code and vars (firmware 'uefi-pxe' and 'uefi-ipxe-rom'). */
  readonly needOvmf?: boolean;
  /** vmlinuz, initrd.img and manifest.json from scripts/build-test-os.sh in `testOsDir`. */
  readonly needTestOs?: boolean;
  /** Default: `<cwd>/.cache/test-os`. */
  readonly testOsDir?: string;
  /** radvd (optional everywhere; see netns.ts). */
  readonly needRadvd?: boolean;
}

export type LabPrereqResult = { readonly ok: true } | { readonly ok: false; readonly missing: readonly string[] };

/** A pair of OVMF files that belong together (same flash size). */
export interface OvmfPair {
  readonly code: string;
  readonly vars: string;
}

export interface FirmwarePaths {
  /** SeaBIOS image QEMU loads by default (informational). */
  readonly seabios: string | undefined;
  /** Legacy iPXE ROMs, by QEMU device. */
  readonly pxeRom: Readonly<Record<LabNic, string | undefined>>;
  /** iPXE ROMs with an EFI driver (and a legacy image), by QEMU device. */
  readonly efiRom: Readonly<Record<LabNic, string | undefined>>;
  readonly ovmf: OvmfPair | undefined;
}

export type LabNic = 'virtio-net-pci' | 'e1000';

const ROM_DIRS = ['/usr/share/qemu', '/usr/lib/ipxe/qemu', '/usr/share/ipxe/qemu', '/usr/share/ipxe'];
const ROM_NAMES: Readonly<Record<LabNic, { pxe: string; efi: string }>> = {
  'virtio-net-pci': { pxe: 'pxe-virtio.rom', efi: 'efi-virtio.rom' },
  e1000: { pxe: 'pxe-e1000.rom', efi: 'efi-e1000.rom' },
};
// Non-secure-boot builds only: the secboot ones need SMM and the q35 machine.
const OVMF_PAIRS: readonly OvmfPair[] = [
  { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/usr/share/OVMF/OVMF_VARS_4M.fd' }, // Debian 12+
  { code: '/usr/share/OVMF/OVMF_CODE.fd', vars: '/usr/share/OVMF/OVMF_VARS.fd' }, // Debian 11, Ubuntu
  { code: '/usr/share/edk2/ovmf/OVMF_CODE.fd', vars: '/usr/share/edk2/ovmf/OVMF_VARS.fd' }, // Fedora
  { code: '/usr/share/edk2/x64/OVMF_CODE.4m.fd', vars: '/usr/share/edk2/x64/OVMF_VARS.4m.fd' }, // Arch
];
const SEABIOS = ['/usr/share/seabios/bios-256k.bin', '/usr/share/qemu/bios-256k.bin'];

function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => isFile(p));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Where the firmware files are on this host (undefined where none was found). */
export function findFirmware(): FirmwarePaths {
  const rom = (name: string): string | undefined => firstExisting(ROM_DIRS.map((d) => join(d, name)));
  const ovmf = OVMF_PAIRS.find((p) => isFile(p.code) && isFile(p.vars));
  return {
    seabios: firstExisting(SEABIOS),
    pxeRom: { 'virtio-net-pci': rom(ROM_NAMES['virtio-net-pci'].pxe), e1000: rom(ROM_NAMES.e1000.pxe) },
    efiRom: { 'virtio-net-pci': rom(ROM_NAMES['virtio-net-pci'].efi), e1000: rom(ROM_NAMES.e1000.efi) },
    ovmf,
  };
}

/** Finds an executable on PATH, also looking in the sbin directories a non-login root PATH may lack. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // next
    }
  }
  return undefined;
}

export interface TestOsFiles {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly manifest: string;
}

export function testOsFiles(dir = resolve('.cache/test-os')): TestOsFiles {
  return { dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.img'), manifest: join(dir, 'manifest.json') };
}

/**
 * Checks what the lab needs. Every message names what to install or do. Root, `ip` and
 * /dev/net/tun are always required (namespaces, bridges and taps).
 */
export function checkLabPrereqs(opts: LabPrereqOptions = {}): LabPrereqResult {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) {
    missing.push('root: network namespaces, bridges and taps need root (run the tests as root, e.g. in the CI container)');
  }
  if (!findExecutable('ip')) missing.push('ip: apt-get install iproute2');
  if (!existsSync('/dev/net/tun')) {
    missing.push('/dev/net/tun: modprobe tun (in a container: --device /dev/net/tun and CAP_NET_ADMIN)');
  }
  if (opts.needQemu) {
    if (!findExecutable('qemu-system-x86_64')) missing.push('qemu-system-x86_64: apt-get install qemu-system-x86');
    else if (!firstExisting(SEABIOS)) missing.push('SeaBIOS (bios-256k.bin): apt-get install seabios');
  }
  const fw = opts.needIpxeRom || opts.needOvmf ? findFirmware() : undefined;
  if (opts.needIpxeRom && fw) {
    if (!fw.pxeRom['virtio-net-pci'] || !fw.efiRom['virtio-net-pci']) {
      missing.push(`iPXE ROMs for QEMU (pxe-virtio.rom, efi-virtio.rom in ${ROM_DIRS.join(' or ')}): apt-get install ipxe-qemu`);
    }
  }
  if (opts.needOvmf && fw && !fw.ovmf) {
    missing.push(`OVMF code+vars (${OVMF_PAIRS.map((p) => p.code).join(', ')}): apt-get install ovmf`);
  }
  if (opts.needRadvd && !findExecutable('radvd')) missing.push('radvd: apt-get install radvd');
  if (opts.needTestOs) {
    const files = testOsFiles(opts.testOsDir);
    const absent = [files.kernel, files.initrd, files.manifest].filter((p) => !isFile(p));
    if (absent.length > 0) {
      missing.push(`test OS (${absent.join(', ')}): run scripts/build-test-os.sh ${files.dir}`);
    }
  }
  return missing.length === 0 ? { ok: true } : { ok: false, missing };
}
