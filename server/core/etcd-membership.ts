/**
 * etcd membership changes, decided from facts alone (docs/etcd.md). The adapter
 * (services/etcd-membership.ts) observes the cluster through its API, calls `decideMembership` when
 * a member-role machine is about to get its config, executes the actions with rackboot's client
 * certificate and renders the machine with `render`. Pure.
 *
 * - The cluster answers and lists this machine (by name or peer URL): its data is gone (memory mode
 *   reboots, or an install writes a fresh disk), so the old member is removed and a new one added;
 *   the machine starts `existing` with the member list after the change.
 * - The cluster answers and does not list it: it is added when the role's maximum allows (the count
 *   may become even: a warning, as for static clusters), else it runs a proxy to the members.
 * - Nothing answers and rackboot never saw this cluster run: the static bootstrap (`new`).
 * - Nothing answers but rackboot saw it run: install mode restarts from disk (`existing`; etcd
 *   ignores the state when its data directory exists); memory mode is a cold start: every member lost
 *   its data, and rackboot refuses to form an empty cluster under the old name until the operator
 *   says so (`rackboot clusters forget`).
 */
import { peerUrl, type EtcdClusterPlan, type RenderMembership } from './cluster.js';
import type { BootMode } from './roles.js';

export interface ObservedMember {
  /** uint64 as a decimal string (the JSON gateway's encoding) */
  readonly id: string;
  /** '' while an added member has not started */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
}

export type Observation =
  | { readonly reachable: true; readonly clusterId: string; readonly members: readonly ObservedMember[] }
  | { readonly reachable: false; readonly reason: string };

export interface MembershipFacts {
  readonly machine: { readonly name: string; readonly ip: string; readonly mode: BootMode };
  readonly plan: EtcdClusterPlan;
  readonly observation: Observation;
  /** rackboot has seen this cluster answer (its id is recorded). */
  readonly formedBefore: boolean;
}

export type MembershipAction =
  | { readonly kind: 'remove'; readonly id: string; readonly name: string }
  | { readonly kind: 'add'; readonly name: string; readonly peerUrl: string };

export type MembershipDecision =
  | { readonly kind: 'bootstrap' | 'rejoin' | 'join' | 'restart-from-disk' | 'proxy'; readonly actions: readonly MembershipAction[]; readonly render: RenderMembership; readonly reason: string }
  | { readonly kind: 'cold-start'; readonly reason: string };

export function decideMembership(facts: MembershipFacts): MembershipDecision {
  const { machine, plan, observation } = facts;
  const ownPeer = peerUrl(machine.ip);
  if (observation.reachable) {
    const mine = observation.members.filter((m) => m.name === machine.name || m.peerUrls.includes(ownPeer));
    const others = observation.members.filter((m) => !mine.includes(m));
    const peers = [...others.map((m) => ({ name: memberName(m, plan), ip: hostOf(m.peerUrls[0] ?? '') })), { name: machine.name, ip: machine.ip }];
    const add: MembershipAction = { kind: 'add', name: machine.name, peerUrl: ownPeer };
    if (mine.length > 0) {
      return {
        kind: 'rejoin',
        actions: [...mine.map((m): MembershipAction => ({ kind: 'remove', id: m.id, name: m.name || machine.name })), add],
        render: { state: 'existing', member: true, initialCluster: peers },
        reason: `${machine.name} is member ${mine.map((m) => m.id).join(', ')} of the running cluster but boots without its data (${machine.mode} mode): replaced by a new member`,
      };
    }
    if (others.length + 1 <= plan.maxMembers) {
      return {
        kind: 'join',
        actions: [add],
        render: { state: 'existing', member: true, initialCluster: peers },
        reason: `${machine.name} joins the running cluster as member ${others.length + 1} of at most ${plan.maxMembers}`,
      };
    }
    return {
      kind: 'proxy',
      actions: [],
      render: { state: 'existing', member: false, initialCluster: [] },
      reason: `the cluster already has ${others.length} members, the most ${plan.memberRole} allows: ${machine.name} runs a proxy to them`,
    };
  }
  const own = plan.members.some((m) => m.name === machine.name);
  if (!own) {
    return { kind: 'proxy', actions: [], render: { state: 'new', member: false, initialCluster: [] }, reason: `${machine.name} is not one of the cluster's members: it runs a proxy` };
  }
  if (!facts.formedBefore) {
    return { kind: 'bootstrap', actions: [], render: { state: 'new', member: true, initialCluster: plan.members }, reason: `no member answers and the cluster never ran: static bootstrap of ${plan.members.length} members` };
  }
  if (machine.mode === 'install') {
    return {
      kind: 'restart-from-disk',
      actions: [],
      render: { state: 'existing', member: true, initialCluster: plan.members },
      reason: `no member answers (${observation.reason}); install mode: the members restart from the data on their disks`,
    };
  }
  return {
    kind: 'cold-start',
    reason: `cold start of etcd cluster ${plan.cluster}: no member answers (${observation.reason}) and its members boot in memory, so its data is gone; rackboot does not form a new, empty cluster under the same name until an operator runs \`rackboot clusters forget ${plan.cluster}\``,
  };
}

/** A started member's name; an added one that never started is named after the inventory machine with its peer URL. */
function memberName(member: ObservedMember, plan: EtcdClusterPlan): string {
  if (member.name !== '') return member.name;
  const ip = hostOf(member.peerUrls[0] ?? '');
  return plan.members.find((m) => m.ip === ip)?.name ?? `member-${member.id}`;
}

function hostOf(url: string): string {
  const match = /^https?:\/\/([^:/]+)/.exec(url);
  return match?.[1] ?? '';
}

/** One cluster's health as rackboot shows it (API, CLI, dashboard). */
export interface ClusterHealth {
  readonly cluster: string;
  readonly memberRole: string;
  /** healthy: every planned member answers with a leader; degraded: a quorum; no-quorum; cold-start; not-formed: never seen running. */
  readonly state: 'healthy' | 'degraded' | 'no-quorum' | 'cold-start' | 'not-formed';
  readonly clusterId: string | null;
  readonly leader: string | null;
  readonly members: ReadonlyArray<{ readonly name: string; readonly id: string; readonly peerUrl: string; readonly healthy: boolean }>;
  /** planned members (inventory) that are not members or do not answer */
  readonly missing: readonly string[];
  readonly checkedAt: number;
  readonly message: string;
}

export interface HealthFacts {
  readonly plan: EtcdClusterPlan;
  readonly observation: Observation;
  /** per member name that answered a status request: the leader's member id it reports */
  readonly statuses: ReadonlyMap<string, { readonly leader: string }>;
  readonly formedBefore: boolean;
  readonly allMemory: boolean;
  readonly now: number;
}

export function clusterHealth(facts: HealthFacts): ClusterHealth {
  const { plan, observation, statuses, now } = facts;
  const base = { cluster: plan.cluster, memberRole: plan.memberRole, checkedAt: now };
  if (!observation.reachable) {
    const cold = facts.formedBefore && facts.allMemory;
    return {
      ...base,
      state: cold ? 'cold-start' : facts.formedBefore ? 'no-quorum' : 'not-formed',
      clusterId: null,
      leader: null,
      members: [],
      missing: plan.members.map((m) => m.name),
      message: cold
        ? `no member answers and every member boots in memory: the data is gone (cold start); \`rackboot clusters forget ${plan.cluster}\` lets the next boots form a new, empty cluster`
        : facts.formedBefore
          ? `no member answers (${observation.reason})`
          : `not formed yet (${observation.reason})`,
    };
  }
  const members = observation.members.map((m) => {
    const name = memberName(m, plan);
    return { name, id: m.id, peerUrl: m.peerUrls[0] ?? '', healthy: statuses.has(name) };
  });
  const leaderId = [...statuses.values()].map((s) => s.leader).find((l) => l !== '0' && l !== '');
  const leader = leaderId === undefined ? null : (members.find((m) => m.id === leaderId)?.name ?? leaderId);
  const healthy = members.filter((m) => m.healthy).length;
  const missing = [
    ...plan.members.filter((p) => !members.some((m) => m.name === p.name && m.healthy)).map((p) => p.name),
    ...members.filter((m) => !m.healthy && !plan.members.some((p) => p.name === m.name)).map((m) => m.name),
  ];
  const quorum = Math.floor(members.length / 2) + 1;
  const state = leader !== null && healthy >= quorum ? (missing.length === 0 && healthy === members.length ? 'healthy' : 'degraded') : 'no-quorum';
  return {
    ...base,
    state,
    clusterId: observation.clusterId,
    leader,
    members,
    missing,
    message: `${healthy} of ${members.length} members answer${leader ? `, leader ${leader}` : ', no leader'}${missing.length > 0 ? `; missing: ${missing.join(', ')}` : ''}`,
  };
}
