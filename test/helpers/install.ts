/**
 * Install mode in tests: sample settings (through the config schema, so defaults are the real
 * ones), an in-memory mirror index, fixed Kubernetes secrets, and a provisioner with a sample rack.
 */
import { createHash } from 'node:crypto';
import { installSchema } from '../../server/config/install.js';
import { MANIFEST_FORMAT, type AssetFile, type AssetIndex, type AssetManifest } from '../../server/core/assets.js';
import type { InstallSettings, KubernetesSecrets } from '../../server/core/install-types.js';
import type { Role } from '../../server/core/roles.js';
import { loadInstallTemplate } from '../../server/install/templates.js';
import { testProvisioner } from './provisioner.js';

export function fileEntry(content: string | Buffer): AssetFile {
  return {
    bytes: Buffer.byteLength(content),
    sha256: createHash('sha256').update(content).digest('hex'),
    sha512: createHash('sha512').update(content).digest('hex'),
  };
}

export function manifest(kind: string, version: string, files: Record<string, string | Buffer>): AssetManifest {
  return {
    format: MANIFEST_FORMAT,
    kind,
    version,
    importedAt: '2025-01-01T00:00:00.000Z',
    source: '/mirror',
    files: Object.fromEntries(Object.entries(files).map(([name, content]) => [name, fileEntry(content)])),
  };
}

export class MemoryAssetIndex implements AssetIndex {
  constructor(private readonly manifests: readonly AssetManifest[]) {}
  manifest(kind: string, version: string): AssetManifest | null {
    return this.manifests.find((m) => m.kind === kind && m.version === version) ?? null;
  }
}

export const SAMPLE_IMAGE = Buffer.from('not really a flatcar image\n');

export function sampleAssets(image: Buffer = SAMPLE_IMAGE): MemoryAssetIndex {
  return new MemoryAssetIndex([
    manifest('flatcar', '4081.2.0', { 'flatcar_production_image.bin.bz2': image, 'flatcar_production_pxe.vmlinuz': 'kernel', version_txt: 'FLATCAR_VERSION=4081.2.0\n' }),
    manifest('kubernetes', 'v1.31.2', { kubeadm: 'kubeadm', kubelet: 'kubelet', kubectl: 'kubectl', crictl: 'crictl', 'images.tar': 'images' }),
    manifest('dcos', '2.2.0', { 'dcos_install.sh': '#!/bin/bash\necho dcos\n', 'bootstrap.latest': 'abc\n' }),
  ]);
}

export const SAMPLE_SECRETS: KubernetesSecrets = {
  token: 'abcdef.0123456789abcdef',
  certificateKey: 'f'.repeat(64),
  caCert: '-----BEGIN CERTIFICATE-----\nU0FNUExFIENB\n-----END CERTIFICATE-----\n',
  caKey: '-----BEGIN RSA PRIVATE KEY-----\nU0FNUExFIEtFWQ==\n-----END RSA PRIVATE KEY-----\n',
  caCertHash: `sha256:${'0'.repeat(64)}`,
};

export function sampleInstallSettings(raw: Record<string, unknown> = {}): InstallSettings {
  return installSchema.parse({
    os: { version: '4081.2.0' },
    dcos: { version: '2.2.0' },
    profiles: { data: [{ label: 'DOCKER', sizeMiB: 10240, filesystem: 'ext4', mountPoint: '/var/lib/docker' }, { label: 'DATA', filesystem: 'ext4' }] },
    ...raw,
  });
}

/** A rack in install mode: 3 small, 1+2 test, 3 central + 2 workers, a dev box. */
export const INSTALL_RACK: ReadonlyArray<{ name: string; ip: string; role: Role; mac: string }> = [
  { name: 's1', ip: '10.99.0.11', role: 'small', mac: '52:54:00:99:01:11' },
  { name: 's2', ip: '10.99.0.12', role: 'small', mac: '52:54:00:99:01:12' },
  { name: 's3', ip: '10.99.0.13', role: 'small', mac: '52:54:00:99:01:13' },
  { name: 't1', ip: '10.99.0.31', role: 'test', mac: '52:54:00:99:01:31' },
  { name: 't2', ip: '10.99.0.32', role: 'test', mac: '52:54:00:99:01:32' },
  { name: 'c1', ip: '10.99.0.51', role: 'production-central', mac: '52:54:00:99:01:51' },
  { name: 'c2', ip: '10.99.0.52', role: 'production-central', mac: '52:54:00:99:01:52' },
  { name: 'c3', ip: '10.99.0.53', role: 'production-central', mac: '52:54:00:99:01:53' },
  { name: 'w1', ip: '10.99.0.61', role: 'production-worker', mac: '52:54:00:99:01:61' },
  { name: 'd1', ip: '10.99.0.71', role: 'dev', mac: '52:54:00:99:01:71' },
];

export function installProvisioner(options: { settings?: InstallSettings; assets?: AssetIndex; rack?: typeof INSTALL_RACK } = {}) {
  const t = testProvisioner({
    cluster: { name: 'lab', sshAuthorizedKeys: [], ntpServers: ['10.99.0.1'], etcdBinary: 'etcd/v3.5.17/etcd' },
  });
  const settings = options.settings ?? sampleInstallSettings();
  t.provisioner.setInstall({ settings, renderer: loadInstallTemplate(), assets: options.assets ?? sampleAssets(), kubernetes: SAMPLE_SECRETS });
  for (const m of options.rack ?? INSTALL_RACK) {
    t.provisioner.registerMachine({ name: m.name, macs: [m.mac], ip: m.ip, role: m.role, bootMode: 'install' });
  }
  return { ...t, settings };
}
