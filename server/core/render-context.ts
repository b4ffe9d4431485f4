/**
 * What a cloud-config template sees. The Provisioner builds it from the inventory and config; the
 * templates in cloud-configs/ (and cloud-configs/partials/) may use nothing else. Rendering is
 * strict: a name not in this context is an error, never an empty string.
 */
import type { BootMode, Role } from './roles.js';

export interface MachineContext {
  readonly name: string;
  /** name, or name.domain when the subnet has a domain */
  readonly fqdn: string;
  readonly ip: string;
  readonly prefixLength: number;
  readonly netmask: string;
  /** '' when the subnet has no gateway */
  readonly gateway: string;
  readonly dns: readonly string[];
  /** '' when the subnet has no domain */
  readonly domain: string;
  readonly macs: readonly string[];
  /** The MAC the machine PXE-booted from (the first registered one): the static network unit matches it. */
  readonly primaryMac: string;
  /** 'none' for a machine booted without a role (the menu's debug entry). */
  readonly role: Role | 'none';
  readonly mode: BootMode;
}

/** A file the etcd settings put on the machine (certificates and keys). */
export interface EtcdFile {
  readonly path: string;
  /** keys 0600 (root), certificates 0644 */
  readonly permissions: '0600' | '0644';
  readonly content: string;
}

export interface EtcdVariable {
  readonly name: string;
  readonly value: string;
}

/**
 * Everything a machine needs to run its etcd member or local proxy, in one format-neutral object
 * (core/cluster.ts computeEtcd): cloud-config templates and the Ignition model both consume it.
 */
export interface EtcdContext {
  /** This machine runs an etcd member (else a local proxy to the members). */
  readonly member: boolean;
  /** Member name (the machine name) when member. */
  readonly name: string;
  /** "n1=https://10.0.0.11:2380,n2=..." (the members this one starts with) */
  readonly initialCluster: string;
  readonly token: string;
  /** 'new' (the cluster forms now) or 'existing' (this member joins a running cluster or restarts from disk) */
  readonly state: 'new' | 'existing';
  /** https://<ip>:2380 and https://<ip>:2379 when member, '' otherwise */
  readonly peerUrl: string;
  readonly clientUrl: string;
  /** "https://10.0.0.11:2379,https://10.0.0.12:2379": the members' client URLs */
  readonly endpoints: string;
  /** URL of the etcd binary in rackboot's offline assets */
  readonly binaryUrl: string;
  /** URL of etcdctl in rackboot's offline assets (the ready check runs it) */
  readonly etcdctlUrl: string;
  /** The member's ETCD_* environment (flags as variables); [] for a proxy. */
  readonly environment: readonly EtcdVariable[];
  /** The etcd command line (member: the binary alone, configured by `environment`; proxy: grpc-proxy and its flags). */
  readonly command: string;
  /** CA certificate, this machine's certificate and key. */
  readonly files: readonly EtcdFile[];
  /** `etcdctl ... endpoint health` over TLS (member) or against the local proxy: the ready check. */
  readonly healthCommand: string;
}

export interface CloudConfigContext {
  readonly machine: MachineContext;
  readonly server: { readonly baseUrl: string; readonly address: string };
  /** POST {"event": ..., "message": ...} here */
  readonly callbackUrl: string;
  /** The install script (install mode); '' in memory mode */
  readonly installScriptUrl: string;
  readonly ssh: { readonly authorizedKeys: readonly string[] };
  readonly time: { readonly ntpServers: readonly string[] };
  /** null for roles without etcd (dev) */
  readonly etcd: EtcdContext | null;
}
