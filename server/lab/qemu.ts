/**
 * QEMU virtual machines on a lab network: one tap each, started inside the lab namespace.
 *
 * Firmware modes:
 *   bios-ipxe-rom   SeaBIOS; the NIC's option ROM is iPXE (pxe-virtio.rom / pxe-e1000.rom).
 *   uefi-pxe        OVMF (code read-only, a private copy of VARS); the NIC has no option ROM, so
 *                   OVMF's own PXE client boots (virtio-net only: OVMF has no e1000 driver).
 *   uefi-ipxe-rom   OVMF; the NIC's option ROM is iPXE with its EFI driver (efi-virtio.rom ...).
 *   direct-kernel   SeaBIOS loads `kernel` (+ initrd, append) itself; no PXE at all.
 *
 * There is no usable KVM on the reference machines (a nested paravirtual /dev/kvm makes iPXE die),
 * so the accelerator is TCG unless a caller asks for KVM.
 */
import { closeSync, copyFileSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LabNetwork } from './netns.js';
import { findExecutable, findFirmware, type FirmwarePaths, type LabNic } from './prereqs.js';
import { sleep, tail, type ExitStatus, type LabProcess } from './process.js';

export type VmFirmware = 'bios-ipxe-rom' | 'uefi-pxe' | 'uefi-ipxe-rom' | 'direct-kernel';

export interface DirectKernel {
  readonly kernel: string;
  readonly initrd?: string;
  /** Kernel command line; `console=ttyS0` is prepended when it names no console. */
  readonly append?: string;
}

export interface StartVmOptions {
  readonly netns: LabNetwork;
  /** A tap made with `netns.addTap()`. */
  readonly tap: string;
  /** e.g. '52:54:00:99:00:01' */
  readonly mac: string;
  readonly firmware: VmFirmware;
  /** Required for 'direct-kernel', ignored otherwise. */
  readonly kernel?: DirectKernel;
  readonly memoryMb?: number;
  readonly cpus?: number;
  readonly nic?: LabNic;
  /** A disk image on virtio-blk, boot index 2 (after the NIC). */
  readonly disk?: string;
  readonly diskFormat?: 'raw' | 'qcow2';
  /** The serial console is written here (created or truncated). */
  readonly serialLog: string;
  /** Where the per-VM OVMF VARS copy goes; default: the serial log's directory. */
  readonly stateDir?: string;
  /** Exit instead of rebooting (default true: a test sees a crash as an exit). */
  readonly noReboot?: boolean;
  /** SMBIOS system UUID (type 1), e.g. to match rackboot's uuid-based rules. */
  readonly uuid?: string;
  readonly accel?: 'tcg' | 'kvm';
  readonly name?: string;
  /** Override where firmware files are (default: `findFirmware()`). */
  readonly firmwarePaths?: FirmwarePaths;
  readonly extraArgs?: readonly string[];
}

export interface Vm {
  readonly pid: number;
  readonly args: readonly string[];
  readonly serialLog: string;
  readonly process: LabProcess;
  /** Settles when QEMU exits (a guest power-off ends QEMU). */
  readonly exited: Promise<ExitStatus>;
  /** Everything the guest has written to the serial console so far. */
  serial(): string;
  /** Resolves with the first match of `re` in the serial console; rejects on timeout or exit. */
  waitForSerial(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** Kills QEMU by PID (SIGTERM, then SIGKILL) and waits for it. */
  stop(): Promise<ExitStatus>;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Builds QEMU's argument list (exported for tests and for `rackboot lab` to print). */
export function qemuArgs(opts: StartVmOptions, varsCopy?: string): string[] {
  const fw = opts.firmwarePaths ?? findFirmware();
  const nic = opts.nic ?? 'virtio-net-pci';
  if (!MAC_RE.test(opts.mac)) throw new Error(`bad MAC ${JSON.stringify(opts.mac)}`);
  const args = [
    '-name', opts.name ?? `rackboot-${opts.mac.replace(/:/g, '')}`,
    '-accel', opts.accel ?? 'tcg',
    '-m', String(opts.memoryMb ?? 256),
    '-smp', String(opts.cpus ?? 1),
    '-nodefaults',
    '-display', 'none',
    '-serial', `file:${opts.serialLog}`,
    '-netdev', `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
  ];
  if (opts.noReboot ?? true) args.push('-no-reboot');
  if (opts.uuid) args.push('-uuid', opts.uuid);
  let romfile: string;
  switch (opts.firmware) {
    case 'bios-ipxe-rom': {
      const rom = fw.pxeRom[nic];
      if (!rom) throw new Error(`no legacy iPXE ROM for ${nic}: apt-get install ipxe-qemu`);
      romfile = rom;
      break;
    }
    case 'uefi-ipxe-rom': {
      const rom = fw.efiRom[nic];
      if (!rom) throw new Error(`no EFI iPXE ROM for ${nic}: apt-get install ipxe-qemu`);
      romfile = rom;
      break;
    }
    case 'uefi-pxe':
      if (nic !== 'virtio-net-pci') throw new Error('uefi-pxe needs virtio-net-pci: OVMF has no e1000 driver');
      romfile = '';
      break;
    case 'direct-kernel': {
      const k = opts.kernel;
      if (!k) throw new Error("firmware 'direct-kernel' needs `kernel`");
      const append = k.append ?? '';
      args.push('-kernel', k.kernel);
      if (k.initrd) args.push('-initrd', k.initrd);
      args.push('-append', /(^|\s)console=/.test(append) ? append : `console=ttyS0 ${append}`.trim());
      romfile = '';
      break;
    }
  }
  if (opts.firmware === 'uefi-pxe' || opts.firmware === 'uefi-ipxe-rom') {
    if (!fw.ovmf) throw new Error('no OVMF code+vars: apt-get install ovmf');
    if (!varsCopy) throw new Error('UEFI needs a writable copy of the OVMF VARS file');
    args.push(
      '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${fw.ovmf.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${varsCopy}`,
    );
  }
  // QEMU patches PCI IDs only into its *default* ROM. Debian's pxe-virtio.rom/efi-virtio.rom say
  // 1af4:1041 (modern virtio-net) while the default transitional device is 1af4:1000, so firmware
  // skips an explicitly named ROM: make the device modern-only so the IDs match.
  const modernOnly = nic === 'virtio-net-pci' && romfile !== '' ? ',disable-legacy=on' : '';
  args.push('-device', `${nic},netdev=n0,mac=${opts.mac.toLowerCase()},bootindex=1,romfile=${romfile}${modernOnly}`);
  if (opts.disk) {
    args.push(
      '-drive', `if=none,id=d0,format=${opts.diskFormat ?? (opts.disk.endsWith('.qcow2') ? 'qcow2' : 'raw')},file=${opts.disk}`,
      '-device', 'virtio-blk-pci,drive=d0,bootindex=2',
    );
  }
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/** Starts QEMU inside the lab namespace. The returned PID is QEMU's own. */
export async function startVm(opts: StartVmOptions): Promise<Vm> {
  const qemu = findExecutable('qemu-system-x86_64');
  if (!qemu) throw new Error('qemu-system-x86_64 not found: apt-get install qemu-system-x86');
  let varsCopy: string | undefined;
  if (opts.firmware === 'uefi-pxe' || opts.firmware === 'uefi-ipxe-rom') {
    const fw = opts.firmwarePaths ?? findFirmware();
    if (!fw.ovmf) throw new Error('no OVMF code+vars: apt-get install ovmf');
    const dir = opts.stateDir ?? dirname(opts.serialLog);
    varsCopy = join(dir, `${basename(opts.serialLog).replace(/\.[^.]*$/, '')}-${basename(fw.ovmf.vars)}`);
    copyFileSync(fw.ovmf.vars, varsCopy);
  }
  if (opts.firmware === 'direct-kernel') {
    for (const f of [opts.kernel?.kernel, opts.kernel?.initrd]) {
      if (f && !existsSync(f)) throw new Error(`${f} does not exist (scripts/build-test-os.sh?)`);
    }
  }
  const args = qemuArgs(opts, varsCopy);
  closeSync(openSync(opts.serialLog, 'w'));
  const proc = await opts.netns.spawn(qemu, args);
  const serial = new SerialReader(opts.serialLog);

  const waitForSerial = async (re: RegExp, timeoutMs: number): Promise<RegExpExecArray> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(serial.read());
      if (m) return m;
      if (proc.exitStatus) {
        const m2 = re.exec(serial.read());
        if (m2) return m2;
        const s = proc.exitStatus;
        throw new Error(
          `QEMU (pid ${proc.pid}) exited (${s.code ?? s.signal}) before the console showed ${re}\n` +
            `qemu output:\n${tail(proc.output(), 10)}\nserial console:\n${tail(serial.read())}`,
        );
      }
      if (Date.now() >= deadline) {
        throw new Error(`no ${re} on the serial console within ${timeoutMs} ms; it ends with:\n${tail(serial.read())}`);
      }
      await Promise.race([sleep(100), proc.exited]);
    }
  };

  return {
    pid: proc.pid,
    args,
    serialLog: opts.serialLog,
    process: proc,
    exited: proc.exited,
    serial: () => serial.read(),
    waitForSerial,
    stop: () => proc.stop(5000),
  };
}

/** Reads a growing file incrementally. */
class SerialReader {
  #text = '';
  #offset = 0;
  constructor(readonly path: string) {}

  read(): string {
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return this.#text;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.#offset) {
        this.#offset = 0;
        this.#text = '';
      }
      if (size > this.#offset) {
        const buf = Buffer.alloc(size - this.#offset);
        const n = readSync(fd, buf, 0, buf.length, this.#offset);
        this.#offset += n;
        this.#text += buf.subarray(0, n).toString('latin1');
      }
    } finally {
      closeSync(fd);
    }
    return this.#text;
  }
}
