/**
 * The InventoryStore port on better-sqlite3. Synchronous by design: a DHCP packet's read, decision
 * and write happen inside one transaction and no other packet can interleave.
 */
import type { AuditEntry, AuditQuery, DiscoveredClient, DiscoveredQuery, EventQuery, InventoryStore, Lease, MachineFields, MachinePageQuery, NewAuditEntry, NewMachine } from '../core/ports.js';
import type { Machine, MachineEvent, MachineState, MacAddress, NewEvent } from '../core/types.js';
import { RackbootError } from '../errors.js';
import type Database from 'better-sqlite3';
import type { Db } from './db.js';

interface MachineRow {
  id: number;
  name: string;
  uuid: string | null;
  bmc_address: string | null;
  ip: string | null;
  role: string | null;
  state: string;
  state_changed_at: number;
  boot_token: string | null;
  ipxe_chained_at: number | null;
  created_at: number;
  boot_mode: string;
  config_token: string | null;
  labels: string;
  config_format: string | null;
  macs: string | null;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  message: string;
}

interface EventRow {
  id: number;
  machine_id: number | null;
  mac: string | null;
  at: number;
  type: string;
  message: string;
  data: string | null;
}

const MACHINE_SELECT = `
  SELECT m.*, (SELECT group_concat(mac, ',') FROM (SELECT mac FROM interfaces i WHERE i.machine_id = m.id ORDER BY position)) AS macs
  FROM machines m`;

/** The optional type filter of the event queries. */
const EVENT_TYPE = 'AND (@type IS NULL OR type = @type)';

/** A MAC heard again after this long counts as newly discovered (a new event). */
const DISCOVERY_QUIET_MS = 60 * 60 * 1000;

export class SqliteStore implements InventoryStore {
  private readonly db: Db;
  private readonly statements: ReturnType<typeof prepare>;
  private readonly byRoleCount = new Map<number, Database.Statement>();

  constructor(db: Db) {
    this.db = db;
    this.statements = prepare(db);
  }

  /**
   * BEGIN IMMEDIATE: the write lock up front, waited for (busy_timeout) when another connection
   * holds it. A deferred transaction that reads and then writes gets SQLITE_BUSY at once, without
   * waiting, when another connection committed in between (WAL snapshot); with the DHCP worker's
   * connection writing beside the main thread's (issue 18) that would fail requests at random.
   */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  machineByMac(mac: MacAddress): Machine | null {
    return toMachine(this.statements.machineByMac.get(mac) as MachineRow | undefined);
  }
  machineByUuid(uuid: string): Machine | null {
    return toMachine(this.statements.machineByUuid.get(uuid.toLowerCase()) as MachineRow | undefined);
  }
  machineByIp(ip: string): Machine | null {
    return toMachine(this.statements.machineByIp.get(ip) as MachineRow | undefined);
  }
  machineByName(name: string): Machine | null {
    return toMachine(this.statements.machineByName.get(name) as MachineRow | undefined);
  }
  machineById(id: number): Machine | null {
    return toMachine(this.statements.machineById.get(id) as MachineRow | undefined);
  }
  machineByBootToken(token: string): Machine | null {
    return toMachine(this.statements.machineByToken.get(token) as MachineRow | undefined);
  }
  machineByConfigToken(token: string): Machine | null {
    return toMachine(this.statements.machineByConfigToken.get(token) as MachineRow | undefined);
  }
  listMachines(): Machine[] {
    return (this.statements.listMachines.all() as MachineRow[]).map((row) => toMachine(row) as Machine);
  }
  listMachinesPage(query: MachinePageQuery): Machine[] {
    const filter = { state: query.state ?? null, anyRole: query.role === undefined ? 1 : 0, role: query.role ?? null };
    return (this.statements.machinesPage.all({ after: query.afterName ?? null, limit: query.limit, ...filter }) as MachineRow[]).map((row) => toMachine(row) as Machine);
  }
  listMachinesWithRoles(roles: readonly string[]): Machine[] {
    if (roles.length === 0) return [];
    let statement = this.byRoleCount.get(roles.length);
    if (!statement) {
      statement = this.db.prepare(`${MACHINE_SELECT} WHERE m.role IN (${roles.map(() => '?').join(', ')}) ORDER BY m.name`);
      this.byRoleCount.set(roles.length, statement);
    }
    return (statement.all(...roles) as MachineRow[]).map((row) => toMachine(row) as Machine);
  }

  addMachine(input: NewMachine, now: number): Machine {
    return this.transaction(() => {
      const conflicts = this.findConflicts(input);
      if (conflicts.length > 0) {
        throw new RackbootError('RACKBOOT_ERR_CONFLICT', `cannot add ${input.name}: ${conflicts.join('; ')}`, {
          details: conflicts,
        });
      }
      const result = this.statements.insertMachine.run({
        name: input.name,
        uuid: input.uuid?.toLowerCase() ?? null,
        bmc_address: input.bmcAddress ?? null,
        ip: input.ip,
        role: input.role,
        boot_mode: input.bootMode ?? 'install',
        labels: JSON.stringify(input.labels ?? {}),
        state: 'registered',
        now,
      });
      const id = Number(result.lastInsertRowid);
      input.macs.forEach((mac, position) => this.statements.insertInterface.run(mac, id, position));
      return this.machineById(id) as Machine;
    });
  }

  private findConflicts(input: NewMachine): string[] {
    const conflicts: string[] = [];
    if (this.machineByName(input.name)) conflicts.push(`name ${input.name} is taken`);
    for (const mac of input.macs) {
      const owner = this.machineByMac(mac);
      if (owner) conflicts.push(`MAC ${mac} belongs to ${owner.name}`);
    }
    if (input.ip !== null) {
      const owner = this.machineByIp(input.ip);
      if (owner) conflicts.push(`IP ${input.ip} is reserved for ${owner.name}`);
    }
    if (input.uuid) {
      const owner = this.machineByUuid(input.uuid);
      if (owner) conflicts.push(`UUID ${input.uuid} belongs to ${owner.name}`);
    }
    return conflicts;
  }

  setState(machineId: number, state: MachineState, now: number): void {
    this.statements.setState.run(state, now, machineId);
  }
  setBootToken(machineId: number, token: string | null): void {
    this.statements.setBootToken.run(token, machineId);
  }
  setConfigToken(machineId: number, token: string | null): void {
    this.statements.setConfigToken.run(token, machineId);
  }
  setConfigFormat(machineId: number, format: 'cloud-config' | 'ignition' | null): void {
    this.statements.setConfigFormat.run(format, machineId);
  }

  setRole(machineId: number, role: string | null, bootMode: 'memory' | 'install'): void {
    this.statements.setRole.run(role, bootMode, machineId);
  }
  setIpxeChainedAt(machineId: number, at: number | null): void {
    this.statements.setChained.run(at, machineId);
  }

  setIp(machineId: number, ip: string | null): void {
    this.statements.setIp.run(ip, machineId);
  }

  updateMachine(machineId: number, fields: MachineFields): void {
    this.statements.updateMachine.run({
      id: machineId,
      name: fields.name,
      ip: fields.ip,
      role: fields.role,
      boot_mode: fields.bootMode,
      uuid: fields.uuid?.toLowerCase() ?? null,
      bmc_address: fields.bmcAddress,
      labels: JSON.stringify(fields.labels),
    });
  }

  setMacs(machineId: number, macs: readonly MacAddress[]): void {
    this.transaction(() => {
      this.statements.deleteInterfaces.run(machineId);
      macs.forEach((mac, position) => this.statements.insertInterface.run(mac, machineId, position));
    });
  }

  deleteMachine(machineId: number): void {
    this.statements.deleteMachine.run(machineId);
  }

  deleteMachineLeases(machineId: number): void {
    this.statements.deleteMachineLeases.run(machineId);
  }

  unlinkBmcs(machineId: number): void {
    this.statements.unlinkBmcs.run(machineId);
  }

  appendAudit(entry: NewAuditEntry, now: number): AuditEntry {
    const json = (v: Readonly<Record<string, unknown>> | null | undefined) => (v === undefined || v === null ? null : JSON.stringify(v));
    const result = this.statements.insertAudit.run(now, entry.actor, entry.action, entry.target, json(entry.before), json(entry.after), entry.message);
    return { ...entry, id: Number(result.lastInsertRowid), at: now };
  }

  listAudit(query: AuditQuery): AuditEntry[] {
    const rows = this.statements.auditPage.all({ before: query.beforeId ?? null, limit: Math.min(Math.max(query.limit, 1), 10_000) }) as AuditRow[];
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      actor: row.actor,
      action: row.action,
      target: row.target,
      before: row.before === null ? null : (JSON.parse(row.before) as Record<string, unknown>),
      after: row.after === null ? null : (JSON.parse(row.after) as Record<string, unknown>),
      message: row.message,
    }));
  }

  leaseByMac(mac: MacAddress): Lease | null {
    return toLease(this.statements.leaseByMac.get(mac) as LeaseRow | undefined);
  }
  leaseByIp(ip: string): Lease | null {
    return toLease(this.statements.leaseByIp.get(ip) as LeaseRow | undefined);
  }
  putLease(lease: Lease): void {
    this.statements.evictLeaseIp.run({ ip: lease.ip, mac: lease.mac, machine_id: lease.machineId, now: lease.updatedAt });
    this.statements.putLease.run({
      mac: lease.mac,
      ip: lease.ip,
      machine_id: lease.machineId,
      expires_at: lease.expiresAt,
      updated_at: lease.updatedAt,
    });
  }
  deleteLease(mac: MacAddress): void {
    this.statements.deleteLease.run(mac);
  }
  unavailableAddresses(mac: MacAddress, now: number): Set<string> {
    const out = new Set<string>();
    for (const row of this.statements.otherActiveLeaseIps.all(mac, now) as Array<{ ip: string }>) out.add(row.ip);
    for (const row of this.statements.reservedIps.all() as Array<{ ip: string }>) out.add(row.ip);
    for (const row of this.statements.declinedIps.all(now) as Array<{ ip: string }>) out.add(row.ip);
    return out;
  }
  declineAddress(ip: string, mac: MacAddress | null, until: number, now: number): void {
    this.statements.pruneDeclined.run(now);
    if (mac !== null) this.statements.dropOtherDeclines.run(mac, ip);
    this.statements.putDeclined.run({ ip, mac, at: now, until });
  }
  activeDeclines(now: number): Array<{ ip: string; mac: MacAddress | null }> {
    return this.statements.activeDeclines.all(now) as Array<{ ip: string; mac: MacAddress | null }>;
  }

  appendEvent(event: NewEvent, now: number): MachineEvent {
    const data = event.data === undefined ? null : JSON.stringify(event.data);
    const result = this.statements.insertEvent.run(event.machineId, event.mac, now, event.type, event.message, data);
    return { ...event, id: Number(result.lastInsertRowid), at: now };
  }

  listEvents(query: EventQuery): MachineEvent[] {
    const limit = Math.min(query.limit ?? 1000, 10_000);
    const afterId = query.afterId ?? 0;
    const statements = this.statements;
    const [all, forMachine] = query.newest ? [statements.newestEventsAfter, statements.newestEventsForMachine] : [statements.eventsAfter, statements.eventsForMachine];
    const params = { afterId, limit, type: query.type ?? null };
    const rows = (query.machineId === undefined ? all.all(params) : forMachine.all({ ...params, machineId: query.machineId })) as EventRow[];
    return rows.map(toEvent);
  }

  noteDiscovered(mac: MacAddress, facts: Readonly<Record<string, unknown>>, now: number): boolean {
    const previous = this.statements.discoveredByMac.get(mac) as { last_seen: number } | undefined;
    this.statements.upsertDiscovered.run({ mac, now, facts: JSON.stringify(facts) });
    return previous === undefined || now - previous.last_seen > DISCOVERY_QUIET_MS;
  }

  listDiscovered(): DiscoveredClient[] {
    return toDiscovered(this.statements.listDiscovered.all() as DiscoveredRow[]);
  }

  listDiscoveredPage(query: DiscoveredQuery): DiscoveredClient[] {
    const after = query.after;
    const rows = after === undefined
      ? this.statements.discoveredFirstPage.all({ limit: query.limit, since: query.seenSince ?? 0 })
      : this.statements.discoveredPageAfter.all({ lastSeen: after.lastSeen, mac: after.mac, limit: query.limit, since: query.seenSince ?? 0 });
    return toDiscovered(rows as DiscoveredRow[]);
  }
}

interface DiscoveredRow {
  mac: string;
  first_seen: number;
  last_seen: number;
  sightings: number;
  facts: string;
}

function toDiscovered(rows: DiscoveredRow[]): DiscoveredClient[] {
    return rows.map((row) => ({
      mac: row.mac,
      firstSeen: row.first_seen,
      lastSeen: row.last_seen,
      sightings: row.sightings,
      facts: JSON.parse(row.facts) as Record<string, unknown>,
    }));
}

interface LeaseRow {
  mac: string;
  ip: string;
  machine_id: number | null;
  expires_at: number;
  updated_at: number;
}

function prepare(db: Db) {
  return {
    machineByMac: db.prepare(`${MACHINE_SELECT} WHERE m.id = (SELECT machine_id FROM interfaces WHERE mac = ?)`),
    machineByUuid: db.prepare(`${MACHINE_SELECT} WHERE m.uuid = ?`),
    machineByIp: db.prepare(`${MACHINE_SELECT} WHERE m.ip = ?`),
    machineByName: db.prepare(`${MACHINE_SELECT} WHERE m.name = ?`),
    machineById: db.prepare(`${MACHINE_SELECT} WHERE m.id = ?`),
    machineByToken: db.prepare(`${MACHINE_SELECT} WHERE m.boot_token = ?`),
    machineByConfigToken: db.prepare(`${MACHINE_SELECT} WHERE m.config_token = ?`),
    setConfigToken: db.prepare('UPDATE machines SET config_token = ? WHERE id = ?'),
    setRole: db.prepare('UPDATE machines SET role = ?, boot_mode = ? WHERE id = ?'),
    setConfigFormat: db.prepare('UPDATE machines SET config_format = ? WHERE id = ?'),
    listMachines: db.prepare(`${MACHINE_SELECT} ORDER BY m.name`),
    insertMachine: db.prepare(
      `INSERT INTO machines (name, uuid, bmc_address, ip, role, boot_mode, labels, state, state_changed_at, created_at)
       VALUES (@name, @uuid, @bmc_address, @ip, @role, @boot_mode, @labels, @state, @now, @now)`,
    ),
    updateMachine: db.prepare(
      `UPDATE machines SET name = @name, ip = @ip, role = @role, boot_mode = @boot_mode, uuid = @uuid,
         bmc_address = @bmc_address, labels = @labels WHERE id = @id`,
    ),
    deleteInterfaces: db.prepare('DELETE FROM interfaces WHERE machine_id = ?'),
    deleteMachine: db.prepare('DELETE FROM machines WHERE id = ?'),
    deleteMachineLeases: db.prepare('DELETE FROM leases WHERE machine_id = ?'),
    unlinkBmcs: db.prepare('UPDATE bmcs SET machine_id = NULL WHERE machine_id = ?'),
    insertAudit: db.prepare('INSERT INTO audit (at, actor, action, target, before, after, message) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    auditPage: db.prepare('SELECT * FROM audit WHERE @before IS NULL OR id < @before ORDER BY id DESC LIMIT @limit'),
    insertInterface: db.prepare('INSERT INTO interfaces (mac, machine_id, position) VALUES (?, ?, ?)'),
    setState: db.prepare('UPDATE machines SET state = ?, state_changed_at = ? WHERE id = ?'),
    setBootToken: db.prepare('UPDATE machines SET boot_token = ? WHERE id = ?'),
    setChained: db.prepare('UPDATE machines SET ipxe_chained_at = ? WHERE id = ?'),
    setIp: db.prepare('UPDATE machines SET ip = ? WHERE id = ?'),
    leaseByMac: db.prepare('SELECT * FROM leases WHERE mac = ?'),
    leaseByIp: db.prepare('SELECT * FROM leases WHERE ip = ?'),
    putLease: db.prepare(
      `INSERT INTO leases (mac, ip, machine_id, expires_at, updated_at) VALUES (@mac, @ip, @machine_id, @expires_at, @updated_at)
       ON CONFLICT(mac) DO UPDATE SET ip = excluded.ip, machine_id = excluded.machine_id,
         expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    ),
    deleteLease: db.prepare('DELETE FROM leases WHERE mac = ?'),
    // Another MAC's lease on the same address gives way when it has expired, or when a machine's
    // reservation claims it (a pool lease, or the same machine's other NIC); an active lease of
    // another client does not, and the insert fails.
    evictLeaseIp: db.prepare(
      `DELETE FROM leases WHERE ip = @ip AND mac <> @mac AND (expires_at <= @now
         OR (@machine_id IS NOT NULL AND (machine_id IS NULL OR machine_id = @machine_id)))`,
    ),
    otherActiveLeaseIps: db.prepare('SELECT ip FROM leases WHERE mac <> ? AND expires_at > ?'),
    reservedIps: db.prepare('SELECT ip FROM machines WHERE ip IS NOT NULL'),
    declinedIps: db.prepare('SELECT ip FROM dhcp_declined WHERE until > ?'),
    activeDeclines: db.prepare('SELECT ip, mac FROM dhcp_declined WHERE until > ?'),
    pruneDeclined: db.prepare('DELETE FROM dhcp_declined WHERE until <= ?'),
    dropOtherDeclines: db.prepare('DELETE FROM dhcp_declined WHERE mac = ? AND ip <> ?'),
    putDeclined: db.prepare(
      `INSERT INTO dhcp_declined (ip, mac, at, until) VALUES (@ip, @mac, @at, @until)
       ON CONFLICT(ip) DO UPDATE SET mac = excluded.mac, at = excluded.at, until = excluded.until`,
    ),
    insertEvent: db.prepare('INSERT INTO events (machine_id, mac, at, type, message, data) VALUES (?, ?, ?, ?, ?, ?)'),
    eventsAfter: db.prepare(`SELECT * FROM events WHERE id > @afterId ${EVENT_TYPE} ORDER BY id LIMIT @limit`),
    eventsForMachine: db.prepare(`SELECT * FROM events WHERE machine_id = @machineId AND id > @afterId ${EVENT_TYPE} ORDER BY id LIMIT @limit`),
    newestEventsAfter: db.prepare(`SELECT * FROM (SELECT * FROM events WHERE id > @afterId ${EVENT_TYPE} ORDER BY id DESC LIMIT @limit) ORDER BY id`),
    newestEventsForMachine: db.prepare(
      `SELECT * FROM (SELECT * FROM events WHERE machine_id = @machineId AND id > @afterId ${EVENT_TYPE} ORDER BY id DESC LIMIT @limit) ORDER BY id`,
    ),
    discoveredByMac: db.prepare('SELECT last_seen FROM discovered WHERE mac = ?'),
    upsertDiscovered: db.prepare(
      `INSERT INTO discovered (mac, first_seen, last_seen, sightings, facts) VALUES (@mac, @now, @now, 1, @facts)
       ON CONFLICT(mac) DO UPDATE SET last_seen = excluded.last_seen, sightings = sightings + 1, facts = excluded.facts`,
    ),
    // keyset pages (newest sighting first, MAC breaks ties): each page costs its own rows, not the table's
    discoveredFirstPage: db.prepare(
      'SELECT * FROM discovered WHERE mac NOT IN (SELECT mac FROM interfaces) AND last_seen >= @since ORDER BY last_seen DESC, mac LIMIT @limit',
    ),
    discoveredPageAfter: db.prepare(
      `SELECT * FROM discovered WHERE mac NOT IN (SELECT mac FROM interfaces) AND last_seen >= @since
         AND (last_seen < @lastSeen OR (last_seen = @lastSeen AND mac > @mac)) ORDER BY last_seen DESC, mac LIMIT @limit`,
    ),
    machinesPage: db.prepare(
      `${MACHINE_SELECT} WHERE (@after IS NULL OR m.name > @after) AND (@state IS NULL OR m.state = @state)
         AND (@anyRole = 1 OR m.role IS @role) ORDER BY m.name LIMIT @limit`,
    ),
    listDiscovered: db.prepare(
      'SELECT * FROM discovered WHERE mac NOT IN (SELECT mac FROM interfaces) ORDER BY last_seen DESC',
    ),
  };
}

function toMachine(row: MachineRow | undefined): Machine | null {
  if (row === undefined) return null;
  return {
    id: row.id,
    name: row.name,
    uuid: row.uuid,
    bmcAddress: row.bmc_address,
    ip: row.ip,
    role: row.role,
    configFormat: row.config_format === 'ignition' || row.config_format === 'cloud-config' ? row.config_format : null,
    bootMode: row.boot_mode === 'memory' ? 'memory' : 'install',
    state: row.state as MachineState,
    stateChangedAt: row.state_changed_at,
    macs: row.macs ? row.macs.split(',') : [],
    bootToken: row.boot_token,
    configToken: row.config_token,
    ipxeChainedAt: row.ipxe_chained_at,
    createdAt: row.created_at,
    labels: parseLabels(row.labels),
  };
}

function parseLabels(text: string | null | undefined): Record<string, string> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, string>) : {};
  } catch {
    return {};
  }
}

function toLease(row: LeaseRow | undefined): Lease | null {
  if (row === undefined) return null;
  return { mac: row.mac, ip: row.ip, machineId: row.machine_id, expiresAt: row.expires_at, updatedAt: row.updated_at };
}

function toEvent(row: EventRow): MachineEvent {
  const base = { id: row.id, machineId: row.machine_id, mac: row.mac, at: row.at, type: row.type, message: row.message };
  return row.data === null ? base : { ...base, data: JSON.parse(row.data) as Record<string, unknown> };
}
