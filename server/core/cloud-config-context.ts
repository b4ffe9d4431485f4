/**
 * Builds the CloudConfigContext of one machine from the inventory and config. Pure: the same
 * inventory always gives the same context, so two rackboot instances serve identical configs.
 */
import { computeEtcd, type EtcdCertificateRequest, type EtcdClusterPlan, type EtcdCredentials, type RenderMembership } from './cluster.js';
import type { DhcpSubnet } from './dhcp-decision.js';
import { cidrContains, cidrNetmask, parseCidr } from './ipv4.js';
import type { CloudConfigContext } from './render-context.js';
import { isRole, roleSpec, ROLES } from './roles.js';
import type { Machine } from './types.js';

export interface ClusterSettings {
  /** Part of every etcd cluster token, so clusters of different racks never join each other. */
  readonly name: string;
  readonly sshAuthorizedKeys: readonly string[];
  readonly ntpServers: readonly string[];
  /** Path of the etcd binary below the assets directory (served at /assets/<path>). */
  readonly etcdBinary: string;
}

export interface CloudConfigInput {
  readonly machine: Machine;
  readonly inventory: readonly Machine[];
  readonly subnets: readonly DhcpSubnet[];
  readonly baseUrl: string;
  readonly serverAddress: string;
  readonly cluster: ClusterSettings;
  readonly bootToken: string;
  /** The registered MAC that booted: the NIC the OS configures (default: the first registered). */
  readonly bootMac?: string;
  /** Issues the machine's etcd certificate; absent: placeholders (previews and tests without a CA). */
  readonly etcdCredentials?: (request: EtcdCertificateRequest) => EtcdCredentials;
  /** The membership adapter's decision for this boot; absent: the static bootstrap. */
  readonly etcdMembership?: RenderMembership;
}

/** What a render without rackboot's etcd CA shows instead of certificates (never served: see Provisioner). */
export const PLACEHOLDER_CREDENTIALS: EtcdCredentials = {
  caCert: 'rackboot: no etcd CA in this process\n',
  cert: 'rackboot: no etcd CA in this process\n',
  key: 'rackboot: no etcd CA in this process\n',
};

export type CloudConfigContextResult =
  | { readonly ok: true; readonly template: string; readonly context: CloudConfigContext; readonly warnings: readonly string[]; readonly etcdPlan: EtcdClusterPlan | null }
  | { readonly ok: false; readonly errors: readonly string[] };

/** The cloud-config template a machine gets: its role's, or `fallback` when it has none. */
export function templateFor(machine: Machine, fallback: string): string {
  return isRole(machine.role) ? roleSpec(machine.role).template : fallback;
}

export function buildCloudConfigContext(input: CloudConfigInput, fallbackTemplate: string): CloudConfigContextResult {
  const { machine, baseUrl } = input;
  if (machine.ip === null) return { ok: false, errors: [`${machine.name} has no reserved IP address`] };
  const ip = machine.ip;
  const subnet = input.subnets.find((s) => {
    const cidr = parseCidr(s.cidr);
    return cidr !== null && cidrContains(cidr, ip);
  });
  const cidr = subnet ? parseCidr(subnet.cidr) : null;
  if (!subnet || !cidr) return { ok: false, errors: [`${machine.name}'s address ${ip} is in no configured subnet (dhcp.subnets)`] };
  if (machine.role !== null && !isRole(machine.role)) {
    return { ok: false, errors: [`${machine.name} has role ${machine.role}, which is not one of ${ROLES.join(', ')}`] };
  }

  let etcd: CloudConfigContext['etcd'] = null;
  let etcdPlan: EtcdClusterPlan | null = null;
  const warnings: string[] = [];
  if (isRole(machine.role)) {
    const computed = computeEtcd({
      machine: { name: machine.name, ip, role: machine.role },
      inventory: input.inventory.map((m) => ({ name: m.name, ip: m.ip, role: m.role })),
      clusterName: input.cluster.name,
      binaryUrl: `${baseUrl}/assets/${input.cluster.etcdBinary}`,
      etcdctlUrl: `${baseUrl}/assets/${etcdctlPath(input.cluster.etcdBinary)}`,
      credentials: input.etcdCredentials ?? (() => PLACEHOLDER_CREDENTIALS),
      ...(input.etcdMembership ? { membership: input.etcdMembership } : {}),
    });
    if (!computed.ok) return { ok: false, errors: computed.errors };
    etcd = computed.etcd;
    etcdPlan = computed.plan;
    warnings.push(...computed.warnings);
  }

  const domain = subnet.domain ?? '';
  const unsafe = unitFileUnsafe({
    name: machine.name,
    domain,
    macs: machine.macs.join(','),
    gateway: subnet.gateway ?? '',
    dns: subnet.dns.join(','),
    ntpServers: input.cluster.ntpServers.join(','),
    baseUrl,
  });
  if (unsafe) return { ok: false, errors: [`${unsafe} contains characters that cannot go into a unit or network file`] };
  const context: CloudConfigContext = {
    machine: {
      name: machine.name,
      fqdn: domain ? `${machine.name}.${domain}` : machine.name,
      ip,
      prefixLength: cidr.prefix,
      netmask: cidrNetmask(cidr),
      gateway: subnet.gateway ?? '',
      dns: subnet.dns,
      domain,
      macs: machine.macs,
      primaryMac: input.bootMac !== undefined && machine.macs.includes(input.bootMac) ? input.bootMac : (machine.macs[0] ?? ''),
      role: isRole(machine.role) ? machine.role : 'none',
      mode: machine.bootMode,
    },
    server: { baseUrl, address: input.serverAddress },
    callbackUrl: `${baseUrl}/callback/${input.bootToken}`,
    installScriptUrl: machine.bootMode === 'install' && isRole(machine.role) ? `${baseUrl}/install/${input.bootToken}` : '',
    ssh: { authorizedKeys: input.cluster.sshAuthorizedKeys },
    time: { ntpServers: input.cluster.ntpServers },
    etcd,
  };
  return { ok: true, template: templateFor(machine, fallbackTemplate), context, warnings, etcdPlan };
}

/** etcdctl lives next to the etcd binary in the offline assets (etcd/etcd -> etcd/etcdctl). */
export function etcdctlPath(etcdBinary: string): string {
  const slash = etcdBinary.lastIndexOf('/');
  return `${slash < 0 ? '' : etcdBinary.slice(0, slash + 1)}etcdctl`;
}

/**
 * Names, addresses and URLs land unquoted in systemd unit and .network files, where white space
 * splits words and % and $ are expanded: allow only what such values are made of.
 */
function unitFileUnsafe(values: Readonly<Record<string, string>>): string | null {
  for (const [key, value] of Object.entries(values)) if (!/^[A-Za-z0-9._:,/[\]-]*$/.test(value)) return key;
  return null;
}
