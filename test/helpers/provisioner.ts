import { Catalog } from '../../server/catalog/catalog.js';
import type { AssetIndex } from '../../server/core/assets.js';
import type { DhcpSettings } from '../../server/core/dhcp-decision.js';
import { Provisioner, type ProvisionerSettings } from '../../server/core/provisioner.js';
import { catalogDirs } from '../../server/paths.js';
import { openDatabase } from '../../server/store/db.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';

export const TEST_SETTINGS: ProvisionerSettings = {
  publicUrl: 'http://10.99.0.1:8080',
  serverAddress: '10.99.0.1',
  os: { name: 'test-os', kernel: 'test-os/vmlinuz', initrds: ['test-os/initrd.img'], args: ['console=ttyS0'] },
  kernelArgs: ['quiet'],
  cloudConfig: 'default',
  menu: { name: 'default', defaultItem: 'local', timeoutSeconds: 5 },
  subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1', dns: ['10.99.0.1'], domain: 'rack.test', leaseSeconds: 3600 }],
  cluster: { name: 'test', sshAuthorizedKeys: [], ntpServers: [], etcdBinary: 'etcd/etcd' },
};

/** rackboot answering DHCP for TEST_SETTINGS' subnet (full mode, the shipped boot files). */
export const TEST_DHCP: DhcpSettings = {
  serverAddress: '10.99.0.1',
  subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1', dns: [], leaseSeconds: 3600 }],
  httpBaseUrl: 'http://10.99.0.1:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: true,
  chainWindowMs: 300_000,
};

/** A provisioner over a real in-memory SQLite store and the shipped catalog, on a settable clock. */
export function testProvisioner(settings: Partial<ProvisionerSettings> = {}, deps: { assets?: AssetIndex } = {}) {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const db = openDatabase(':memory:');
  const clock = { t: 1_700_000_000_000, now() { return this.t; } };
  let n = 0;
  const store = new SqliteStore(db);
  const provisioner = new Provisioner({
    store,
    renderer: loaded.catalog,
    settings: { ...TEST_SETTINGS, ...settings },
    clock,
    newToken: () => `token${++n}`,
    ...deps,
  });
  return { provisioner, store, clock, db };
}
