/**
 * The BMC registry port: what the BMC workflows and the power driver read and write about BMCs
 * and the machine columns they own (reserved IP, BMC link). The SQLite store implements it
 * (server/store/bmc-store.ts); it is synchronous so `ip-plan --apply` reads, decides and writes in
 * one transaction.
 */
import type { PlanBmc, PlanMachine, PlanReservation } from '../core/ip-policy.js';
import type { HostMac } from './port.js';

/** What a successful discovery learned about one BMC. */
export interface BmcObservation {
  readonly address: string;
  readonly port: number;
  readonly username: string;
  /** Canonical text of the GUID bytes as the BMC sent them. */
  readonly guid: string | null;
  readonly bmcMac: string | null;
  readonly bmcIp: string | null;
  readonly lanChannel: number | null;
  readonly manufacturerId: number | null;
  readonly productId: number | null;
  readonly firmware: string | null;
  /** The management protocol's version (IPMI: "2.0"). */
  readonly ipmiVersion: string | null;
  /** e.g. "rmcp+ suite 17" or "ipmi-1.5 md5". */
  readonly session: string | null;
  readonly hostMacs: readonly HostMac[];
}

/** A BMC as stored: what discovery last learned (the user is unknown until one succeeds) and when. */
export interface BmcRecord extends Omit<BmcObservation, 'username'> {
  readonly id: number;
  /** The protocol of the last successful session (from its summary), null before one succeeded. */
  readonly protocol: 'redfish' | 'ipmi' | null;
  readonly username: string | null;
  readonly machineId: number | null;
  readonly firstSeen: number;
  /** Last successful contact. */
  readonly lastSeen: number | null;
  readonly lastAttempt: number;
  readonly lastError: string | null;
  readonly lastErrorKind: string | null;
}

export interface BmcFailure {
  readonly address: string;
  readonly port: number;
  readonly username: string;
  readonly kind: string;
  readonly message: string;
}

export interface BmcRegistry {
  transaction<T>(work: () => T): T;
  byAddress(address: string): BmcRecord | null;
  byMachine(machineId: number): BmcRecord | null;
  list(): BmcRecord[];
  /** Inserts or refreshes a BMC after a successful discovery; clears its last error. */
  recordObservation(observation: BmcObservation, now: number): BmcRecord;
  /**
   * Notes a failed contact. A BMC that answered (auth or command errors) is recorded even when
   * new; silence (timeouts) only updates BMCs already known.
   */
  recordFailure(failure: BmcFailure, now: number): void;
  /** Links a BMC to a machine (and sets the machine's BMC address), or unlinks it with null. */
  linkMachine(address: string, machineId: number | null): void;
  /** Sets a machine's reserved IP (null frees it). */
  setMachineIp(machineId: number, ip: string | null): void;
  /** The machines a BMC could belong to: by its address, any of its host MACs, or its GUID in any byte order. */
  candidateMachines(bmc: { address: string; hostMacs: readonly string[]; guid: string | null }): PlanMachine[];
  /** The inputs of core/ip-policy.ts planIps, read in the caller's transaction. */
  planInputs(now: number): { bmcs: PlanBmc[]; machines: PlanMachine[]; reservations: PlanReservation[] };
}
