/**
 * The texts a role payload writes onto the installed system are templates, boot-templates/install/
 * <name>.hbs, rendered through this port (server/install/templates.ts loads them; core code never
 * reads a file). Each template has a typed context: the core computes every value, the template only
 * lays it out.
 */

/** A kubeadm node: nodeRegistration and the advertised address. */
export interface KubeadmNode {
  readonly name: string;
  readonly ip: string;
  /** A single-node cluster (`dev`): the control plane runs workloads too (`taints: []`). */
  readonly untainted: boolean;
}

export interface KubeadmInitContext {
  readonly node: KubeadmNode;
  readonly token: string;
  /** kubeadm's duration: '0s' never expires. */
  readonly tokenTtl: string;
  readonly certificateKey: string;
  readonly apiServerPort: number;
  readonly kubernetesVersion: string;
  readonly clusterName: string;
  /** <ip>:<port> of the first control plane. */
  readonly controlPlaneEndpoint: string;
  readonly podSubnet: string;
  readonly serviceSubnet: string;
  /** https://<ip>:2379 of the role's static etcd cluster; empty: kubeadm's own (stacked) etcd. */
  readonly etcdEndpoints: readonly string[];
  /** The files rackboot's cloud-config writes (core/cluster.ts): the apiserver's etcd client TLS. */
  readonly etcdTls: { readonly caFile: string; readonly certFile: string; readonly keyFile: string };
}

export interface KubeadmJoinContext {
  readonly node: KubeadmNode;
  /** Joins as another control plane (with the certificate key), not as a worker. */
  readonly controlPlane: boolean;
  readonly controlPlaneEndpoint: string;
  readonly token: string;
  readonly caCertHash: string;
  readonly certificateKey: string;
  readonly apiServerPort: number;
}

/** What the first-boot kubeadm step does: 'init', 'join-control-plane' or 'join'. */
export type KubeadmAction = 'init' | 'join-control-plane' | 'join';

export interface KubeadmHelperContext {
  readonly machineName: string;
  readonly role: string;
  readonly action: KubeadmAction;
  /** `kubeadm init --upload-certs` rather than `kubeadm join`. */
  readonly init: boolean;
  /** The images tarball on ROOT ('' when none is configured). */
  readonly imagesPath: string;
}

export interface KubeletUnitContext {
  readonly kubernetesVersion: string;
}

export interface KubeadmUnitContext {
  readonly action: KubeadmAction;
  readonly role: string;
}

export interface DcosIpDetectContext {
  readonly machineName: string;
  readonly ip: string;
}

export interface DcosInstallHelperContext {
  readonly machineName: string;
  readonly dcosRole: string;
  /** <publicUrl>/assets/dcos/<version> */
  readonly bootstrapUrl: string;
  /** dcos_install.sh's sha256 from the manifest. */
  readonly installerSha256: string;
}

export interface DcosInstallUnitContext {
  readonly dcosRole: string;
}

export interface ResolvConfContext {
  /** At least one. */
  readonly nameservers: readonly string[];
  /** '' : no search line. */
  readonly search: string;
}

type NoValues = Readonly<Record<string, never>>;

/** Every payload template, by name (the file is boot-templates/install/<name>.hbs), with its context. */
export interface PayloadTemplateContexts {
  readonly 'kubeadm-init.yaml': KubeadmInitContext;
  readonly 'kubeadm-join.yaml': KubeadmJoinContext;
  readonly 'rackboot-kubeadm.sh': KubeadmHelperContext;
  readonly 'kubelet.service': KubeletUnitContext;
  readonly 'kubelet-10-kubeadm.conf': NoValues;
  readonly 'rackboot-kubeadm.service': KubeadmUnitContext;
  readonly 'kubernetes-modules-load.conf': NoValues;
  readonly 'kubernetes-sysctl.conf': NoValues;
  readonly 'dcos-ip-detect.sh': DcosIpDetectContext;
  readonly 'rackboot-dcos-install.sh': DcosInstallHelperContext;
  readonly 'rackboot-dcos-install.service': DcosInstallUnitContext;
  readonly 'resolv.conf': ResolvConfContext;
}

export type PayloadTemplateName = keyof PayloadTemplateContexts;

const NAMES: Readonly<Record<PayloadTemplateName, true>> = {
  'kubeadm-init.yaml': true,
  'kubeadm-join.yaml': true,
  'rackboot-kubeadm.sh': true,
  'kubelet.service': true,
  'kubelet-10-kubeadm.conf': true,
  'rackboot-kubeadm.service': true,
  'kubernetes-modules-load.conf': true,
  'kubernetes-sysctl.conf': true,
  'dcos-ip-detect.sh': true,
  'rackboot-dcos-install.sh': true,
  'rackboot-dcos-install.service': true,
  'resolv.conf': true,
};

/** The templates a renderer must have: a missing one is a load error, not a failed install. */
export const PAYLOAD_TEMPLATE_NAMES = Object.keys(NAMES) as readonly PayloadTemplateName[];

/** The port: renders boot-templates/install/<name>.hbs. Throws on a template error. */
export interface PayloadTemplates {
  payloadFile<N extends PayloadTemplateName>(name: N, context: PayloadTemplateContexts[N]): string;
}
