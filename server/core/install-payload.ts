/**
 * The role payloads the install script lays down on the installed system, all from rackboot's
 * offline assets (install-targets §4.2, §5, R-I2, R-I3). Pure: files, downloads and unit links; the
 * files' texts are boot-templates/install/*.hbs, rendered through the PayloadTemplates port with
 * contexts computed here (core/payload-templates.ts).
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
import type { InstallSettings, KubernetesMode, KubernetesSecrets, RootDownload, RootFile, UnitLink } from './install-types.js';
import type { KubeadmAction, KubeadmNode, PayloadTemplateContexts, PayloadTemplateName, PayloadTemplates } from './payload-templates.js';
import type { CloudConfigContext } from './render-context.js';
import { clusterRoles, isRole, roleSpec, type Role } from './roles.js';
import { rootFile } from './root-file.js';
import type { Machine } from './types.js';

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
  /** boot-templates/install/*.hbs: the texts of the payload's files. */
  readonly templates: PayloadTemplates;
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
  const etcdEndpoints = role === 'dev' || !cloud.etcd ? [] : cloud.etcd.endpoints.split(',').filter((e) => e !== '');
  // the apiserver is an etcd client: the CA, and this machine's certificate (a member's serves clients and peers and authenticates as a client too)
  const etcdFile = (suffix: string) => cloud.etcd?.files.find((f) => f.path.endsWith(suffix))?.path ?? '';
  const etcdTls = { caFile: etcdFile('/ca.crt'), certFile: etcdFile(cloud.etcd?.member ? '/server.crt' : '/client.crt'), keyFile: etcdFile(cloud.etcd?.member ? '/server.key' : '/client.key') };
  const node: KubeadmNode = { name: cloud.machine.name, ip: cloud.machine.ip, untainted: role === 'dev' };
  const action: KubeadmAction = init ? 'init' : mode === 'control-plane' ? 'join-control-plane' : 'join';
  const render = templateRenderer(input.templates, errors);
  const kubeadmYaml = init
    ? render('kubeadm-init.yaml', {
        node,
        token: secrets.token,
        tokenTtl: k.tokenTtl === '0' ? '0s' : k.tokenTtl,
        certificateKey: secrets.certificateKey,
        apiServerPort: k.apiServerPort,
        kubernetesVersion: k.version,
        clusterName: clusterNameOf(role),
        controlPlaneEndpoint: endpoint,
        podSubnet: k.podSubnet,
        serviceSubnet: k.serviceSubnet,
        etcdEndpoints,
        etcdTls,
      })
    : render('kubeadm-join.yaml', {
        node,
        controlPlane: mode === 'control-plane',
        controlPlaneEndpoint: endpoint,
        token: secrets.token,
        caCertHash: secrets.caCertHash,
        certificateKey: secrets.certificateKey,
        apiServerPort: k.apiServerPort,
      });
  const imagesPath = downloads.find((d) => d.path.startsWith('/opt/rackboot/kubernetes/'))?.path ?? '';
  const files: RootFile[] = [
    rootFile('/etc/rackboot/kubeadm.yaml', '0600', kubeadmYaml),
    ...(init ? [rootFile('/etc/kubernetes/pki/ca.crt', '0644', ensureNewline(secrets.caCert)), rootFile('/etc/kubernetes/pki/ca.key', '0600', ensureNewline(secrets.caKey))] : []),
    rootFile('/opt/rackboot/bin/rackboot-kubeadm', '0755', render('rackboot-kubeadm.sh', { machineName: cloud.machine.name, role, action, init, imagesPath })),
    rootFile(`${SYSTEM}/kubelet.service`, '0644', render('kubelet.service', { kubernetesVersion: k.version })),
    rootFile(`${SYSTEM}/kubelet.service.d/10-kubeadm.conf`, '0644', render('kubelet-10-kubeadm.conf', {})),
    rootFile(`${SYSTEM}/rackboot-kubeadm.service`, '0644', render('rackboot-kubeadm.service', { action, role })),
    rootFile('/etc/modules-load.d/rackboot-kubernetes.conf', '0644', render('kubernetes-modules-load.conf', {})),
    rootFile('/etc/sysctl.d/90-rackboot-kubernetes.conf', '0644', render('kubernetes-sysctl.conf', {})),
  ];
  if (errors.length > 0) return { ok: false, errors };
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
  const errors: string[] = [];
  const render = templateRenderer(input.templates, errors);
  const files: RootFile[] = [
    rootFile('/etc/rackboot/dcos/ip-detect', '0755', render('dcos-ip-detect.sh', { machineName: cloud.machine.name, ip: cloud.machine.ip })),
    rootFile('/etc/rackboot/dcos/bootstrap-url', '0644', `${bootstrapUrl}\n`),
    rootFile('/etc/resolv.conf', '0644', render('resolv.conf', { nameservers: resolvers, search: cloud.machine.domain })),
    rootFile(
      '/opt/rackboot/bin/rackboot-dcos-install',
      '0755',
      render('rackboot-dcos-install.sh', { machineName: cloud.machine.name, dcosRole, bootstrapUrl, installerSha256: installer.sha256 }),
    ),
    rootFile(`${SYSTEM}/rackboot-dcos-install.service`, '0644', render('rackboot-dcos-install.service', { dcosRole })),
  ];
  if (errors.length > 0) return { ok: false, errors };
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

/**
 * Renders payload templates; a template error (an operator's edit the context does not satisfy)
 * joins `errors`, so the machine gets render-failed with the reason instead of an exception.
 */
function templateRenderer(templates: PayloadTemplates, errors: string[]) {
  return <N extends PayloadTemplateName>(name: N, context: PayloadTemplateContexts[N]): string => {
    try {
      return templates.payloadFile(name, context);
    } catch (error) {
      errors.push(`boot-templates/install/${name}.hbs: ${(error as Error).message}`);
      return '';
    }
  };
}

function clusterNameOf(role: Role): string {
  return roleSpec(role).cluster ?? role;
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
