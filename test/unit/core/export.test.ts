import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { exportInventory } from '../../../server/core/export.js';
import type { Machine } from '../../../server/core/types.js';

function machine(name: string, overrides: Partial<Machine> = {}): Machine {
  return {
    id: 1, name, uuid: null, bmcAddress: null, ip: null, role: null, bootMode: 'install', state: 'registered',
    stateChangedAt: 0, macs: [], bootToken: null, configToken: null, ipxeChainedAt: null, createdAt: 0, ...overrides,
  };
}

const MACHINES: Machine[] = [
  machine('rack1-b02', { ip: '10.99.0.12', macs: ['52:54:00:00:00:02', '52:54:00:00:01:02'], role: 'production-worker', bmcAddress: '10.1.0.12' }),
  machine('rack1-b01', { ip: '10.99.0.11', macs: ['52:54:00:00:00:01'], role: 'production-central', bootMode: 'memory' }),
  machine('rack1-b03', { ip: '10.99.0.13', macs: ['52:54:00:00:00:03'] }),
  machine('spare', { macs: ['52:54:00:00:00:09'] }),
];

test('ISC dhcpd: one host block per MAC, machines without an address reported, not guessed', () => {
  const { text, skipped } = exportInventory(MACHINES, 'isc-dhcpd');
  assert.deepEqual(skipped, ['spare: no reserved IP address']);
  assert.match(text, /^host rack1-b01 \{\n {2}hardware ethernet 52:54:00:00:00:01;\n {2}fixed-address 10\.99\.0\.11;\n {2}option host-name "rack1-b01";\n\}$/m);
  assert.match(text, /^host rack1-b02-0 \{\n {2}hardware ethernet 52:54:00:00:00:02;/m);
  assert.match(text, /^host rack1-b02-1 \{\n {2}hardware ethernet 52:54:00:00:01:02;\n {2}fixed-address 10\.99\.0\.12;/m);
  assert.equal(text.match(/^host /gm)?.length, 4);
});

test('dnsmasq: one dhcp-host line per machine with all its MACs; dnsmasq --test accepts it', () => {
  const { text } = exportInventory(MACHINES, 'dnsmasq');
  assert.match(text, /^dhcp-host=52:54:00:00:00:02,52:54:00:00:01:02,10\.99\.0\.12,rack1-b02$/m);
  assert.equal(text.match(/^dhcp-host=/gm)?.length, 3);
  const dnsmasq = ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!dnsmasq) return;
  const dir = mkdtempSync(join(tmpdir(), 'rb-export-'));
  try {
    writeFileSync(join(dir, 'hosts.conf'), text);
    const check = spawnSync(dnsmasq, ['--test', `--conf-file=${join(dir, 'hosts.conf')}`], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CSV: a header, every machine, RFC 4180 quoting', () => {
  const tricky = machine('odd', { uuid: 'a,"b"' });
  const { text } = exportInventory([...MACHINES, tricky], 'csv');
  const lines = text.trimEnd().split('\r\n');
  assert.equal(lines[0], 'name,macs,ip,role,mode,bmc,uuid,state');
  assert.equal(lines.length, 6);
  assert.equal(lines.find((l) => l.startsWith('rack1-b02')), 'rack1-b02,52:54:00:00:00:02 52:54:00:00:01:02,10.99.0.12,production-worker,install,10.1.0.12,,registered');
  assert.equal(lines.find((l) => l.startsWith('odd')), 'odd,,,,install,,"a,""b""",registered');
});

test('Ansible: hosts grouped by role with their address, valid YAML', () => {
  const { text } = exportInventory(MACHINES, 'ansible');
  const inventory = parse(text) as { all: { children: Record<string, { hosts: Record<string, { ansible_host: string; rackboot_macs: string[] }> }> } };
  assert.deepEqual(Object.keys(inventory.all.children), ['production_central', 'production_worker', 'unassigned']);
  assert.equal(inventory.all.children.production_worker?.hosts['rack1-b02']?.ansible_host, '10.99.0.12');
  assert.deepEqual(inventory.all.children.production_worker?.hosts['rack1-b02']?.rackboot_macs, ['52:54:00:00:00:02', '52:54:00:00:01:02']);
  assert.ok(inventory.all.children.unassigned?.hosts['rack1-b03']);
});
