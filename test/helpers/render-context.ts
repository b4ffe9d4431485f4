/**
 * A sample rack and the CloudConfigContext of each of its machines, built with computeEtcd the way
 * the provisioner does, for rendering the role templates in tests.
 */
import { computeEtcd, type ClusterMachine } from '../../server/core/cluster.js';
import type { BootMode, CloudConfigContext, Role } from '../../server/core/render-context.js';

export interface SampleMachine extends ClusterMachine {
  readonly name: string;
  readonly ip: string;
  readonly role: Role;
  readonly mac: string;
}

export const SAMPLE = {
  clusterName: 'lab',
  baseUrl: 'http://10.20.0.2:8080',
  serverAddress: '10.20.0.2',
  binaryUrl: 'http://10.20.0.2:8080/assets/etcd/v3.5.17/etcd',
  prefixLength: 24,
  netmask: '255.255.255.0',
  gateway: '10.20.0.1',
  dns: ['10.20.0.2', '10.20.0.3'],
  domain: 'rack.lab',
  ntpServers: ['10.20.0.2'],
  sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhY2tib290LXRlc3Qta2V5LW5vdC1yZWFs operator@lab'],
} as const;

/**
 * A 3-node small cluster, a 1+2 test cluster, 3 central + 2 worker production machines and a dev box.
 * Listed out of IP order on purpose: membership must not depend on inventory order.
 */
export const SAMPLE_INVENTORY: readonly SampleMachine[] = [
  { name: 's3', ip: '10.20.0.13', role: 'small', mac: '52:54:00:20:00:13' },
  { name: 's1', ip: '10.20.0.11', role: 'small', mac: '52:54:00:20:00:11' },
  { name: 's2', ip: '10.20.0.12', role: 'small', mac: '52:54:00:20:00:12' },
  { name: 't2', ip: '10.20.0.32', role: 'test', mac: '52:54:00:20:00:32' },
  { name: 't1', ip: '10.20.0.31', role: 'test', mac: '52:54:00:20:00:31' },
  { name: 't3', ip: '10.20.0.33', role: 'test', mac: '52:54:00:20:00:33' },
  { name: 'c2', ip: '10.20.0.52', role: 'production-central', mac: '52:54:00:20:00:52' },
  { name: 'c1', ip: '10.20.0.51', role: 'production-central', mac: '52:54:00:20:00:51' },
  { name: 'c3', ip: '10.20.0.53', role: 'production-central', mac: '52:54:00:20:00:53' },
  { name: 'w1', ip: '10.20.0.61', role: 'production-worker', mac: '52:54:00:20:00:61' },
  { name: 'w2', ip: '10.20.0.62', role: 'production-worker', mac: '52:54:00:20:00:62' },
  { name: 'd1', ip: '10.20.0.71', role: 'dev', mac: '52:54:00:20:00:71' },
];

export function sampleMachine(name: string): SampleMachine {
  const found = SAMPLE_INVENTORY.find((m) => m.name === name);
  if (!found) throw new Error(`no sample machine ${name}`);
  return found;
}

/** The context the provisioner would hand the template of `machine`; throws on etcd errors. */
export function sampleContext(
  machine: SampleMachine,
  mode: BootMode = 'memory',
  inventory: readonly ClusterMachine[] = SAMPLE_INVENTORY,
): CloudConfigContext {
  const computed = computeEtcd({ machine, inventory, clusterName: SAMPLE.clusterName, binaryUrl: SAMPLE.binaryUrl });
  if (!computed.ok) throw new Error(`computeEtcd(${machine.name}): ${computed.errors.join(' ')}`);
  const token = `tok-${machine.name}`;
  return {
    machine: {
      name: machine.name,
      fqdn: `${machine.name}.${SAMPLE.domain}`,
      ip: machine.ip,
      prefixLength: SAMPLE.prefixLength,
      netmask: SAMPLE.netmask,
      gateway: SAMPLE.gateway,
      dns: SAMPLE.dns,
      domain: SAMPLE.domain,
      macs: [machine.mac],
      primaryMac: machine.mac,
      role: machine.role,
      mode,
    },
    server: { baseUrl: SAMPLE.baseUrl, address: SAMPLE.serverAddress },
    callbackUrl: `${SAMPLE.baseUrl}/callback/${token}`,
    installScriptUrl: mode === 'install' ? `${SAMPLE.baseUrl}/install/${token}` : '',
    ssh: { authorizedKeys: SAMPLE.sshKeys },
    time: { ntpServers: SAMPLE.ntpServers },
    etcd: computed.etcd,
  };
}
