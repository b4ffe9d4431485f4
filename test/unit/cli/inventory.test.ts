import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rackboot } from '../../helpers/cli.js';

let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('machines add / list / events round trip, with --json for scripts', () => {
  const add = rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:01', '--ip', '10.99.0.11', '--role', 'dev']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added node-10-99-0-11: 52:54:00:99:00:01 -> 10\.99\.0\.11/);

  const list = rackboot(['--config', config, 'machines', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+MACS\s+IP\s+ROLE\s+STATE\s+SINCE$/m);
  assert.match(list.stdout, /^node-10-99-0-11\s+52:54:00:99:00:01\s+10\.99\.0\.11\s+dev\s+registered\s/m);

  const json = rackboot(['--config', config, 'machines', 'list', '--json']);
  const parsed = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
  assert.equal(parsed[0]?.ip, '10.99.0.11');
  assert.ok(!('bootToken' in parsed[0]!));

  const events = rackboot(['--config', config, 'events', '52:54:00:99:00:01', '--json']);
  assert.equal(events.code, 0, events.stderr);
  assert.equal((JSON.parse(events.stdout) as Array<{ type: string }>)[0]?.type, 'registered');
});

test('a duplicate MAC or IP is a failure (exit 1) naming the owner', () => {
  const dup = rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:01', '--ip', '10.99.0.11']);
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /MAC 52:54:00:99:00:01 belongs to node-10-99-0-11/);
  assert.match(dup.stderr, /IP 10\.99\.0\.11 is reserved for node-10-99-0-11/);
});

test('bad input is a usage error (exit 2) listing every problem', () => {
  const bad = rackboot(['--config', config, 'machines', 'add', '--mac', 'zz:zz', '--ip', '10.0.0.300', '--name', 'Bad_Name']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--mac zz:zz: not a MAC address/);
  assert.match(bad.stderr, /--ip 10\.0\.0\.300: not an IPv4 address/);
  assert.match(bad.stderr, /--name Bad_Name/);
});

test('an invalid config file is refused with every error (exit 2)', () => {
  const badConfig = join(dir, 'bad.yaml');
  writeFileSync(badConfig, 'http: {port: 0}\ntftp: {listen: 0.0.0.0}\nnope: 1\n');
  const result = rackboot(['--config', badConfig, 'machines', 'list']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /http\.port/);
  assert.match(result.stderr, /nope/);
});

test('assign a role, then preview what the machine would get (DHCP answer, script, cloud-config)', () => {
  const assign = rackboot(['--config', config, 'assign', 'node-10-99-0-11', '--role', 'dev', '--mode', 'memory']);
  assert.equal(assign.code, 0, assign.stderr);
  assert.match(assign.stdout, /node-10-99-0-11: dev \(memory\)/);
  // without the OS files in boot.assetsDir the machine would stop after its script: preview says so, exit 1
  const unbootable = rackboot(['--config', config, 'preview', 'node-10-99-0-11', '--firmware', 'bios']);
  assert.equal(unbootable.code, 1, unbootable.stderr + unbootable.stdout);
  assert.match(unbootable.stdout, /^# NOT BOOTABLE: boot\.os\.kernel flatcar\/flatcar_production_pxe\.vmlinuz is not in /m);
  assert.match(unbootable.stdout, /^# NOT BOOTABLE: boot\.os\.initrds\.0 /m);
  const assetsDir = /is not in (\S+): the machine would stop/.exec(unbootable.stdout)?.[1] ?? '';
  assert.ok(assetsDir.startsWith(dir), assetsDir);
  mkdirSync(join(assetsDir, 'flatcar'), { recursive: true });
  for (const file of ['flatcar_production_pxe.vmlinuz', 'flatcar_production_pxe_image.cpio.gz']) writeFileSync(join(assetsDir, 'flatcar', file), 'x');
  const preview = rackboot(['--config', config, 'preview', 'node-10-99-0-11', '--firmware', 'bios']);
  assert.equal(preview.code, 0, preview.stderr + preview.stdout);
  assert.doesNotMatch(preview.stdout, /NOT BOOTABLE/);
  assert.match(preview.stdout, /^# DHCP \(bios\): OFFER 10\.99\.0\.11, TFTP 10\.99\.0\.1:undionly\.kpxe$/m);
  assert.match(preview.stdout, /^kernel http:\/\/10\.99\.0\.1:8080\/boot\/PREVIEW-TOKEN\/kernel\//m);
  assert.match(preview.stdout, /^# cloud-config \(dev\)$/m);
  assert.match(preview.stdout, /^hostname: "node-10-99-0-11"$/m);
  const json = JSON.parse(rackboot(['--config', config, 'preview', 'node-10-99-0-11', '--json']).stdout) as { dhcp: string };
  assert.match(json.dhcp, /boot\.ipxe/);
});

test('machines add warns when no configured subnet covers the reserved address (its cloud-config could not render)', () => {
  const outside = rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:41', '--ip', '10.42.0.5']);
  assert.equal(outside.code, 0, outside.stderr);
  assert.match(outside.stderr, /warning: 10\.42\.0\.5 is in none of dhcp\.subnets \(10\.99\.0\.0\/24\)/);
  const inside = rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:42', '--ip', '10.99.0.42']);
  assert.equal(inside.code, 0, inside.stderr);
  assert.doesNotMatch(inside.stderr, /warning/);
});

test('assign refuses unknown roles and unknown machines', () => {
  assert.equal(rackboot(['--config', config, 'assign', 'node-10-99-0-11', '--role', 'mainframe']).code, 2);
  const missing = rackboot(['--config', config, 'assign', 'ghost', '--role', 'dev']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no such machine: ghost/);
  const menu = rackboot(['--config', config, 'assign', 'node-10-99-0-11', '--menu']);
  assert.match(menu.stdout, /no role \(boot menu\)/);
});

test('export writes the inventory for dnsmasq and CSV; machines without an address are named on stderr', () => {
  const dnsmasq = rackboot(['--config', config, 'export', '--format', 'dnsmasq']);
  assert.equal(dnsmasq.code, 0, dnsmasq.stderr);
  assert.match(dnsmasq.stdout, /^dhcp-host=52:54:00:99:00:01,10\.99\.0\.11,node-10-99-0-11$/m);
  const csv = rackboot(['--config', config, 'export', '--format', 'csv']);
  assert.match(csv.stdout, /^name,macs,ip,role,mode,bmc,uuid,state\r$/m);
  assert.equal(rackboot(['--config', config, 'export', '--format', 'yaml']).code, 2);
});

test('events --limit N shows the newest N events (oldest first among them), for all machines and for one', () => {
  const own = join(dir, 'newest.yaml');
  writeFileSync(own, 'dataDir: newest-data\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n');
  for (const n of [1, 2, 3]) assert.equal(rackboot(['--config', own, 'machines', 'add', '--mac', `52:54:00:98:00:0${n}`, '--name', `newest-${n}`]).code, 0);
  assert.equal(rackboot(['--config', own, 'assign', 'newest-1', '--role', 'dev']).code, 0);

  const all = JSON.parse(rackboot(['--config', own, 'events', '--json', '--limit', '2']).stdout) as Array<{ type: string; machineId: number; id: number }>;
  assert.deepEqual(all.map((e) => e.type), ['registered', 'role-assigned']);
  assert.ok(all[0]!.id < all[1]!.id);
  const table = rackboot(['--config', own, 'events', '--limit', '1']).stdout;
  assert.match(table, /role-assigned/);
  assert.doesNotMatch(table, /registered/);

  const one = JSON.parse(rackboot(['--config', own, 'events', 'newest-1', '--json', '--limit', '1']).stdout) as Array<{ type: string }>;
  assert.deepEqual(one.map((e) => e.type), ['role-assigned']);
});
