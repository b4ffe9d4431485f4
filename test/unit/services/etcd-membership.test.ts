/**
 * The membership adapter between the Provisioner and an etcd API. The etcd here is a small in-test
 * model of the v3 JSON API's member list (the real etcd 3.4 runs in test/real/etcd-cluster.test.ts);
 * what is checked is the adapter's part: which token and address it acts for, the calls it makes,
 * what the render then carries, and what it records.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';
import { EtcdMembership, FormedClusters, type EtcdCall } from '../../../server/services/etcd-membership.js';
import { testProvisioner } from '../../helpers/provisioner.js';

interface FakeMember { ID: string; name: string; peerURLs: string[]; clientURLs: string[] }

/** A cluster that answers on its started members' client URLs; `down` answers nothing. */
function fakeEtcd() {
  let next = 100;
  const state = { down: false, members: [] as FakeMember[], calls: [] as string[] };
  const call: EtcdCall = async (endpoint, path, body) => {
    state.calls.push(`${endpoint}${path}`);
    if (state.down || !state.members.some((m) => m.clientURLs.includes(endpoint))) throw new Error('connection refused');
    if (path === '/v3/cluster/member/list') return { header: { cluster_id: '42' }, members: state.members };
    if (path === '/v3/cluster/member/remove') {
      state.members = state.members.filter((m) => m.ID !== body.ID);
      return {};
    }
    if (path === '/v3/cluster/member/add') {
      state.members.push({ ID: String(next++), name: '', peerURLs: body.peerURLs as string[], clientURLs: [] });
      return {};
    }
    if (path === '/v3/maintenance/status') return { leader: state.members[0]?.ID ?? '0' };
    throw new Error(`unexpected ${path}`);
  };
  const start = (name: string, ip: string, id = String(next++)) => state.members.push({ ID: id, name, peerURLs: [`https://${ip}:2380`], clientURLs: [`https://${ip}:2379`] });
  return { state, call, start };
}

describe('EtcdMembership with the Provisioner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-etcd-adapter-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function setUp() {
    const t = testProvisioner();
    const machines = [1, 2, 3].map((n) => t.provisioner.registerMachine({ name: `c${n}`, macs: [`52:54:00:00:00:0${n}`], ip: `10.99.0.1${n}`, role: 'production-central', bootMode: 'memory' }));
    const etcd = fakeEtcd();
    const formed = new FormedClusters(mkdtempSync(join(dir, 'data-')));
    const adapter = new EtcdMembership({ provisioner: t.provisioner, call: etcd.call, formed, now: () => 1000 });
    /** The machine asks for its iPXE script from its own address: the config token is minted. */
    const token = (n: number) => {
      const ip = `10.99.0.1${n}`;
      assert.ok(t.provisioner.machineScript({ mac: `52:54:00:00:00:0${n}`, clientIp: ip }).ok);
      return { token: t.store.machineById((machines[n - 1] as { id: number }).id)?.configToken as string, ip };
    };
    const env = (text: string) => {
      const doc = parse(text) as { coreos: { units: Array<{ name: string; content?: string }> } };
      const unit = doc.coreos.units.find((u) => u.name === 'rackboot-etcd.service')?.content ?? '';
      return Object.fromEntries(unit.split('\n').flatMap((l) => (/^Environment=(\w+)=(.*)$/.exec(l) ? [[RegExp.$1, RegExp.$2]] : [])));
    };
    return { t, etcd, formed, adapter, token, env };
  }

  it('first boots: nothing answers, never formed: the static bootstrap, nothing changed', async () => {
    const { t, adapter, token, env } = setUp();
    const { token: tok, ip } = token(1);
    const prepared = await adapter.beforeRender(tok, ip, 'cloud-config');
    assert.ok(prepared.ok && prepared.value?.kind === 'bootstrap');
    const served = t.provisioner.cloudConfig(tok, ip);
    assert.ok(served.ok);
    assert.equal(env(served.value).ETCD_INITIAL_CLUSTER_STATE, 'new');
  });

  it('from another address the adapter does nothing (the route then refuses as usual)', async () => {
    const { etcd, adapter, token } = setUp();
    const { token: tok } = token(1);
    const prepared = await adapter.beforeRender(tok, '10.99.0.200', 'cloud-config');
    assert.deepEqual(prepared, { ok: true, value: null });
    assert.deepEqual(etcd.state.calls, [], 'no etcd call for a request that is not the machine\'s');
  });

  it('a member that reboots in memory is replaced; its render says `existing` with the members after the change', async () => {
    const { t, etcd, adapter, token, env, formed } = setUp();
    etcd.start('c1', '10.99.0.11', '1');
    etcd.start('c2', '10.99.0.12', '2');
    etcd.start('c3', '10.99.0.13', '3');
    const { token: tok, ip } = token(2);
    const prepared = await adapter.beforeRender(tok, ip, 'cloud-config');
    assert.ok(prepared.ok && prepared.value?.kind === 'rejoin');
    assert.ok(etcd.state.calls.some((c) => c.endsWith('/v3/cluster/member/remove')));
    assert.deepEqual(etcd.state.members.map((m) => m.ID).sort(), ['1', '100', '3'].sort());
    assert.ok(formed.formed('production'), 'the cluster id is recorded');
    const served = t.provisioner.cloudConfig(tok, ip);
    assert.ok(served.ok);
    const e = env(served.value);
    assert.equal(e.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(e.ETCD_INITIAL_CLUSTER, 'c1=https://10.99.0.11:2380,c3=https://10.99.0.13:2380,c2=https://10.99.0.12:2380');
    const events = t.store.listEvents({ machineId: 2, afterId: 0, limit: 100 }).map((ev) => ev.message);
    assert.ok(events.some((m) => /replaced by a new member/.test(m)), events.join('\n'));
  });

  it('cold start: refused with a coded error and an event; health says cold-start; `forget` lets a new cluster form', async () => {
    const { t, etcd, adapter, token, formed } = setUp();
    etcd.start('c1', '10.99.0.11');
    etcd.start('c2', '10.99.0.12');
    etcd.start('c3', '10.99.0.13');
    const [unprobed] = await adapter.checkHealth();
    assert.equal(unprobed?.state, 'not-formed');
    assert.deepEqual(etcd.state.calls, [], 'no member ever booted: nothing is probed');
    formed.seen('production', '42', 1);
    const [healthy] = await adapter.checkHealth();
    assert.equal(healthy?.state, 'healthy');
    assert.equal(healthy?.leader, 'c1');
    etcd.state.down = true;
    const [cold] = await adapter.checkHealth();
    assert.equal(cold?.state, 'cold-start');
    assert.deepEqual(adapter.latest().map((c) => c.state), ['cold-start']);
    const { token: tok, ip } = token(1);
    const refused = await adapter.beforeRender(tok, ip, 'cloud-config');
    assert.equal(refused.ok, false);
    assert.equal(refused.ok ? '' : refused.code, 'RACKBOOT_ERR_ETCD_COLD_START');
    const events = t.store.listEvents({ machineId: 1, afterId: 0, limit: 100 }).filter((e) => e.type === 'warning');
    assert.ok(events.some((e) => /cold start/.test(e.message)));
    assert.equal(formed.forget('production'), true);
    const again = await adapter.beforeRender(tok, ip, 'cloud-config');
    assert.ok(again.ok && again.value?.kind === 'bootstrap');
  });
});
