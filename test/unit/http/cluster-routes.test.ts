import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { clusterRoutes } from '../../../server/http/cluster-routes.js';
import { EtcdMembership, FormedClusters, type EtcdCall } from '../../../server/services/etcd-membership.js';
import { testProvisioner } from '../../helpers/provisioner.js';

describe('GET /api/v1/clusters and /clusters/{name}', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-cluster-routes-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists each cluster\'s last health (members, leader, missing) and 404s an unknown one', async () => {
    const t = testProvisioner();
    for (const n of [1, 2, 3]) t.provisioner.registerMachine({ name: `c${n}`, macs: [`52:54:00:00:00:0${n}`], ip: `10.99.0.1${n}`, role: 'production-central', bootMode: 'memory' });
    const members = [1, 2, 3].map((n) => ({ ID: String(n), name: `c${n}`, peerURLs: [`https://10.99.0.1${n}:2380`], clientURLs: [`https://10.99.0.1${n}:2379`] }));
    // c3 does not answer its status: it is missing
    const call: EtcdCall = async (endpoint, path) => {
      if (endpoint.includes('10.99.0.13')) throw new Error('timeout');
      return path === '/v3/cluster/member/list' ? { header: { cluster_id: '7' }, members } : { leader: '1' };
    };
    const formed = new FormedClusters(dir);
    formed.seen('production', '7', 1);
    const etcd = new EtcdMembership({ provisioner: t.provisioner, call, formed, now: () => 5 });
    const app = Fastify();
    await app.register(clusterRoutes, { prefix: '/api/v1', etcd });
    assert.deepEqual((await app.inject('/api/v1/clusters')).json(), { clusters: [] }, 'nothing before the first check');
    await etcd.checkHealth();
    const list = (await app.inject('/api/v1/clusters')).json() as { clusters: Array<{ cluster: string }> };
    assert.deepEqual(list.clusters.map((c) => c.cluster), ['production']);
    const one = (await app.inject('/api/v1/clusters/production')).json() as { state: string; leader: string; missing: string[]; members: Array<{ name: string; healthy: boolean }> };
    assert.equal(one.state, 'degraded');
    assert.equal(one.leader, 'c1');
    assert.deepEqual(one.missing, ['c3']);
    assert.deepEqual(one.members.map((m) => [m.name, m.healthy]), [['c1', true], ['c2', true], ['c3', false]]);
    const missing = await app.inject('/api/v1/clusters/small');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'RACKBOOT_ERR_NOT_FOUND');
    await app.close();
  });
});
