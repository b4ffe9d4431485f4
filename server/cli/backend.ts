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
import type { IpPlan, IpRule } from '../core/ip-policy.js';
import type { DiscoveredClient } from '../core/ports.js';
import type { Provisioner } from '../core/provisioner.js';
import type { BootMode, Role } from '../core/roles.js';
import type { Machine, MachineEvent } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { BmcStore } from '../store/bmc-store.js';
import type { Db } from '../store/db.js';
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
  };
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
  return {
    kind: 'local',
    listMachines: () => withStores((p) => p.listMachines().map(cliMachine)),
    machine: (ref) => withStores((p) => cliMachine(find(p, ref))),
    addMachine: (input) => withStores((p) => cliMachine(p.registerMachine({ ...input, macs: [...input.macs] }))),
    assignRole: (ref, role, mode) => withStores((p) => cliMachine(p.assignRole(find(p, ref), role, mode))),
    reprovision: (ref) => withStores((p) => cliMachine(p.reprovision(find(p, ref), REPROVISION_REASON))),
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
        return runIpPlan({ bmcs: new BmcStore(db), inventory }, rule, { apply, now: (stores.now ?? Date.now)() });
      }),
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

  return {
    kind: 'remote',
    listMachines: () => walk<MachinePage, CliMachine>((after) => `/machines?limit=5000${after === null ? '' : `&after=${ref(String(after))}`}`, (p) => p.machines.map(cliMachine)),
    machine: async (r) => cliMachine(await get<CliMachine>(`/machines/${ref(r)}`)),
    addMachine: async (input) =>
      cliMachine(
        await call<CliMachine>(server, {
          method: 'POST',
          path: '/machines',
          body: { name: input.name, macs: input.macs, ip: input.ip, role: input.role, bootMode: input.bootMode, ...(input.uuid === null ? {} : { uuid: input.uuid }) },
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
  };
}
