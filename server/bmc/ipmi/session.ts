/**
 * IPMI behind the port: maps the IPMI commands of one session (operations.ts) to a BmcSession.
 * Identity comes from Get Device ID, Get System GUID, the LAN configuration and the host MACs (FRU
 * custom fields first, then Dell's OEM query); the boot override is boot parameter 5.
 */
import type { BootDevice as IpmiBootDevice, ReadBootFlags } from '../../protocol/ipmi/boot-options.js';
import type { Fru } from '../../protocol/ipmi/fru.js';
import { fruHostMacs } from '../../protocol/ipmi/fru.js';
import type { BmcIdentity, BmcSession, BootDevice, BootDeviceReadBack, BootDeviceRequest, HostMac, PowerRequest, SessionInfo } from '../port.js';
import { IpmiCommandError, IpmiProtocolError, IpmiUnsupportedError } from './errors.js';
import type { IpmiOperations, IpmiSessionInfo } from './operations.js';

const FROM_IPMI: Readonly<Record<IpmiBootDevice, BootDevice>> = {
  none: 'none',
  pxe: 'pxe',
  disk: 'disk',
  'disk-safe': 'disk',
  diag: 'diag',
  cdrom: 'cdrom',
  'bios-setup': 'bios-setup',
  'remote-floppy': 'floppy',
  'remote-cdrom': 'cdrom',
  'remote-media': 'other',
  'remote-disk': 'disk',
  floppy: 'floppy',
};

const TO_IPMI: Readonly<Record<Exclude<BootDevice, 'other'>, IpmiBootDevice>> = {
  none: 'none',
  pxe: 'pxe',
  disk: 'disk',
  cdrom: 'cdrom',
  floppy: 'floppy',
  'bios-setup': 'bios-setup',
  diag: 'diag',
};

/** How the session was made, as stored in bmcs.session: "rmcp+ suite 17", "ipmi-1.5 md5". */
export function describeIpmiSession(session: IpmiSessionInfo): string {
  return session.protocol === 'rmcp+' ? `rmcp+ suite ${session.cipherSuite}` : 'ipmi-1.5 md5';
}

export function ipmiSessionInfo(session: IpmiSessionInfo): SessionInfo & IpmiSessionInfo {
  return { ...session, summary: describeIpmiSession(session) };
}

/** The port's view of IPMI boot flags; the selector goes into the detail. */
export function bootReadBack(flags: ReadBootFlags): BootDeviceReadBack {
  const device = FROM_IPMI[flags.device];
  const selector = `selector 0x${flags.selector.toString(16)}`;
  return {
    device,
    valid: flags.valid,
    persistent: flags.persistent,
    efi: flags.efi,
    raw: flags.raw.toString('hex'),
    detail: device === flags.device ? selector : `${selector}, ${flags.device}`,
  };
}

/** The host's serial number from the FRU: product, else chassis, else board. */
export function fruSerialNumber(fru: Fru | null): string | null {
  const serial = [fru?.product?.serialNumber, fru?.chassis?.serialNumber, fru?.board?.serialNumber].find((s) => s !== undefined && s.trim() !== '');
  return serial?.trim() ?? null;
}

/** FRU custom fields first; Dell's OEM parameter only when the FRU names no MAC. */
export async function collectHostMacs(ops: IpmiOperations, warnings: string[]): Promise<{ macs: HostMac[]; fru: Fru | null }> {
  let fru: Fru | null = null;
  try {
    fru = await ops.readFru();
    if (fru) {
      warnings.push(...fru.warnings.map((w) => `FRU: ${w}`));
      const macs = fruHostMacs(fru);
      if (macs.length > 0) return { macs: macs.map((m) => ({ mac: m.mac, source: 'fru', label: m.label })), fru };
    }
  } catch (error) {
    if (!(error instanceof IpmiCommandError || error instanceof IpmiProtocolError)) throw error;
    warnings.push(`FRU: ${error.message}`);
  }
  try {
    return { macs: await ops.dellHostMacs(), fru };
  } catch (error) {
    if (!(error instanceof IpmiCommandError || error instanceof IpmiProtocolError)) throw error;
    warnings.push(`no host MACs: no MAC fields in the FRU, and the Dell OEM query failed (${error.message})`);
    return { macs: [], fru };
  }
}

async function optional<T>(read: () => Promise<T>, warnings: string[], what: string): Promise<T | null> {
  try {
    return await read();
  } catch (error) {
    if (!(error instanceof IpmiCommandError)) throw error;
    warnings.push(`${what}: ${error.message}`);
    return null;
  }
}

export async function identifyIpmi(ops: IpmiOperations): Promise<BmcIdentity> {
  const warnings: string[] = [];
  const device = await ops.deviceId();
  const systemGuid = await optional(() => ops.systemGuid(), warnings, 'system GUID');
  const lan = await optional(() => ops.lanAddress(), warnings, 'LAN configuration');
  const { macs, fru } = await collectHostMacs(ops, warnings);
  return {
    product: {
      manufacturerId: device.manufacturerId,
      productId: device.productId,
      firmwareRevision: device.firmwareRevision,
      protocolVersion: device.ipmiVersion,
      detail: { ...device },
    },
    systemGuid,
    serialNumber: fruSerialNumber(fru),
    lan,
    hostMacs: macs,
    warnings,
  };
}

/** A BmcSession over one IPMI session; closing it closes the IPMI session. */
export function ipmiBmcSession(ops: IpmiOperations): BmcSession {
  return {
    address: ops.address,
    get session() {
      return ipmiSessionInfo(ops.session);
    },
    identify: () => identifyIpmi(ops),
    powerState: () => ops.powerState(),
    power: (request: PowerRequest) => ops.chassisControl(request),
    async setBootDevice(request: BootDeviceRequest) {
      if (request.device === 'other') throw new IpmiUnsupportedError(`BMC ${ops.address}: no IPMI boot device for "other"`, ops.address);
      await ops.setBootDevice({ device: TO_IPMI[request.device], persistent: request.persistent, efi: request.efi });
    },
    getBootDevice: async () => bootReadBack(await ops.getBootDevice()),
    close: () => ops.close(),
  };
}
