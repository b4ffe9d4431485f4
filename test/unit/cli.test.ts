import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rackboot } from '../helpers/cli.js';

let dir: string;
let config: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\n');
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
