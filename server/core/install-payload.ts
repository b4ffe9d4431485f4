/**
 * The role payloads the install script lays down on the installed system, all from rackboot's
 * offline assets (install-targets §4.2, §5, R-I2, R-I3). Pure: files, downloads and unit links.
 *
 * Kubernetes (kubeadm): the control-plane machine with the lowest IP in the role's cluster runs
 * `kubeadm init` with the CA rackboot generated (so workers can pin its hash) and a pre-shared
 * bootstrap token; the other control-plane machines join with the pre-shared certificate key
 * (`--upload-certs` on the first), workers join with the token and the CA hash. The cluster's etcd
 * is the role's static etcd cluster (the rackboot-etcd units of the installed cloud-config), as
 * kubeadm's external etcd; `dev` machines are single-node clusters with kubeadm's own etcd.
 *
 * DC/OS: a first-boot unit fetches dcos_install.sh from the bootstrap tree rackboot serves
 * (bootstrap_url = <publicUrl>/assets/dcos/<version>), checks it against the manifest and runs it
 * with the machine's role; ip-detect prints the machine's static address; resolvers are local;
 * systemd-resolved is masked (dcos-net needs port 53).
 */
import type { AssetIndex } from './assets.js';
import { parseIpv4 } from './ipv4.js';
import type { InstallSettings, KubernetesMode, RootDownload, RootFile, UnitLink } from './install.js';
import type { CloudConfigContext } from './render-context.js';
import { clusterRoles, isRole, roleSpec, type Role } from './roles.js';
import type { Machine } from './types.js';

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

export interface Payload {
  readonly summary: string;
  readonly files: readonly RootFile[];
  readonly downloads: readonly RootDownload[];
  readonly enable: readonly UnitLink[];
  readonly mask: readonly string[];
}

export type PayloadResult = { readonly ok: true; readonly payload: Payload } | { readonly ok: false; readonly errors: readonly string[] };

export interface PayloadInput {
  readonly machine: Machine;
  readonly inventory: readonly Machine[];
  readonly cloud: CloudConfigContext;
  readonly settings: InstallSettings;
  readonly baseUrl: string;
  readonly assets: AssetIndex;
}

const SYSTEM = '/etc/systemd/system';

/** Roles that form one Kubernetes cluster (the same etcd cluster); a role without a cluster (dev) is its own family. */
function family(role: Role): readonly Role[] {
  const roles = clusterRoles(role);
  return roles.length === 0 ? [role] : roles;
}

/** Whether a machine is an etcd member (the role table's rules, as core/cluster.ts applies them). */
function isEtcdMember(machine: { name: string; ip: string | null; role: string | null }, inventory: readonly Machine[]): boolean {
  if (!isRole(machine.role)) return false;
  const role = machine.role;
  switch (roleSpec(role).etcd.kind) {
    case 'none': // kubeadm runs its own etcd on the machine
    case 'member':
      return true;
    case 'gateway':
      return false;
    case 'lowest-ip-member': {
      const candidates = inventory.filter((m) => m.role === role && parseIpv4(m.ip ?? '') !== null);
      return sortByIp(candidates)[0]?.name === machine.name;
    }
  }
}

function resolveMode(mode: KubernetesMode, machine: Machine, inventory: readonly Machine[]): 'control-plane' | 'worker' {
  if (mode === 'etcd-member') return isEtcdMember(machine, inventory) ? 'control-plane' : 'worker';
  return mode;
}

function sortByIp<T extends { name: string; ip: string | null }>(machines: readonly T[]): T[] {
  return [...machines].sort((a, b) => (parseIpv4(a.ip ?? '') ?? 0) - (parseIpv4(b.ip ?? '') ?? 0) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function kubernetesPayload(input: PayloadInput & { readonly secrets: KubernetesSecrets | null }): PayloadResult {
  const { machine, cloud, settings } = input;
  const k = settings.kubernetes;
  const role = cloud.machine.role as Role;
  const errors: string[] = [];
  if (!input.secrets) return { ok: false, errors: ['the Kubernetes CA and bootstrap token are not available (rackboot serve generates them in dataDir/kubernetes)'] };
  const secrets = input.secrets;
  const manifest = input.assets.manifest('kubernetes', k.version);
  if (!manifest) return { ok: false, errors: [`kubernetes/${k.version} is not imported (rackboot assets import; install.kubernetes.version)`] };

  const wanted = [...k.binaries.map((b) => ({ file: b, path: `/opt/bin/${b}`, mode: '0755' }))];
  if (k.images !== '') wanted.push({ file: k.images, path: `/opt/rackboot/kubernetes/${k.images.split('/').pop() ?? k.images}`, mode: '0644' });
  const downloads: RootDownload[] = [];
  for (const w of wanted) {
    const entry = manifest.files[w.file];
    if (!entry) errors.push(`kubernetes/${k.version} has no ${w.file}`);
    else downloads.push({ url: `${input.baseUrl}/assets/kubernetes/${k.version}/${w.file}`, sha256: entry.sha256, bytes: entry.bytes, path: w.path, mode: w.mode });
  }
  if (!k.binaries.includes('kubeadm') || !k.binaries.includes('kubelet')) errors.push('install.kubernetes.binaries must include kubeadm and kubelet');

  // Who is in this machine's cluster, and which control plane initialises it.
  const self = input.inventory.find((m) => m.id === machine.id) ?? machine;
  const everyone = [...input.inventory.filter((m) => m.id !== machine.id), self];
  const members =
    role === 'dev'
      ? [self]
      : everyone.filter((m) => (family(role) as readonly string[]).includes(m.role ?? '') && settings.roles[m.role as Role]?.payload === 'kubernetes');
  const mode = resolveMode(settings.roles[role].kubernetes, self, input.inventory);
  const controlPlanes = sortByIp(members.filter((m) => m.ip !== null && resolveMode(settings.roles[m.role as Role].kubernetes, m, input.inventory) === 'control-plane'));
  const first = controlPlanes[0];
  if (!first || first.ip === null) errors.push(`no control-plane machine with an IP in ${role}'s cluster (install.roles.*.kubernetes)`);
  if (errors.length > 0 || !first || first.ip === null) return { ok: false, errors };

  const init = mode === 'control-plane' && first.id === machine.id;
  const endpoint = `${first.ip}:${k.apiServerPort}`;
  const etcdEndpoints = role === 'dev' || !cloud.etcd ? [] : cloud.etcd.endpoints.split(',').filter((e) => e !== '').map((e) => `http://${e}`);
  const nodeRegistration = [
    'nodeRegistration:',
    `  name: ${cloud.machine.name}`,
    '  criSocket: unix:///run/containerd/containerd.sock',
    '  kubeletExtraArgs:',
    `    node-ip: ${cloud.machine.ip}`,
    '    volume-plugin-dir: /opt/libexec/kubernetes/kubelet-plugins/volume/exec/',
    ...(role === 'dev' ? ['  taints: []'] : []),
  ];
  let kubeadmYaml: string[];
  let action: string;
  if (init) {
    action = 'init';
    kubeadmYaml = [
      'apiVersion: kubeadm.k8s.io/v1beta3',
      'kind: InitConfiguration',
      'bootstrapTokens:',
      `  - token: "${secrets.token}"`,
      `    ttl: "${k.tokenTtl === '0' ? '0s' : k.tokenTtl}"`,
      '    usages: [signing, authentication]',
      '    groups: ["system:bootstrappers:kubeadm:default-node-token"]',
      `certificateKey: "${secrets.certificateKey}"`,
      'localAPIEndpoint:',
      `  advertiseAddress: ${cloud.machine.ip}`,
      `  bindPort: ${k.apiServerPort}`,
      ...nodeRegistration,
      '---',
      'apiVersion: kubeadm.k8s.io/v1beta3',
      'kind: ClusterConfiguration',
      `kubernetesVersion: ${k.version}`,
      `clusterName: ${clusterNameOf(role)}`,
      `controlPlaneEndpoint: "${endpoint}"`,
      'networking:',
      `  podSubnet: ${k.podSubnet}`,
      `  serviceSubnet: ${k.serviceSubnet}`,
      ...(etcdEndpoints.length > 0 ? ['etcd:', '  external:', '    endpoints:', ...etcdEndpoints.map((e) => `      - ${e}`)] : []),
      'controllerManager:',
      '  extraArgs:',
      '    flex-volume-plugin-dir: /opt/libexec/kubernetes/kubelet-plugins/volume/exec/',
      '',
    ];
  } else {
    action = mode === 'control-plane' ? 'join-control-plane' : 'join';
    kubeadmYaml = [
      'apiVersion: kubeadm.k8s.io/v1beta3',
      'kind: JoinConfiguration',
      'discovery:',
      '  bootstrapToken:',
      `    apiServerEndpoint: "${endpoint}"`,
      `    token: "${secrets.token}"`,
      `    caCertHashes: ["${secrets.caCertHash}"]`,
      ...nodeRegistration,
      ...(mode === 'control-plane'
        ? ['controlPlane:', '  localAPIEndpoint:', `    advertiseAddress: ${cloud.machine.ip}`, `    bindPort: ${k.apiServerPort}`, `  certificateKey: "${secrets.certificateKey}"`]
        : []),
      '',
    ];
  }
  const imagesPath = downloads.find((d) => d.path.startsWith('/opt/rackboot/kubernetes/'))?.path ?? '';
  const kubeadmCommand =
    action === 'init' ? '/opt/bin/kubeadm init --config /etc/rackboot/kubeadm.yaml --upload-certs' : '/opt/bin/kubeadm join --config /etc/rackboot/kubeadm.yaml';
  const helper = [
    '#!/bin/bash',
    `# rackboot-kubeadm: first boot of ${cloud.machine.name}: ${action} (${role}), all from rackboot's offline assets.`,
    '# Run once by rackboot-kubeadm.service (ConditionPathExists=!/etc/kubernetes/kubelet.conf).',
    'set -euo pipefail',
    "images='" + imagesPath + "'",
    'marker=/var/lib/rackboot/kubernetes-images-imported',
    'for _ in $(seq 1 60); do',
    '  /usr/bin/ctr version >/dev/null 2>&1 && break',
    '  sleep 2',
    'done',
    'if [ -n "$images" ] && [ -s "$images" ] && [ ! -e "$marker" ]; then',
    '  /usr/bin/ctr -n k8s.io images import "$images"',
    '  mkdir -p "$(dirname "$marker")"',
    '  touch "$marker"',
    'fi',
    'modprobe br_netfilter || true',
    'modprobe overlay || true',
    'sysctl --system >/dev/null',
    `exec ${kubeadmCommand}`,
    '',
  ].join('\n');
  const files: RootFile[] = [
    rootFile('/etc/rackboot/kubeadm.yaml', '0600', kubeadmYaml.join('\n')),
    ...(init ? [rootFile('/etc/kubernetes/pki/ca.crt', '0644', ensureNewline(secrets.caCert)), rootFile('/etc/kubernetes/pki/ca.key', '0600', ensureNewline(secrets.caKey))] : []),
    rootFile('/opt/rackboot/bin/rackboot-kubeadm', '0755', helper),
    rootFile(
      `${SYSTEM}/kubelet.service`,
      '0644',
      [
        '[Unit]',
        `Description=kubelet, the Kubernetes node agent (${k.version}, installed by rackboot)`,
        'Wants=network-online.target containerd.service',
        'After=network-online.target containerd.service',
        'StartLimitIntervalSec=0',
        '[Service]',
        'ExecStart=/opt/bin/kubelet',
        'Restart=always',
        'RestartSec=10',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    ),
    rootFile(
      `${SYSTEM}/kubelet.service.d/10-kubeadm.conf`,
      '0644',
      [
        '[Service]',
        'Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"',
        'Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"',
        'EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env',
        'EnvironmentFile=-/etc/default/kubelet',
        'ExecStart=',
        'ExecStart=/opt/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS',
        '',
      ].join('\n'),
    ),
    rootFile(
      `${SYSTEM}/rackboot-kubeadm.service`,
      '0644',
      [
        '[Unit]',
        `Description=kubeadm ${action} on first boot (rackboot, ${role})`,
        'Wants=network-online.target containerd.service',
        'After=network-online.target containerd.service time-sync.target',
        'ConditionPathExists=!/etc/kubernetes/kubelet.conf',
        'StartLimitIntervalSec=0',
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
        'ExecStart=/opt/rackboot/bin/rackboot-kubeadm',
        'Restart=on-failure',
        'RestartSec=30',
        'TimeoutStartSec=1800',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    ),
    rootFile('/etc/modules-load.d/rackboot-kubernetes.conf', '0644', 'br_netfilter\noverlay\n'),
    rootFile('/etc/sysctl.d/90-rackboot-kubernetes.conf', '0644', 'net.ipv4.ip_forward = 1\nnet.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\n'),
  ];
  const enable: UnitLink[] = [
    { unit: 'containerd.service', wantedBy: 'multi-user.target', target: '/usr/lib/systemd/system/containerd.service' },
    { unit: 'kubelet.service', wantedBy: 'multi-user.target', target: `${SYSTEM}/kubelet.service` },
    { unit: 'rackboot-kubeadm.service', wantedBy: 'multi-user.target', target: `${SYSTEM}/rackboot-kubeadm.service` },
  ];
  const summary = `Kubernetes ${k.version}: ${action === 'init' ? `kubeadm init (first control plane, endpoint ${endpoint})` : action === 'join-control-plane' ? `kubeadm join --control-plane via ${endpoint}` : `kubeadm join (worker) via ${endpoint}`}`;
  return { ok: true, payload: { summary, files, downloads, enable, mask: [] } };
}

export function dcosPayload(input: PayloadInput): PayloadResult {
  const { cloud, settings } = input;
  const role = cloud.machine.role as Role;
  const dcosRole = settings.roles[role].dcos;
  const version = settings.dcos.version;
  if (version === undefined) return { ok: false, errors: ['install.dcos.version is not set (the imported dcos/<version> bootstrap tree)'] };
  const manifest = input.assets.manifest('dcos', version);
  if (!manifest) return { ok: false, errors: [`dcos/${version} is not imported (rackboot assets import the genconf/serve tree)`] };
  const installer = manifest.files['dcos_install.sh'];
  if (!installer) return { ok: false, errors: [`dcos/${version} has no dcos_install.sh: import the whole genconf/serve tree`] };
  const masters = input.inventory.filter((m) => m.role !== null && settings.roles[m.role as Role]?.payload === 'dcos' && settings.roles[m.role as Role].dcos === 'master');
  if (![1, 3, 5, 7, 9].includes(masters.length)) {
    return { ok: false, errors: [`DC/OS needs 1, 3, 5, 7 or 9 masters; the inventory has ${masters.length} (${masters.map((m) => m.name).join(', ') || 'none'})`] };
  }
  const resolvers = settings.dcos.resolvers.length > 0 ? settings.dcos.resolvers : cloud.machine.dns;
  if (resolvers.length === 0) return { ok: false, errors: ['DC/OS needs local resolvers: set install.dcos.resolvers or the subnet\'s dns'] };
  const bootstrapUrl = `${input.baseUrl}/assets/dcos/${version}`;
  const helper = [
    '#!/bin/bash',
    `# rackboot-dcos-install: first boot of ${cloud.machine.name}: install DC/OS as ${dcosRole} from rackboot's`,
    '# bootstrap tree (genconf/serve). dcos_install.sh is checked against the manifest rackboot imported.',
    'set -euo pipefail',
    `url='${bootstrapUrl}/dcos_install.sh'`,
    `sha256='${installer.sha256}'`,
    'dest=/opt/rackboot/dcos/dcos_install.sh',
    'mkdir -p "$(dirname "$dest")"',
    'delay=5',
    'for attempt in $(seq 1 20); do',
    '  if /usr/bin/curl -fsSL --connect-timeout 10 --max-time 600 -o "$dest.part" "$url"; then break; fi',
    '  [ "$attempt" -lt 20 ] || { echo "rackboot-dcos-install: $url: giving up" >&2; exit 1; }',
    '  sleep "$delay"',
    '  delay=$(( delay < 60 ? delay * 2 : 60 ))',
    'done',
    'echo "$sha256  $dest.part" | sha256sum -c --quiet - || { echo "rackboot-dcos-install: dcos_install.sh does not match the manifest" >&2; exit 1; }',
    'mv -f "$dest.part" "$dest"',
    `exec /bin/bash "$dest" --no-block-dcos-setup ${dcosRole}`,
    '',
  ].join('\n');
  const files: RootFile[] = [
    rootFile('/etc/rackboot/dcos/ip-detect', '0755', `#!/bin/sh\n# ip-detect for ${cloud.machine.name}: its static address (DC/OS needs one that never changes)\necho ${cloud.machine.ip}\n`),
    rootFile('/etc/rackboot/dcos/bootstrap-url', '0644', `${bootstrapUrl}\n`),
    rootFile('/etc/resolv.conf', '0644', `${resolvers.map((r) => `nameserver ${r}`).join('\n')}\n${cloud.machine.domain ? `search ${cloud.machine.domain}\n` : ''}`),
    rootFile('/opt/rackboot/bin/rackboot-dcos-install', '0755', helper),
    rootFile(
      `${SYSTEM}/rackboot-dcos-install.service`,
      '0644',
      [
        '[Unit]',
        `Description=Install DC/OS (${dcosRole}) from rackboot on first boot`,
        'Wants=network-online.target',
        'After=network-online.target docker.service time-sync.target',
        'Requires=docker.service',
        'ConditionPathExists=!/opt/mesosphere/active',
        '[Service]',
        'Type=oneshot',
        'RemainAfterExit=yes',
        'ExecStart=/opt/rackboot/bin/rackboot-dcos-install',
        'TimeoutStartSec=0',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    ),
  ];
  return {
    ok: true,
    payload: {
      summary: `DC/OS ${version} as ${dcosRole} (bootstrap_url ${bootstrapUrl}, ${masters.length} master${masters.length === 1 ? '' : 's'})`,
      files,
      downloads: [],
      enable: [{ unit: 'rackboot-dcos-install.service', wantedBy: 'multi-user.target', target: `${SYSTEM}/rackboot-dcos-install.service` }],
      mask: ['systemd-resolved.service'],
    },
  };
}

/** A file for ROOT with a here-document delimiter its content does not contain as a line. */
export function rootFile(path: string, mode: string, content: string): RootFile {
  const lines = new Set(content.split('\n'));
  let delimiter = 'RACKBOOT_EOF';
  for (let n = 1; lines.has(delimiter); n++) delimiter = `RACKBOOT_EOF_${n}`;
  return { path, mode, content, delimiter };
}

function clusterNameOf(role: Role): string {
  return roleSpec(role).cluster ?? role;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
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
