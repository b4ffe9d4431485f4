/**
 * The lifecycle commands as an operator types them: import (dry run, then --apply), label, edit,
 * select, bulk assign/reprovision by --selector (dry run, confirmation), replace, delete, export,
 * audit. Once also through the built dist/ CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { rackboot } from '../../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let dir: string;
let config: string;
const run = (...args: string[]) => rackboot(['--config', config, ...args]);

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'rb-cli-lifecycle-'));
  config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n');
  writeFileSync(
    join(dir, 'rack.yaml'),
    [
      'machines:',
      ...[1, 2, 3].flatMap((i) => [`  - name: blade-0${i}`, `    macs: ["52:54:00:cc:00:0${i}"]`, `    ip: 10.99.0.1${i}`, `    labels: {rack: ${i < 3 ? 'r12' : 'r13'}}`]),
    ].join('\n'),
  );
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Newest modification time of the TypeScript sources under server/. */
function newestSource(path = join(ROOT, 'server')): number {
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/** The built CLI (npm run build first when dist/ is missing or older than the sources). */
function rackbootBuilt(args: readonly string[]) {
  const entry = join(ROOT, 'dist', 'server', 'cli', 'index.js');
  if (!existsSync(entry) || statSync(entry).mtimeMs < newestSource()) {
    const build = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
    assert.equal(build.status, 0, `npm run build: ${build.stdout}${build.stderr}`);
  }
  const result = spawnSync(process.execPath, [entry, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('machines import: a dry run by default (the diff, nothing written), then --apply', () => {
  const dry = run('machines', 'import', join(dir, 'rack.yaml'));
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^\+ line 2: add blade-01 \(52:54:00:cc:00:01 -> 10\.99\.0\.11\)$/m);
  assert.match(dry.stdout, /dry run: 3 to add, 0 to update, 0 unchanged, 0 row error\(s\); run with --apply/);
  assert.equal(JSON.parse(run('machines', 'list', '--json').stdout).length, 0);
  const applied = run('machines', 'import', join(dir, 'rack.yaml'), '--apply', '--json');
  assert.equal(applied.code, 0, applied.stderr);
  assert.equal(JSON.parse(applied.stdout).applied, true);
  assert.equal(JSON.parse(run('machines', 'list', '--json').stdout).length, 3);
});

test('machines import: bad rows are listed with their lines, exit 1, nothing applied', () => {
  writeFileSync(join(dir, 'bad.csv'), 'name,macs,ip\nblade-09,52:54:00:cc:00:09,10.99.0.19\nblade-10,52:54:00:cc:00:01,10.99.0.20\nblade-11,52:54:00:cc:00:11,10.50.0.1\n');
  const bad = run('machines', 'import', join(dir, 'bad.csv'), '--apply');
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^! line 3: MAC 52:54:00:cc:00:01 is also machine blade-01's$/m);
  assert.match(bad.stdout, /^! line 4: IP 10\.50\.0\.1 is in none of the configured subnets/m);
  assert.match(bad.stdout, /NOT applied/);
  assert.equal(run('machines', 'list', '--json').stdout.includes('blade-09'), false);
});

test('machines add --label; a bad label is a usage error', () => {
  const bad = run('machines', 'add', '--mac', '52:54:00:cc:00:99', '--name', 'spare-01', '--label', 'rack=R1');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--label: label rack value "R1"/);
  const added = run('machines', 'add', '--mac', '52:54:00:cc:00:99', '--name', 'spare-01', '--label', 'rack=r99', '--json');
  assert.equal(added.code, 0, added.stderr);
  assert.deepEqual(JSON.parse(added.stdout).labels, { rack: 'r99' });
  assert.equal(run('machines', 'delete', 'spare-01', '--yes').code, 0);
});

test('machines label, edit (checked like add, coded errors), select', () => {
  const label = run('machines', 'label', 'blade-01', 'zone=a', 'rack-');
  assert.equal(label.code, 0, label.stderr);
  assert.match(label.stdout, /labelled blade-01: .*labels zone=a$/m);
  const edit = run('machines', 'edit', 'blade-01', '--ip', '10.99.0.21', '--label', 'rack=r12', '--role', 'dev', '--json');
  assert.equal(edit.code, 0, edit.stderr);
  const machine = JSON.parse(edit.stdout);
  assert.deepEqual([machine.ip, machine.role, machine.labels], ['10.99.0.21', 'dev', { rack: 'r12', zone: 'a' }]);
  assert.ok(!('bootToken' in machine));
  const conflict = run('machines', 'edit', 'blade-02', '--ip', '10.99.0.21');
  assert.equal(conflict.code, 1);
  assert.match(conflict.stderr, /IP 10\.99\.0\.21 is also machine blade-01's \[RACKBOOT_ERR_CONFLICT\]/);
  const nothing = run('machines', 'edit', 'blade-02');
  assert.equal(nothing.code, 2);
  const select = run('machines', 'select', 'rack=r12,role!=dev');
  assert.equal(select.code, 0, select.stderr);
  assert.match(select.stdout, /^blade-02\s+10\.99\.0\.12\s+-\s+registered\s+rack=r12$/m);
  assert.doesNotMatch(select.stdout, /blade-01|blade-03/);
});

test('assign and reprovision by --selector: --dry-run lists, no terminal needs --yes, then all at once', () => {
  const dry = run('assign', '--selector', 'rack=r12', '--role', 'small', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /2 machine\(s\) match rack=r12.*\n {2}blade-01\n {2}blade-02\n/);
  const unconfirmed = run('assign', '--selector', 'rack=r12', '--role', 'small');
  assert.equal(unconfirmed.code, 2);
  assert.match(unconfirmed.stderr, /Assign small \(install\) to 2 machine\(s\) matching rack=r12 \(blade-01, blade-02\)\? Not a terminal: add --yes/);
  const done = run('assign', '--selector', 'rack=r12', '--role', 'small', '--yes');
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^blade-01: small \(install\)\nblade-02: small \(install\)\n$/);
  const limited = run('reprovision', '--selector', 'rack', '--limit', '2', '--yes');
  assert.equal(limited.code, 1);
  assert.match(limited.stderr, /matches 3 machines, more than the bulk limit.*\[RACKBOOT_ERR_TOO_MANY\]/);
  const reprovision = run('reprovision', '--selector', 'role=small', '--yes', '--json');
  assert.equal(reprovision.code, 0, reprovision.stderr);
  assert.deepEqual(JSON.parse(reprovision.stdout).map((m: { name: string }) => m.name), ['blade-01', 'blade-02']);
  assert.equal(run('assign', 'blade-01', '--selector', 'rack=r12', '--menu').code, 2, 'names or a selector, not both');
});

test('machines replace and delete ask first; export reads back unchanged; audit names the OS user', () => {
  assert.equal(run('machines', 'delete', 'blade-03').code, 2, 'no terminal, no --yes');
  const replaced = run('machines', 'replace', 'blade-03', '--mac', '52:54:00:cc:00:33', '--yes');
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.match(replaced.stdout, /replaced the board of blade-03: 52:54:00:cc:00:33 -> 10\.99\.0\.13/);
  const events = JSON.parse(run('events', 'blade-03', '--json').stdout) as Array<{ type: string }>;
  assert.deepEqual(events.map((e) => e.type), ['registered', 'board-replaced']);

  const exported = run('machines', 'export', '--format', 'csv', '--output', join(dir, 'out.csv'));
  assert.equal(exported.code, 0, exported.stderr);
  const again = run('machines', 'import', join(dir, 'out.csv'), '--json');
  assert.deepEqual(JSON.parse(again.stdout).changes.map((c: { action: string }) => c.action), ['unchanged', 'unchanged', 'unchanged']);

  const deleted = run('machines', 'delete', 'blade-03', '--yes', '--json');
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.deepEqual(JSON.parse(deleted.stdout), { deleted: 'blade-03' });

  const audit = run('audit', '--json', '--limit', '3');
  assert.equal(audit.code, 0, audit.stderr);
  const entries = JSON.parse(audit.stdout) as Array<{ actor: string; action: string; target: string }>;
  assert.deepEqual(entries.map((e) => [e.action, e.target]), [['machine.delete', 'blade-03'], ['machine.replace', 'blade-03'], ['machine.reprovision', 'blade-02']]);
  assert.ok(entries.every((e) => e.actor.startsWith(`cli:${userInfo().username}`)), JSON.stringify(entries));
});

test('the built dist/ CLI runs the lifecycle commands too', () => {
  const built = rackbootBuilt(['--config', config, 'machines', 'select', 'rack=r12', '--json']);
  assert.equal(built.code, 0, built.stderr);
  assert.deepEqual(JSON.parse(built.stdout).map((m: { name: string }) => m.name), ['blade-01', 'blade-02']);
  const audit = rackbootBuilt(['--config', config, 'audit']);
  assert.equal(audit.code, 0, audit.stderr);
  assert.match(audit.stdout, /^ID\s+TIME\s+ACTOR\s+ACTION\s+TARGET\s+WHAT$/m);
  assert.match(audit.stdout, /machine\.delete\s+blade-03\s+deleted blade-03/);
});
