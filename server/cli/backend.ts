/**
 * The CLI's port to the inventory: every command that can run against a remote server is written
 * once against CliBackend; localBackend implements it over the Provisioner and the local SQLite file,
 * remoteBackend over the REST API (/api/v1). Both return the same stable shapes (cliMachine,
 * cliEvent), so `--json` prints the same thing locally and remotely.
 *
 * Adding a remote-capable command: add a method here, implement it in both backends (the remote
 * one calls its API route through `call`), write the command against `ctx.backend()`, and mark the
 * command with worksRemotely() (commands not marked are refused with --server: RACKBOOT_ERR_LOCAL_ONLY).
 */
import type { Command } from 'commander';
import { runIpPlan, type IpPlanInventory } from '../bmc/ip-plan.js';
import type { BmcRecord } from '../bmc/registry.js';
import type { InventoryFormat } from '../core/inventory-file.js';
import type { IpPlan, IpRule } from '../core/ip-policy.js';
import type { AuditEntry, DiscoveredClient } from '../core/ports.js';
import type { BulkBounds, ImportResult, MachinePatch, Provisioner } from '../core/provisioner.js';
import type { BootMode, Role } from '../core/roles.js';
import type { Machine, MachineEvent } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { BmcStore } from '../store/bmc-store.js';
import type { Db } from '../store/db.js';
import { cliActor } from './actor.js';
import { labelsAfter, LIFECYCLE_OPS } from './lifecycle-ops.js';
import { answerError, call, send, type RemoteServer } from './remote.js';

/** A machine as the CLI shows it: no boot secrets, fields in a fixed order. */
export interface CliMachine {
  readonly id: number;
  readonly name: string;
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
  readonly ip: string | null;
  readonly role: string | null;
  readonly bootMode: BootMode;
  readonly state: Machine['state'];
  readonly stateChangedAt: number;
  readonly macs: readonly string[];
  readonly ipxeChainedAt: number | null;
  readonly createdAt: number;
  readonly labels: Readonly<Record<string, string>>;
  /** The machine's own config format; null: its role's or the default (boot.configFormat). */
  readonly configFormat: Machine['configFormat'];
}

export function cliMachine(m: Omit<Machine, 'bootToken' | 'configToken'>): CliMachine {
  return {
    id: m.id,
    name: m.name,
    uuid: m.uuid,
    bmcAddress: m.bmcAddress,
    ip: m.ip,
    role: m.role,
    bootMode: m.bootMode,
    state: m.state,
    stateChangedAt: m.stateChangedAt,
    macs: [...m.macs],
    ipxeChainedAt: m.ipxeChainedAt,
    createdAt: m.createdAt,
    labels: sortedLabels(m.labels ?? {}),
    configFormat: m.configFormat ?? null,
  };
}

function sortedLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** An audit entry in a fixed field order (the API serialises by its schema, the store by its columns). */
export function cliAudit(e: AuditEntry): AuditEntry {
  return { id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, before: e.before ?? null, after: e.after ?? null, message: e.message };
}

/** What `machines import` prints: the planned (or applied) changes and the row errors, by line. */
export interface ImportView {
  readonly applied: boolean;
  readonly changes: ReadonlyArray<{
    line: number;
    action: string;
    name: string;
    macs?: readonly string[];
    ip?: string | null;
    changes?: ReadonlyArray<{ field: string; from: unknown; to: unknown }>;
  }>;
  readonly errors: ReadonlyArray<{ line: number; message: string }>;
}

type ImportChangeIn = ImportResult['changes'][number] | ImportView['changes'][number];

function importChange(c: ImportChangeIn): ImportView['changes'][number] {
  const fromCore = 'row' in c;
  if (c.action === 'add') {
    const add = fromCore ? { name: c.row.name, macs: c.row.macs, ip: c.row.ip } : (c as ImportView['changes'][number]);
    return { line: c.line, action: c.action, name: add.name, macs: [...(add.macs ?? [])], ip: add.ip ?? null };
  }
  const base = { line: c.line, action: c.action, name: (c as { name: string }).name };
  const changes = (c as { changes?: ReadonlyArray<{ field: string; from: unknown; to: unknown }> }).changes;
  if (c.action === 'update' && changes) return { ...base, changes: changes.map((f) => ({ field: f.field, from: f.from, to: f.to })) };
  return base;
}

/** The same fields in the same order from the local Provisioner and from the API. */
export function importView(result: ImportResult | ImportView): ImportView {
  return { applied: result.applied, changes: result.changes.map(importChange), errors: result.errors.map((e) => ({ line: e.line, message: e.message })) };
}

/** A new board for `machines replace`. */
export interface BoardInput {
  readonly macs: readonly string[];
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
}

export function cliEvent(e: MachineEvent): MachineEvent {
  return { id: e.id, machineId: e.machineId, mac: e.mac, at: e.at, type: e.type, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) };
}

/** Newest sighting first; the MAC breaks ties, so both backends list in the same order. */
function discoveredOrder(list: DiscoveredClient[]): DiscoveredClient[] {
  return list.sort((a, b) => b.lastSeen - a.lastSeen || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
}

export interface NewMachineInput {
  readonly name: string;
  readonly macs: readonly string[];
  readonly ip: string | null;
  readonly role: Role | null;
  readonly bootMode: BootMode;
  readonly uuid: string | null;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface IpPlanResult {
  readonly plan: IpPlan;
  readonly applied: boolean;
}

export interface CliBackend {
  readonly kind: 'local' | 'remote';
  /** Every machine, by name. */
  listMachines(): Promise<CliMachine[]>;
  /** A machine by name, MAC or IP; RACKBOOT_ERR_NOT_FOUND when there is none. */
  machine(ref: string): Promise<CliMachine>;
  addMachine(input: NewMachineInput): Promise<CliMachine>;
  assignRole(ref: string, role: Role | null, mode: BootMode): Promise<CliMachine>;
  reprovision(ref: string): Promise<CliMachine>;
  /** The newest `limit` events (of one machine, or all), oldest first. */
  events(ref: string | undefined, limit: number): Promise<MachineEvent[]>;
  discovered(): Promise<DiscoveredClient[]>;
  bmcs(): Promise<BmcRecord[]>;
  /** The static-IP plan; a local run uses `rule`, a remote one the server's configured rule. */
  ipPlan(apply: boolean, rule: IpRule | null): Promise<IpPlanResult>;
  /** Changes the given fields (`labels` replaces every label). */
  editMachine(ref: string, patch: MachinePatch): Promise<CliMachine>;
  /** `key=value` sets a label, `key-` removes it. */
  labelMachine(ref: string, changes: readonly string[]): Promise<CliMachine>;
  deleteMachine(ref: string): Promise<{ deleted: string }>;
  replaceBoard(ref: string, board: BoardInput): Promise<CliMachine>;
  /** The machines a label selector matches, in the server's order; refused past the bounds. */
  select(selector: string, bounds: BulkBounds): Promise<CliMachine[]>;
  bulkAssign(selector: string, role: Role | null, mode: BootMode, bounds: BulkBounds): Promise<CliMachine[]>;
  bulkReprovision(selector: string, bounds: BulkBounds): Promise<CliMachine[]>;
  exportInventory(format: InventoryFormat): Promise<{ text: string; count: number }>;
  /** A dry run unless `apply`; with a row error nothing is applied (`applied: false`). */
  importInventory(text: string, format: InventoryFormat, apply: boolean): Promise<ImportView>;
  /** Newest first. */
  audit(limit: number, beforeId: number | undefined): Promise<AuditEntry[]>;
}

const REMOTE_CAPABLE = new WeakSet<Command>();

/** Marks a command as written against CliBackend: it may run with --server. */
export function worksRemotely<C extends Command>(command: C): C {
  REMOTE_CAPABLE.add(command);
  return command;
}

export function isRemoteCapable(command: Command): boolean {
  return REMOTE_CAPABLE.has(command);
}

/** The command's path, e.g. "machines list", for messages. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

export const REPROVISION_REASON = 'requested with rackboot reprovision';

export interface LocalStores {
  /** A Provisioner over the local inventory and its database, closed by `close`. */
  open(): { provisioner: Provisioner; db: Db; close(): void };
  readonly now?: () => number;
  /** Who the audit log names for local writes (default: cliActor(), the OS user). */
  readonly actor?: string;
}

export function localBackend(stores: LocalStores): CliBackend {
  const withStores = <T>(work: (provisioner: Provisioner, db: Db) => T): Promise<T> => {
    const { provisioner, db, close } = stores.open();
    try {
      return Promise.resolve(work(provisioner, db));
    } finally {
      close();
    }
  };
  const find = (p: Provisioner, ref: string): Machine => {
    const machine = p.machineByRef(ref);
    if (!machine) throw new RackbootError('RACKBOOT_ERR_NOT_FOUND', `no machine ${ref}`);
    return machine;
  };
  const actor = stores.actor ?? cliActor();
  return {
    kind: 'local',
    listMachines: () => withStores((p) => p.listMachines().map(cliMachine)),
    machine: (ref) => withStores((p) => cliMachine(find(p, ref))),
    addMachine: (input) => withStores((p) => cliMachine(p.registerMachine({ ...input, macs: [...input.macs], ...(input.labels ? { labels: { ...input.labels } } : {}) }, actor))),
    assignRole: (ref, role, mode) => withStores((p) => cliMachine(p.assignRole(find(p, ref), role, mode, actor))),
    reprovision: (ref) => withStores((p) => cliMachine(p.reprovision(find(p, ref), REPROVISION_REASON, actor))),
    events: (ref, limit) =>
      withStores((p) => {
        const query = ref === undefined ? { limit, newest: true } : { machineId: find(p, ref).id, limit, newest: true };
        return p.listEvents(query).map(cliEvent);
      }),
    discovered: () => withStores((p) => discoveredOrder(p.listDiscovered())),
    bmcs: () => withStores((_p, db) => new BmcStore(db).list()),
    ipPlan: (apply, rule) =>
      withStores((p, db) => {
        if (rule === null) throw new RackbootError('RACKBOOT_ERR_NO_IP_RULE', 'no IP rule: give --rule-file <file> or --rule bmc-offset|slot with its flags, or set ipmi.ipPlan in the config');
        const inventory: IpPlanInventory = p;
        const result = runIpPlan({ bmcs: new BmcStore(db), inventory }, rule, { apply, now: (stores.now ?? Date.now)() });
        if (result.applied) {
          const c = result.plan.counts;
          p.recordAudit({ actor, action: 'ip-plan.apply', target: null, before: null, after: { ...c }, message: `ip-plan applied: ${c.add} added, ${c.update} updated` });
        }
        return result;
      }),
    editMachine: (ref, patch) => withStores((p) => cliMachine(LIFECYCLE_OPS.edit(p, ref, patch, actor))),
    labelMachine: (ref, changes) => withStores((p) => cliMachine(LIFECYCLE_OPS.label(p, ref, changes, actor))),
    deleteMachine: (ref) => withStores((p) => ({ deleted: LIFECYCLE_OPS.remove(p, ref, actor).name })),
    replaceBoard: (ref, board) => withStores((p) => cliMachine(LIFECYCLE_OPS.replace(p, ref, board, actor))),
    select: (selector, bounds) => withStores((p) => LIFECYCLE_OPS.select(p, selector, bounds).map(cliMachine)),
    bulkAssign: (selector, role, mode, bounds) => withStores((p) => LIFECYCLE_OPS.assign(p, selector, role, mode, actor, bounds).map(cliMachine)),
    bulkReprovision: (selector, bounds) => withStores((p) => LIFECYCLE_OPS.reprovision(p, selector, actor, bounds).map(cliMachine)),
    exportInventory: (format) => withStores((p) => ({ text: LIFECYCLE_OPS.exportInventory(p, format), count: p.listMachines().length })),
    importInventory: (text, format, apply) => withStores((p) => importView(LIFECYCLE_OPS.importInventory(p, text, format, apply, actor))),
    audit: (limit, beforeId) => withStores((p) => LIFECYCLE_OPS.audit(p, { limit, ...(beforeId === undefined ? {} : { beforeId }) }).map(cliAudit)),
  };
}

/** Pages are walked up to this many: 200 pages of 5,000 machines is far beyond any rack. */
const MAX_PAGES = 200;

interface MachinePage {
  machines: CliMachine[];
  latestEventId: number;
  next: string | null;
}

export function remoteBackend(server: RemoteServer): CliBackend {
  const get = <T>(path: string) => call<T>(server, { method: 'GET', path });
  const ref = (r: string) => encodeURIComponent(r);

  /** Follows `next` cursors; `page` builds the path for a cursor (null: the first page). */
  async function walk<P extends { next: string | number | null }, I>(page: (after: string | number | null) => string, items: (p: P) => I[], keepLast?: number): Promise<I[]> {
    let out: I[] = [];
    let after: string | number | null = null;
    for (let n = 0; n < MAX_PAGES; n += 1) {
      const body: P = await get<P>(page(after));
      out.push(...items(body));
      if (keepLast !== undefined && out.length > keepLast) out = out.slice(-keepLast);
      if (body.next === null || body.next === undefined) return out;
      after = body.next;
    }
    throw new RackbootError('RACKBOOT_ERR_REMOTE', `${server.url}: more than ${MAX_PAGES} pages; stopped`);
  }

  const boundsQuery = (bounds: BulkBounds) => `${bounds.all ? '&all=true' : ''}${bounds.limit === undefined ? '' : `&limit=${bounds.limit}`}`;
  const boundsBody = (bounds: BulkBounds) => ({ ...(bounds.all ? { all: true } : {}), ...(bounds.limit === undefined ? {} : { limit: bounds.limit }) });
  /** The bulk routes answer names; the machines (as they are now) come from one listing, in the names' order. */
  const machinesNamed = async (names: readonly string[]): Promise<CliMachine[]> => {
    if (names.length === 0) return [];
    const byName = new Map((await remote.listMachines()).map((m) => [m.name, m]));
    return names.map((name) => byName.get(name)).filter((m): m is CliMachine => m !== undefined);
  };
  const edit = async (r: string, patch: MachinePatch) => cliMachine(await call<CliMachine>(server, { method: 'PATCH', path: `/machines/${ref(r)}`, body: patch }));

  const remote: CliBackend = {
    kind: 'remote',
    listMachines: () => walk<MachinePage, CliMachine>((after) => `/machines?limit=5000${after === null ? '' : `&after=${ref(String(after))}`}`, (p) => p.machines.map(cliMachine)),
    machine: async (r) => cliMachine(await get<CliMachine>(`/machines/${ref(r)}`)),
    addMachine: async (input) =>
      cliMachine(
        await call<CliMachine>(server, {
          method: 'POST',
          path: '/machines',
          body: {
          name: input.name,
          macs: input.macs,
          ip: input.ip,
          role: input.role,
          bootMode: input.bootMode,
          ...(input.uuid === null ? {} : { uuid: input.uuid }),
          ...(input.labels && Object.keys(input.labels).length > 0 ? { labels: input.labels } : {}),
        },
        }),
      ),
    assignRole: async (r, role, mode) => cliMachine(await call<CliMachine>(server, { method: 'PUT', path: `/machines/${ref(r)}/role`, body: { role, bootMode: mode } })),
    reprovision: async (r) => cliMachine(await call<CliMachine>(server, { method: 'POST', path: `/machines/${ref(r)}/reprovision` })),
    async events(r, limit) {
      if (r === undefined) {
        // event ids only grow: the newest `limit` are those after latestEventId - limit
        const { latestEventId } = await get<MachinePage>('/machines?limit=1');
        const body = await get<{ events: MachineEvent[] }>(`/events?after=${Math.max(0, latestEventId - limit)}&limit=${limit}`);
        return body.events.slice(-limit).map(cliEvent);
      }
      const events = await walk<{ events: MachineEvent[]; next: number | null }, MachineEvent>(
        (after) => `/machines/${ref(r)}/events?limit=10000${after === null ? '' : `&after=${String(after)}`}`,
        (p) => p.events,
        limit,
      );
      return events.map(cliEvent);
    },
    discovered: async () =>
      discoveredOrder(await walk<{ discovered: DiscoveredClient[]; next: string | null }, DiscoveredClient>((after) => `/discovered?limit=1000${after === null ? '' : `&after=${ref(String(after))}`}`, (p) => p.discovered)),
    bmcs: () => walk<{ bmcs: BmcRecord[]; next: number | null }, BmcRecord>((after) => `/bmcs?limit=5000${after === null ? '' : `&after=${String(after)}`}`, (p) => p.bmcs),
    async ipPlan(apply) {
      if (!apply) {
        const body = await get<{ rule: IpRule | null; reason?: string; plan?: IpPlan }>('/ip-plan');
        if (!body.plan) throw new RackbootError('RACKBOOT_ERR_NO_IP_RULE', body.reason ?? 'the server has no static-IP rule (ipmi.ipPlan)');
        return { plan: body.plan, applied: false };
      }
      const answer = await send(server, { method: 'POST', path: '/ip-plan/apply' });
      const body = (answer.body ?? {}) as { plan?: IpPlan; applied?: boolean };
      // 409 carries the plan with its conflicts: shown like a local refused apply
      if ((answer.status === 200 || answer.status === 409) && body.plan) return { plan: body.plan, applied: answer.status === 200 && body.applied === true };
      if (answer.status === 501) throw new RackbootError('RACKBOOT_ERR_NO_IP_RULE', answerError(server, answer, 'ip-plan').message);
      throw answerError(server, answer, 'POST /ip-plan/apply');
    },
    editMachine: edit,
    // the server takes whole label sets: read the labels, change them, write them back
    labelMachine: async (r, changes) => {
      const current = await remote.machine(r);
      return edit(current.name, { labels: labelsAfter(current, changes) });
    },
    deleteMachine: async (r) => ({ deleted: (await call<{ deleted: string }>(server, { method: 'DELETE', path: `/machines/${ref(r)}` })).deleted }),
    replaceBoard: async (r, board) =>
      cliMachine(await call<CliMachine>(server, { method: 'POST', path: `/machines/${ref(r)}/replace`, body: { macs: board.macs, uuid: board.uuid, bmcAddress: board.bmcAddress } })),
    select: async (selector, bounds) => machinesNamed((await get<{ machines: string[] }>(`/bulk/match?selector=${ref(selector)}${boundsQuery(bounds)}`)).machines),
    bulkAssign: async (selector, role, mode, bounds) =>
      machinesNamed((await call<{ machines: string[] }>(server, { method: 'POST', path: '/bulk/role', body: { selector, role, bootMode: mode, ...boundsBody(bounds) } })).machines),
    bulkReprovision: async (selector, bounds) => machinesNamed((await call<{ machines: string[] }>(server, { method: 'POST', path: '/bulk/reprovision', body: { selector, ...boundsBody(bounds) } })).machines),
    async exportInventory(format) {
      const text = await call<string>(server, { method: 'GET', path: `/inventory/export?format=${format}`, text: true });
      return { text, count: (await remote.listMachines()).length };
    },
    async importInventory(text, format, apply) {
      // the server refuses an apply with row errors as a whole; a dry run first shows them row by row, as locally
      const dry = importView(await call<ImportView>(server, { method: 'POST', path: '/inventory/import', body: { format, text, apply: false } }));
      if (!apply || dry.errors.length > 0) return dry;
      return importView(await call<ImportView>(server, { method: 'POST', path: '/inventory/import', body: { format, text, apply: true } }));
    },
    audit: async (limit, beforeId) =>
      (await get<{ entries: AuditEntry[] }>(`/audit?limit=${limit}${beforeId === undefined ? '' : `&before=${beforeId}`}`)).entries.map(cliAudit),
  };
  return remote;
}
