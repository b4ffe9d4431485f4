import { DhcpOption, IpxeSubOption } from '../protocol/dhcp/constants.js';
import { hostName, vendorClass } from '../protocol/dhcp/options.js';
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import {
  clientArchitectures, clientMachineId, ipxeHasFeature, ipxeOptions, userClasses,
} from '../protocol/dhcp/pxe-options.js';
import type { MacAddress } from './types.js';
import { formatUuid, isPlaceholderUuid, swapUuidFields, uuidBytes } from './uuid-match.js';

export type Firmware = 'bios' | 'uefi' | 'unknown';

/** The first-stage iPXE builds rackboot ships; keys match `BootFiles`. */
export type BootPlatform = 'bios' | 'efiIa32' | 'efiX64' | 'efiArm64';

export interface ArchitectureInfo {
  readonly name: string;
  readonly firmware: Firmware;
  /** Which iPXE build runs there; null when rackboot has none for it. */
  readonly platform: BootPlatform | null;
  /** UEFI HTTP boot: the client wants a URL, not a TFTP file name. */
  readonly httpBoot: boolean;
}

const uefi = (name: string, platform: BootPlatform | null, httpBoot = false): ArchitectureInfo =>
  ({ name, firmware: 'uefi', platform, httpBoot });
const other = (name: string): ArchitectureInfo => ({ name, firmware: 'unknown', platform: null, httpBoot: false });

/**
 * IANA "Processor Architecture Types" (option 93). RFC 4578 first called 7 "EFI BC" and 9
 * "EFI x86-64"; firmware in the field sends 7 for x64 and older/VMware firmware sends 9, so both
 * get the x64 build (as pixiecore does).
 */
export const CLIENT_ARCHITECTURES: ReadonlyMap<number, ArchitectureInfo> = new Map([
  [0, { name: 'x86 BIOS', firmware: 'bios', platform: 'bios', httpBoot: false }],
  [1, other('NEC/PC98')],
  [2, uefi('Itanium EFI', null)],
  [3, other('DEC Alpha')],
  [4, other('Arc x86')],
  [5, other('Intel Lean Client')],
  [6, uefi('x86 UEFI', 'efiIa32')],
  [7, uefi('x64 UEFI', 'efiX64')],
  [8, uefi('EFI Xscale', null)],
  [9, uefi('EBC (x64 UEFI)', 'efiX64')],
  [10, uefi('ARM32 UEFI', null)],
  [11, uefi('ARM64 UEFI', 'efiArm64')],
  [12, other('PowerPC Open Firmware')],
  [13, other('PowerPC ePAPR')],
  [14, other('POWER OPAL v3')],
  [15, uefi('x86 UEFI HTTP', 'efiIa32', true)],
  [16, uefi('x64 UEFI HTTP', 'efiX64', true)],
  [17, uefi('EBC UEFI HTTP', 'efiX64', true)],
  [18, uefi('ARM32 UEFI HTTP', null, true)],
  [19, uefi('ARM64 UEFI HTTP', 'efiArm64', true)],
  [20, { name: 'x86 BIOS HTTP', firmware: 'bios', platform: null, httpBoot: true }],
  [21, other('ARM32 U-Boot')],
  [22, other('ARM64 U-Boot')],
  [23, other('ARM32 U-Boot HTTP')],
  [24, other('ARM64 U-Boot HTTP')],
  [25, uefi('RISC-V 32 UEFI', null)],
  [26, uefi('RISC-V 32 UEFI HTTP', null, true)],
  [27, uefi('RISC-V 64 UEFI', null)],
  [28, uefi('RISC-V 64 UEFI HTTP', null, true)],
  [29, uefi('RISC-V 128 UEFI', null)],
  [30, uefi('RISC-V 128 UEFI HTTP', null, true)],
  [31, other('s390 Basic')],
  [32, other('s390 Extended')],
  [33, uefi('MIPS32 UEFI', null)],
  [34, uefi('MIPS64 UEFI', null)],
  [35, uefi('Sunway 32 UEFI', null)],
  [36, uefi('Sunway 64 UEFI', null)],
  [37, uefi('LoongArch32 UEFI', null)],
  [38, uefi('LoongArch32 UEFI HTTP', null, true)],
  [39, uefi('LoongArch64 UEFI', null)],
  [40, uefi('LoongArch64 UEFI HTTP', null, true)],
  [41, other('ARM rpiboot')],
]);

export function architectureInfo(arch: number | null): ArchitectureInfo {
  if (arch === null) return other('unknown');
  return CLIENT_ARCHITECTURES.get(arch) ?? other(`unknown (${arch})`);
}

export interface ClientInfo {
  /** Null for non-Ethernet hardware (e.g. InfiniBand, htype 32). */
  readonly mac: MacAddress | null;
  /** First entry of option 93, else the "Arch:nnnnn" field of a PXEClient/HTTPClient option 60. */
  readonly arch: number | null;
  readonly archName: string;
  readonly firmware: Firmware;
  /** Option 60 starts with "PXEClient". */
  readonly isPxeClient: boolean;
  /** Option 60 starts with "HTTPClient" (UEFI HTTP boot). */
  readonly isHttpClient: boolean;
  /** User class "iPXE" or option 175 present. */
  readonly isIpxe: boolean;
  /** iPXE reports the HTTP feature (175.19). */
  readonly ipxeHasHttp: boolean;
  /**
   * Option 97 as the SMBIOS UUID in standard text (as dmidecode, the BMC and iPXE's ${uuid} print it);
   * null when absent or all zeros/ones (firmware without a GUID).
   */
  readonly uuid: string | null;
  readonly vendorClass: string | null;
  /** User class entries joined with ",". */
  readonly userClass: string | null;
  /** Option 12 as the client sent it. */
  readonly hostnameHint: string | null;
}

const VENDOR_ARCH = /^(?:PXEClient|HTTPClient):Arch:(\d{5})/;

/** Classifies a request from options 60, 77, 93, 97 and 175. */
export function clientInfo(packet: DhcpPacket): ClientInfo {
  const vendor = vendorClass(packet);
  const classes = userClasses(packet);
  const ipxe = ipxeOptions(packet);
  const arch = clientArchitectures(packet)?.[0] ?? archFromVendorClass(vendor);
  const info = architectureInfo(arch);
  return {
    mac: packet.mac,
    arch,
    archName: info.name,
    firmware: info.firmware,
    isPxeClient: vendor?.startsWith('PXEClient') ?? false,
    isHttpClient: vendor?.startsWith('HTTPClient') ?? false,
    isIpxe: classes.includes('iPXE') || packet.options.has(DhcpOption.IpxeEncapsulated),
    ipxeHasHttp: ipxeHasFeature(ipxe, IpxeSubOption.FeatureHttp),
    uuid: smbiosUuid(clientMachineId(packet)),
    vendorClass: vendor,
    userClass: classes.length > 0 ? classes.join(',') : null,
    hostnameHint: hostName(packet),
  };
}

function archFromVendorClass(vendor: string | null): number | null {
  const digits = vendor === null ? undefined : VENDOR_ARCH.exec(vendor)?.[1];
  return digits === undefined ? null : Number(digits);
}

/**
 * Option 97 carries the GUID as EFI lays it out in memory: the first three fields little-endian
 * (RFC 4578 §2.3 defers to the EFI/PXE layout; iPXE sends its UUID through uuid_mangle). Swapping
 * them back gives the standard text, the one iPXE's ${uuid} sends to /ipxe?uuid=.
 */
function smbiosUuid(wire: string | null): string | null {
  const bytes = wire === null ? null : uuidBytes(wire);
  if (bytes === null || isPlaceholderUuid(bytes)) return null;
  return formatUuid(swapUuidFields(bytes));
}
