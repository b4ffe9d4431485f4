import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildCloudConfigContext, type CloudConfigInput } from '../../../server/core/cloud-config-context.js';
import type { Machine } from '../../../server/core/types.js';

function machine(overrides: Partial<Machine> = {}): Machine {
  return {
    id: 1, name: 'blade-01', uuid: null, bmcAddress: null, ip: '10.99.0.11', role: 'dev', bootMode: 'memory',
    state: 'registered', stateChangedAt: 0, macs: ['52:54:00:99:00:01'], bootToken: null, configToken: null,
    ipxeChainedAt: null, createdAt: 0, ...overrides,
  };
}

function input(m: Machine, overrides: Partial<CloudConfigInput> = {}): CloudConfigInput {
  return {
    machine: m,
    inventory: [m],
    subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1', dns: ['10.99.0.53'], domain: 'rack.test', leaseSeconds: 60 }],
    baseUrl: 'http://10.99.0.1:8080',
    serverAddress: '10.99.0.1',
    cluster: { name: 'r1', sshAuthorizedKeys: [], ntpServers: ['10.99.0.1'], etcdBinary: 'etcd/etcd' },
    bootToken: 'tok',
    ...overrides,
  };
}

test('network facts come from the subnet that holds the reserved address', () => {
  const result = buildCloudConfigContext(input(machine()), 'default');
  assert.ok(result.ok);
  assert.equal(result.template, 'dev');
  assert.deepEqual(
    { fqdn: result.context.machine.fqdn, prefix: result.context.machine.prefixLength, mask: result.context.machine.netmask, gw: result.context.machine.gateway },
    { fqdn: 'blade-01.rack.test', prefix: 24, mask: '255.255.255.0', gw: '10.99.0.1' },
  );
  assert.equal(result.context.etcd, null, 'a dev box runs no etcd');
  assert.equal(result.context.installScriptUrl, '', 'memory mode installs nothing');
  const install = buildCloudConfigContext(input(machine({ bootMode: 'install' })), 'default');
  assert.ok(install.ok && install.context.installScriptUrl === 'http://10.99.0.1:8080/install/tok');
});

test('no role: the fallback template and role "none"', () => {
  const result = buildCloudConfigContext(input(machine({ role: null })), 'default');
  assert.ok(result.ok);
  assert.equal(result.template, 'default');
  assert.equal(result.context.machine.role, 'none');
});

test('a machine without an address, outside every subnet, or with an unknown role is refused with the reason', () => {
  const noIp = buildCloudConfigContext(input(machine({ ip: null })), 'default');
  assert.deepEqual(noIp, { ok: false, errors: ['blade-01 has no reserved IP address'] });
  const outside = buildCloudConfigContext(input(machine({ ip: '10.1.0.5' })), 'default');
  assert.match(!outside.ok ? outside.errors[0]! : '', /10\.1\.0\.5 is in no configured subnet/);
  const role = buildCloudConfigContext(input(machine({ role: 'mainframe' })), 'default');
  assert.match(!role.ok ? role.errors[0]! : '', /role mainframe/);
});

test('values that would land unquoted in unit files are checked', () => {
  const hostile = buildCloudConfigContext(input(machine(), { cluster: { name: 'r1', sshAuthorizedKeys: [], ntpServers: ['pool.ntp.org\nExecStart=/bin/sh'], etcdBinary: 'etcd/etcd' } }), 'default');
  assert.match(!hostile.ok ? hostile.errors[0]! : '', /ntpServers contains characters/);
  const percent = buildCloudConfigContext(input(machine(), { baseUrl: 'http://x/%h' }), 'default');
  assert.match(!percent.ok ? percent.errors[0]! : '', /baseUrl/);
});

test('cluster errors (a small cluster of one) refuse the render', () => {
  const result = buildCloudConfigContext(input(machine({ role: 'small' })), 'default');
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.errors.join() : '', /small/);
});
