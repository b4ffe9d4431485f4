/**
 * The role table (server/core/roles.ts) against the rest of the tree: templates, menus, install
 * defaults, cluster membership and the etcd rules core/cluster.ts applies. Walks the table, so a new
 * role is checked without touching this file.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Catalog } from '../../../server/catalog/catalog.js';
import { installSchema } from '../../../server/config/install.js';
import { computeEtcd, type ClusterMachine } from '../../../server/core/cluster.js';
import { BOOT_MODES, clusterRoles, etcdMembers, isRole, ROLE_TABLE, ROLES, roleSpec, type Role } from '../../../server/core/roles.js';
import { catalogDirs } from '../../../server/paths.js';

const BINARY = 'http://10.0.0.2:8080/assets/etcd/etcd';
const CLUSTERS = [...new Set(ROLE_TABLE.map((r) => r.cluster).filter((c) => c !== null))];

function machines(role: Role, count: number, subnet: number, first = 1): ClusterMachine[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${role}-${i + 1}`, ip: `10.0.${subnet}.${first + i}`, role }));
}

function etcd(machine: ClusterMachine, inventory: readonly ClusterMachine[]) {
  return computeEtcd({ machine, inventory, clusterName: 'rack1', binaryUrl: BINARY, etcdctlUrl: 'http://10.0.0.2:8080/assets/etcd/etcdctl', credentials: () => ({ caCert: 'CA', cert: 'CERT', key: 'KEY' }) });
}

describe('the role table', () => {
  it('ROLES lists the table in order, every name once, and isRole accepts exactly those', () => {
    assert.deepEqual(ROLES, ROLE_TABLE.map((r) => r.name));
    assert.equal(new Set(ROLES).size, ROLES.length);
    for (const role of ROLES) {
      assert.match(role, /^[a-z][a-z0-9-]*$/);
      assert.ok(isRole(role));
      assert.equal(roleSpec(role).name, role);
      assert.notEqual(roleSpec(role).description, '', role);
    }
    assert.equal(isRole(null), false);
    assert.equal(isRole('none'), false);
  });

  it('every role has its cloud-config template in cloud-configs/', () => {
    const dir = catalogDirs().cloudConfigs;
    for (const r of ROLE_TABLE) assert.ok(existsSync(join(dir, `${r.template}.yaml.hbs`)), `${r.name}: ${r.template}.yaml.hbs`);
  });

  it('the shipped menu offers every role in every boot mode, and nothing else', () => {
    const loaded = Catalog.load(catalogDirs());
    assert.ok(loaded.ok, loaded.ok ? '' : loaded.errors.join('\n'));
    const menu = loaded.catalog.menu('default');
    assert.ok(menu);
    const offered = menu.entries.flatMap((e) => (e.kind === 'role' ? [`${e.role} ${e.mode}`] : []));
    const expected = ROLES.flatMap((role) => BOOT_MODES.map((mode) => `${role} ${mode}`));
    assert.deepEqual([...offered].sort(), [...expected].sort());
  });

  it('install.roles has one entry per role with the table defaults', () => {
    const roles = installSchema.parse({}).roles;
    assert.deepEqual(Object.keys(roles), [...ROLES]);
    for (const r of ROLE_TABLE) {
      assert.equal(roles[r.name].payload, r.install.payload, r.name);
      assert.equal(roles[r.name].kubernetes, r.install.kubernetes, r.name);
    }
  });
});

describe('the role table: clusters', () => {
  it('a role has etcd exactly when it belongs to a cluster', () => {
    for (const r of ROLE_TABLE) assert.equal(r.cluster === null, r.etcd.kind === 'none', r.name);
  });

  it('clusterRoles: the roles sharing the cluster id, the same list from each of them; none without a cluster', () => {
    for (const r of ROLE_TABLE) {
      const roles = clusterRoles(r.name);
      if (r.cluster === null) {
        assert.deepEqual(roles, [], r.name);
        continue;
      }
      assert.ok(roles.includes(r.name), r.name);
      for (const other of roles) assert.deepEqual(clusterRoles(other), roles, `${r.name} / ${other}`);
    }
    assert.deepEqual(clusterRoles(null), []);
    assert.deepEqual(clusterRoles('mainframe'), []);
  });

  it('every cluster has exactly one role that holds its etcd members; every other role of it is a gateway', () => {
    for (const cluster of CLUSTERS) {
      const roles = ROLE_TABLE.filter((r) => r.cluster === cluster);
      const holders = roles.filter((r) => r.etcd.kind === 'member' || r.etcd.kind === 'lowest-ip-member');
      assert.equal(holders.length, 1, `cluster ${cluster}`);
      for (const r of roles) {
        if (r !== holders[0]) assert.equal(r.etcd.kind, 'gateway', `${r.name} in cluster ${cluster}`);
        assert.equal(etcdMembers(r.name)?.role, holders[0]?.name, r.name);
      }
    }
  });

  it('every member count rule asks for an odd count: odd bounds, odd recommended counts inside them, the limit named', () => {
    for (const r of ROLE_TABLE) {
      if (r.etcd.kind !== 'member') continue;
      const { min, max, overMax } = r.etcd.count;
      const recommended: readonly number[] = 'recommended' in r.etcd.count ? r.etcd.count.recommended : [];
      assert.ok(min >= 3 && min % 2 === 1, `${r.name}: min ${min}`);
      assert.ok(max >= min && max % 2 === 1, `${r.name}: max ${max}`);
      for (const n of recommended) assert.ok(n % 2 === 1 && n >= min && n <= max, `${r.name}: recommended ${n}`);
      assert.match(overMax, new RegExp(`\\b${max}\\b`), `${r.name}: overMax names ${max}`);
    }
  });
});

describe('the role table drives computeEtcd', () => {
  /** A valid cluster on its own /24: each of its roles with the fewest machines its rule allows (2 where any number does). */
  function validCluster(cluster: string, subnet: number): ClusterMachine[] {
    return ROLE_TABLE.filter((r) => r.cluster === cluster).flatMap((r, i) => machines(r.name, r.etcd.kind === 'member' ? r.etcd.count.min : 2, subnet, 1 + 20 * i));
  }

  it('roles without a cluster get no etcd', () => {
    for (const r of ROLE_TABLE.filter((s) => s.cluster === null)) {
      assert.deepEqual(etcd(machines(r.name, 1, 1)[0] as ClusterMachine, []), { ok: true, etcd: null, warnings: [], plan: null }, r.name);
    }
  });

  it('members, the lowest-IP member and gateways as the table says; the token names the cluster id', () => {
    CLUSTERS.forEach((cluster, i) => {
      const inventory = validCluster(cluster, 10 + i);
      for (const m of inventory) {
        const result = etcd(m, inventory);
        assert.ok(result.ok && result.etcd, `${m.name}: ${result.ok ? '' : result.errors.join(' ')}`);
        assert.deepEqual(result.warnings, [], m.name);
        const kind = roleSpec(m.role as Role).etcd.kind;
        const lowest = inventory.filter((o) => o.role === m.role)[0];
        const member = kind === 'member' || (kind === 'lowest-ip-member' && lowest?.name === m.name);
        assert.equal(result.etcd.member, member, m.name);
        assert.match(result.etcd.token, new RegExp(`^rackboot-rack1-${cluster}-[0-9a-f]{10}$`), m.name);
      }
    });
  });

  it('member counts below min or above max are errors, even counts inside them are warnings', () => {
    ROLE_TABLE.forEach((r, i) => {
      if (r.etcd.kind !== 'member') return;
      const { min, max } = r.etcd.count;
      const at = (n: number) => {
        const inventory = machines(r.name, n, 50 + i);
        return etcd(inventory[0] as ClusterMachine, inventory);
      };
      assert.equal(at(min - 1).ok, false, `${r.name}: ${min - 1}`);
      assert.equal(at(max + 1).ok, false, `${r.name}: ${max + 1}`);
      for (let n = min; n <= max; n++) {
        const result = at(n);
        assert.ok(result.ok, `${r.name}: ${n}`);
        if (n % 2 === 0) assert.match(result.warnings.join('\n'), /an even count adds no fault tolerance/, `${r.name}: ${n}`);
      }
    });
  });
});
