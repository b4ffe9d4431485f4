import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { clusterToken, computeEtcd, faultTolerance, type ClusterMachine, type EtcdCertificateRequest, type EtcdResult } from '../../../server/core/cluster.js';
import type { EtcdContext } from '../../../server/core/render-context.js';

const BINARY = 'http://10.0.0.2:8080/assets/etcd/etcd';

function nodes(role: string, count: number, base = 10): ClusterMachine[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${role.slice(0, 1)}${i + 1}`, ip: `10.0.0.${base + i + 1}`, role }));
}

const ETCDCTL = 'http://10.0.0.2:8080/assets/etcd/etcdctl';
const issued: EtcdCertificateRequest[] = [];
/** A fake CA: the PEM texts name the request, so a test sees which certificate a machine got. */
function fakeCredentials(request: EtcdCertificateRequest) {
  issued.push(request);
  return { caCert: 'CA', cert: `CERT ${request.kind} ${request.holder}`, key: `KEY ${request.kind} ${request.holder}` };
}

function run(machine: ClusterMachine, inventory: readonly ClusterMachine[], clusterName = 'rack1'): EtcdResult {
  return computeEtcd({ machine, inventory, clusterName, binaryUrl: BINARY, etcdctlUrl: ETCDCTL, credentials: fakeCredentials });
}

/** The fields the static-bootstrap tests compare (environment, files and commands have their own tests). */
function core(etcd: EtcdContext) {
  const { member, name, initialCluster, token, state, peerUrl, clientUrl, endpoints, binaryUrl } = etcd;
  return { member, name, initialCluster, token, state, peerUrl, clientUrl, endpoints, binaryUrl };
}

function ok(result: EtcdResult): { etcd: EtcdContext; warnings: string[] } {
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  assert.ok(result.etcd, 'expected an etcd context');
  return { etcd: result.etcd, warnings: result.warnings };
}

function errors(result: EtcdResult): string[] {
  assert.equal(result.ok, false, 'expected errors');
  return result.ok ? [] : result.errors;
}

/** Deterministic shuffle (reverse + rotate), enough to prove the answer does not follow input order. */
function reorder<T>(items: readonly T[], by: number): T[] {
  const reversed = [...items].reverse();
  return [...reversed.slice(by % reversed.length), ...reversed.slice(0, by % reversed.length)];
}

describe('computeEtcd: dev and machines without a role', () => {
  it('dev has no etcd, whatever the inventory holds', () => {
    const result = run({ name: 'd1', ip: null, role: 'dev' }, []);
    assert.deepEqual(result, { ok: true, etcd: null, warnings: [], plan: null });
  });

  it('a machine without a role has no etcd (it gets the default cloud-config)', () => {
    assert.deepEqual(run({ name: 'x', ip: '10.0.0.9', role: null }, []), { ok: true, etcd: null, warnings: [], plan: null });
  });

  it('an unknown role is an error that lists the roles', () => {
    const [message] = errors(run({ name: 'x', ip: '10.0.0.9', role: 'master' }, []));
    assert.equal(message, 'Machine "x" has role "master", which is not one of dev, small, test, production-central, production-worker.');
  });
});

describe('computeEtcd: small', () => {
  const three = nodes('small', 3);

  it('every small machine is a member; static bootstrap URLs, cluster, endpoints and state', () => {
    const { etcd, warnings } = ok(run(three[1] as ClusterMachine, three));
    assert.deepEqual(warnings, []);
    assert.deepEqual(core(etcd), {
      member: true,
      name: 's2',
      initialCluster: 's1=https://10.0.0.11:2380,s2=https://10.0.0.12:2380,s3=https://10.0.0.13:2380',
      token: etcd.token,
      state: 'new',
      peerUrl: 'https://10.0.0.12:2380',
      clientUrl: 'https://10.0.0.12:2379',
      endpoints: 'https://10.0.0.11:2379,https://10.0.0.12:2379,https://10.0.0.13:2379',
      binaryUrl: BINARY,
    });
    assert.match(etcd.token, /^rackboot-rack1-small-[0-9a-f]{10}$/);
  });

  it('members are ordered by IP numerically, not by name or text, whatever the inventory order', () => {
    const machines: ClusterMachine[] = [
      { name: 'zeta', ip: '10.0.0.9', role: 'small' },
      { name: 'alpha', ip: '10.0.0.100', role: 'small' },
      { name: 'mid', ip: '10.0.0.20', role: 'small' },
    ];
    const expected = 'zeta=https://10.0.0.9:2380,mid=https://10.0.0.20:2380,alpha=https://10.0.0.100:2380';
    for (let by = 0; by < 3; by++) {
      for (const m of machines) {
        const { etcd } = ok(run(m, reorder(machines, by)));
        assert.equal(etcd.initialCluster, expected);
        assert.equal(etcd.endpoints, 'https://10.0.0.9:2379,https://10.0.0.20:2379,https://10.0.0.100:2379');
      }
    }
  });

  it('the rendered machine counts even when the inventory does not list it, and its own entry wins', () => {
    const { etcd } = ok(run({ name: 's3', ip: '10.0.0.13', role: 'small' }, three.slice(0, 2)));
    assert.equal(etcd.initialCluster.split(',').length, 3);
    const stale = [...three.slice(0, 2), { name: 's3', ip: '10.0.0.99', role: 'dev' }];
    assert.equal(ok(run({ name: 's3', ip: '10.0.0.13', role: 'small' }, stale)).etcd.peerUrl, 'https://10.0.0.13:2380');
  });

  it('machines of other roles are not members', () => {
    const inventory = [...three, ...nodes('production-central', 3, 50), { name: 'd1', ip: '10.0.0.70', role: 'dev' }];
    assert.equal(ok(run(three[0] as ClusterMachine, inventory)).etcd.initialCluster.split(',').length, 3);
  });

  it('fewer than 3 is an error; 3, 5, 7 and 9 are fine; even counts warn; more than 9 is an error', () => {
    assert.deepEqual(errors(run(three[0] as ClusterMachine, three.slice(0, 2))), [
      'small has 2 members; etcd needs at least 3 for fault tolerance.',
    ]);
    assert.deepEqual(errors(run(three[0] as ClusterMachine, three.slice(0, 1))), [
      'small has 1 member; etcd needs at least 3 for fault tolerance.',
    ]);
    for (const n of [3, 5, 7, 9]) assert.deepEqual(ok(run(nodes('small', n)[0] as ClusterMachine, nodes('small', n))).warnings, [], `${n}`);
    assert.deepEqual(ok(run(nodes('small', 4)[0] as ClusterMachine, nodes('small', 4))).warnings, [
      'small has 4 members; an even count adds no fault tolerance (4 members survive 1 failure, as 3 do), so use 3 or 5.',
    ]);
    assert.deepEqual(ok(run(nodes('small', 8)[0] as ClusterMachine, nodes('small', 8))).warnings, [
      'small has 8 members; an even count adds no fault tolerance (8 members survive 3 failures, as 7 do), so use 7 or 9.',
    ]);
    assert.deepEqual(errors(run(nodes('small', 10)[0] as ClusterMachine, nodes('small', 10))), [
      'small has 10 members; a small cluster runs etcd on every node and supports at most 9 (use production-central and production-worker beyond that).',
    ]);
  });

  it('a member with no reserved IP, a bad IP, a bad name or a shared IP is an error naming it', () => {
    const inventory: ClusterMachine[] = [
      ...three,
      { name: 's4', ip: null, role: 'small' },
      { name: 's5', ip: '10.0.0.300', role: 'small' },
      { name: 'S_6', ip: '10.0.0.16', role: 'small' },
      { name: 's7', ip: '10.0.0.11', role: 'small' },
    ];
    assert.deepEqual(errors(run(three[0] as ClusterMachine, inventory)), [
      'small member s4 has no reserved IP; etcd static bootstrap needs a fixed address for every member.',
      'small member s5 has IP "10.0.0.300", which is not an IPv4 address.',
      'small member "S_6" is not a valid host name (lower-case letters, digits and hyphens).',
      'small members s1 and s7 share the IP 10.0.0.11; each etcd member needs its own address.',
    ]);
    assert.deepEqual(errors(run({ name: 's1', ip: null, role: 'small' }, three)), [
      'small member s1 has no reserved IP; etcd static bootstrap needs a fixed address for every member.',
    ]);
  });
});

describe('computeEtcd: test', () => {
  const inventory: ClusterMachine[] = [
    { name: 'tb', ip: '10.0.0.32', role: 'test' },
    { name: 'tc', ip: '10.0.0.33', role: 'test' },
    { name: 'ta', ip: '10.0.0.31', role: 'test' },
  ];

  it('the lowest IP is the one member; the others are gateways to it', () => {
    const member = ok(run(inventory[2] as ClusterMachine, inventory)).etcd;
    assert.equal(member.member, true);
    assert.equal(member.name, 'ta');
    assert.equal(member.initialCluster, 'ta=https://10.0.0.31:2380');
    assert.equal(member.peerUrl, 'https://10.0.0.31:2380');
    for (const gateway of [inventory[0], inventory[1]] as ClusterMachine[]) {
      const { etcd, warnings } = ok(run(gateway, reorder(inventory, 1)));
      assert.deepEqual(warnings, []);
      assert.deepEqual(core(etcd), {
        member: false,
        name: '',
        initialCluster: '',
        token: member.token,
        state: 'new',
        peerUrl: '',
        clientUrl: '',
        endpoints: 'https://10.0.0.31:2379',
        binaryUrl: BINARY,
      });
    }
    assert.match(member.token, /^rackboot-rack1-test-[0-9a-f]{10}$/);
  });

  it('a lone test machine is its own member; test machines without an IP do not take part', () => {
    assert.equal(ok(run({ name: 'tz', ip: '10.0.0.99', role: 'test' }, [])).etcd.member, true);
    const withUnaddressed = [...inventory, { name: 't0', ip: null, role: 'test' }];
    assert.equal(ok(run(inventory[0] as ClusterMachine, withUnaddressed)).etcd.endpoints, 'https://10.0.0.31:2379');
  });

  it('the rendered test machine needs its own reserved IP', () => {
    assert.deepEqual(errors(run({ name: 'tb', ip: null, role: 'test' }, inventory)), [
      'test machine tb has no reserved IP; etcd roles need a static address on every machine.',
    ]);
  });

  it('two test machines on the lowest IP is an error', () => {
    const clash = [...inventory, { name: 'tx', ip: '10.0.0.31', role: 'test' }];
    assert.deepEqual(errors(run(inventory[0] as ClusterMachine, clash)), [
      'test machines ta and tx share the IP 10.0.0.31; the etcd member needs its own address.',
    ]);
  });
});

describe('computeEtcd: production', () => {
  const centrals = nodes('production-central', 3, 50);
  const workers: ClusterMachine[] = [
    { name: 'w1', ip: '10.0.0.61', role: 'production-worker' },
    { name: 'w2', ip: '10.0.0.62', role: 'production-worker' },
  ];
  const inventory = [...centrals, ...workers];

  it('central machines are members; workers are gateways to all of them; one token for the cluster', () => {
    const central = ok(run(centrals[0] as ClusterMachine, inventory)).etcd;
    assert.equal(central.member, true);
    assert.equal(central.initialCluster, 'p1=https://10.0.0.51:2380,p2=https://10.0.0.52:2380,p3=https://10.0.0.53:2380');
    assert.match(central.token, /^rackboot-rack1-production-[0-9a-f]{10}$/);
    const worker = ok(run(workers[1] as ClusterMachine, reorder(inventory, 2))).etcd;
    assert.equal(worker.member, false);
    assert.equal(worker.name, '');
    assert.equal(worker.peerUrl, '');
    assert.equal(worker.endpoints, 'https://10.0.0.51:2379,https://10.0.0.52:2379,https://10.0.0.53:2379');
    assert.equal(worker.initialCluster, '');
    assert.equal(worker.token, central.token);
  });

  it('3 and 5 are quiet; 4, 6 and 7 warn; fewer than 3 or more than 7 is an error', () => {
    for (const n of [3, 5]) assert.deepEqual(ok(run(nodes('production-central', n)[0] as ClusterMachine, nodes('production-central', n))).warnings, []);
    assert.deepEqual(ok(run(nodes('production-central', 4)[0] as ClusterMachine, nodes('production-central', 4))).warnings, [
      'production-central has 4 members; an even count adds no fault tolerance (4 members survive 1 failure, as 3 do), so use 3 or 5.',
    ]);
    assert.equal(ok(run(nodes('production-central', 6)[0] as ClusterMachine, nodes('production-central', 6))).warnings.length, 1);
    assert.deepEqual(ok(run(nodes('production-central', 7)[0] as ClusterMachine, nodes('production-central', 7))).warnings, [
      'production-central has 7 members; 3 or 5 are recommended (every extra member slows writes, and 5 already survive 2 failures).',
    ]);
    assert.deepEqual(errors(run(centrals[0] as ClusterMachine, centrals.slice(0, 2))), [
      'production-central has 2 members; etcd needs 3 or 5 for fault tolerance.',
    ]);
    assert.deepEqual(errors(run(nodes('production-central', 8)[0] as ClusterMachine, nodes('production-central', 8))), [
      'production-central has 8 members; at most 7 are supported and 3 or 5 are recommended.',
    ]);
  });

  it('a worker with no central machines is an error; a worker sees the central set errors and warnings too', () => {
    assert.deepEqual(errors(run(workers[0] as ClusterMachine, workers)), [
      'production-worker w1 has no production-central machines to reach; register 3 or 5 central nodes first.',
    ]);
    assert.deepEqual(errors(run(workers[0] as ClusterMachine, [...centrals.slice(0, 2), ...workers])), [
      'production-central has 2 members; etcd needs 3 or 5 for fault tolerance.',
    ]);
    assert.equal(ok(run(workers[0] as ClusterMachine, [...nodes('production-central', 4, 50), ...workers])).warnings.length, 1);
    assert.deepEqual(errors(run({ name: 'w1', ip: null, role: 'production-worker' }, inventory)), [
      'production-worker machine w1 has no reserved IP; etcd roles need a static address on every machine.',
    ]);
  });

  it('a central member without an IP is named in the error the workers get as well', () => {
    const broken = [...centrals, { name: 'p4', ip: null, role: 'production-central' }, ...workers];
    const expected = 'production-central member p4 has no reserved IP; etcd static bootstrap needs a fixed address for every member.';
    assert.ok(errors(run(centrals[0] as ClusterMachine, broken)).includes(expected));
    assert.ok(errors(run(workers[0] as ClusterMachine, broken)).includes(expected));
  });
});

describe('computeEtcd: token and inputs', () => {
  const three = nodes('small', 3);

  it('the token is deterministic, independent of input order, and is sha256 of the sorted name=ip list', () => {
    const tokens = new Set<string>();
    for (let by = 0; by < 3; by++) for (const m of three) tokens.add(ok(run(m, reorder(three, by))).etcd.token);
    assert.equal(tokens.size, 1);
    const digest = createHash('sha256').update('s1=10.0.0.11,s2=10.0.0.12,s3=10.0.0.13').digest('hex').slice(0, 10);
    assert.deepEqual([...tokens], [`rackboot-rack1-small-${digest}`]);
    assert.equal(clusterToken('rack1', 'small', [...three].reverse() as Array<{ name: string; ip: string }>), `rackboot-rack1-small-${digest}`);
  });

  it('the token changes with the cluster name, the group, a member name or a member address', () => {
    const base = ok(run(three[0] as ClusterMachine, three)).etcd.token;
    assert.notEqual(ok(run(three[0] as ClusterMachine, three, 'rack2')).etcd.token, base);
    const renamed = [three[0], three[1], { ...three[2], name: 's9' }] as ClusterMachine[];
    assert.notEqual(ok(run(three[0] as ClusterMachine, renamed)).etcd.token, base);
    const moved = [three[0], three[1], { ...three[2], ip: '10.0.0.23' }] as ClusterMachine[];
    assert.notEqual(ok(run(three[0] as ClusterMachine, moved)).etcd.token, base);
    assert.notEqual(clusterToken('rack1', 'production', [{ name: 's1', ip: '10.0.0.11' }]), clusterToken('rack1', 'test', [{ name: 's1', ip: '10.0.0.11' }]));
  });

  it('refuses a cluster name or binary URL that would be unsafe in a unit file', () => {
    assert.deepEqual(errors(computeEtcd({ machine: three[0] as ClusterMachine, inventory: three, clusterName: 'Rack 1', binaryUrl: BINARY, etcdctlUrl: ETCDCTL, credentials: fakeCredentials })), [
      'The cluster name "Rack 1" must be 1 to 42 lower-case letters, digits or hyphens; it names the etcd bootstrap token.',
    ]);
    for (const url of ['ftp://x/etcd', 'http://x/etcd%20v3', 'http://x/$HOME/etcd', 'http://x/a b', 'http://x/"etcd"', 'http://x/a;b', "http://x/a'b", 'http://x/a\nb', '']) {
      const result = computeEtcd({ machine: three[0] as ClusterMachine, inventory: three, clusterName: 'rack1', binaryUrl: url, etcdctlUrl: ETCDCTL, credentials: fakeCredentials });
      assert.match(errors(result).join('\n'), /The etcd binary URL .* must be an http\(s\) URL/, JSON.stringify(url));
    }
  });

  it('fault tolerance is size - (floor(size/2) + 1)', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].map(faultTolerance), [0, 0, 1, 1, 2, 2, 3, 3, 4]);
  });
});

describe('computeEtcd: the settings object', () => {
  const three = nodes('production-central', 3, 50);
  const worker: ClusterMachine = { name: 'w1', ip: '10.0.0.61', role: 'production-worker' };

  it('a member: TLS environment, its own certificate files (key 0600), the health check over TLS', () => {
    issued.length = 0;
    const { etcd } = ok(run(three[0] as ClusterMachine, three));
    const env = Object.fromEntries(etcd.environment.map((v) => [v.name, v.value]));
    assert.equal(env.ETCD_INITIAL_CLUSTER_STATE, 'new');
    assert.equal(env.ETCD_LISTEN_CLIENT_URLS, 'https://10.0.0.51:2379,https://127.0.0.1:2379');
    assert.equal(env.ETCD_CLIENT_CERT_AUTH, 'true');
    assert.equal(env.ETCD_PEER_CLIENT_CERT_AUTH, 'true');
    assert.deepEqual(etcd.files.map((f) => [f.path, f.permissions, f.content]), [
      ['/etc/rackboot/etcd/ca.crt', '0644', 'CA'],
      ['/etc/rackboot/etcd/server.crt', '0644', 'CERT member p1'],
      ['/etc/rackboot/etcd/server.key', '0600', 'KEY member p1'],
    ]);
    assert.deepEqual(issued, [{ kind: 'member', holder: 'p1', commonName: 'p1', dnsNames: ['p1', 'localhost'], ips: ['10.0.0.51', '127.0.0.1'] }]);
    assert.equal(etcd.healthCommand, '/opt/bin/etcdctl --endpoints=https://10.0.0.51:2379 --cacert=/etc/rackboot/etcd/ca.crt --cert=/etc/rackboot/etcd/server.crt --key=/etc/rackboot/etcd/server.key --command-timeout=5s endpoint health');
  });

  it('a proxy: grpc-proxy to every member with a client certificate without a Common Name', () => {
    issued.length = 0;
    const { etcd } = ok(run(worker, [...three, worker]));
    assert.equal(etcd.command, '/opt/bin/etcd grpc-proxy start --listen-addr=127.0.0.1:2379 --endpoints=https://10.0.0.51:2379,https://10.0.0.52:2379,https://10.0.0.53:2379 --cacert=/etc/rackboot/etcd/ca.crt --cert=/etc/rackboot/etcd/client.crt --key=/etc/rackboot/etcd/client.key');
    assert.deepEqual(etcd.environment, []);
    assert.deepEqual(issued, [{ kind: 'client', holder: 'w1', commonName: '', dnsNames: ['w1'], ips: ['10.0.0.61'] }]);
  });

  it('the membership decision sets the state and the initial cluster; a full role renders a proxy', () => {
    const membership = { state: 'existing' as const, member: true, initialCluster: [{ name: 'p1', ip: '10.0.0.51' }, { name: 'p4', ip: '10.0.0.54' }] };
    const joined = computeEtcd({ machine: { name: 'p4', ip: '10.0.0.54', role: 'production-central' }, inventory: three, clusterName: 'rack1', binaryUrl: BINARY, etcdctlUrl: ETCDCTL, credentials: fakeCredentials, membership });
    const { etcd } = ok(joined);
    assert.equal(etcd.state, 'existing');
    assert.equal(etcd.initialCluster, 'p1=https://10.0.0.51:2380,p4=https://10.0.0.54:2380');
    const full = computeEtcd({ machine: three[0] as ClusterMachine, inventory: three, clusterName: 'rack1', binaryUrl: BINARY, etcdctlUrl: ETCDCTL, credentials: fakeCredentials, membership: { state: 'existing', member: false, initialCluster: [] } });
    assert.equal(ok(full).etcd.member, false);
    assert.match(ok(full).etcd.command, /grpc-proxy start/);
  });
});
