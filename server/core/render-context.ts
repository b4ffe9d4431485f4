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

export interface EtcdContext {
  /** This machine runs an etcd member (else a local gateway to the members). */
  readonly member: boolean;
  /** Member name (the machine name) when member. */
  readonly name: string;
  /** "n1=http://10.0.0.11:2380,n2=..." (static bootstrap) */
  readonly initialCluster: string;
  readonly token: string;
  /** 'new' */
  readonly state: string;
  /** http://<ip>:2380 and http://<ip>:2379 when member, '' otherwise */
  readonly peerUrl: string;
  readonly clientUrl: string;
  /** "10.0.0.11:2379,10.0.0.12:2379" for gateways and clients */
  readonly endpoints: string;
  /** URL of the etcd binary in rackboot's offline assets */
  readonly binaryUrl: string;
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
