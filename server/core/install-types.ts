/**
 * The types install mode shares: the config's `install:` block as the core sees it, the cluster
 * secrets, the install script's context and the renderer port that turns it into text. Kept apart
 * from core/install.ts and core/install-payload.ts so that neither has to import the other's types.
 */
import type { AssetIndex } from './assets.js';
import type { PayloadTemplates } from './payload-templates.js';
import type { Role } from './roles.js';

export interface PartitionSpec {
  readonly label: string;
  /** absent: the rest of the disk */
  readonly sizeMiB?: number | undefined;
  readonly filesystem: 'ext4' | 'xfs' | 'btrfs' | 'vfat' | 'none';
  readonly mountPoint?: string | undefined;
}

export interface HardwareMinimums {
  readonly cpus: number;
  readonly memoryMb: number;
  readonly disks: number;
  readonly diskMb: number;
  readonly nics: number;
}

export type KubernetesMode = 'control-plane' | 'worker' | 'etcd-member';
export type DcosRole = 'master' | 'slave' | 'slave_public';

export interface RoleInstall {
  readonly minimums: HardwareMinimums;
  readonly profile: string;
  readonly payload: 'none' | 'kubernetes' | 'dcos';
  readonly kubernetes: KubernetesMode;
  readonly dcos: DcosRole;
  readonly osVersion?: string | undefined;
}

export interface KubernetesSettings {
  readonly version: string;
  readonly binaries: readonly string[];
  readonly images: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  readonly tokenTtl: string;
  readonly apiServerPort: number;
}

export interface KubernetesSecrets {
  /** [a-z0-9]{6}.[a-z0-9]{16} */
  readonly token: string;
  /** 64 hex digits: encrypts the control-plane certificates kubeadm uploads for joining control planes. */
  readonly certificateKey: string;
  readonly caCert: string;
  readonly caKey: string;
  /** sha256:<hex of the CA's SubjectPublicKeyInfo> */
  readonly caCertHash: string;
}

/** The `install:` block of the config, as the core sees it. */
export interface InstallSettings {
  readonly os: { readonly mirror: string; readonly version?: string | undefined; readonly image: string };
  readonly diskRules: readonly string[];
  readonly profiles: Readonly<Record<string, readonly PartitionSpec[]>>;
  readonly roles: Readonly<Record<Role, RoleInstall>>;
  readonly maxClockSkewSeconds: number;
  readonly dryRun: boolean;
  readonly kubernetes: KubernetesSettings;
  readonly dcos: { readonly version?: string | undefined; readonly resolvers: readonly string[] };
  readonly stuck: { readonly checkIntervalSeconds: number; readonly timeouts: Readonly<Partial<Record<string, number | undefined>>> };
}

/**
 * Renders boot-templates/install.sh.hbs and, as PayloadTemplates, boot-templates/install/*.hbs
 * (server/install/templates.ts). Replaced as a whole on a reload.
 */
export interface InstallRenderer extends PayloadTemplates {
  installScript(context: InstallScriptContext): string;
}

/** What the Provisioner needs for install mode; set by server/install/enable.ts when the server starts. */
export interface InstallExtension {
  readonly settings: InstallSettings;
  readonly renderer: InstallRenderer;
  readonly assets: AssetIndex;
  /** Cluster secrets rackboot generated (CA, bootstrap token, certificate key); null: no Kubernetes payload can render. */
  readonly kubernetes: KubernetesSecrets | null;
}

/** A file the script writes onto the installed system's ROOT file system. */
export interface RootFile {
  readonly path: string;
  /** octal, e.g. '0644' */
  readonly mode: string;
  readonly content: string;
  /** The here-document delimiter: a line the content does not contain. */
  readonly delimiter: string;
}

export interface RootDownload {
  readonly url: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Where on ROOT. */
  readonly path: string;
  readonly mode: string;
}

/** A unit enabled by a symlink: <ROOT>/etc/systemd/system/<wantedBy>.wants/<unit> -> <target>. */
export interface UnitLink {
  readonly unit: string;
  readonly wantedBy: string;
  readonly target: string;
}

export interface InstallScriptContext {
  readonly machine: { readonly name: string; readonly ip: string; readonly role: Role; readonly mac: string; readonly fqdn: string };
  readonly callbackUrl: string;
  readonly timeUrl: string;
  readonly allowWipe: boolean;
  readonly dryRun: boolean;
  readonly maxClockSkewSeconds: number;
  readonly minimums: HardwareMinimums & { readonly diskBytes: string };
  readonly diskRules: readonly string[];
  readonly image: {
    readonly url: string;
    readonly name: string;
    readonly mirror: string;
    readonly version: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly sha512: string;
    readonly compression: 'bz2' | 'gz' | 'xz' | 'none';
  };
  readonly profile: string;
  readonly partitions: ReadonlyArray<{ readonly label: string; readonly sizeMiB: number; readonly filesystem: string }>;
  readonly payload: { readonly kind: 'none' | 'kubernetes' | 'dcos'; readonly summary: string };
  readonly files: { readonly os: readonly RootFile[]; readonly payload: readonly RootFile[]; readonly network: readonly RootFile[] };
  /**
   * The installed system's Ignition config (config format ignition), written as config.ign on the
   * disk's OEM partition as `flatcar-install -i` does (path: relative to that partition); null: the
   * cloud-config in user_data on ROOT.
   */
  readonly oemIgnition: RootFile | null;
  readonly downloads: readonly RootDownload[];
  readonly enable: readonly UnitLink[];
  readonly mask: readonly string[];
}
