/** Shared vocabulary of the pure core. Adapters translate to and from these shapes. */

/** Lower-case, colon-separated, e.g. "52:54:00:99:00:01". */
export type MacAddress = string;

/** Lifecycle states in the order a healthy provisioning walks them (see docs/architecture.md). */
export const MACHINE_STATES = [
  'discovered',
  'registered',
  'powering-on',
  'dhcp',
  'firmware-loaded',
  'ipxe',
  'booting',
  'configured',
  'booted',
  'installing',
  'installed',
  'ready',
  'failed',
  'stuck',
] as const;
export type MachineState = (typeof MACHINE_STATES)[number];

export interface Machine {
  readonly id: number;
  readonly name: string;
  /** SMBIOS system UUID / BMC GUID, lower-case canonical form, when known. */
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
  /** The reserved static IPv4 address. */
  readonly ip: string | null;
  readonly role: string | null;
  /** The machine's own config format (core/config-format.ts); null or absent: its role's or the default. */
  readonly configFormat?: 'cloud-config' | 'ignition' | null;
  /** How the role boots: 'memory' (the OS runs in RAM) or 'install' (to disk, then from disk). */
  readonly bootMode: 'memory' | 'install';
  readonly state: MachineState;
  readonly stateChangedAt: number;
  readonly macs: readonly MacAddress[];
  /** Token that binds this boot's URLs (script, cloud-config, callbacks) to the machine. */
  readonly bootToken: string | null;
  /** One-time token for this boot's cloud-config; cleared when the config is served. */
  readonly configToken: string | null;
  /** When rackboot last handed this machine's iPXE an iPXE binary to chain (loop-break state). */
  readonly ipxeChainedAt: number | null;
  readonly createdAt: number;
  /** Operator labels (`rack: r12`): what label selectors of bulk actions match; the store always fills it. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface NewEvent {
  readonly machineId: number | null;
  readonly mac: MacAddress | null;
  readonly type: string;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export interface MachineEvent extends NewEvent {
  readonly id: number;
  readonly at: number;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}
