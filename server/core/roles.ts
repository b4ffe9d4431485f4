/**
 * The roles a machine can have, in one table. Everything that depends on a role reads it from here:
 * the role list and its type, the cloud-config template, which machines form one cluster (and so
 * one etcd bootstrap token and one Kubernetes cluster), who runs an etcd member and who a local
 * gateway, the member-count rules, and the role's install defaults (install.roles.<role>).
 *
 * A new role is one entry here plus its template in cloud-configs/ (test/unit/core/roles.test.ts
 * checks that the two agree). Pure data.
 */
import type { KubernetesMode } from './install-types.js';

/** How many etcd members a cluster may have; an even count is always a warning. */
export interface MemberCount {
  readonly min: number;
  readonly max: number;
  /** The counts to aim for; absent: any odd count from min to max. */
  readonly recommended?: readonly number[];
  /** Why more than max are refused, after "<role> has <n> members; ". */
  readonly overMax: string;
}

export type RoleEtcd =
  /** No rackboot etcd (a machine of this role is its own single-node cluster). */
  | { readonly kind: 'none' }
  /** Every machine of the role is a member of its cluster's etcd. */
  | { readonly kind: 'member'; readonly count: MemberCount }
  /** The machine of the role with the lowest IP is the one member; the others run a gateway to it. */
  | { readonly kind: 'lowest-ip-member' }
  /** A local gateway to the members of its cluster; `withoutMembers` tells the operator what to register. */
  | { readonly kind: 'gateway'; readonly withoutMembers: string };

/** What `rackboot install` lays down for the role unless install.roles.<role> says otherwise. */
export interface RoleInstallDefaults {
  readonly payload: 'none' | 'kubernetes';
  readonly kubernetes: KubernetesMode;
}

export interface RoleSpec {
  readonly name: string;
  readonly description: string;
  /** cloud-configs/<template>.yaml.hbs */
  readonly template: string;
  /**
   * Roles with the same cluster id form one cluster: one etcd (the id names its bootstrap token) and
   * one Kubernetes cluster. null: every machine of the role is a cluster of its own.
   */
  readonly cluster: string | null;
  readonly etcd: RoleEtcd;
  readonly install: RoleInstallDefaults;
}

export const ROLE_TABLE = [
  {
    name: 'dev',
    description: 'a single machine: Docker on its local socket, no etcd',
    template: 'dev',
    cluster: null,
    etcd: { kind: 'none' },
    install: { payload: 'none', kubernetes: 'control-plane' },
  },
  {
    name: 'small',
    description: 'a small cluster: etcd on every machine',
    template: 'small',
    cluster: 'small',
    etcd: {
      kind: 'member',
      count: { min: 3, max: 9, overMax: 'a small cluster runs etcd on every node and supports at most 9 (use production-central and production-worker beyond that)' },
    },
    install: { payload: 'kubernetes', kubernetes: 'control-plane' },
  },
  {
    name: 'test',
    description: 'a test cluster: etcd on the machine with the lowest IP, a local gateway to it on the others',
    template: 'test',
    cluster: 'test',
    etcd: { kind: 'lowest-ip-member' },
    install: { payload: 'kubernetes', kubernetes: 'etcd-member' },
  },
  {
    name: 'production-central',
    description: 'the etcd members (3 or 5) of the production cluster',
    template: 'production-central',
    cluster: 'production',
    etcd: { kind: 'member', count: { min: 3, max: 7, recommended: [3, 5], overMax: 'at most 7 are supported and 3 or 5 are recommended' } },
    install: { payload: 'kubernetes', kubernetes: 'control-plane' },
  },
  {
    name: 'production-worker',
    description: 'a worker of the production cluster: a local gateway to the central etcd members',
    template: 'production-worker',
    cluster: 'production',
    etcd: { kind: 'gateway', withoutMembers: 'register 3 or 5 central nodes first' },
    install: { payload: 'kubernetes', kubernetes: 'worker' },
  },
] as const satisfies readonly RoleSpec[];

export type Role = (typeof ROLE_TABLE)[number]['name'];

export const ROLES: readonly Role[] = ROLE_TABLE.map((r) => r.name);

export const BOOT_MODES = ['memory', 'install'] as const;
export type BootMode = (typeof BOOT_MODES)[number];

export function isRole(value: string | null): value is Role {
  return value !== null && (ROLES as readonly string[]).includes(value);
}

/** The table, widened to RoleSpec (the literal types of ROLE_TABLE keep Role exact). */
const ROLE_SPECS: readonly RoleSpec[] = ROLE_TABLE;

export function roleSpec(role: Role): RoleSpec {
  return ROLE_SPECS.find((r) => r.name === role) as RoleSpec;
}

/** The roles whose machines form one cluster with a machine of `role` ([] for a role without a cluster, or none). */
export function clusterRoles(role: string | null): readonly Role[] {
  if (!isRole(role)) return [];
  const cluster = roleSpec(role).cluster;
  return cluster === null ? [] : ROLE_TABLE.filter((r) => r.cluster === cluster).map((r) => r.name);
}

/** The role whose machines hold the etcd members of a cluster, with its membership rule. */
export interface EtcdMembers {
  readonly role: Role;
  readonly etcd: Extract<RoleEtcd, { kind: 'member' | 'lowest-ip-member' }>;
}

/** Who holds the etcd members of `role`'s cluster: the role itself, or for a gateway its cluster's member role; null without etcd. */
export function etcdMembers(role: Role): EtcdMembers | null {
  const own = roleSpec(role);
  const holder = own.etcd.kind === 'gateway' ? ROLE_SPECS.find((r) => r.cluster === own.cluster && r.etcd.kind !== 'gateway') : own;
  if (holder === undefined || own.cluster === null) return null;
  const etcd = holder.etcd;
  return etcd.kind === 'member' || etcd.kind === 'lowest-ip-member' ? { role: holder.name as Role, etcd } : null;
}
