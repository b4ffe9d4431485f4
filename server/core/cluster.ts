/**
 * etcd membership for the CoreOS cluster architectures, computed from the inventory alone so that every
 * rackboot instance (and every render of every machine) reaches the same answer. Who is a member and
 * who a gateway, and how many members a cluster may have, is the role table's (core/roles.ts):
 *
 * - `none` (dev): no etcd.
 * - `member` (small, production-central): every machine of the role is a member; the count must be in
 *   the role's range, an even count is a warning, and so is one above the recommended counts.
 * - `lowest-ip-member` (test): the machine of the role with the lowest IP is the only member; the
 *   others run a local gateway to it.
 * - `gateway` (production-worker): a local gateway to the members of its cluster (whose set must itself be valid).
 *
 * Members are ordered by IP (numerically, then by name). Everything this module puts into the context
 * reaches systemd unit files unquoted, so every name, IP, the cluster name and the binary URL are
 * validated here. Pure: no I/O (hashing is computation).
 */
import { createHash } from 'node:crypto';
import { isValidMachineName } from './identifiers.js';
import { parseIpv4 } from './ipv4.js';
import type { EtcdContext, EtcdVariable } from './render-context.js';
import { etcdMembers, isRole, roleSpec, ROLES, type MemberCount, type Role } from './roles.js';

export interface ClusterMachine {
  readonly name: string;
  readonly ip: string | null;
  readonly role: string | null;
}

export interface EtcdInput {
  /** The machine being rendered. Its own entry wins over an inventory entry of the same name. */
  readonly machine: ClusterMachine;
  /** Every registered machine (the rendered one may or may not be among them). */
  readonly inventory: ReadonlyArray<ClusterMachine>;
  /** Names the cluster in the bootstrap token: lower-case letters, digits and hyphens. */
  readonly clusterName: string;
  /** URL of the etcd binary in rackboot's offline assets. */
  readonly binaryUrl: string;
  /** URL of etcdctl in rackboot's offline assets. */
  readonly etcdctlUrl: string;
  /** Issues this machine's certificate from rackboot's etcd CA (an adapter; tests pass a fake). */
  readonly credentials: (request: EtcdCertificateRequest) => EtcdCredentials;
  /** What the membership adapter decided for this boot (core/etcd-membership.ts); absent: the static bootstrap. */
  readonly membership?: RenderMembership;
}

/** A member certificate serves clients and peers and is also the member's client certificate; a client one only authenticates. */
export interface EtcdCertificateRequest {
  readonly kind: 'member' | 'client';
  /** The machine the certificate is for (names its files in rackboot's data directory). */
  readonly holder: string;
  /** '' for a proxy: etcd's grpc-proxy refuses a client certificate with a Common Name. */
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ips: readonly string[];
}

/** PEM texts. */
export interface EtcdCredentials {
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** How this boot's member starts: as the static bootstrap (`new`) or joining/restarting (`existing`) with these peers. */
export interface RenderMembership {
  readonly state: 'new' | 'existing';
  /** false: the role's member count is full, this machine runs a proxy. */
  readonly member: boolean;
  readonly initialCluster: ReadonlyArray<{ readonly name: string; readonly ip: string }>;
}

/** The etcd cluster a machine belongs to, as the membership adapter and the health view need it. */
export interface EtcdClusterPlan {
  /** The cluster id of core/roles.ts (`small`, `production`, `test`). */
  readonly cluster: string;
  readonly memberRole: Role;
  /** The members the inventory names, ordered by IP. */
  readonly members: ReadonlyArray<{ readonly name: string; readonly ip: string }>;
  /** The most members the role allows (1 for lowest-ip-member). */
  readonly maxMembers: number;
  /** The rendered machine holds a member of the role (a gateway role: false). */
  readonly memberRoleMachine: boolean;
}

export type EtcdResult =
  | { ok: true; etcd: EtcdContext | null; warnings: string[]; plan: EtcdClusterPlan | null }
  | { ok: false; errors: string[] };

/** Where the certificates and keys land on the machine. */
export const ETCD_CERT_DIR = '/etc/rackboot/etcd';
export const ETCD_DATA_DIR = '/var/lib/rackboot-etcd';
export const ETCD_PROXY_LISTEN = '127.0.0.1:2379';

export const ETCD_PEER_PORT = 2380;
export const ETCD_CLIENT_PORT = 2379;

interface Member {
  readonly name: string;
  readonly ip: string;
  readonly ipValue: number;
}

const CLUSTER_NAME = /^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$/;
/**
 * The binary URL lands in an ExecStartPre= line: no whitespace, quotes, backslashes, `%` (systemd
 * specifiers) or `$` (systemd variable expansion). Percent-encoded URLs are refused rather than escaped.
 */
const SAFE_URL = /^https?:\/\/[A-Za-z0-9._~:/?#[\]@!&()*+,=-]+$/;

export function computeEtcd(input: EtcdInput): EtcdResult {
  const { machine } = input;
  if (machine.role === null || machine.role === '') return { ok: true, etcd: null, warnings: [], plan: null };
  if (!isRole(machine.role)) {
    return { ok: false, errors: [`${describe(machine.name)} has role ${JSON.stringify(machine.role)}, which is not one of ${ROLES.join(', ')}.`] };
  }
  const role = machine.role;
  const spec = roleSpec(role);
  const holders = etcdMembers(role);
  if (spec.cluster === null || holders === null) return { ok: true, etcd: null, warnings: [], plan: null };
  const memberRole = holders.role;

  const errors: string[] = [];
  if (!CLUSTER_NAME.test(input.clusterName)) {
    errors.push(`The cluster name ${JSON.stringify(input.clusterName)} must be 1 to 42 lower-case letters, digits or hyphens; it names the etcd bootstrap token.`);
  }
  for (const [what, url] of [['etcd binary', input.binaryUrl], ['etcdctl binary', input.etcdctlUrl]]) {
    if (!SAFE_URL.test(url as string)) {
      errors.push(`The ${what} URL ${JSON.stringify(url)} must be an http(s) URL without spaces, quotes, backslashes, semicolons, "%" or "$" (it is written into a systemd unit).`);
    }
  }
  if (spec.etcd.kind !== 'member') {
    // machines of a member role are checked by memberSet with the others.
    if (!isValidMachineName(machine.name)) {
      errors.push(`${describe(machine.name)} is not a valid host name (lower-case letters, digits and hyphens).`);
    }
    if (parseIpv4(machine.ip ?? '') === null) {
      errors.push(machine.ip === null || machine.ip === ''
        ? `${role} machine ${machine.name} has no reserved IP; etcd roles need a static address on every machine.`
        : `${role} machine ${machine.name} has IP ${JSON.stringify(machine.ip)}, which is not an IPv4 address.`);
    }
  }

  const everyone = [...input.inventory.filter((m) => m.name !== machine.name), machine];
  const warnings: string[] = [];
  let members: Member[];
  if (holders.etcd.kind === 'lowest-ip-member') {
    // Only the lowest-IP machine needs to be valid here; the others are gateways and need only their own IP.
    const candidates = everyone.filter((m) => m.role === memberRole && parseIpv4(m.ip ?? '') !== null);
    const [first, second] = sortMembers(candidates.map(toMember));
    members = first === undefined ? [] : [first];
    if (first !== undefined && !isValidMachineName(first.name)) {
      errors.push(`${memberRole} machine ${JSON.stringify(first.name)} would be the etcd member, but it is not a valid host name.`);
    }
    if (first !== undefined && second !== undefined && first.ipValue === second.ipValue) {
      errors.push(`${memberRole} machines ${first.name} and ${second.name} share the IP ${first.ip}; the etcd member needs its own address.`);
    }
  } else {
    const set = memberSet(everyone, memberRole, errors);
    members = set.members;
    if (spec.etcd.kind === 'gateway' && set.total === 0) {
      errors.push(`${role} ${machine.name} has no ${memberRole} machines to reach; ${spec.etcd.withoutMembers}.`);
    } else {
      checkSize(memberRole, holders.etcd.count, set.total, errors, warnings);
    }
  }
  if (errors.length > 0) return { ok: false, errors };

  const plan: EtcdClusterPlan = {
    cluster: spec.cluster,
    memberRole,
    members: members.map((m) => ({ name: m.name, ip: m.ip })),
    maxMembers: holders.etcd.kind === 'member' ? holders.etcd.count.max : 1,
    memberRoleMachine: spec.etcd.kind !== 'gateway',
  };
  const self = members.find((m) => m.name === machine.name);
  const decided = input.membership;
  const isMember = decided ? decided.member && plan.memberRoleMachine : spec.etcd.kind !== 'gateway' && self !== undefined;
  const peers = decided ? decided.initialCluster : members;
  const common = {
    token: clusterToken(input.clusterName, spec.cluster, members),
    endpoints: members.map((m) => clientUrl(m.ip)).join(','),
    binaryUrl: input.binaryUrl,
    etcdctlUrl: input.etcdctlUrl,
  };
  const ip = machine.ip ?? '';
  const credentials = input.credentials({
    kind: isMember ? 'member' : 'client',
    holder: machine.name,
    commonName: isMember ? machine.name : '',
    dnsNames: isMember ? [machine.name, 'localhost'] : [machine.name],
    ips: isMember ? [ip, '127.0.0.1'] : [ip],
  });
  const own = isMember ? 'server' : 'client';
  const files = [
    { path: `${ETCD_CERT_DIR}/ca.crt`, permissions: '0644' as const, content: credentials.caCert },
    { path: `${ETCD_CERT_DIR}/${own}.crt`, permissions: '0644' as const, content: credentials.cert },
    { path: `${ETCD_CERT_DIR}/${own}.key`, permissions: '0600' as const, content: credentials.key },
  ];
  const tls = `--cacert=${ETCD_CERT_DIR}/ca.crt --cert=${ETCD_CERT_DIR}/${own}.crt --key=${ETCD_CERT_DIR}/${own}.key`;
  if (!isMember) {
    return {
      ok: true,
      warnings,
      plan,
      etcd: {
        ...common,
        member: false,
        name: '',
        initialCluster: '',
        state: 'new',
        peerUrl: '',
        clientUrl: '',
        environment: [],
        command: `/opt/bin/etcd grpc-proxy start --listen-addr=${ETCD_PROXY_LISTEN} --endpoints=${common.endpoints} ${tls}`,
        files,
        healthCommand: `/opt/bin/etcdctl --endpoints=http://${ETCD_PROXY_LISTEN} --command-timeout=5s endpoint health`,
      },
    };
  }
  const state = decided?.state ?? 'new';
  const initialCluster = peers.map((m) => `${m.name}=${peerUrl(m.ip)}`).join(',');
  const environment: EtcdVariable[] = [
    ['ETCD_NAME', machine.name],
    ['ETCD_DATA_DIR', ETCD_DATA_DIR],
    ['ETCD_LISTEN_PEER_URLS', peerUrl(ip)],
    ['ETCD_INITIAL_ADVERTISE_PEER_URLS', peerUrl(ip)],
    ['ETCD_LISTEN_CLIENT_URLS', `${clientUrl(ip)},https://127.0.0.1:${ETCD_CLIENT_PORT}`],
    ['ETCD_ADVERTISE_CLIENT_URLS', clientUrl(ip)],
    ['ETCD_INITIAL_CLUSTER', initialCluster],
    ['ETCD_INITIAL_CLUSTER_TOKEN', common.token],
    ['ETCD_INITIAL_CLUSTER_STATE', state],
    ['ETCD_TRUSTED_CA_FILE', `${ETCD_CERT_DIR}/ca.crt`],
    ['ETCD_CERT_FILE', `${ETCD_CERT_DIR}/server.crt`],
    ['ETCD_KEY_FILE', `${ETCD_CERT_DIR}/server.key`],
    ['ETCD_CLIENT_CERT_AUTH', 'true'],
    ['ETCD_PEER_TRUSTED_CA_FILE', `${ETCD_CERT_DIR}/ca.crt`],
    ['ETCD_PEER_CERT_FILE', `${ETCD_CERT_DIR}/server.crt`],
    ['ETCD_PEER_KEY_FILE', `${ETCD_CERT_DIR}/server.key`],
    ['ETCD_PEER_CLIENT_CERT_AUTH', 'true'],
  ].map(([name, value]) => ({ name: name as string, value: value as string }));
  return {
    ok: true,
    warnings,
    plan,
    etcd: {
      ...common,
      member: true,
      name: machine.name,
      initialCluster,
      state,
      peerUrl: peerUrl(ip),
      clientUrl: clientUrl(ip),
      environment,
      command: '/opt/bin/etcd',
      files,
      healthCommand: `/opt/bin/etcdctl --endpoints=${clientUrl(ip)} ${tls} --command-timeout=5s endpoint health`,
    },
  };
}

export function peerUrl(ip: string): string {
  return `https://${ip}:${ETCD_PEER_PORT}`;
}

export function clientUrl(ip: string): string {
  return `https://${ip}:${ETCD_CLIENT_PORT}`;
}

/** The one pure function the renderers call: every etcd setting of one machine (alias of computeEtcd). */
export const etcdSettings = computeEtcd;

/**
 * `rackboot-<cluster>-<group>-<10 hex>`: the hash covers the sorted `name=ip` list, so a re-created
 * cluster with other machines or addresses never cross-talks with the old one, and every rackboot
 * instance derives the same token.
 */
export function clusterToken(clusterName: string, group: string, members: ReadonlyArray<{ name: string; ip: string }>): string {
  const list = members.map((m) => `${m.name}=${m.ip}`).sort().join(',');
  const digest = createHash('sha256').update(list).digest('hex').slice(0, 10);
  return `rackboot-${clusterName}-${group}-${digest}`;
}

function describe(name: string): string {
  return `Machine ${JSON.stringify(name)}`;
}

function toMember(m: ClusterMachine): Member {
  return { name: m.name, ip: m.ip ?? '', ipValue: parseIpv4(m.ip ?? '') ?? -1 };
}

function sortMembers(members: Member[]): Member[] {
  return members.sort((a, b) => a.ipValue - b.ipValue || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Every machine of `role`, each checked (name, IP, no shared IP), the valid ones ordered by IP.
 * `total` counts the invalid ones too, so a missing IP is not also reported as a too-small cluster.
 */
function memberSet(everyone: ReadonlyArray<ClusterMachine>, role: Role, errors: string[]): { members: Member[]; total: number } {
  const found = everyone.filter((m) => m.role === role);
  const valid: ClusterMachine[] = [];
  for (const m of found) {
    if (!isValidMachineName(m.name)) {
      errors.push(`${role} member ${JSON.stringify(m.name)} is not a valid host name (lower-case letters, digits and hyphens).`);
    } else if (m.ip === null || m.ip === '') {
      errors.push(`${role} member ${m.name} has no reserved IP; etcd static bootstrap needs a fixed address for every member.`);
    } else if (parseIpv4(m.ip) === null) {
      errors.push(`${role} member ${m.name} has IP ${JSON.stringify(m.ip)}, which is not an IPv4 address.`);
    } else {
      valid.push(m);
    }
  }
  const members = sortMembers(valid.map(toMember));
  for (let i = 1; i < members.length; i++) {
    const a = members[i - 1] as Member;
    const b = members[i] as Member;
    if (a.ipValue === b.ipValue) errors.push(`${role} members ${a.name} and ${b.name} share the IP ${a.ip}; each etcd member needs its own address.`);
  }
  return { members, total: found.length };
}

function checkSize(role: Role, rule: MemberCount, count: number, errors: string[], warnings: string[]): void {
  const { min, max, recommended } = rule;
  const advised = recommended?.join(' or ');
  const largestAdvised = recommended === undefined ? max : Math.max(...recommended);
  if (count < min) {
    errors.push(`${role} has ${count} member${count === 1 ? '' : 's'}; etcd needs ${advised ?? `at least ${min}`} for fault tolerance.`);
  } else if (count > max) {
    errors.push(`${role} has ${count} members; ${rule.overMax}.`);
  } else if (count % 2 === 0) {
    warnings.push(`${role} has ${count} members; an even count adds no fault tolerance (${count} members survive ${failures(faultTolerance(count))}, as ${count - 1} do), so use ${count - 1} or ${count + 1}.`);
  } else if (count > largestAdvised) {
    warnings.push(`${role} has ${count} members; ${advised} are recommended (every extra member slows writes, and ${largestAdvised} already survive ${failures(faultTolerance(largestAdvised))}).`);
  }
}

function failures(n: number): string {
  return `${n} failure${n === 1 ? '' : 's'}`;
}

/** How many members a cluster of `size` can lose and keep a majority: size - (floor(size/2) + 1). */
export function faultTolerance(size: number): number {
  return size - (Math.floor(size / 2) + 1);
}
