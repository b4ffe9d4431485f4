/**
 * An in-memory IPMI BMC for workflow tests: scripted answers, recorded calls. The connector hands
 * it out through the IPMI mapping to the port (bmc/ipmi/session.ts), as production does.
 */
import { IpmiCommandError } from '../../../server/bmc/ipmi/errors.js';
import type { IpmiBootRequest, IpmiOperations, IpmiSessionInfo } from '../../../server/bmc/ipmi/operations.js';
import { ipmiBmcSession } from '../../../server/bmc/ipmi/session.js';
import type { BmcConnector, HostMac, LanAddress, PowerState } from '../../../server/bmc/port.js';
import { BOOT_DEVICE_SELECTOR, type BootDevice, type ReadBootFlags } from '../../../server/protocol/ipmi/boot-options.js';
import type { ChassisAction, DeviceId } from '../../../server/protocol/ipmi/commands.js';
import type { Fru } from '../../../server/protocol/ipmi/fru.js';

export interface FakeBmcOptions {
  power?: PowerState;
  guid?: Uint8Array;
  lan?: LanAddress & { channel: number };
  fru?: Fru | null | Error;
  dellMacs?: HostMac[] | Error;
  deviceId?: Partial<DeviceId>;
  /** Reads back the flags byte as 0 (ipmi_sim does). */
  forgetsBootFlags?: boolean;
  /** Ignores boot device writes and keeps reporting this device. */
  stuckBootDevice?: BootDevice;
  /** Polls of powerState before a requested change shows. */
  powerDelayPolls?: number;
  /** The OS ignores ACPI soft-off. */
  ignoresSoftOff?: boolean;
  /** Chassis control does nothing at all. */
  deadPowerControl?: boolean;
  /** Throw this from the named method. */
  failOn?: Partial<Record<'deviceId' | 'systemGuid' | 'lanAddress' | 'powerState' | 'chassisControl', Error>>;
}

export class FakeBmc implements IpmiOperations {
  readonly calls: string[] = [];
  closed = 0;
  power: PowerState;
  boot: { device: BootDevice; persistent: boolean; efi: boolean; valid: boolean } = { device: 'none', persistent: false, efi: false, valid: false };
  readonly session: IpmiSessionInfo = { protocol: 'rmcp+', cipherSuite: 17, privilege: 4, notes: [] };
  #pendingPower: { state: PowerState; polls: number } | null = null;

  constructor(
    readonly address: string,
    readonly options: FakeBmcOptions = {},
  ) {
    this.power = options.power ?? 'off';
  }

  #maybeFail(method: keyof NonNullable<FakeBmcOptions['failOn']>): void {
    const error = this.options.failOn?.[method];
    if (error) throw error;
  }

  async deviceId(): Promise<DeviceId> {
    this.calls.push('deviceId');
    this.#maybeFail('deviceId');
    return {
      deviceId: 0x20,
      deviceRevision: 1,
      deviceAvailable: true,
      providesDeviceSdrs: false,
      firmwareRevision: '1.00',
      ipmiVersion: '2.0',
      additionalDeviceSupport: 0xbf,
      manufacturerId: 674,
      productId: 0x100,
      ...this.options.deviceId,
    };
  }

  async systemGuid(): Promise<Uint8Array> {
    this.calls.push('systemGuid');
    this.#maybeFail('systemGuid');
    return this.options.guid ?? Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  }

  async lanAddress(): Promise<LanAddress & { channel: number }> {
    this.calls.push('lanAddress');
    this.#maybeFail('lanAddress');
    return this.options.lan ?? { channel: 1, ip: this.address, mac: '52:54:00:aa:00:01' };
  }

  async readFru(): Promise<Fru | null> {
    this.calls.push('readFru');
    const fru = this.options.fru;
    if (fru instanceof Error) throw fru;
    return fru ?? null;
  }

  async dellHostMacs(): Promise<HostMac[]> {
    this.calls.push('dellHostMacs');
    const macs = this.options.dellMacs;
    if (macs instanceof Error) throw macs;
    if (!macs) throw new IpmiCommandError(`BMC ${this.address}: Get System Info Parameters failed with completion code 0xc1`, this.address, 0xc1, 0x06, 0x59);
    return macs;
  }

  async powerState(): Promise<PowerState> {
    this.calls.push('powerState');
    this.#maybeFail('powerState');
    if (this.#pendingPower) {
      if (this.#pendingPower.polls <= 0) {
        this.power = this.#pendingPower.state;
        this.#pendingPower = null;
      } else this.#pendingPower.polls -= 1;
    }
    return this.power;
  }

  async chassisControl(action: ChassisAction): Promise<void> {
    this.calls.push(`chassisControl:${action}`);
    this.#maybeFail('chassisControl');
    if (this.options.deadPowerControl) return;
    const next: PowerState | null = action === 'on' || action === 'cycle' || action === 'reset' ? 'on' : action === 'off' ? 'off' : action === 'soft' && !this.options.ignoresSoftOff ? 'off' : null;
    if (next === null) return;
    const polls = this.options.powerDelayPolls ?? 0;
    if (polls === 0) this.power = next;
    else this.#pendingPower = { state: next, polls };
  }

  async setBootDevice(request: IpmiBootRequest): Promise<void> {
    this.calls.push(`setBootDevice:${request.device}${request.efi ? ',efi' : ''}${request.persistent ? ',persistent' : ''}`);
    this.boot = { ...request, valid: true };
  }

  async getBootDevice(): Promise<ReadBootFlags> {
    this.calls.push('getBootDevice');
    const device = this.options.stuckBootDevice ?? this.boot.device;
    const forget = this.options.forgetsBootFlags === true;
    const flags = { valid: forget ? false : this.boot.valid, persistent: forget ? false : this.boot.persistent, efi: forget ? false : this.boot.efi };
    const selector = BOOT_DEVICE_SELECTOR[device];
    return { device, selector, ...flags, parameterLocked: false, raw: Buffer.from([0, selector, 0, 0, 0]) };
  }

  async close(): Promise<void> {
    this.calls.push('close');
    this.closed += 1;
  }
}

/** A connector over fake BMCs by address; an Error entry is thrown by connect (e.g. IpmiAuthError). */
export function fakeConnector(bmcs: Record<string, FakeBmc | Error>): { connect: BmcConnector; stats: { opened: string[]; inFlight: number; maxInFlight: number } } {
  const stats = { opened: [] as string[], inFlight: 0, maxInFlight: 0 };
  const connect: BmcConnector = async (target) => {
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 2));
    const entry = bmcs[target.address];
    if (!entry || entry instanceof Error) {
      stats.inFlight -= 1;
      throw entry ?? new Error(`no fake BMC at ${target.address}`);
    }
    stats.opened.push(target.address);
    const close = entry.close.bind(entry);
    entry.close = async () => {
      stats.inFlight -= 1;
      entry.close = close;
      await close();
    };
    return ipmiBmcSession(entry);
  };
  return { connect, stats };
}
