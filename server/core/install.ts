/**
 * The values of boot-templates/install.sh.hbs: what one machine's install script does, computed
 * from the inventory, the config, the offline mirror's manifests and the machine's cloud-config
 * context. Pure: the Provisioner hands in everything (the rendered user_data too).
 *
 * Steps of the script (docs/install.md): 1 time, 2 hardware, 3 disk, 4 os, 5 payload, 6 network,
 * 7 installed (then reboot). Every file written onto the installed ROOT is listed here with its
 * step, so tests can check them (units: systemd-analyze verify; scripts: shellcheck).
 */
import type { AssetIndex, AssetManifest } from './assets.js';
import { dcosPayload, kubernetesPayload, mountUnitName, rootFile, type KubernetesSecrets, type Payload, type PayloadInput } from './install-payload.js';
import type { Role } from './roles.js';

export { rootFile, type KubernetesSecrets } from './install-payload.js';

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

/** Renders boot-templates/install.sh.hbs (server/install/templates.ts). */
export interface InstallRenderer {
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
  readonly downloads: readonly RootDownload[];
  readonly enable: readonly UnitLink[];
  readonly mask: readonly string[];
}

export interface InstallInput extends PayloadInput {
  readonly kubernetes: KubernetesSecrets | null;
  /** The installed system's cloud-config (the role template's third render stage). */
  readonly userData: string;
  /** `rackboot reprovision` since the last install: the script may overwrite a disk that holds data. */
  readonly allowWipe: boolean;
  readonly dryRun: boolean;
}

export type InstallContextResult =
  | { readonly ok: true; readonly context: InstallScriptContext; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

export const USER_DATA_PATH = '/var/lib/flatcar-install/user_data';

export function buildInstallContext(input: InstallInput): InstallContextResult {
  const { machine, cloud, settings } = input;
  const role = cloud.machine.role;
  if (role === 'none') return { ok: false, errors: [`${machine.name} has no role: install mode needs one`] };
  const roleSettings = settings.roles[role];
  const errors: string[] = [];

  const version = roleSettings.osVersion ?? settings.os.version;
  let manifest: AssetManifest | null = null;
  if (version === undefined) {
    errors.push('install.os.version is not set: pick an imported version (rackboot assets list)');
  } else {
    manifest = input.assets.manifest(settings.os.mirror, version);
    if (!manifest) errors.push(`${settings.os.mirror}/${version} is not imported (rackboot assets import; rackboot assets list)`);
  }
  const imageEntry = manifest?.files[settings.os.image];
  if (manifest && !imageEntry) errors.push(`${settings.os.mirror}/${version} has no ${settings.os.image} (manifest lists ${Object.keys(manifest.files).join(', ')})`);

  const profile = roleSettings.profile === 'default' ? (settings.profiles.default ?? []) : settings.profiles[roleSettings.profile];
  if (profile === undefined) errors.push(`install.roles.${role}.profile names ${roleSettings.profile}, which is not in install.profiles`);

  let payload: Payload = { summary: 'no payload (the OS and the role cloud-config only)', files: [], downloads: [], enable: [], mask: [] };
  if (roleSettings.payload === 'kubernetes') {
    const result = kubernetesPayload({
      machine,
      inventory: input.inventory,
      cloud,
      settings,
      baseUrl: input.baseUrl,
      assets: input.assets,
      secrets: input.kubernetes,
    });
    if (result.ok) payload = result.payload;
    else errors.push(...result.errors);
  } else if (roleSettings.payload === 'dcos') {
    const result = dcosPayload({ machine, inventory: input.inventory, cloud, settings, baseUrl: input.baseUrl, assets: input.assets });
    if (result.ok) payload = result.payload;
    else errors.push(...result.errors);
  }
  for (const rule of settings.diskRules) {
    if (!/^(by-id|by-path):[A-Za-z0-9*?._:+-]+$/.test(rule)) errors.push(`disk rule ${JSON.stringify(rule)} is not by-id:<glob> or by-path:<glob>`);
  }
  if (errors.length > 0 || !manifest || !imageEntry || version === undefined || profile === undefined) return { ok: false, errors };

  const partitions = profile.map((p) => ({ label: p.label, sizeMiB: p.sizeMiB ?? 0, filesystem: p.filesystem }));
  const mountUnits: RootFile[] = [];
  const mountLinks: UnitLink[] = [];
  for (const p of profile) {
    if (p.mountPoint === undefined || p.filesystem === 'none') continue;
    const unit = mountUnitName(p.mountPoint);
    mountUnits.push(
      rootFile(
        `/etc/systemd/system/${unit}`,
        '0644',
        [
          '[Unit]',
          `Description=rackboot data partition ${p.label} on ${p.mountPoint}`,
          'Before=local-fs.target',
          '[Mount]',
          `What=/dev/disk/by-label/${p.label}`,
          `Where=${p.mountPoint}`,
          `Type=${p.filesystem}`,
          '[Install]',
          'WantedBy=local-fs.target',
          '',
        ].join('\n'),
      ),
    );
    mountLinks.push({ unit, wantedBy: 'local-fs.target', target: `/etc/systemd/system/${unit}` });
  }

  const m = cloud.machine;
  const network = [
    '[Match]',
    `MACAddress=${m.primaryMac}`,
    '[Network]',
    `Address=${m.ip}/${m.prefixLength}`,
    ...(m.gateway ? [`Gateway=${m.gateway}`] : []),
    ...m.dns.map((d) => `DNS=${d}`),
    ...(m.domain ? [`Domains=${m.domain}`] : []),
    ...cloud.time.ntpServers.map((n) => `NTP=${n}`),
    '',
  ].join('\n');
  const networkFiles = [
    rootFile('/etc/systemd/network/10-rackboot.network', '0644', network),
    rootFile('/etc/hostname', '0644', `${m.name}\n`),
    ...(cloud.time.ntpServers.length > 0 ? [rootFile('/etc/systemd/timesyncd.conf', '0644', `[Time]\nNTP=${cloud.time.ntpServers.join(' ')}\n`)] : []),
  ];
  const osFiles = [
    rootFile(USER_DATA_PATH, '0600', input.userData),
    rootFile('/etc/rackboot/callback-url', '0600', `${cloud.callbackUrl}\n`),
    ...mountUnits,
  ];

  const minimums = roleSettings.minimums;
  const context: InstallScriptContext = {
    machine: { name: m.name, ip: m.ip, role, mac: m.primaryMac, fqdn: m.fqdn },
    callbackUrl: cloud.callbackUrl,
    timeUrl: `${input.baseUrl}/time`,
    allowWipe: input.allowWipe,
    dryRun: input.dryRun || settings.dryRun,
    maxClockSkewSeconds: settings.maxClockSkewSeconds,
    minimums: { ...minimums, diskBytes: String(minimums.diskMb * 1024 * 1024) },
    diskRules: settings.diskRules,
    image: {
      url: `${input.baseUrl}/assets/${settings.os.mirror}/${version}/${settings.os.image}`,
      name: settings.os.image,
      mirror: settings.os.mirror,
      version,
      bytes: imageEntry.bytes,
      sha256: imageEntry.sha256,
      sha512: imageEntry.sha512,
      compression: compressionOf(settings.os.image),
    },
    profile: roleSettings.profile,
    partitions,
    payload: { kind: roleSettings.payload, summary: payload.summary },
    files: { os: osFiles, payload: payload.files, network: networkFiles },
    downloads: payload.downloads,
    enable: [...mountLinks, ...payload.enable],
    mask: payload.mask,
  };
  const unsafe = findUnsafe(context);
  if (unsafe) return { ok: false, errors: [unsafe] };
  return { ok: true, context, warnings: [] };
}

export function compressionOf(name: string): 'bz2' | 'gz' | 'xz' | 'none' {
  if (name.endsWith('.bz2')) return 'bz2';
  if (name.endsWith('.gz')) return 'gz';
  if (name.endsWith('.xz')) return 'xz';
  return 'none';
}

/**
 * Everything below lands in a bash script: values are single-quoted by the template, but a here-
 * document's content must end with a newline and paths must be absolute and plain.
 */
function findUnsafe(context: InstallScriptContext): string | null {
  const files = [...context.files.os, ...context.files.payload, ...context.files.network];
  for (const f of files) {
    if (!/^\/[A-Za-z0-9._@/\\-]+$/.test(f.path) || f.path.includes('..')) return `refusing to write ${JSON.stringify(f.path)}: not a plain absolute path`;
    if (!/^0[0-7]{3}$/.test(f.mode)) return `${f.path}: mode ${f.mode} is not octal`;
    if (f.content !== '' && !f.content.endsWith('\n')) return `${f.path}: content must end with a newline`;
    if (f.content.includes('\0')) return `${f.path}: content has a NUL byte`;
  }
  for (const d of context.downloads) {
    if (!/^\/[A-Za-z0-9._@/-]+$/.test(d.path) || d.path.includes('..')) return `refusing to download to ${JSON.stringify(d.path)}`;
  }
  for (const value of [context.callbackUrl, context.timeUrl, context.image.url, ...context.downloads.map((d) => d.url)]) {
    if (!/^https?:\/\/[A-Za-z0-9._~:/?#[\]@!&()*+,=%-]+$/.test(value)) return `URL ${JSON.stringify(value)} has characters that do not belong in a URL`;
  }
  return null;
}
