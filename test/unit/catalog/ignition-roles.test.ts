/**
 * Every role (memory and install mode, and the default template) rendered as Ignition through the
 * shipped Catalog and the pure Ignition path (core/ignition-from-cloud-config.ts): golden files,
 * rackboot's check and Debian's real ignition-validate, and the proof that both formats carry the
 * same machine: host name, SSH keys, every file byte for byte, every unit, the network by MAC.
 *
 * Golden files: test/fixtures/golden/ignition/<role>-<machine>[.install].ign. Regenerate with
 * UPDATE_GOLDEN=1 and review the diff.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { Catalog } from '../../../server/catalog/catalog.js';
import { buildCloudConfigContext } from '../../../server/core/cloud-config-context.js';
import { checkIgnition } from '../../../server/core/ignition-check.js';
import { ignitionFromCloudConfig } from '../../../server/core/ignition-from-cloud-config.js';
import type { BootMode, Role } from '../../../server/core/roles.js';
import type { Machine } from '../../../server/core/types.js';
import { catalogDirs } from '../../../server/paths.js';
import { ignitionValidate, SKIP_IGNITION_VALIDATE } from '../../helpers/ignition-validate.js';

const BASE = 'http://10.20.0.2:8080';
const ETCD_PATH = 'etcd/v3.5.17/etcd';
const ETCD_SHA512 = createHash('sha512').update('the etcd binary of the sample mirror').digest('hex');
const SSH_KEYS = ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhY2tib290LXRlc3Qta2V5LW5vdC1yZWFs operator@lab'];
const SUBNET = { cidr: '10.20.0.0/24', gateway: '10.20.0.1', dns: ['10.20.0.2', '10.20.0.3'], domain: 'rack.lab', leaseSeconds: 3600 };
const ETCDCTL_SHA512 = createHash('sha512').update('the etcdctl binary of the sample mirror').digest('hex');
// the mirror holds etcd and the etcdctl a member's ready unit runs its health check with (docs/etcd.md)
const digestOf = (url: string) => (url === `${BASE}/assets/${ETCD_PATH}` ? ETCD_SHA512 : url === `${BASE}/assets/etcd/v3.5.17/etcdctl` ? ETCDCTL_SHA512 : null);

function machine(id: number, name: string, ip: string, role: Role, mac: string): Machine {
  return {
    id, name, uuid: null, bmcAddress: null, ip, role, bootMode: 'memory', state: 'registered', stateChangedAt: 0,
    macs: [mac], bootToken: `tok-${name}`, configToken: null, ipxeChainedAt: null, createdAt: 0,
  };
}

const INVENTORY: readonly Machine[] = [
  machine(1, 's1', '10.20.0.11', 'small', '52:54:00:20:00:11'),
  machine(2, 's2', '10.20.0.12', 'small', '52:54:00:20:00:12'),
  machine(3, 's3', '10.20.0.13', 'small', '52:54:00:20:00:13'),
  machine(4, 't1', '10.20.0.31', 'test', '52:54:00:20:00:31'),
  machine(5, 't2', '10.20.0.32', 'test', '52:54:00:20:00:32'),
  machine(6, 'c1', '10.20.0.51', 'production-central', '52:54:00:20:00:51'),
  machine(7, 'c2', '10.20.0.52', 'production-central', '52:54:00:20:00:52'),
  machine(8, 'c3', '10.20.0.53', 'production-central', '52:54:00:20:00:53'),
  machine(9, 'w1', '10.20.0.61', 'production-worker', '52:54:00:20:00:61'),
  machine(10, 'd1', '10.20.0.71', 'dev', '52:54:00:20:00:71'),
];

const loaded = Catalog.load(catalogDirs());
if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
const catalog = loaded.catalog;

interface Render {
  readonly id: string;
  readonly machine: Machine;
  readonly cloudConfig: string;
  readonly ignition: string;
}

function renderBoth(m: Machine, mode: BootMode, template?: string, digests = digestOf): Render | { errors: readonly string[] } {
  const built = buildCloudConfigContext(
    {
      machine: { ...m, bootMode: mode },
      inventory: INVENTORY,
      subnets: [SUBNET],
      baseUrl: BASE,
      serverAddress: '10.20.0.2',
      cluster: { name: 'lab', sshAuthorizedKeys: SSH_KEYS, ntpServers: ['10.20.0.2'], etcdBinary: ETCD_PATH },
      bootToken: m.bootToken ?? '',
    },
    'default',
  );
  if (!built.ok) throw new Error(built.errors.join(' '));
  const cloud = catalog.cloudConfig(template ?? built.template, built.context as unknown as Record<string, unknown>);
  if (!cloud.ok) throw new Error(cloud.errors.join(' '));
  const ignition = ignitionFromCloudConfig(cloud.text, built.context.etcd, digests);
  if (!ignition.ok) return { errors: ignition.errors };
  const id = template ? `${template}-${m.name}` : `${m.role}-${m.name}${mode === 'install' ? '.install' : ''}`;
  return { id, machine: m, cloudConfig: cloud.text, ignition: ignition.text };
}

function mustRender(m: Machine, mode: BootMode, template?: string): Render {
  const r = renderBoth(m, mode, template);
  if ('errors' in r) throw new Error(`${m.name}: ${r.errors.join('; ')}`);
  return r;
}

const renders: Render[] = [
  ...INVENTORY.map((m) => mustRender(m, 'memory')),
  ...['s3', 'c3', 'w1', 'd1', 't2'].map((name) => mustRender(INVENTORY.find((m) => m.name === name) as Machine, 'install')),
  mustRender(INVENTORY.find((m) => m.name === 'd1') as Machine, 'memory', 'default'),
];

const GOLDEN_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'golden', 'ignition');

interface IgnitionDoc {
  ignition: { version: string };
  passwd?: { users: Array<{ name: string; sshAuthorizedKeys: string[] }> };
  storage: {
    files: Array<{ path: string; mode: number; overwrite: boolean; contents: { source: string; verification?: { hash: string } } }>;
    links?: Array<{ path: string; target: string }>;
  };
  systemd?: { units: Array<{ name: string; contents?: string; mask?: boolean }> };
}

interface CloudDoc {
  hostname: string;
  ssh_authorized_keys?: string[];
  write_files?: Array<{ path: string; permissions: string; content: string }>;
  coreos: { update?: { reboot_strategy: string }; units: Array<{ name: string; command?: string; mask?: boolean; content?: string }> };
}

function inlineText(source: string): string {
  assert.ok(source.startsWith('data:,'), source);
  return decodeURIComponent(source.slice('data:,'.length));
}

describe('role Ignition configs: golden files', () => {
  for (const r of renders) {
    it(`${r.id} matches test/fixtures/golden/ignition/${r.id}.ign`, () => {
      const path = join(GOLDEN_DIR, `${r.id}.ign`);
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync(GOLDEN_DIR, { recursive: true });
        writeFileSync(path, r.ignition);
        return;
      }
      assert.ok(existsSync(path), `${path} is missing: run UPDATE_GOLDEN=1 node --import tsx --test test/unit/catalog/ignition-roles.test.ts`);
      assert.equal(r.ignition, readFileSync(path, 'utf8'), `${r.id} differs from ${path} (UPDATE_GOLDEN=1 if intended; review the diff)`);
    });
  }
});

describe('role Ignition configs: validation', () => {
  for (const r of renders) {
    it(`${r.id}: spec 3.3.0, no finding from rackboot's check`, () => {
      assert.equal((JSON.parse(r.ignition) as IgnitionDoc).ignition.version, '3.3.0');
      assert.deepEqual(checkIgnition(r.ignition), []);
    });
    it(`${r.id}: Debian's ignition-validate prints nothing`, { skip: SKIP_IGNITION_VALIDATE }, () => {
      const result = ignitionValidate(r.ignition);
      assert.ok(result.valid, result.output);
    });
  }
});

describe('role Ignition configs: the same machine as the cloud-config', () => {
  for (const r of renders) {
    it(`${r.id}: host name, SSH keys, files, units and network agree`, () => {
      const cloud = parse(r.cloudConfig) as CloudDoc;
      const ign = JSON.parse(r.ignition) as IgnitionDoc;
      const files = new Map(ign.storage.files.map((f) => [f.path, f]));
      assert.equal(inlineText(files.get('/etc/hostname')?.contents.source ?? ''), `${cloud.hostname}\n`);
      const keys = cloud.ssh_authorized_keys ?? [];
      assert.deepEqual(ign.passwd?.users, keys.length > 0 ? [{ name: 'core', sshAuthorizedKeys: keys }] : undefined);
      const writeFiles = cloud.write_files ?? [];
      // every write_files entry, byte for byte and with its mode (the network file matched by MAC among them)
      for (const wf of writeFiles) {
        const f = files.get(wf.path);
        assert.ok(f, `${wf.path} is missing from the Ignition config`);
        assert.equal(f.mode, parseInt(wf.permissions, 8), wf.path);
        assert.equal(f.overwrite, true, wf.path);
        assert.equal(inlineText(f.contents.source), wf.content, wf.path);
      }
      if (writeFiles.length > 0) {
        assert.match(inlineText(files.get('/etc/systemd/network/10-rackboot.network')?.contents.source ?? ''), new RegExp(`MACAddress=${r.machine.macs[0]}`));
        assert.equal(inlineText(files.get('/etc/flatcar/update.conf')?.contents.source ?? ''), `REBOOT_STRATEGY=${cloud.coreos.update?.reboot_strategy ?? ''}\n`);
      }
      // nothing else but the host name, the update strategy and files fetched from the mirror
      const extra = ign.storage.files.filter((f) => !writeFiles.some((w) => w.path === f.path)).map((f) => f.path);
      for (const path of extra) assert.ok(['/etc/hostname', '/etc/flatcar/update.conf'].includes(path) || files.get(path)?.contents.verification, `${path}: not in the cloud-config`);
      // every unit: the same text; started ones are wanted by multi-user.target; masked ones masked
      const units = new Map((ign.systemd?.units ?? []).map((u) => [u.name, u]));
      const links = new Map((ign.storage.links ?? []).map((l) => [l.path, l.target]));
      for (const u of cloud.coreos.units) {
        const iu = units.get(u.name);
        assert.ok(iu, `${u.name} is missing from the Ignition config`);
        assert.equal(iu.contents, u.content, u.name);
        assert.equal(iu.mask === true, u.mask === true, u.name);
        const wanted = links.has(`/etc/systemd/system/multi-user.target.wants/${u.name}`);
        assert.equal(wanted, u.command === 'start', `${u.name}: command ${u.command ?? 'none'} but wanted=${wanted}`);
      }
      assert.equal(units.size, cloud.coreos.units.length);
    });
  }

  it('the etcd binary is fetched from the mirror with the manifest checksum; its unit then skips the download', () => {
    for (const r of renders.filter((x) => /etcd/.test(x.cloudConfig) && !x.id.endsWith('.install') && x.machine.role !== 'dev')) {
      const etcd = (JSON.parse(r.ignition) as IgnitionDoc).storage.files.find((f) => f.path === '/opt/bin/etcd');
      assert.ok(etcd, `${r.id}: /opt/bin/etcd`);
      assert.equal(etcd.mode, 0o755);
      assert.equal(etcd.contents.source, `${BASE}/assets/${ETCD_PATH}`);
      assert.equal(etcd.contents.verification?.hash, `sha512-${ETCD_SHA512}`);
      assert.match(r.cloudConfig, /rackboot-fetch --if-absent \S+ \/opt\/bin\/etcd 0755/);
    }
  });

  it('install mode fetches nothing from the mirror in the PXE-booted OS (the installer does)', () => {
    for (const r of renders.filter((x) => x.id.endsWith('.install'))) {
      assert.ok(!(JSON.parse(r.ignition) as IgnitionDoc).storage.files.some((f) => f.contents.verification), r.id);
    }
  });

  it('refuses to render when the etcd binary has no mirror checksum (never an unverified download)', () => {
    const r = renderBoth(INVENTORY[0] as Machine, 'memory', undefined, () => null);
    assert.ok('errors' in r);
    assert.match(r.errors.join(' '), /\/opt\/bin\/etcd: .* is not a file of an imported mirror version/);
  });
});
