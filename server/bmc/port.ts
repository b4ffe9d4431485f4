/**
 * The protocol-neutral BMC port the workflows (discover, power, ip-plan) use. IPMI over LAN
 * (server/bmc/ipmi/) and Redfish (server/bmc/redfish/: ComputerSystem UUID and EthernetInterfaces,
 * Boot.BootSourceOverrideTarget, ComputerSystem.Reset) implement it.
 * A `BmcSession` is one open session: callers close it on every path. Pure: no I/O here.
 */

export type PowerState = 'on' | 'off';

/**
 * What a power request asks for: `soft` asks the OS to shut down (ACPI soft-off, Redfish
 * GracefulShutdown), `cycle` is off then on, `reset` a warm reset.
 */
export type PowerRequest = 'on' | 'off' | 'soft' | 'cycle' | 'reset';

/** Where the next boot goes, as a one-time (or persistent) boot override names it. */
export type BootDevice = 'none' | 'pxe' | 'disk' | 'cdrom' | 'floppy' | 'bios-setup' | 'diag' | 'other';

export interface BootDeviceRequest {
  readonly device: BootDevice;
  /** All future boots instead of the next one (many BMCs ignore it: prefer next-boot). */
  readonly persistent: boolean;
  /** UEFI instead of legacy BIOS boot; must match the machine's firmware mode. */
  readonly efi: boolean;
}

/** The boot override as the BMC reports it after a write. */
export interface BootDeviceReadBack {
  readonly device: BootDevice;
  /**
   * False when the BMC does not report persistence and boot mode (IPMI: the valid bit is clear):
   * then only the device can be compared.
   */
  readonly valid: boolean;
  readonly persistent: boolean;
  readonly efi: boolean;
  /** The answer as the BMC gave it, for the record (IPMI: the boot flags in hex). */
  readonly raw: string;
  /** Protocol detail worth showing next to the device in messages, e.g. "selector 0x8". */
  readonly detail?: string;
}

/** The BMC's own network interface (not a host NIC). */
export interface LanAddress {
  /** The BMC's channel or interface number, where the protocol has one (IPMI LAN channel). */
  readonly channel: number | null;
  readonly ip: string | null;
  readonly mac: string | null;
}

/** Where a host NIC's MAC came from: a FRU custom field, Dell's OEM LOM table, or a Redfish EthernetInterface. */
export type HostMacSource = 'fru' | 'dell-oem' | 'redfish';

export interface HostMac {
  readonly mac: string;
  readonly source: HostMacSource;
  /** e.g. "MAC0" (FRU label), "NIC1" (Dell NIC number) or the Redfish EthernetInterface Id. */
  readonly label: string;
}

/** The BMC itself: who made it and what it runs. */
export interface BmcProduct {
  /** IANA enterprise number of the manufacturer, when the BMC gives one. */
  readonly manufacturerId: number | null;
  readonly productId: number | null;
  readonly firmwareRevision: string | null;
  /** Version of the management protocol, e.g. "2.0" for IPMI 2.0. */
  readonly protocolVersion: string | null;
  /** Everything else the protocol reported about the device, as it reported it. */
  readonly detail?: Readonly<Record<string, unknown>>;
}

/** What a BMC knows about itself and its host. Parts it cannot read are null or empty, with a warning. */
export interface BmcIdentity {
  readonly product: BmcProduct;
  /** The host's system GUID/UUID: 16 bytes as the BMC sent them (byte order varies: see core/uuid-match.ts). */
  readonly systemGuid: Uint8Array | null;
  /** The host's serial number, where the BMC knows it. */
  readonly serialNumber: string | null;
  readonly lan: LanAddress | null;
  readonly hostMacs: readonly HostMac[];
  readonly warnings: readonly string[];
}

/**
 * How the session was set up, for the inventory and for diagnosing vendor quirks. Implementations
 * may add their own fields (IPMI: cipher suite, privilege); they show in JSON output.
 */
export interface SessionInfo {
  /** e.g. "rmcp+" or "ipmi-1.5". */
  readonly protocol: string;
  /** One line for the inventory, e.g. "rmcp+ suite 17". */
  readonly summary: string;
  /** How the session came about when not by the first choice, e.g. "cipher suite 17 refused". */
  readonly notes: readonly string[];
}

/** What the power workflows need from a session. */
export interface PowerControl {
  readonly address: string;
  powerState(): Promise<PowerState>;
  power(request: PowerRequest): Promise<void>;
  /** Sets the boot override for the next boot (or all, with `persistent`). */
  setBootDevice(request: BootDeviceRequest): Promise<void>;
  getBootDevice(): Promise<BootDeviceReadBack>;
  close(): Promise<void>;
}

export interface BmcSession extends PowerControl {
  readonly session: SessionInfo;
  identify(): Promise<BmcIdentity>;
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
export type BmcConnector = (target: BmcTarget, credentials: BmcCredentials) => Promise<BmcSession>;

export type BmcErrorKind = 'auth' | 'timeout' | 'command' | 'protocol' | 'unsupported';

/** Protocol detail of an error (IPMI: the completion code), kept out of the message's structure. */
export type BmcErrorDetail = Readonly<Record<string, string | number | boolean>>;

export abstract class BmcError extends Error {
  abstract readonly kind: BmcErrorKind;
  readonly detail?: BmcErrorDetail;
  constructor(
    message: string,
    readonly address: string,
    options?: { cause?: unknown; detail?: BmcErrorDetail },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    if (options?.detail) this.detail = options.detail;
  }
}

/** Wrong user name or password, or a refused privilege. */
export class BmcAuthError extends BmcError {
  readonly kind = 'auth';
  override readonly name: string = 'BmcAuthError';
}

/** No answer after the bounded retries: the BMC is down, unreachable or not a BMC. */
export class BmcTimeoutError extends BmcError {
  readonly kind = 'timeout';
  override readonly name: string = 'BmcTimeoutError';
}

/** The BMC answered that a request failed (IPMI: a non-zero completion code). */
export class BmcCommandError extends BmcError {
  readonly kind = 'command';
  override readonly name: string = 'BmcCommandError';
}

/** Malformed or inconsistent answers (bad checksum, failed integrity check, wrong session). */
export class BmcProtocolError extends BmcError {
  readonly kind = 'protocol';
  override readonly name: string = 'BmcProtocolError';
}

/** The BMC offers nothing rackboot is willing to use (e.g. no authenticated session). */
export class BmcUnsupportedError extends BmcError {
  readonly kind = 'unsupported';
  override readonly name: string = 'BmcUnsupportedError';
}

export function isBmcError(value: unknown): value is BmcError {
  return value instanceof BmcError;
}

export interface DescribedBmcError {
  readonly kind: BmcErrorKind | 'error';
  readonly message: string;
  readonly detail?: BmcErrorDetail;
}

/** A short, stable description for tables and the inventory's last_error. */
export function describeBmcError(error: unknown): DescribedBmcError {
  if (error instanceof BmcError) return error.detail ? { kind: error.kind, message: error.message, detail: error.detail } : { kind: error.kind, message: error.message };
  return { kind: 'error', message: error instanceof Error ? error.message : String(error) };
}
