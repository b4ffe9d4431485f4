/**
 * The IPMI commands rackboot sends over one session: what the RMCP+ client (client.ts) offers and
 * what session.ts maps to the protocol-neutral port. Workflow tests fake this surface.
 */
import type { BootFlags, ReadBootFlags } from '../../protocol/ipmi/boot-options.js';
import type { ChassisAction, DeviceId } from '../../protocol/ipmi/commands.js';
import type { Fru } from '../../protocol/ipmi/fru.js';
import type { HostMac, LanAddress, PowerState } from '../port.js';

export interface IpmiSessionInfo {
  readonly protocol: 'rmcp+' | 'ipmi-1.5';
  /** 3 or 17 for RMCP+, null for IPMI 1.5. */
  readonly cipherSuite: number | null;
  readonly privilege: number;
  readonly notes: readonly string[];
}

export type IpmiBootRequest = Omit<BootFlags, 'valid'>;

export interface IpmiOperations {
  readonly address: string;
  readonly session: IpmiSessionInfo;
  deviceId(): Promise<DeviceId>;
  /** 16 bytes as the BMC sent them. */
  systemGuid(): Promise<Uint8Array>;
  /** The BMC's own LAN channel: its IP and MAC (not a host NIC). */
  lanAddress(): Promise<LanAddress & { readonly channel: number }>;
  /** FRU device 0, or null when the BMC has none. */
  readFru(): Promise<Fru | null>;
  /** Dell LOM MACs (OEM parameter 0xDA); throws IpmiCommandError where unsupported. */
  dellHostMacs(): Promise<HostMac[]>;
  powerState(): Promise<PowerState>;
  chassisControl(action: ChassisAction): Promise<void>;
  /** Writes boot parameter 5 (bracketed by set-in-progress where the BMC supports it). */
  setBootDevice(request: IpmiBootRequest): Promise<void>;
  getBootDevice(): Promise<ReadBootFlags>;
  close(): Promise<void>;
}
