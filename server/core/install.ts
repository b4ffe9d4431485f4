/**
 * The values of boot-templates/install.sh.hbs: what one machine's install script does, computed
 * from the inventory, the config, the offline mirror's manifests and the machine's cloud-config
 * context. Pure: the Provisioner hands in everything (the rendered user_data too).
 *
 * Steps of the script (docs/install.md): 1 time, 2 hardware, 3 disk, 4 os, 5 payload, 6 network,
 * 7 installed (then reboot). Every file written onto the installed ROOT is listed here with its
 * step, so tests can check them (units: systemd-analyze verify; scripts: shellcheck).
 */
import type { AssetManifest } from './assets.js';
import { dcosPayload, kubernetesPayload, type Payload, type PayloadInput } from './install-payload.js';
import type { InstallScriptContext, KubernetesSecrets, RootFile, UnitLink } from './install-types.js';
import { rootFile } from './root-file.js';

export interface InstallInput extends PayloadInput {
  readonly kubernetes: KubernetesSecrets | null;
  /** The installed system's cloud-config (the role template's third render stage). */
  readonly userData: string;
  /** The installed system's Ignition config (config format ignition): it replaces user_data. */
  readonly ignition?: string | null;
  /** `rackboot reprovision` since the last install: the script may overwrite a disk that holds data. */
  readonly allowWipe: boolean;
  readonly dryRun: boolean;
}

export type InstallContextResult =
  | { readonly ok: true; readonly context: InstallScriptContext; readonly warnings: readonly string[] }
  | { readonly ok: false; readonly errors: readonly string[] };

export const USER_DATA_PATH = '/var/lib/flatcar-install/user_data';
/** Where `flatcar-install -i` puts the Ignition config: on the OEM partition, which Flatcar's Ignition reads at first boot. */
export const OEM_IGNITION_PATH = '/config.ign';

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
      templates: input.templates,
      secrets: input.kubernetes,
    });
    if (result.ok) payload = result.payload;
    else errors.push(...result.errors);
  } else if (roleSettings.payload === 'dcos') {
    const result = dcosPayload({ machine, inventory: input.inventory, cloud, settings, baseUrl: input.baseUrl, assets: input.assets, templates: input.templates });
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
    ...(input.ignition ? [] : [rootFile(USER_DATA_PATH, '0600', input.userData)]),
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
    oemIgnition: input.ignition ? rootFile(OEM_IGNITION_PATH, '0600', input.ignition) : null,
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
  const files = [...context.files.os, ...context.files.payload, ...context.files.network, ...(context.oemIgnition ? [context.oemIgnition] : [])];
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

/** systemd's path escaping for mount unit names: /var/lib/docker -> var-lib-docker.mount. */
export function mountUnitName(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  const escaped = trimmed
    .split('/')
    .map((part) =>
      [...part]
        .map((c, i) => (/[A-Za-z0-9:_]/.test(c) || (c === '.' && i > 0) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
        .join(''),
    )
    .join('-');
  return `${escaped === '' ? '-' : escaped}.mount`;
}
