/**
 * The BMC registry (bmc/registry.ts) over SQLite: the bmcs table (migration 3) and the few machine
 * columns the BMC workflows change: reserved IP and BMC link. Synchronous like the rest of the
 * store, so `ip-plan --apply` reads, decides and writes in one transaction.
 */
import type { HostMac } from '../bmc/port.js';
import { protocolOfSession } from '../bmc/ranges.js';
import type { BmcFailure, BmcObservation, BmcRecord, BmcRegistry } from '../bmc/registry.js';
import type { PlanBmc, PlanMachine, PlanReservation } from '../core/ip-policy.js';
import { formatUuid, uuidBytes, uuidReadings } from '../core/uuid-match.js';
import type { Db } from './db.js';

interface BmcRow {
  id: number;
  address: string;
  port: number;
  username: string | null;
  guid: string | null;
  bmc_mac: string | null;
  bmc_ip: string | null;
  lan_channel: number | null;
  manufacturer_id: number | null;
  product_id: number | null;
  firmware: string | null;
  ipmi_version: string | null;
  session: string | null;
  host_macs: string;
  machine_id: number | null;
  first_seen: number;
  last_seen: number | null;
  last_attempt: number;
  last_error: string | null;
  last_error_kind: string | null;
}

export class BmcStore implements BmcRegistry {
  readonly #db: Db;
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: Db) {
    this.#db = db;
    this.#s = prepare(db);
  }

  transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  byAddress(address: string): BmcRecord | null {
    return toRecord(this.#s.byAddress.get(address) as BmcRow | undefined);
  }

  byMachine(machineId: number): BmcRecord | null {
    return toRecord(this.#s.byMachine.get(machineId) as BmcRow | undefined);
  }

  list(): BmcRecord[] {
    return (this.#s.list.all() as BmcRow[]).map((row) => toRecord(row) as BmcRecord);
  }

  /** Inserts or refreshes a BMC after a successful discovery; clears its last error. */
  recordObservation(o: BmcObservation, now: number): BmcRecord {
    this.#s.upsert.run({
      address: o.address,
      port: o.port,
      username: o.username,
      guid: o.guid,
      bmc_mac: o.bmcMac,
      bmc_ip: o.bmcIp,
      lan_channel: o.lanChannel,
      manufacturer_id: o.manufacturerId,
      product_id: o.productId,
      firmware: o.firmware,
      ipmi_version: o.ipmiVersion,
      session: o.session,
      host_macs: JSON.stringify(o.hostMacs),
      now,
    });
    return this.byAddress(o.address) as BmcRecord;
  }

  /**
   * Notes a failed contact. A BMC that answered (auth or command errors) is recorded even when
   * new; silence (timeouts) only updates BMCs already known, so a scan of a /16 leaves no rows for
   * empty addresses.
   */
  recordFailure(f: BmcFailure, now: number): void {
    if (this.byAddress(f.address)) {
      this.#s.failExisting.run(now, f.message, f.kind, f.address);
    } else if (f.kind !== 'timeout') {
      this.#s.failNew.run({ address: f.address, port: f.port, username: f.username, now, error: f.message, kind: f.kind });
    }
  }

  linkMachine(address: string, machineId: number | null): void {
    this.#s.link.run(machineId, address);
    if (machineId !== null) this.#s.setMachineBmc.run(address, machineId);
  }

  /** Sets a machine's reserved IP (null frees it). */
  setMachineIp(machineId: number, ip: string | null): void {
    this.#s.setMachineIp.run(ip, machineId);
  }

  /** Every machine with the fields BMC matching and IP planning look at. */
  machines(): PlanMachine[] {
    return (this.#s.machines.all() as MachineRow[]).map(toPlanMachine);
  }

  /**
   * The machines a BMC could belong to, found by index: its address, any of its host MACs, or its
   * GUID in any byte order. Cheap enough to run once per discovered BMC.
   */
  candidateMachines(bmc: { address: string; hostMacs: readonly string[]; guid: string | null }): PlanMachine[] {
    const bytes = bmc.guid ? uuidBytes(bmc.guid) : null;
    const uuids = bytes ? uuidReadings(bytes).map(formatUuid) : [];
    const ids = new Set<number>();
    for (const row of this.#s.machineIdsByBmc.all(bmc.address) as Array<{ id: number }>) ids.add(row.id);
    for (const mac of bmc.hostMacs) for (const row of this.#s.machineIdsByMac.all(mac) as Array<{ id: number }>) ids.add(row.id);
    for (const uuid of uuids) for (const row of this.#s.machineIdsByUuid.all(uuid) as Array<{ id: number }>) ids.add(row.id);
    return [...ids].map((id) => toPlanMachine(this.#s.machineById.get(id) as MachineRow));
  }

  /** The inputs of core/ip-policy.ts planIps, read in the caller's transaction. */
  planInputs(now: number): { bmcs: PlanBmc[]; machines: PlanMachine[]; reservations: PlanReservation[] } {
    const bmcs = this.list()
      .filter((b) => b.lastSeen !== null)
      .map((b) => ({ address: b.address, guid: b.guid, hostMacs: b.hostMacs.map((h) => h.mac), machineId: b.machineId }));
    const machines = this.machines();
    const reservations = (this.#s.activeLeases.all(now) as Array<{ ip: string; mac: string; machine_id: number | null }>).map((l) => ({
      ip: l.ip,
      mac: l.mac,
      machineId: l.machine_id,
    }));
    return { bmcs, machines, reservations };
  }
}

const MACHINE_SELECT = `
  SELECT m.id, m.name, m.ip, m.uuid, m.bmc_address,
         (SELECT group_concat(mac, ',') FROM (SELECT mac FROM interfaces i WHERE i.machine_id = m.id ORDER BY position)) AS macs
  FROM machines m`;

interface MachineRow {
  id: number;
  name: string;
  ip: string | null;
  uuid: string | null;
  bmc_address: string | null;
  macs: string | null;
}

function toPlanMachine(m: MachineRow): PlanMachine {
  return { id: m.id, name: m.name, ip: m.ip, uuid: m.uuid, bmcAddress: m.bmc_address, macs: m.macs ? m.macs.split(',') : [] };
}

function prepare(db: Db) {
  return {
    byAddress: db.prepare('SELECT * FROM bmcs WHERE address = ?'),
    byMachine: db.prepare('SELECT * FROM bmcs WHERE machine_id = ? ORDER BY id LIMIT 1'),
    list: db.prepare('SELECT * FROM bmcs ORDER BY id'),
    upsert: db.prepare(
      `INSERT INTO bmcs (address, port, username, guid, bmc_mac, bmc_ip, lan_channel, manufacturer_id, product_id, firmware,
                         ipmi_version, session, host_macs, first_seen, last_seen, last_attempt)
       VALUES (@address, @port, @username, @guid, @bmc_mac, @bmc_ip, @lan_channel, @manufacturer_id, @product_id, @firmware,
               @ipmi_version, @session, @host_macs, @now, @now, @now)
       ON CONFLICT(address) DO UPDATE SET port = excluded.port, username = excluded.username, guid = excluded.guid,
         bmc_mac = excluded.bmc_mac, bmc_ip = excluded.bmc_ip, lan_channel = excluded.lan_channel,
         manufacturer_id = excluded.manufacturer_id, product_id = excluded.product_id, firmware = excluded.firmware,
         ipmi_version = excluded.ipmi_version, session = excluded.session, host_macs = excluded.host_macs,
         last_seen = excluded.last_seen, last_attempt = excluded.last_attempt, last_error = NULL, last_error_kind = NULL`,
    ),
    failExisting: db.prepare('UPDATE bmcs SET last_attempt = ?, last_error = ?, last_error_kind = ? WHERE address = ?'),
    failNew: db.prepare(
      `INSERT INTO bmcs (address, port, username, first_seen, last_attempt, last_error, last_error_kind)
       VALUES (@address, @port, @username, @now, @now, @error, @kind)`,
    ),
    link: db.prepare('UPDATE bmcs SET machine_id = ? WHERE address = ?'),
    setMachineBmc: db.prepare('UPDATE machines SET bmc_address = ? WHERE id = ?'),
    setMachineIp: db.prepare('UPDATE machines SET ip = ? WHERE id = ?'),
    machines: db.prepare(`${MACHINE_SELECT} ORDER BY m.id`),
    machineById: db.prepare(`${MACHINE_SELECT} WHERE m.id = ?`),
    machineIdsByBmc: db.prepare('SELECT id FROM machines WHERE bmc_address = ?'),
    machineIdsByMac: db.prepare('SELECT machine_id AS id FROM interfaces WHERE mac = ?'),
    machineIdsByUuid: db.prepare('SELECT id FROM machines WHERE uuid = ?'),
    activeLeases: db.prepare('SELECT ip, mac, machine_id FROM leases WHERE expires_at > ?'),
  };
}

function toRecord(row: BmcRow | undefined): BmcRecord | null {
  if (!row) return null;
  return {
    id: row.id,
    protocol: protocolOfSession(row.session),
    address: row.address,
    port: row.port,
    username: row.username,
    guid: row.guid,
    bmcMac: row.bmc_mac,
    bmcIp: row.bmc_ip,
    lanChannel: row.lan_channel,
    manufacturerId: row.manufacturer_id,
    productId: row.product_id,
    firmware: row.firmware,
    ipmiVersion: row.ipmi_version,
    session: row.session,
    hostMacs: parseHostMacs(row.host_macs),
    machineId: row.machine_id,
    firstSeen: row.first_seen,
    lastSeen: row.last_seen,
    lastAttempt: row.last_attempt,
    lastError: row.last_error,
    lastErrorKind: row.last_error_kind,
  };
}

function parseHostMacs(text: string): HostMac[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? (value as HostMac[]) : [];
  } catch {
    return [];
  }
}
