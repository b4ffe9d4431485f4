/**
 * The narrow ports the core depends on. The SQLite store implements them; core tests use the fakes
 * in test/fakes.
 */
import type { Machine, MachineEvent, MachineState, MacAddress, NewEvent } from './types.js';

export interface NewMachine {
  readonly name: string;
  readonly macs: readonly MacAddress[];
  readonly ip: string | null;
  readonly role: string | null;
  readonly bootMode?: 'memory' | 'install';
  readonly uuid?: string | null;
  readonly bmcAddress?: string | null;
  readonly labels?: Readonly<Record<string, string>>;
}

/** Every operator-decided field of a machine, as edit and import write it. */
export interface MachineFields {
  readonly name: string;
  readonly ip: string | null;
  readonly role: string | null;
  readonly bootMode: 'memory' | 'install';
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
  readonly labels: Readonly<Record<string, string>>;
}

/** One operator write: who (CLI: the OS user; API: the token's name), what, on what, before and after. */
export interface NewAuditEntry {
  readonly actor: string;
  readonly action: string;
  readonly target: string | null;
  readonly before?: Readonly<Record<string, unknown>> | null;
  readonly after?: Readonly<Record<string, unknown>> | null;
  readonly message: string;
}

export interface AuditEntry extends NewAuditEntry {
  readonly id: number;
  readonly at: number;
}

/** Newest first; `beforeId` is the last id of the previous page. */
export interface AuditQuery {
  readonly beforeId?: number;
  readonly limit: number;
}

export interface Lease {
  readonly mac: MacAddress;
  readonly ip: string;
  readonly machineId: number | null;
  readonly expiresAt: number;
  readonly updatedAt: number;
}

export interface DiscoveredClient {
  readonly mac: MacAddress;
  readonly firstSeen: number;
  readonly lastSeen: number;
  readonly sightings: number;
  readonly facts: Readonly<Record<string, unknown>>;
}

/** A page of discovered clients, newest sighting first; `after` is the previous page's `next`. */
export interface DiscoveredQuery {
  readonly after?: { readonly lastSeen: number; readonly mac: MacAddress };
  readonly limit: number;
  /** Only clients seen at or after this time (ms). */
  readonly seenSince?: number;
}

/** A page of machines by name; `afterName` is the last name of the previous page. */
export interface MachinePageQuery {
  readonly afterName?: string;
  readonly limit: number;
  readonly state?: string;
  /** A role, or null: only machines without one. */
  readonly role?: string | null;
}

export interface EventQuery {
  readonly machineId?: number;
  readonly afterId?: number;
  readonly limit?: number;
  /** The newest `limit` events (after `afterId`) instead of the oldest; still returned oldest first. */
  readonly newest?: boolean;
  /** Only events of this type. */
  readonly type?: string;
}

/** What the operator surfaces read (the Provisioner implements it; they never see the store). */
export interface InventoryReader {
  listMachines(): Machine[];
  machineById(id: number): Machine | null;
  listEvents(query: EventQuery): MachineEvent[];
}

/** Bounded reads for the API's list routes (issue 15: no unbounded list on an open route). */
export interface PagedInventoryReader {
  listMachinesPage(query: MachinePageQuery): Machine[];
  listDiscoveredPage(query: DiscoveredQuery): DiscoveredClient[];
}

export interface InventoryStore {
  /** Runs `work` atomically: reads, the decision and writes see one consistent inventory. */
  transaction<T>(work: () => T): T;

  machineByMac(mac: MacAddress): Machine | null;
  machineByUuid(uuid: string): Machine | null;
  machineByIp(ip: string): Machine | null;
  machineByName(name: string): Machine | null;
  machineById(id: number): Machine | null;
  machineByBootToken(token: string): Machine | null;
  listMachines(): Machine[];
  /** Machines whose role is one of `roles` (a cluster's members and gateways), by name. */
  listMachinesWithRoles(roles: readonly string[]): Machine[];
  addMachine(machine: NewMachine, now: number): Machine;
  setState(machineId: number, state: MachineState, now: number): void;
  setBootToken(machineId: number, token: string | null): void;
  machineByConfigToken(token: string): Machine | null;
  setConfigToken(machineId: number, token: string | null): void;
  setRole(machineId: number, role: string | null, bootMode: 'memory' | 'install'): void;
  /** The machine's own config format; null: its role's or the default (core/config-format.ts). */
  setConfigFormat(machineId: number, format: 'cloud-config' | 'ignition' | null): void;
  setIpxeChainedAt(machineId: number, at: number | null): void;
  /** The reserved address; null frees it (ip-plan frees every moving address before taking new ones). */
  setIp(machineId: number, ip: string | null): void;
  /** Writes every operator-decided field (the caller checked uniqueness: a clash still throws). */
  updateMachine(machineId: number, fields: MachineFields): void;
  /** Replaces the machine's MACs, in order. */
  setMacs(machineId: number, macs: readonly MacAddress[]): void;
  /** Deletes the machine, its interfaces and leases; its events stay (without the machine). */
  deleteMachine(machineId: number): void;
  /** Forgets the machine's leases (its MACs changed or it was replaced). */
  deleteMachineLeases(machineId: number): void;
  /** Unlinks BMC registry records from the machine (a replaced board has another BMC). */
  unlinkBmcs(machineId: number): void;
  appendAudit(entry: NewAuditEntry, now: number): AuditEntry;
  listAudit(query: AuditQuery): AuditEntry[];

  leaseByMac(mac: MacAddress): Lease | null;
  leaseByIp(ip: string): Lease | null;
  /**
   * Upserts by MAC. Another MAC's lease on the same address is dropped when it has expired or when
   * `lease` is a machine's (its reservation wins over a pool lease); otherwise this throws.
   */
  putLease(lease: Lease): void;
  deleteLease(mac: MacAddress): void;
  /** Addresses the DHCP pool may not give `mac`: others' active leases, reservations, declined addresses. */
  unavailableAddresses(mac: MacAddress, now: number): Set<string>;
  /** A client DECLINEd `ip`: keep it out of the pool until `until`; any other address `mac` held is freed (one hold per MAC). */
  declineAddress(ip: string, mac: MacAddress | null, until: number, now: number): void;
  /** Addresses DECLINEs hold at `now`, with the MAC that declined each. */
  activeDeclines(now: number): Array<{ ip: string; mac: MacAddress | null }>;

  appendEvent(event: NewEvent, now: number): MachineEvent;
  listEvents(query: EventQuery): MachineEvent[];

  /** Records a sighting; returns true the first time this MAC is seen (or after a long silence). */
  noteDiscovered(mac: MacAddress, facts: Readonly<Record<string, unknown>>, now: number): boolean;
  listDiscovered(): DiscoveredClient[];
  listDiscoveredPage(query: DiscoveredQuery): DiscoveredClient[];
  listMachinesPage(query: MachinePageQuery): Machine[];
}
