import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EtcdClusterPlan } from '../../../server/core/cluster.js';
import { clusterHealth, decideMembership, type MembershipFacts, type Observation, type ObservedMember } from '../../../server/core/etcd-membership.js';

const PLAN: EtcdClusterPlan = {
  cluster: 'production',
  memberRole: 'production-central',
  members: [
    { name: 'c1', ip: '10.0.0.11' },
    { name: 'c2', ip: '10.0.0.12' },
    { name: 'c3', ip: '10.0.0.13' },
  ],
  maxMembers: 7,
  memberRoleMachine: true,
};

function member(id: string, name: string, ip: string, started = true): ObservedMember {
  return { id, name: started ? name : '', peerUrls: [`https://${ip}:2380`], clientUrls: started ? [`https://${ip}:2379`] : [] };
}

const RUNNING: Observation = {
  reachable: true,
  clusterId: '99',
  members: [member('1', 'c1', '10.0.0.11'), member('2', 'c2', '10.0.0.12'), member('3', 'c3', '10.0.0.13')],
};

function facts(over: Partial<MembershipFacts> & { name?: string; ip?: string; mode?: 'memory' | 'install' }): MembershipFacts {
  return {
    machine: { name: over.name ?? 'c2', ip: over.ip ?? '10.0.0.12', mode: over.mode ?? 'memory' },
    plan: over.plan ?? PLAN,
    observation: over.observation ?? RUNNING,
    formedBefore: over.formedBefore ?? true,
  };
}

describe('decideMembership', () => {
  it('nothing answers and the cluster never ran: the static bootstrap of every planned member', () => {
    const decision = decideMembership(facts({ observation: { reachable: false, reason: 'refused' }, formedBefore: false }));
    assert.equal(decision.kind, 'bootstrap');
    assert.deepEqual(decision.actions, []);
    assert.deepEqual(decision.render, { state: 'new', member: true, initialCluster: PLAN.members });
  });

  it('a listed member boots again in memory: its old member is removed, a new one added, `existing` with the others', () => {
    const decision = decideMembership(facts({}));
    assert.equal(decision.kind, 'rejoin');
    assert.deepEqual(decision.actions, [
      { kind: 'remove', id: '2', name: 'c2' },
      { kind: 'add', name: 'c2', peerUrl: 'https://10.0.0.12:2380' },
    ]);
    assert.deepEqual(decision.render, {
      state: 'existing',
      member: true,
      initialCluster: [
        { name: 'c1', ip: '10.0.0.11' },
        { name: 'c3', ip: '10.0.0.13' },
        { name: 'c2', ip: '10.0.0.12' },
      ],
    });
  });

  it('a member listed by its peer URL only (added, never started) is replaced the same way', () => {
    const observation: Observation = { reachable: true, clusterId: '99', members: [member('1', 'c1', '10.0.0.11'), member('7', 'c2', '10.0.0.12', false), member('3', 'c3', '10.0.0.13')] };
    const decision = decideMembership(facts({ observation }));
    assert.ok(decision.kind === 'rejoin');
    assert.deepEqual(decision.actions[0], { kind: 'remove', id: '7', name: 'c2' });
  });

  it('an unstarted member of another machine keeps its inventory name in the initial cluster', () => {
    const observation: Observation = { reachable: true, clusterId: '99', members: [member('1', 'c1', '10.0.0.11'), member('8', 'c3', '10.0.0.13', false)] };
    const decision = decideMembership(facts({ observation }));
    assert.ok(decision.kind === 'join');
    assert.deepEqual(decision.render.initialCluster.map((m) => m.name), ['c1', 'c3', 'c2']);
  });

  it('a machine newly assigned to the role joins as a member while the role allows more', () => {
    const decision = decideMembership(facts({ name: 'c4', ip: '10.0.0.14' }));
    assert.equal(decision.kind, 'join');
    assert.deepEqual(decision.actions, [{ kind: 'add', name: 'c4', peerUrl: 'https://10.0.0.14:2380' }]);
    assert.equal(decision.render.state, 'existing');
    assert.equal(decision.render.initialCluster.length, 4);
  });

  it('a machine beyond the role\'s maximum stays a proxy', () => {
    const decision = decideMembership(facts({ name: 'c4', ip: '10.0.0.14', plan: { ...PLAN, maxMembers: 3 } }));
    assert.equal(decision.kind, 'proxy');
    assert.deepEqual(decision.actions, []);
    assert.equal(decision.render.member, false);
  });

  it('nothing answers after the cluster ran: a cold start in memory mode, a restart from disk in install mode', () => {
    const down: Observation = { reachable: false, reason: 'connection refused' };
    const cold = decideMembership(facts({ observation: down }));
    assert.equal(cold.kind, 'cold-start');
    assert.match(cold.reason, /cold start of etcd cluster production/);
    assert.match(cold.reason, /rackboot clusters forget production/);
    const disk = decideMembership(facts({ observation: down, mode: 'install' }));
    assert.equal(disk.kind, 'restart-from-disk');
    assert.deepEqual(disk.render, { state: 'existing', member: true, initialCluster: PLAN.members });
  });

  it('nothing answers and the machine is not a planned member: a proxy, never a bootstrap of its own', () => {
    const decision = decideMembership(facts({ name: 'c9', ip: '10.0.0.19', observation: { reachable: false, reason: 'x' }, formedBefore: false }));
    assert.equal(decision.kind, 'proxy');
  });
});

describe('clusterHealth', () => {
  const base = { plan: PLAN, formedBefore: true, allMemory: true, now: 5 };

  it('every member answers with a leader: healthy, nobody missing', () => {
    const statuses = new Map([['c1', { leader: '3' }], ['c2', { leader: '3' }], ['c3', { leader: '3' }]]);
    const health = clusterHealth({ ...base, observation: RUNNING, statuses });
    assert.equal(health.state, 'healthy');
    assert.equal(health.leader, 'c3');
    assert.deepEqual(health.missing, []);
    assert.equal(health.clusterId, '99');
    assert.equal(health.members.length, 3);
  });

  it('one member silent: degraded, and it is named as missing', () => {
    const statuses = new Map([['c1', { leader: '1' }], ['c3', { leader: '1' }]]);
    const health = clusterHealth({ ...base, observation: RUNNING, statuses });
    assert.equal(health.state, 'degraded');
    assert.deepEqual(health.missing, ['c2']);
    assert.equal(health.members.find((m) => m.name === 'c2')?.healthy, false);
  });

  it('no leader: no quorum', () => {
    const statuses = new Map([['c1', { leader: '0' }]]);
    assert.equal(clusterHealth({ ...base, observation: RUNNING, statuses }).state, 'no-quorum');
  });

  it('nothing answers: cold start when it ran and every member boots in memory; else no quorum or not formed', () => {
    const down: Observation = { reachable: false, reason: 'refused' };
    const cold = clusterHealth({ ...base, observation: down, statuses: new Map() });
    assert.equal(cold.state, 'cold-start');
    assert.deepEqual(cold.missing, ['c1', 'c2', 'c3']);
    assert.equal(clusterHealth({ ...base, allMemory: false, observation: down, statuses: new Map() }).state, 'no-quorum');
    assert.equal(clusterHealth({ ...base, formedBefore: false, observation: down, statuses: new Map() }).state, 'not-formed');
  });
});
