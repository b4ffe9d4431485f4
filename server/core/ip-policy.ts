/**
 * Static IP policy: which reserved address each discovered machine gets, and the plan (a diff
 * against the inventory) that `rackboot ip-plan --plan` prints and `--apply` commits. Pure.
 *
 * Rules:
 *   bmc-offset  host = host subnet base + (BMC address - BMC subnet base) - offset;
 *               for /24s: the BMC's last octet minus the offset, in the host subnet.
 *   slot        host = base + slot * step; a BMC's slot comes from `slots` (address -> slot) when
 *               given, else from its position among the BMCs sorted by address (0, 1, 2, ...).
 */
import { formatIpv4, parseCidr, parseIpv4, type Cidr } from './ipv4.js';
import { compareUuids } from './uuid-match.js';

export interface BmcOffsetRule {
  readonly kind: 'bmc-offset';
  readonly hostSubnet: string;
  readonly bmcSubnet: string;
  readonly offset: number;
  /** Optional inclusive range the host addresses must stay in. */
  readonly first?: string;
  readonly last?: string;
}

export interface SlotRule {
  readonly kind: 'slot';
  readonly hostSubnet: string;
  /** The address of slot 0. */
  readonly base: string;
  readonly step?: number;
  readonly slots?: Readonly<Record<string, number>>;
  readonly first?: string;
  readonly last?: string;
}

export type IpRule = BmcOffsetRule | SlotRule;

export type RuleParse = { ok: true; rule: IpRule } | { ok: false; errors: string[] };

/** Validates a rule from a file or flags; reports every problem at once. */
export function parseIpRule(raw: unknown): RuleParse {
  const errors: string[] = [];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors: ['the rule must be an object with a "kind"'] };
  const r = raw as Record<string, unknown>;
  const cidr = (key: string): void => {
    const v = r[key];
    if (typeof v !== 'string' || !parseCidr(v)) errors.push(`${key}: expected a subnet like 10.99.0.0/24, got ${JSON.stringify(v)}`);
  };
  const ip = (key: string, required: boolean): void => {
    const v = r[key];
    if (v === undefined && !required) return;
    if (typeof v !== 'string' || parseIpv4(v) === null) errors.push(`${key}: expected an IPv4 address, got ${JSON.stringify(v)}`);
  };
  const int = (key: string, required: boolean, min: number): void => {
    const v = r[key];
    if (v === undefined && !required) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) errors.push(`${key}: expected an integer >= ${min}, got ${JSON.stringify(v)}`);
  };
  const known = (keys: readonly string[]): void => {
    for (const key of Object.keys(r)) if (!keys.includes(key)) errors.push(`${key}: unknown key for a ${String(r.kind)} rule`);
  };
  if (r.kind === 'bmc-offset') {
    cidr('hostSubnet');
    cidr('bmcSubnet');
    int('offset', false, -(2 ** 31));
    ip('first', false);
    ip('last', false);
    known(['kind', 'hostSubnet', 'bmcSubnet', 'offset', 'first', 'last']);
  } else if (r.kind === 'slot') {
    cidr('hostSubnet');
    ip('base', true);
    int('step', false, 1);
    ip('first', false);
    ip('last', false);
    if (r.slots !== undefined) {
      if (r.slots === null || typeof r.slots !== 'object' || Array.isArray(r.slots)) errors.push('slots: expected a map of BMC address to slot number');
      else {
        for (const [address, slot] of Object.entries(r.slots)) {
          if (parseIpv4(address) === null) errors.push(`slots.${address}: not an IPv4 address`);
          if (typeof slot !== 'number' || !Number.isInteger(slot) || slot < 0) errors.push(`slots.${address}: expected a slot number >= 0`);
        }
      }
    }
    known(['kind', 'hostSubnet', 'base', 'step', 'slots', 'first', 'last']);
  } else {
    errors.push(`kind: expected "bmc-offset" or "slot", got ${JSON.stringify(r.kind)}`);
  }
  if (errors.length > 0) return { ok: false, errors };
  const rule = r.kind === 'bmc-offset' ? ({ offset: 0, ...r } as unknown as BmcOffsetRule) : (r as unknown as SlotRule);
  return { ok: true, rule };
}

export interface PlanBmc {
  readonly address: string;
  /** Canonical GUID text as stored, or null. */
  readonly guid: string | null;
  readonly hostMacs: readonly string[];
  /** Machine this BMC is already linked to. */
  readonly machineId: number | null;
}

export interface PlanMachine {
  readonly id: number;
  readonly name: string;
  readonly ip: string | null;
  readonly macs: readonly string[];
  readonly uuid: string | null;
  readonly bmcAddress: string | null;
}

/** Someone else holding an address, e.g. an unexpired DHCP lease. */
export interface PlanReservation {
  readonly ip: string;
  readonly mac: string;
  readonly machineId: number | null;
}

export interface PlanInput {
  readonly rule: IpRule;
  readonly bmcs: readonly PlanBmc[];
  readonly machines: readonly PlanMachine[];
  readonly reservations?: readonly PlanReservation[];
}

export type PlanChange =
  | { readonly action: 'add'; readonly bmc: string; readonly name: string; readonly ip: string; readonly macs: readonly string[]; readonly uuid: string | null }
  | {
      readonly action: 'update';
      readonly bmc: string;
      readonly machineId: number;
      readonly name: string;
      readonly ipFrom: string | null;
      readonly ipTo: string;
      /** The machine gets linked to this BMC (it was not). */
      readonly link: boolean;
    }
  | { readonly action: 'unchanged'; readonly bmc: string; readonly machineId: number; readonly name: string; readonly ip: string }
  | { readonly action: 'skip'; readonly bmc: string; readonly reason: string }
  | {
      readonly action: 'conflict';
      readonly bmc: string;
      readonly machineId: number | null;
      readonly name: string | null;
      readonly ip: string | null;
      readonly reasons: readonly string[];
    };

export interface IpPlan {
  readonly changes: readonly PlanChange[];
  /** True when there is no conflict: --apply may commit it. */
  readonly applicable: boolean;
  readonly counts: Readonly<Record<PlanChange['action'], number>>;
}

/** The name rackboot gives a machine it adds (as `machines add` does): node-10-99-0-11. */
export function machineNameForIp(ip: string): string {
  return `node-${ip.replace(/\./g, '-')}`;
}

function ipNumber(ip: string): number {
  return parseIpv4(ip) ?? 0;
}

/** The host address the rule gives a BMC, or why it gives none. */
export function hostAddressFor(
  rule: IpRule,
  bmcAddress: string,
  ordinal: number,
): { ok: true; ip: string } | { ok: false; skip: string } | { ok: false; conflict: string } {
  const bmc = parseIpv4(bmcAddress);
  if (bmc === null) return { ok: false, skip: `${bmcAddress} is not an IPv4 address` };
  const host = parseCidr(rule.hostSubnet) as Cidr;
  let value: number;
  if (rule.kind === 'bmc-offset') {
    const bmcNet = parseCidr(rule.bmcSubnet) as Cidr;
    if (((bmc & bmcNet.mask) >>> 0) !== bmcNet.network) return { ok: false, skip: `outside the BMC subnet ${rule.bmcSubnet}` };
    value = host.network + (bmc - bmcNet.network) - rule.offset;
  } else {
    const slot = rule.slots ? rule.slots[bmcAddress] : ordinal;
    if (slot === undefined) return { ok: false, skip: 'not in the slot map' };
    value = (parseIpv4(rule.base) as number) + slot * (rule.step ?? 1);
  }
  if (value < 0 || value > 0xffffffff) return { ok: false, conflict: 'the rule gives an address outside IPv4' };
  const ip = formatIpv4(value);
  if (((value & host.mask) >>> 0) !== host.network) return { ok: false, conflict: `${ip} is outside the host subnet ${rule.hostSubnet}` };
  if (host.prefix <= 30) {
    if (value === host.network) return { ok: false, conflict: `${ip} is the network address of ${rule.hostSubnet}` };
    if (value === (host.network | ~host.mask) >>> 0) return { ok: false, conflict: `${ip} is the broadcast address of ${rule.hostSubnet}` };
  }
  if (rule.first !== undefined && value < ipNumber(rule.first)) return { ok: false, conflict: `${ip} is below the range start ${rule.first}` };
  if (rule.last !== undefined && value > ipNumber(rule.last)) return { ok: false, conflict: `${ip} is above the range end ${rule.last}` };
  return { ok: true, ip };
}

/** Machines a BMC belongs to: by link, by recorded BMC address, by host MAC, by GUID (either byte order). */
export function matchingMachines(bmc: PlanBmc, machines: readonly PlanMachine[]): { machines: PlanMachine[]; evidence: string[] } {
  const found = new Map<number, string[]>();
  const note = (m: PlanMachine, why: string) => found.set(m.id, [...(found.get(m.id) ?? []), why]);
  for (const m of machines) {
    if (bmc.machineId === m.id) note(m, 'linked');
    if (m.bmcAddress === bmc.address) note(m, 'BMC address');
    const shared = bmc.hostMacs.filter((mac) => m.macs.includes(mac));
    if (shared.length > 0) note(m, `MAC ${shared.join(', ')}`);
    if (compareUuids(bmc.guid, m.uuid) === 'match') note(m, 'GUID');
  }
  const list = machines.filter((m) => found.has(m.id));
  return { machines: list, evidence: list.map((m) => `${m.name} (${(found.get(m.id) ?? []).join(', ')})`) };
}

interface Draft {
  bmc: PlanBmc;
  ip: string | null;
  machine: PlanMachine | null;
  conflicts: string[];
  skip: string | null;
}

export function planIps(input: PlanInput): IpPlan {
  const bmcs = [...input.bmcs].sort((a, b) => ipNumber(a.address) - ipNumber(b.address));
  const drafts: Draft[] = bmcs.map((bmc, ordinal) => {
    const draft: Draft = { bmc, ip: null, machine: null, conflicts: [], skip: null };
    const target = hostAddressFor(input.rule, bmc.address, ordinal);
    if (target.ok) draft.ip = target.ip;
    else if ('skip' in target) draft.skip = target.skip;
    else draft.conflicts.push(target.conflict);
    const match = matchingMachines(bmc, input.machines);
    if (match.machines.length > 1) draft.conflicts.push(`matches several machines: ${match.evidence.join('; ')}`);
    draft.machine = match.machines[0] ?? null;
    if (!draft.machine && !draft.skip && bmc.hostMacs.length === 0) {
      draft.skip = 'no host MAC known (none in the FRU or OEM data): add the machine by hand with `machines add`';
    }
    return draft;
  });
  const active = drafts.filter((d) => !d.skip);

  // One machine, one BMC.
  const byMachine = new Map<number, Draft[]>();
  for (const d of active) if (d.machine) byMachine.set(d.machine.id, [...(byMachine.get(d.machine.id) ?? []), d]);
  for (const [, group] of byMachine) {
    if (group.length > 1) for (const d of group) d.conflicts.push(`machine ${d.machine?.name} also matches BMC ${group.filter((g) => g !== d).map((g) => g.bmc.address).join(', ')}`);
  }
  // One address, one machine.
  const byIp = new Map<string, Draft[]>();
  for (const d of active) if (d.ip) byIp.set(d.ip, [...(byIp.get(d.ip) ?? []), d]);
  for (const [ip, group] of byIp) {
    if (group.length > 1) for (const d of group) d.conflicts.push(`${ip} is also planned for BMC ${group.filter((g) => g !== d).map((g) => g.bmc.address).join(', ')}`);
  }
  // Addresses held by machines outside the plan, or by leases of other machines.
  const planned = new Set(active.map((d) => d.machine?.id).filter((id): id is number => id !== undefined));
  for (const d of active) {
    if (!d.ip) continue;
    const holder = input.machines.find((m) => m.ip === d.ip && m.id !== d.machine?.id && !planned.has(m.id));
    if (holder) d.conflicts.push(`${d.ip} is reserved for machine ${holder.name}`);
    const ownMacs = new Set([...(d.machine?.macs ?? []), ...d.bmc.hostMacs]);
    const lease = input.reservations?.find((r) => r.ip === d.ip && !ownMacs.has(r.mac) && (r.machineId === null || r.machineId !== d.machine?.id));
    if (lease) d.conflicts.push(`${d.ip} is leased to ${lease.mac}`);
    if (!d.machine) {
      const name = machineNameForIp(d.ip);
      const named = input.machines.find((m) => m.name === name);
      if (named) d.conflicts.push(`the name ${name} is taken by another machine`);
    }
  }

  const changes: PlanChange[] = drafts.map((d): PlanChange => {
    const bmc = d.bmc.address;
    if (d.skip) return { action: 'skip', bmc, reason: d.skip };
    if (d.conflicts.length > 0 || !d.ip) {
      return { action: 'conflict', bmc, machineId: d.machine?.id ?? null, name: d.machine?.name ?? null, ip: d.ip, reasons: d.conflicts };
    }
    if (!d.machine) return { action: 'add', bmc, name: machineNameForIp(d.ip), ip: d.ip, macs: [...d.bmc.hostMacs], uuid: d.bmc.guid };
    const link = d.machine.bmcAddress !== bmc || d.bmc.machineId !== d.machine.id;
    if (d.machine.ip === d.ip && !link) return { action: 'unchanged', bmc, machineId: d.machine.id, name: d.machine.name, ip: d.ip };
    return { action: 'update', bmc, machineId: d.machine.id, name: d.machine.name, ipFrom: d.machine.ip, ipTo: d.ip, link };
  });
  const counts = { add: 0, update: 0, unchanged: 0, skip: 0, conflict: 0 };
  for (const c of changes) counts[c.action]++;
  return { changes, applicable: counts.conflict === 0, counts };
}
