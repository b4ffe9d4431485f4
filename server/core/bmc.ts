/**
 * The BMC port the IPMI workflows (discover, power, ip-plan) use. The IPMI-over-LAN client in
 * server/net/ipmi-client.ts implements it; workflow tests use a fake. A `Bmc` is one open session:
 * callers close it on every path.
 */
import type { BootDevice, ReadBootFlags } from '../protocol/ipmi/boot-options.js';
import type { ChassisAction, DeviceId } from '../protocol/ipmi/commands.js';
import type { Fru } from '../protocol/ipmi/fru.js';

export type { BootDevice, ReadBootFlags, ChassisAction, DeviceId, Fru };

export type PowerState = 'on' | 'off';

export interface BootDeviceRequest {
  readonly device: BootDevice;
  /** All future boots instead of the next one (many BMCs ignore it: prefer next-boot). */
  readonly persistent: boolean;
  /** UEFI instead of legacy BIOS boot; must match the machine's firmware mode. */
  readonly efi: boolean;
}

export interface LanAddress {
  readonly channel: number;
  readonly ip: string | null;
  readonly mac: string | null;
}

export interface HostMac {
  readonly mac: string;
  /** Where it came from: a FRU custom field, or Dell's OEM Get System Info parameter 0xDA. */
  readonly source: 'fru' | 'dell-oem';
  /** e.g. "MAC0" (FRU label) or "NIC1" (Dell NIC number). */
  readonly label: string;
}

/** How the session was set up, for the inventory and for diagnosing vendor quirks. */
export interface SessionInfo {
  readonly protocol: 'rmcp+' | 'ipmi-1.5';
  /** 3 or 17 for RMCP+, null for IPMI 1.5. */
  readonly cipherSuite: number | null;
  readonly privilege: number;
  /** How the session came about when not by the first choice, e.g. "cipher suite 17 refused". */
  readonly notes: readonly string[];
}

export interface PowerControl {
  readonly address: string;
  powerState(): Promise<PowerState>;
  chassisControl(action: ChassisAction): Promise<void>;
  /** Writes boot parameter 5 (bracketed by set-in-progress where the BMC supports it). */
  setBootDevice(request: BootDeviceRequest): Promise<void>;
  getBootDevice(): Promise<ReadBootFlags>;
  close(): Promise<void>;
}

export interface Bmc extends PowerControl {
  readonly session: SessionInfo;
  deviceId(): Promise<DeviceId>;
  /** 16 bytes as the BMC sent them. */
  systemGuid(): Promise<Uint8Array>;
  /** The BMC's own LAN channel: its IP and MAC (not a host NIC). */
  lanAddress(): Promise<LanAddress>;
  /** FRU device 0, or null when the BMC has none. */
  readFru(): Promise<Fru | null>;
  /** Dell LOM MACs (OEM parameter 0xDA); throws IpmiCommandError where unsupported. */
  dellHostMacs(): Promise<HostMac[]>;
}

export interface BmcTarget {
  readonly address: string;
  readonly port: number;
}

export interface BmcCredentials {
  readonly username: string;
  readonly password: string;
}

/** Opens a session (one per BMC at a time). Rejects with one of the BmcError classes below. */
export type BmcConnector = (target: BmcTarget, credentials: BmcCredentials) => Promise<Bmc>;

export type BmcErrorKind = 'auth' | 'timeout' | 'command' | 'protocol' | 'unsupported';

export abstract class BmcError extends Error {
  abstract readonly kind: BmcErrorKind;
  constructor(
    message: string,
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Wrong user name or password (RAKP2 HMAC mismatch, "unauthorized name"), refused privilege. */
export class IpmiAuthError extends BmcError {
  readonly kind = 'auth';
  override readonly name = 'IpmiAuthError';
}

/** No answer after the bounded retries: the BMC is down, unreachable or not a BMC. */
export class IpmiTimeoutError extends BmcError {
  readonly kind = 'timeout';
  override readonly name = 'IpmiTimeoutError';
}

/** The BMC answered with a non-zero completion code. */
export class IpmiCommandError extends BmcError {
  readonly kind = 'command';
  override readonly name = 'IpmiCommandError';
  constructor(
    message: string,
    address: string,
    readonly completionCode: number,
    readonly netFn: number,
    readonly cmd: number,
  ) {
    super(message, address);
  }
}

/** Malformed or inconsistent answers (bad checksum, failed integrity check, wrong session). */
export class IpmiProtocolError extends BmcError {
  readonly kind = 'protocol';
  override readonly name = 'IpmiProtocolError';
}

/** The BMC offers nothing rackboot is willing to use (only cipher suite 0, or 1.5 without MD5). */
export class IpmiUnsupportedError extends BmcError {
  readonly kind = 'unsupported';
  override readonly name = 'IpmiUnsupportedError';
}

export function isBmcError(value: unknown): value is BmcError {
  return value instanceof BmcError;
}

/** A short, stable description for tables and the inventory's last_error. */
export function describeBmcError(error: unknown): { kind: BmcErrorKind | 'error'; message: string; completionCode?: number } {
  if (error instanceof IpmiCommandError) return { kind: error.kind, message: error.message, completionCode: error.completionCode };
  if (error instanceof BmcError) return { kind: error.kind, message: error.message };
  return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
}
