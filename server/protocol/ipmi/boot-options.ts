/**
 * Set/Get System Boot Options (Chassis 08h/09h). Parameter 5, the boot flags:
 *   data1: bit 7 valid, bit 6 persistent (all future boots), bit 5 EFI boot
 *   data2: bits 5:2 boot device selector
 *   data3-5: 0 (console redirection, BIOS verbosity, device instance: firmware defaults)
 * Parameter 0 brackets a change (set in progress / commit write / set complete); parameter 3 bit 3
 * keeps the valid bit past the 60 s chassis-control timeout; parameter 4 acknowledges boot info.
 */
import { BootParam, ChassisCmd, NetFn } from './constants.js';
import { need } from './decode-error.js';
import type { IpmiRequest } from './message.js';

/** Boot device selector values (already shifted into data2 bits 5:2). */
export const BOOT_DEVICE_SELECTOR = {
  none: 0x00,
  pxe: 0x04,
  disk: 0x08,
  'disk-safe': 0x0c,
  diag: 0x10,
  cdrom: 0x14,
  'bios-setup': 0x18,
  'remote-floppy': 0x1c,
  'remote-cdrom': 0x20,
  'remote-media': 0x24,
  'remote-disk': 0x2c,
  floppy: 0x3c,
} as const;
export type BootDevice = keyof typeof BOOT_DEVICE_SELECTOR;
export const BOOT_DEVICES = Object.keys(BOOT_DEVICE_SELECTOR) as BootDevice[];

export interface BootFlags {
  readonly device: BootDevice;
  readonly valid: boolean;
  readonly persistent: boolean;
  readonly efi: boolean;
}

export interface ReadBootFlags extends BootFlags {
  /** The selector bits as the BMC reported them (a value rackboot has no name for shows here). */
  readonly selector: number;
  /** Parameter valid bit of the response (bit 7 set = invalid or locked). */
  readonly parameterLocked: boolean;
  readonly raw: Buffer;
}

export function encodeBootFlags(flags: BootFlags): Buffer {
  const d1 = (flags.valid ? 0x80 : 0) | (flags.persistent ? 0x40 : 0) | (flags.efi ? 0x20 : 0);
  return Buffer.from([d1, BOOT_DEVICE_SELECTOR[flags.device], 0x00, 0x00, 0x00]);
}

export function bootDeviceForSelector(selector: number): BootDevice | undefined {
  return BOOT_DEVICES.find((d) => BOOT_DEVICE_SELECTOR[d] === (selector & 0x3c));
}

function set(parameter: number, data: readonly number[] | Uint8Array): IpmiRequest {
  return { netFn: NetFn.chassis, cmd: ChassisCmd.setSystemBootOptions, data: Buffer.concat([Buffer.from([parameter & 0x7f]), Buffer.from(data)]) };
}

export const SET_IN_PROGRESS = { complete: 0x00, inProgress: 0x01, commitWrite: 0x02 } as const;

export function setBootSetInProgress(state: keyof typeof SET_IN_PROGRESS): IpmiRequest {
  return set(BootParam.setInProgress, [SET_IN_PROGRESS[state]]);
}

/** Parameter 3 = 0x08: don't clear the valid bit when the 60 s chassis-control timer runs out. */
export function setBootFlagValidClearing(value = 0x08): IpmiRequest {
  return set(BootParam.bootFlagValidClearing, [value]);
}

export function setBootInfoAcknowledge(mask = 0x01, data = 0x01): IpmiRequest {
  return set(BootParam.bootInfoAcknowledge, [mask, data]);
}

export function setBootFlags(flags: BootFlags): IpmiRequest {
  return set(BootParam.bootFlags, encodeBootFlags(flags));
}

export function getBootFlags(): IpmiRequest {
  return { netFn: NetFn.chassis, cmd: ChassisCmd.getSystemBootOptions, data: Buffer.from([BootParam.bootFlags, 0x00, 0x00]) };
}

/** Get System Boot Options response data: version, parameter (bit 7 = invalid/locked), data1-5. */
export function decodeBootFlags(d: Uint8Array): ReadBootFlags {
  need(d, 4, 'Get System Boot Options parameter 5');
  const d1 = d[2] as number;
  const selector = (d[3] as number) & 0x3c;
  return {
    device: bootDeviceForSelector(selector) ?? 'none',
    selector,
    valid: (d1 & 0x80) !== 0,
    persistent: (d1 & 0x40) !== 0,
    efi: (d1 & 0x20) !== 0,
    parameterLocked: ((d[1] as number) & 0x80) !== 0,
    raw: Buffer.from(d.subarray(2)),
  };
}
