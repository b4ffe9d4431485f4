/**
 * Every role template rendered through the shipped Catalog for a sample rack: golden files, zero
 * validator findings, the YAML structure (members, initial cluster, gateway endpoints, network), the
 * R-C1/R-C2 rules, the helper scripts (sh -n, shellcheck) and the units (systemd-analyze verify).
 *
 * Golden files: test/fixtures/golden/<role>-<machine>.yaml (memory mode) and
 * <role>-<machine>.install.yaml (install mode). Regenerate with UPDATE_GOLDEN=1 and review the diff.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { Catalog } from '../../../server/catalog/catalog.js';
import { validateCloudConfig } from '../../../server/catalog/cloud-config-check.js';
import { buildCloudConfigContext } from '../../../server/core/cloud-config-context.js';
import { computeEtcd } from '../../../server/core/cluster.js';
import type { CloudConfigContext } from '../../../server/core/render-context.js';
import type { BootMode, Role } from '../../../server/core/roles.js';
import type { Machine } from '../../../server/core/types.js';
import { findExecutable } from '../../../server/lab/prereqs.js';
import { catalogDirs } from '../../../server/paths.js';

// ---------------------------------------------------------------------------------------------
// The sample rack: real Machine objects whose contexts come from the provisioner's own builder.

const SAMPLE = {
  clusterName: 'lab',
  baseUrl: 'http://10.20.0.2:8080',
  serverAddress: '10.20.0.2',
  etcdBinary: 'etcd/v3.5.17/etcd',
  binaryUrl: 'http://10.20.0.2:8080/assets/etcd/v3.5.17/etcd',
  subnet: { cidr: '10.20.0.0/24', gateway: '10.20.0.1', dns: ['10.20.0.2', '10.20.0.3'], domain: 'rack.lab', leaseSeconds: 3600 },
  ntpServers: ['10.20.0.2'],
  sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhY2tib290LXRlc3Qta2V5LW5vdC1yZWFs operator@lab'],
} as const;

/** A registered machine of the sample rack; `mac` is its one (primary) MAC. */
interface SampleMachine extends Machine {
  readonly ip: string;
  readonly role: Role;
  readonly mac: string;
}

function sample(id: number, name: string, ip: string, role: Role, mac: string): SampleMachine {
  return {
    id, name, uuid: null, bmcAddress: null, ip, role, bootMode: 'memory', state: 'registered', stateChangedAt: 0,
    macs: [mac], bootToken: `tok-${name}`, configToken: null, ipxeChainedAt: null, createdAt: 0, mac,
  };
}

/**
 * A 3-node small cluster, a 1+2 test cluster, 3 central + 2 worker production machines and a dev box.
 * Listed out of IP order on purpose: membership must not depend on inventory order.
 */
const SAMPLE_INVENTORY: readonly SampleMachine[] = [
  sample(1, 's3', '10.20.0.13', 'small', '52:54:00:20:00:13'),
  sample(2, 's1', '10.20.0.11', 'small', '52:54:00:20:00:11'),
  sample(3, 's2', '10.20.0.12', 'small', '52:54:00:20:00:12'),
  sample(4, 't2', '10.20.0.32', 'test', '52:54:00:20:00:32'),
  sample(5, 't1', '10.20.0.31', 'test', '52:54:00:20:00:31'),
  sample(6, 't3', '10.20.0.33', 'test', '52:54:00:20:00:33'),
  sample(7, 'c2', '10.20.0.52', 'production-central', '52:54:00:20:00:52'),
  sample(8, 'c1', '10.20.0.51', 'production-central', '52:54:00:20:00:51'),
  sample(9, 'c3', '10.20.0.53', 'production-central', '52:54:00:20:00:53'),
  sample(10, 'w1', '10.20.0.61', 'production-worker', '52:54:00:20:00:61'),
  sample(11, 'w2', '10.20.0.62', 'production-worker', '52:54:00:20:00:62'),
  sample(12, 'd1', '10.20.0.71', 'dev', '52:54:00:20:00:71'),
];

function sampleMachine(name: string): SampleMachine {
  const found = SAMPLE_INVENTORY.find((m) => m.name === name);
  if (!found) throw new Error(`no sample machine ${name}`);
  return found;
}

/** The template and context the provisioner would render for `machine`; throws on errors. */
function sampleBuild(machine: SampleMachine, mode: BootMode = 'memory', inventory: readonly Machine[] = SAMPLE_INVENTORY) {
  const built = buildCloudConfigContext(
    {
      machine: { ...machine, bootMode: mode },
      inventory,
      subnets: [SAMPLE.subnet],
      baseUrl: SAMPLE.baseUrl,
      serverAddress: SAMPLE.serverAddress,
      cluster: { name: SAMPLE.clusterName, sshAuthorizedKeys: SAMPLE.sshKeys, ntpServers: SAMPLE.ntpServers, etcdBinary: SAMPLE.etcdBinary },
      bootToken: machine.bootToken ?? '',
    },
    'default',
  );
  if (!built.ok) throw new Error(`buildCloudConfigContext(${machine.name}): ${built.errors.join(' ')}`);
  return built;
}

function sampleContext(machine: SampleMachine, mode: BootMode = 'memory', inventory: readonly Machine[] = SAMPLE_INVENTORY): CloudConfigContext {
  return sampleBuild(machine, mode, inventory).context;
}

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Render {
  readonly id: string;
  readonly template: string;
  readonly machine: SampleMachine;
  readonly mode: BootMode;
  readonly context: CloudConfigContext;
  readonly text: string;
  readonly doc: CloudConfig;
}

interface CloudConfig {
  hostname: string;
  ssh_authorized_keys: string[];
  write_files: Array<{ path: string; permissions: string; content: string }>;
  coreos: {
    update: { reboot_strategy: string };
    units: Array<{ name: string; command?: string; mask?: boolean; content?: string }>;
  };
}

function loadCatalog(): Catalog {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  return loaded.catalog;
}

const catalog = loadCatalog();

function render(template: string, context: CloudConfigContext): string {
  const result = catalog.cloudConfig(template, context as unknown as Record<string, unknown>);
  if (!result.ok) throw new Error(`${template}: ${result.errors.join('\n')}`);
  return result.text;
}

const INSTALL_SAMPLES = ['s3', 't3', 'c3', 'w2', 'd1'];

const renders: Render[] = [
  ...SAMPLE_INVENTORY.map((m) => ({ machine: m, mode: 'memory' as BootMode, suffix: '' })),
  ...INSTALL_SAMPLES.map((name) => ({ machine: sampleMachine(name), mode: 'install' as BootMode, suffix: '.install' })),
].map(({ machine, mode, suffix }) => {
  const { template, context } = sampleBuild(machine, mode);
  const text = render(template, context);
  return { id: `${machine.role}-${machine.name}${suffix}`, template, machine, mode, context, text, doc: parse(text) as CloudConfig };
});

// default.yaml.hbs serves machines without a role; it must take the same context.
const defaultContext = sampleContext(sampleMachine('d1'));
const defaultText = render('default', defaultContext);

function byId(id: string): Render {
  const found = renders.find((r) => r.id === id);
  if (!found) throw new Error(`no render ${id}`);
  return found;
}

function unit(r: Render, name: string) {
  return r.doc.coreos.units.find((u) => u.name === name);
}

function file(r: Render, path: string) {
  return r.doc.write_files.find((f) => f.path === path);
}

/** Every value of `Key=` in a unit or network file, in order. */
function values(content: string | undefined, key: string): string[] {
  return (content ?? '').split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
}

function env(content: string | undefined): Record<string, string> {
  return Object.fromEntries(values(content, 'Environment').map((v) => [v.slice(0, v.indexOf('=')), v.slice(v.indexOf('=') + 1)]));
}

describe('role cloud-configs: golden files', () => {
  for (const [id, text] of [...renders.map((r) => [r.id, r.text] as const), ['default-d1', defaultText] as const]) {
    it(`${id} matches test/fixtures/golden/${id}.yaml`, () => {
      const path = join(GOLDEN_DIR, `${id}.yaml`);
      if (UPDATE) {
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(path, text);
        return;
      }
      assert.ok(existsSync(path), `${path} is missing: run UPDATE_GOLDEN=1 node --import tsx --test test/unit/catalog/roles.test.ts`);
      const golden = readFileSync(path, 'utf8');
      if (golden !== text) {
        const a = golden.split('\n');
        const b = text.split('\n');
        const line = a.findIndex((l, i) => l !== b[i]);
        assert.fail(
          `${id} differs from ${path} at line ${line + 1}:\n  golden:   ${JSON.stringify(a[line])}\n  rendered: ${JSON.stringify(b[line])}\n` +
            'If the template change is intended, run UPDATE_GOLDEN=1 node --import tsx --test test/unit/catalog/roles.test.ts and review git diff test/fixtures/golden.',
        );
      }
    });
  }
});

describe('role cloud-configs: the validator and R-C1/R-C2', () => {
  for (const r of [...renders, { id: 'default-d1', text: defaultText }]) {
    it(`${r.id}: zero findings, canonical keys, real booleans, quoted octal, no substitution variables`, () => {
      assert.deepEqual(validateCloudConfig(r.text), []);
      assert.equal(r.text.split('\n')[0], '#cloud-config');
      assert.doesNotMatch(r.text, /\$(private|public)_ipv[46]/);
      const keys: string[] = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) node.forEach(walk);
        else if (node !== null && typeof node === 'object') {
          for (const [k, v] of Object.entries(node)) {
            keys.push(k);
            walk(v);
          }
        }
      };
      const doc = parse(r.text) as Record<string, unknown>;
      walk(doc);
      assert.deepEqual(keys.filter((k) => !/^[a-z_]+$/.test(k)), [], 'every key is lower-case with underscores');
      // booleans are YAML 1.2 true/false; yes/no/on/off never appear unquoted as values
      assert.doesNotMatch(r.text, /^\s*(-\s+)?[a-z_]+:\s+(yes|no|on|off|y|n|True|False|TRUE|FALSE)\s*$/m);
      for (const f of (doc.write_files as Array<Record<string, unknown>> | undefined) ?? []) {
        assert.equal(typeof f.permissions, 'string', `${String(f.path)}: permissions must be a quoted string`);
        assert.match(f.permissions as string, /^0[0-7]{3}$/);
      }
      for (const u of ((doc.coreos as Record<string, unknown>).units as Array<Record<string, unknown>>)) {
        if ('mask' in u) assert.equal(u.mask, true);
        if ('command' in u) assert.match(u.command as string, /^(start|stop|restart)$/);
      }
    });
  }
});

describe('role cloud-configs: structure', () => {
  const NETWORK = '/etc/systemd/network/10-rackboot.network';

  it('every render: host name, SSH keys, static network, NTP, callback URL, offline updates', () => {
    for (const r of renders) {
      const { doc, machine } = r;
      assert.equal(doc.hostname, machine.name, r.id);
      assert.deepEqual(doc.ssh_authorized_keys, [...SAMPLE.sshKeys], r.id);
      assert.equal(
        file(r, NETWORK)?.content,
        `[Match]\nMACAddress=${machine.mac}\n[Network]\nAddress=${machine.ip}/24\nGateway=10.20.0.1\nDNS=10.20.0.2\nDNS=10.20.0.3\nDomains=rack.lab\n`,
        r.id,
      );
      assert.equal(file(r, '/etc/systemd/timesyncd.conf')?.content, '[Time]\nNTP=10.20.0.2\n', r.id);
      assert.equal(file(r, '/etc/rackboot/callback-url')?.content, r.context.callbackUrl, r.id);
      assert.equal(file(r, '/etc/rackboot/callback-url')?.permissions, '0600', r.id);
      assert.equal(doc.coreos.update.reboot_strategy, 'off', r.id);
      assert.deepEqual(unit(r, 'update-engine.service'), { name: 'update-engine.service', mask: true, command: 'stop' }, r.id);
      assert.deepEqual(unit(r, 'locksmithd.service'), { name: 'locksmithd.service', mask: true, command: 'stop' }, r.id);
      assert.equal(unit(r, 'systemd-networkd.service')?.command, 'restart', r.id);
      const names = doc.coreos.units.map((u) => u.name);
      assert.equal(new Set(names).size, names.length, `${r.id}: unit names are unique`);
      assert.ok(!names.includes('etcd-member.service'), `${r.id}: Flatcar's etcd-member pulls from the internet`);
    }
  });

  it('memory mode runs the role and reports ready; install mode only runs the installer', () => {
    for (const r of renders) {
      const install = unit(r, 'rackboot-install.service');
      if (r.mode === 'install') {
        assert.ok(install, r.id);
        assert.deepEqual(values(install.content, 'ExecStart'), ['/opt/rackboot/bin/rackboot-install'], r.id);
        assert.equal(file(r, '/etc/rackboot/install-script-url')?.content, r.context.installScriptUrl, r.id);
        assert.ok(file(r, '/opt/rackboot/bin/rackboot-install'), r.id);
        for (const absent of ['rackboot-ready.service', 'rackboot-etcd.service', 'rackboot-etcd-gateway.service', 'docker.service']) {
          assert.equal(unit(r, absent), undefined, `${r.id}: ${absent} must not run in the install environment`);
        }
        const script = file(r, '/opt/rackboot/bin/rackboot-install')?.content ?? '';
        assert.match(script, /rackboot-callback failed/, 'a failed install is reported');
      } else {
        assert.equal(install, undefined, r.id);
        assert.equal(file(r, '/etc/rackboot/install-script-url'), undefined, r.id);
        const ready = unit(r, 'rackboot-ready.service');
        assert.deepEqual(values(ready?.content, 'ExecStart'), [`/opt/rackboot/bin/rackboot-ready ${r.machine.role === 'dev' ? 'docker' : 'etcd'}`], r.id);
        // ready starts before the role services: their start jobs can block coreos-cloudinit
        const names = r.doc.coreos.units.map((u) => u.name);
        assert.equal(names.at(-2), 'rackboot-ready.service', r.id);
      }
    }
  });

  it('small: three members with one static initial cluster and one token, over TLS with client certificates', () => {
    const expectedCluster = 's1=https://10.20.0.11:2380,s2=https://10.20.0.12:2380,s3=https://10.20.0.13:2380';
    const tokens = new Set<string>();
    for (const name of ['s1', 's2', 's3']) {
      const r = byId(`small-${name}`);
      const u = unit(r, 'rackboot-etcd.service');
      assert.ok(u, name);
      const e = env(u.content);
      assert.equal(e.ETCD_NAME, name);
      assert.equal(e.ETCD_INITIAL_CLUSTER, expectedCluster);
      assert.equal(e.ETCD_INITIAL_CLUSTER_STATE, 'new');
      assert.equal(e.ETCD_INITIAL_ADVERTISE_PEER_URLS, `https://${r.machine.ip}:2380`);
      assert.equal(e.ETCD_LISTEN_PEER_URLS, `https://${r.machine.ip}:2380`);
      assert.equal(e.ETCD_LISTEN_CLIENT_URLS, `https://${r.machine.ip}:2379,https://127.0.0.1:2379`);
      assert.equal(e.ETCD_ADVERTISE_CLIENT_URLS, `https://${r.machine.ip}:2379`);
      assert.equal(e.ETCD_CLIENT_CERT_AUTH, 'true');
      assert.equal(e.ETCD_PEER_CLIENT_CERT_AUTH, 'true');
      assert.equal(e.ETCD_CERT_FILE, '/etc/rackboot/etcd/server.crt');
      assert.equal(e.ETCD_PEER_KEY_FILE, '/etc/rackboot/etcd/server.key');
      assert.equal(file(r, '/etc/rackboot/etcd/server.key')?.permissions, '0600');
      assert.equal(file(r, '/etc/rackboot/etcd/ca.crt')?.permissions, '0644');
      assert.match(file(r, '/opt/rackboot/bin/rackboot-etcd-health')?.content ?? '', new RegExp(`exec /opt/bin/etcdctl --endpoints=https://${r.machine.ip.replace(/\./g, '\\.')}:2379 --cacert=/etc/rackboot/etcd/ca.crt --cert=/etc/rackboot/etcd/server.crt --key=/etc/rackboot/etcd/server.key --command-timeout=5s endpoint health`));
      assert.match(e.ETCD_INITIAL_CLUSTER_TOKEN ?? '', /^rackboot-lab-small-[0-9a-f]{10}$/);
      tokens.add(e.ETCD_INITIAL_CLUSTER_TOKEN ?? '');
      assert.deepEqual(values(u.content, 'ExecStartPre'), [`+/opt/rackboot/bin/rackboot-fetch --if-absent ${SAMPLE.binaryUrl} /opt/bin/etcd 0755`]);
      assert.deepEqual(values(u.content, 'ExecStart'), ['/opt/bin/etcd']);
      assert.equal(unit(r, 'rackboot-etcd-gateway.service'), undefined);
    }
    assert.equal(tokens.size, 1);
  });

  it('test: the lowest IP is the one member, the others run a gateway to it on 127.0.0.1:2379', () => {
    const member = byId('test-t1');
    assert.equal(env(unit(member, 'rackboot-etcd.service')?.content).ETCD_INITIAL_CLUSTER, 't1=https://10.20.0.31:2380');
    assert.equal(unit(member, 'rackboot-etcd-gateway.service'), undefined);
    for (const id of ['test-t2', 'test-t3']) {
      const r = byId(id);
      assert.equal(unit(r, 'rackboot-etcd.service'), undefined, id);
      assert.deepEqual(values(unit(r, 'rackboot-etcd-gateway.service')?.content, 'ExecStart'), [
        '/opt/bin/etcd grpc-proxy start --listen-addr=127.0.0.1:2379 --endpoints=https://10.20.0.31:2379 --cacert=/etc/rackboot/etcd/ca.crt --cert=/etc/rackboot/etcd/client.crt --key=/etc/rackboot/etcd/client.key',
      ]);
      assert.equal(file(r, '/etc/rackboot/etcd/client.key')?.permissions, '0600', id);
      assert.equal(file(r, '/etc/rackboot/etcd/server.key'), undefined, id);
    }
  });

  it('production: central machines are the members, workers gateway to all three', () => {
    const cluster = 'c1=https://10.20.0.51:2380,c2=https://10.20.0.52:2380,c3=https://10.20.0.53:2380';
    const tokens = new Set<string>();
    for (const name of ['c1', 'c2', 'c3']) {
      const e = env(unit(byId(`production-central-${name}`), 'rackboot-etcd.service')?.content);
      assert.equal(e.ETCD_NAME, name);
      assert.equal(e.ETCD_INITIAL_CLUSTER, cluster);
      tokens.add(e.ETCD_INITIAL_CLUSTER_TOKEN ?? '');
    }
    assert.equal(tokens.size, 1);
    assert.match([...tokens][0] ?? '', /^rackboot-lab-production-[0-9a-f]{10}$/);
    for (const name of ['w1', 'w2']) {
      const r = byId(`production-worker-${name}`);
      assert.equal(unit(r, 'rackboot-etcd.service'), undefined);
      assert.deepEqual(values(unit(r, 'rackboot-etcd-gateway.service')?.content, 'ExecStart'), [
        '/opt/bin/etcd grpc-proxy start --listen-addr=127.0.0.1:2379 --endpoints=https://10.20.0.51:2379,https://10.20.0.52:2379,https://10.20.0.53:2379 --cacert=/etc/rackboot/etcd/ca.crt --cert=/etc/rackboot/etcd/client.crt --key=/etc/rackboot/etcd/client.key',
      ]);
    }
  });

  it('dev: Docker on its local socket only, no etcd', () => {
    const r = byId('dev-d1');
    assert.deepEqual(unit(r, 'docker.service'), { name: 'docker.service', command: 'start' });
    assert.doesNotMatch(r.text, /rackboot-etcd\.service|rackboot-etcd-gateway|\/etc\/rackboot\/etcd|\/opt\/bin\/etcd|ETCD_|docker-tcp|2375/);
    assert.equal(r.context.etcd, null);
  });

  it('a bare subnet (no gateway, domain, NTP servers or SSH keys) still renders valid configs for every role', () => {
    for (const name of ['s1', 't2', 'c1', 'w1', 'd1']) {
      for (const mode of ['memory', 'install'] as const) {
        const full = sampleContext(sampleMachine(name), mode);
        const context: CloudConfigContext = {
          ...full,
          machine: { ...full.machine, gateway: '', domain: '', fqdn: full.machine.name, dns: ['10.20.0.2'] },
          ssh: { authorizedKeys: [] },
          time: { ntpServers: [] },
        };
        const text = render(full.machine.role, context);
        assert.deepEqual(validateCloudConfig(text), [], `${name} ${mode}`);
        const doc = parse(text) as CloudConfig;
        assert.deepEqual(doc.ssh_authorized_keys, []);
        assert.equal(
          doc.write_files.find((f) => f.path === NETWORK)?.content,
          `[Match]\nMACAddress=${full.machine.primaryMac}\n[Network]\nAddress=${full.machine.ip}/24\nDNS=10.20.0.2\n`,
        );
        assert.equal(doc.write_files.find((f) => f.path === '/etc/systemd/timesyncd.conf'), undefined);
        assert.equal(doc.coreos.units.find((u) => u.name === 'systemd-timesyncd.service'), undefined);
      }
    }
  });

  it('a hostile callback URL stays one quoted YAML scalar (it never reaches a unit file)', () => {
    const context = { ...sampleContext(sampleMachine('d1')), callbackUrl: 'http://x/cb"\nusers: [{name: evil}]\n%n$HOME' };
    const text = render('dev', context);
    const doc = parse(text) as CloudConfig & { users?: unknown };
    assert.equal(doc.users, undefined);
    assert.equal(doc.write_files.find((f) => f.path === '/etc/rackboot/callback-url')?.content, context.callbackUrl);
    for (const u of doc.coreos.units) assert.ok(!(u.content ?? '').includes('http://x/cb'), u.name);
  });
});

describe('role cloud-configs: negative cases', () => {
  it('a role template with a missing variable does not render', () => {
    const full = sampleContext(sampleMachine('s1'));
    const { primaryMac: _dropped, ...machineWithoutMac } = full.machine;
    const noMac = { ...full, machine: machineWithoutMac };
    const result = catalog.cloudConfig('small', noMac as unknown as Record<string, unknown>);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.errors.join('\n'), /rendering failed: .*primaryMac/);
    // a context without etcd (a dev context handed to an etcd role) fails too, inside a partial
    const dev = sampleContext(sampleMachine('d1'));
    const wrong = catalog.cloudConfig('production-worker', dev as unknown as Record<string, unknown>);
    assert.equal(wrong.ok, false);
    assert.match(wrong.ok ? '' : wrong.errors.join('\n'), /"endpoints" not defined in null/);
  });

  it('an even or too small etcd set gives the operator the reason', () => {
    const twoSmall = SAMPLE_INVENTORY.filter((m) => m.name !== 's3');
    assert.throws(() => sampleContext(sampleMachine('s1'), 'memory', twoSmall), /small has 2 members; etcd needs at least 3 for fault tolerance\./);
    const fourSmall = [...SAMPLE_INVENTORY, { name: 's4', ip: '10.20.0.14', role: 'small' }];
    const result = computeEtcd({ machine: sampleMachine('s1'), inventory: fourSmall, clusterName: 'lab', binaryUrl: SAMPLE.binaryUrl, etcdctlUrl: SAMPLE.binaryUrl, credentials: () => ({ caCert: 'CA', cert: 'CERT', key: 'KEY' }) });
    assert.ok(result.ok);
    assert.deepEqual(result.warnings, ['small has 4 members; an even count adds no fault tolerance (4 members survive 1 failure, as 3 do), so use 3 or 5.']);
    const twoCentral = SAMPLE_INVENTORY.filter((m) => m.name !== 'c2');
    assert.throws(() => sampleContext(sampleMachine('w1'), 'memory', twoCentral), /production-central has 2 members; etcd needs 3 or 5 for fault tolerance\./);
    const noCentral = SAMPLE_INVENTORY.filter((m) => m.role !== 'production-central');
    assert.throws(() => sampleContext(sampleMachine('w1'), 'memory', noCentral), /production-worker w1 has no production-central machines to reach/);
  });
});

// ---------------------------------------------------------------------------------------------
// The scripts and units, checked by the tools that will run them.

const which = (tool: string): boolean => findExecutable(tool) !== undefined;

describe('role cloud-configs: helper scripts', () => {
  const scripts = new Map<string, string>();
  for (const r of renders) for (const f of r.doc.write_files) if (f.path.startsWith('/opt/rackboot/bin/')) scripts.set(f.path, f.content);

  it('the same script text in every render that carries it', () => {
    // the etcd health check names the machine's own address: the one script that differs
    const fixed = (path: string) => scripts.has(path) && path !== '/opt/rackboot/bin/rackboot-etcd-health';
    for (const r of renders) for (const f of r.doc.write_files) if (fixed(f.path)) assert.equal(f.content, scripts.get(f.path), `${r.id} ${f.path}`);
    assert.deepEqual([...scripts.keys()].sort(), [
      '/opt/rackboot/bin/rackboot-callback', '/opt/rackboot/bin/rackboot-etcd-health', '/opt/rackboot/bin/rackboot-fetch', '/opt/rackboot/bin/rackboot-install', '/opt/rackboot/bin/rackboot-ready',
    ]);
  });

  it('parse as POSIX sh (sh -n)', () => {
    for (const [path, content] of scripts) {
      const result = spawnSync('sh', ['-n'], { input: content, encoding: 'utf8' });
      assert.equal(result.status, 0, `${path}: ${result.stderr}`);
    }
  });

  it('pass shellcheck', { skip: which('shellcheck') ? false : 'shellcheck is not installed' }, () => {
    for (const [path, content] of scripts) {
      const result = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: content, encoding: 'utf8' });
      assert.equal(result.status, 0, `${path}:\n${result.stdout}${result.stderr}`);
    }
  });
});

describe('role cloud-configs: helper scripts against a local HTTP server', () => {
  // The scripts' fixed paths (/etc/rackboot, /opt/rackboot/bin, /run/rackboot, the etcd health URL)
  // are moved into a temp dir; everything else runs as rendered, with this machine's curl.
  const skip = existsSync('/usr/bin/curl') ? false : '/usr/bin/curl is not installed';
  let dir = '';
  let server: Server;
  let base = '';
  const posts: Array<{ url: string; body: string; type: string }> = [];
  let health = '{"health":"false"}';

  before(async () => {
    if (skip) return;
    dir = mkdtempSync(join(tmpdir(), 'rb-scripts-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method === 'POST') {
          posts.push({ url: req.url ?? '', body, type: req.headers['content-type'] ?? '' });
          res.writeHead(204).end();
        } else if (req.url === '/health') res.end(health);
        else if (req.url === '/etcd') res.end('#!/bin/sh\necho fake etcd\n');
        else if (req.url === '/install-ok') res.end('#!/bin/sh\nexit 0\n');
        else if (req.url === '/install-fails') res.end('#!/bin/sh\nexit 3\n');
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = byId('small-s1');
    const install = byId('small-s3.install');
    for (const f of [...r.doc.write_files, ...install.doc.write_files]) {
      if (!f.path.startsWith('/opt/rackboot/bin/')) continue;
      const text = f.content
        .replaceAll('/etc/rackboot/', `${dir}/etc/`)
        .replaceAll('/opt/rackboot/bin/', `${dir}/bin/`)
        .replaceAll('/run/rackboot/', `${dir}/run/`)
        .replaceAll('http://127.0.0.1:2379/health', `${base}/health`);
      mkdirSync(join(dir, 'bin'), { recursive: true });
      writeFileSync(join(dir, 'bin', f.path.slice('/opt/rackboot/bin/'.length)), text);
      chmodSync(join(dir, 'bin', f.path.slice('/opt/rackboot/bin/'.length)), 0o755);
    }
    mkdirSync(join(dir, 'etc'), { recursive: true });
    writeFileSync(join(dir, 'etc/callback-url'), `${base}/callback/tok-s1`);
    // the rendered health check runs etcdctl against real etcd (test/real/etcd-cluster.test.ts); here
    // a stand-in answers what the local server's /health says, to drive rackboot-ready's loop
    writeFileSync(join(dir, 'bin', 'rackboot-etcd-health'), `#!/bin/sh\n/usr/bin/curl -fsS ${base}/health | grep -q '"health":"true"'\n`);
  });
  after(async () => {
    if (skip) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (script: string, ...args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(join(dir, 'bin', script), args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code) => resolve({ code, stderr }));
    });

  it('rackboot-callback posts {"event","message"} JSON, stripping quotes and control characters', { skip }, async () => {
    posts.length = 0;
    assert.equal((await run('rackboot-callback', 'ready', 'etcd "is"\\ up\nnow')).code, 0);
    assert.deepEqual(posts, [{ url: '/callback/tok-s1', type: 'application/json', body: '{"event":"ready","message":"etcd is upnow"}' }]);
    assert.deepEqual(JSON.parse(posts[0]?.body ?? ''), { event: 'ready', message: 'etcd is upnow' });
  });

  it('rackboot-fetch downloads atomically with the mode asked for, and --if-absent keeps what is there', { skip }, async () => {
    const dest = join(dir, 'opt-bin/etcd');
    assert.equal((await run('rackboot-fetch', '--if-absent', `${base}/etcd`, dest, '0755')).code, 0);
    assert.equal(readFileSync(dest, 'utf8'), '#!/bin/sh\necho fake etcd\n');
    assert.equal(statSync(dest).mode & 0o777, 0o755);
    assert.equal(existsSync(`${dest}.part`), false);
    writeFileSync(dest, 'kept');
    chmodSync(dest, 0o755);
    assert.equal((await run('rackboot-fetch', '--if-absent', `${base}/etcd`, dest, '0755')).code, 0);
    assert.equal(readFileSync(dest, 'utf8'), 'kept');
  });

  it('rackboot-install runs the fetched script and reports a failing one as "failed"', { skip }, async () => {
    posts.length = 0;
    writeFileSync(join(dir, 'etc/install-script-url'), `${base}/install-ok`);
    assert.equal((await run('rackboot-install')).code, 0);
    assert.equal(posts.length, 0);
    writeFileSync(join(dir, 'etc/install-script-url'), `${base}/install-fails`);
    const failed = await run('rackboot-install');
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /the install script exited with status 3/);
    assert.deepEqual(posts.map((p) => JSON.parse(p.body)), [{ event: 'failed', message: 'the install script exited with status 3' }]);
  });

  it('rackboot-ready waits for a healthy etcd, then reports "ready"', { skip }, async () => {
    posts.length = 0;
    health = '{"health":"false","reason":"RAFT NO LEADER"}';
    const pending = run('rackboot-ready', 'etcd');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(posts.length, 0, 'no ready while the cluster has no leader');
    health = '{"health":"true","reason":""}';
    assert.equal((await pending).code, 0);
    assert.deepEqual(posts.map((p) => JSON.parse(p.body)), [{ event: 'ready', message: 'etcd is up' }]);
  });
});

describe('role cloud-configs: systemd-analyze verify', () => {
  const available = which('systemd-analyze') && existsSync('/usr/lib/systemd/system/sysinit.target');
  let root = '';
  before(() => {
    if (available) root = mkdtempSync(join(tmpdir(), 'rb-units-'));
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /**
   * A throw-away root per render: this machine's system units (targets, systemd-networkd, ...), the
   * render's write_files (so the /opt/rackboot/bin scripts exist with their permissions) and units.
   * Commands under /usr that a unit runs directly (/usr/bin/curl in default.yaml.hbs) are copied from
   * this machine. Stubbed, because they exist only on the target at run time: /opt/bin/etcd
   * (downloaded by rackboot-fetch) and Flatcar's docker.service. Nothing else is tolerated: verify
   * must print nothing and exit 0.
   */
  function verify(id: string, text: string): void {
    const doc = parse(text) as CloudConfig;
    const dir = join(root, id);
    cpSync('/usr/lib/systemd/system', join(dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const f of doc.write_files ?? []) {
      const path = join(dir, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content);
      chmodSync(path, parseInt(f.permissions, 8));
    }
    mkdirSync(join(dir, 'opt/bin'), { recursive: true });
    writeFileSync(join(dir, 'opt/bin/etcd'), '#!/bin/sh\n');
    chmodSync(join(dir, 'opt/bin/etcd'), 0o755);
    const unitDir = join(dir, 'etc/systemd/system');
    mkdirSync(unitDir, { recursive: true });
    if (!existsSync(join(dir, 'usr/lib/systemd/system/docker.service'))) {
      writeFileSync(join(unitDir, 'docker.service'), '[Unit]\nDescription=stand-in for Flatcar docker.service\n[Service]\nExecStart=/bin/true\n');
    }
    const withContent = doc.coreos.units.filter((u) => u.content !== undefined);
    assert.ok(withContent.length > 0, id);
    for (const u of withContent) {
      writeFileSync(join(unitDir, u.name), u.content as string);
      for (const command of (u.content as string).matchAll(/^Exec[A-Za-z]*=[-+@!:]*(\/usr\/\S+)/gm)) {
        const path = command[1] as string;
        if (existsSync(path) && !existsSync(join(dir, path))) {
          mkdirSync(dirname(join(dir, path)), { recursive: true });
          cpSync(path, join(dir, path));
        }
      }
    }
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${dir}`, ...withContent.map((u) => u.name)], { encoding: 'utf8' });
    assert.equal(`${result.stdout}${result.stderr}`, '', `${id}: systemd-analyze verify printed findings`);
    assert.equal(result.status, 0, id);
  }

  const reason = available ? false : 'systemd-analyze (Debian package systemd) is not installed';
  for (const r of renders) it(`${r.id}: its units verify`, { skip: reason }, () => verify(r.id, r.text));
  it('default-d1: its unit verifies', { skip: reason }, () => verify('default-d1', defaultText));

  it('verify does report a broken unit (the check is live)', { skip: reason }, () => {
    const broken = byId('small-s1').text.replace('Type=notify', 'Type=notify\n        BogusKey=1\n        ExecStart=/opt/bin/etcd --again');
    assert.throws(() => verify('broken', broken), /verify printed findings/);
  });
});
