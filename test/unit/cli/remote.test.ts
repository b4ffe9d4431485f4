/**
 * The CLI against a real rackboot HTTP server (buildApp listening on 127.0.0.1:0 in this process)
 * over the same data directory the local CLI opens: the same command gives the same --json output
 * both ways; token files, wrong tokens, a server that is down or silent end with their exit codes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { loadConfigFile } from '../../../server/config/config.js';
import { buildApp } from '../../../server/http/app.js';
import { HttpListeners } from '../../../server/http/listeners.js';
import { createLogger } from '../../../server/log.js';
import { createProvisioner } from '../../../server/main.js';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { BUILT_CLI, rackbootAsync } from '../../helpers/cli.js';

let dir: string;
let configFile: string;
let app: FastifyInstance;
let url: string;
let token: string;
let closeStore: () => void;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-remote-'));
  configFile = join(dir, 'rackboot.yaml');
  writeFileSync(configFile, 'dataDir: data\nserver: {address: 10.99.0.1}\ndhcp: {subnets: [{cidr: 10.99.0.0/24, gateway: 10.99.0.1}]}\n');
  const loaded = loadConfigFile(configFile);
  assert.ok(loaded.config, loaded.errors.join('\n'));
  const { provisioner, db, close } = createProvisioner(loaded.config);
  closeStore = close;
  const tokens = new ApiTokenStore(db);
  token = tokens.rotate(Date.now());
  // something for `discovered` and `bmcs` to list
  provisioner.machineScript({ mac: '52:54:00:aa:00:01', clientIp: '10.99.0.50' });
  new BmcStore(db).recordObservation(
    { address: '10.1.0.7', port: 623, username: 'admin', guid: null, bmcMac: '52:54:00:bb:00:07', bmcIp: '10.1.0.7', lanChannel: 1, manufacturerId: 4753, productId: 1, firmware: '1.0', ipmiVersion: '2.0', session: 'rmcp+ suite 17', hostMacs: [] },
    Date.now(),
  );
  app = await buildApp({
    provisioner,
    assetsDir: join(dir, 'assets'),
    firmwareDir: join(dir, 'tftp'),
    logger: createLogger('silent'),
    operator: { tokens, defaultMetrics: false },
    ipmi: { bmcs: new BmcStore(db), inventory: provisioner, rule: null },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  assert.ok(address && typeof address === 'object');
  url = `http://127.0.0.1:${address.port}`;
});

after(async () => {
  await app?.close();
  closeStore?.();
  rmSync(dir, { recursive: true, force: true });
});

const local = (...args: string[]) => rackbootAsync(['--config', configFile, ...args], { env: { RACKBOOT_SERVER: undefined, RACKBOOT_TOKEN: undefined } });
const remote = (args: string[], env: Record<string, string | undefined> = {}) =>
  rackbootAsync(['--server', url, ...args], { env: { RACKBOOT_CONFIG: join(dir, 'no-such-config.yaml'), RACKBOOT_TOKEN: token, ...env } });

function jsonError(stderr: string): { error: { code: string; message: string }; exitCode: number } {
  const last = stderr.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as { error: { code: string; message: string }; exitCode: number };
}

describe('the same commands locally and through --server', () => {
  test('machines add remotely, then list/show/events/discovered/bmcs/export print the same JSON both ways', async () => {
    const add = await remote(['machines', 'add', '--mac', '52:54:00:99:00:01', '--ip', '10.99.0.11', '--role', 'dev', '--json']);
    assert.equal(add.code, 0, add.stderr);
    assert.equal((JSON.parse(add.stdout) as { name: string }).name, 'node-10-99-0-11');
    const second = await local('machines', 'add', '--mac', '52:54:00:99:00:02', '--ip', '10.99.0.12', '--json');
    assert.equal(second.code, 0, second.stderr);

    for (const args of [
      ['machines', 'list', '--json'],
      ['machines', 'show', 'node-10-99-0-11', '--json'],
      ['events', '--json'],
      ['events', 'node-10-99-0-11', '--json'],
      ['machines', 'discovered', '--json'],
      ['bmcs', '--json'],
    ]) {
      const [l, r] = await Promise.all([local(...args), remote(args)]);
      assert.equal(l.code, 0, `${args.join(' ')} locally: ${l.stderr}`);
      assert.equal(r.code, 0, `${args.join(' ')} remotely: ${r.stderr}`);
      assert.equal(r.stdout, l.stdout, args.join(' '));
      assert.ok(JSON.parse(r.stdout), args.join(' '));
    }
    const listed = JSON.parse((await remote(['machines', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(listed.map((m) => m.name), ['node-10-99-0-11', 'node-10-99-0-12']);
    assert.ok(!('bootToken' in listed[0]!) && !('power' in listed[0]!), 'the stable CLI shape, not the API view');
    const discovered = JSON.parse((await remote(['machines', 'discovered', '--json'])).stdout) as Array<{ mac: string }>;
    assert.deepEqual(discovered.map((d) => d.mac), ['52:54:00:aa:00:01']);
  });

  test('assign and reprovision remotely change what the local CLI sees', async () => {
    const assign = await remote(['assign', 'node-10-99-0-12', '--role', 'small', '--mode', 'memory', '--json']);
    assert.equal(assign.code, 0, assign.stderr);
    const [shown] = JSON.parse(assign.stdout) as Array<{ role: string; bootMode: string }>;
    assert.deepEqual([shown?.role, shown?.bootMode], ['small', 'memory']);
    const after = JSON.parse((await local('machines', 'show', 'node-10-99-0-12', '--json')).stdout) as { role: string };
    assert.equal(after.role, 'small');

    const reprovision = await remote(['reprovision', 'node-10-99-0-11', '--yes', '--json']);
    assert.equal(reprovision.code, 0, reprovision.stderr);
    const events = JSON.parse((await local('events', 'node-10-99-0-11', '--json')).stdout) as Array<{ message: string; data?: { reprovision?: boolean } }>;
    assert.ok(events.some((e) => e.data?.reprovision === true), JSON.stringify(events.map((e) => e.message)));
  });

  test('an unknown machine is exit 1 with RACKBOOT_ERR_NOT_FOUND, as locally', async () => {
    const [l, r] = await Promise.all([local('machines', 'show', 'nope', '--json'), remote(['machines', 'show', 'nope', '--json'])]);
    assert.equal(l.code, 1);
    assert.equal(r.code, 1);
    assert.equal(jsonError(r.stderr).error.code, 'RACKBOOT_ERR_NOT_FOUND');
    assert.deepEqual(jsonError(r.stderr), jsonError(l.stderr));
    const assign = await remote(['assign', 'nope', 'node-10-99-0-11', '--role', 'dev']);
    assert.equal(assign.code, 1);
    assert.match(assign.stderr, /no such machine: nope/);
  });

  test('a remote conflict keeps the server\'s code and details (exit 1)', async () => {
    const dup = await remote(['machines', 'add', '--mac', '52:54:00:99:00:01', '--ip', '10.99.0.13', '--json']);
    assert.equal(dup.code, 1, dup.stderr);
    const report = jsonError(dup.stderr);
    assert.equal(report.error.code, 'RACKBOOT_ERR_CONFLICT');
    assert.equal(report.exitCode, 1);
  });

  test('power through a server without a power driver: the server\'s code per machine, exit 1; off/cycle need --yes off a terminal', async () => {
    const on = await remote(['power', 'on', 'node-10-99-0-11', '--json']);
    assert.equal(on.code, 1, on.stderr);
    const results = JSON.parse(on.stdout) as Array<{ machine: string; ok: boolean; code: string }>;
    assert.deepEqual(results.map((r) => [r.machine, r.ok, r.code]), [['node-10-99-0-11', false, 'RACKBOOT_ERR_NO_POWER_DRIVER']]);
    const unknown = await remote(['power', 'on', 'nope', 'node-10-99-0-11']);
    assert.equal(unknown.code, 2, 'as locally: an unknown name is a usage error and nothing is powered');
    assert.match(unknown.stderr, /nope: no machine by that name/);
    const cycle = await remote(['power', 'cycle', 'node-10-99-0-11', '--json']);
    assert.equal(cycle.code, 2);
    assert.match(jsonError(cycle.stderr).error.message, /add --yes/);
  });

  test('ip-plan through a server without a rule says so (exit 1, RACKBOOT_ERR_NO_IP_RULE); --rule is local only (exit 2)', async () => {
    const plan = await remote(['ip-plan', '--json']);
    assert.equal(plan.code, 1, plan.stderr);
    assert.equal(jsonError(plan.stderr).error.code, 'RACKBOOT_ERR_NO_IP_RULE');
    const flags = await remote(['ip-plan', '--rule', 'slot', '--base', '10.99.0.100']);
    assert.equal(flags.code, 2);
    assert.match(flags.stderr, /configured rule/);
  });
});

describe('the lifecycle commands locally and through --server', () => {
  /** Runs `args` both ways; both must exit `code` and print the same stdout, which is returned. */
  async function same(args: string[], code = 0): Promise<string> {
    const [l, r] = await Promise.all([local(...args), remote(args)]);
    assert.equal(l.code, code, `${args.join(' ')} locally: ${l.stderr}`);
    assert.equal(r.code, code, `${args.join(' ')} remotely: ${r.stderr}`);
    assert.equal(r.stdout, l.stdout, args.join(' '));
    return r.stdout;
  }

  test('machines import (dry run, row errors, --apply) and export print the same JSON both ways', async () => {
    const rack = join(dir, 'lc-rack.yaml');
    writeFileSync(
      rack,
      ['machines:', ...[1, 2, 3].flatMap((i) => [`  - name: lc-0${i}`, `    macs: ["52:54:00:dd:00:0${i}"]`, `    ip: 10.99.0.3${i}`, `    labels: {rack: ${i < 3 ? 'r1' : 'r2'}}`])].join('\n'),
    );
    const dry = JSON.parse(await same(['machines', 'import', rack, '--json'])) as { applied: boolean; changes: Array<{ action: string; name: string; macs: string[] }> };
    assert.equal(dry.applied, false);
    assert.deepEqual(dry.changes.map((c) => [c.action, c.name, c.macs]), [1, 2, 3].map((i) => ['add', `lc-0${i}`, [`52:54:00:dd:00:0${i}`]]));
    assert.equal((await same(['machines', 'import', rack])).includes('+ line 2: add lc-01 (52:54:00:dd:00:01 -> 10.99.0.31)'), true);

    const applied = await remote(['machines', 'import', rack, '--apply', '--json']);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { applied: boolean }).applied, true);

    // a row error: nothing applied, the rows listed with their lines, exit 1, both ways alike
    const bad = join(dir, 'lc-bad.csv');
    writeFileSync(bad, 'name,macs,ip\nlc-09,52:54:00:dd:00:09,10.99.0.39\nlc-10,52:54:00:dd:00:01,10.99.0.40\n');
    const refused = JSON.parse(await same(['machines', 'import', bad, '--apply', '--json'], 1)) as { applied: boolean; errors: Array<{ line: number; message: string }> };
    assert.equal(refused.applied, false);
    assert.deepEqual(refused.errors.map((e) => e.line), [3]);
    assert.equal((await local('machines', 'show', 'lc-09')).code, 1, 'nothing of the refused file was applied');

    for (const format of ['csv', 'yaml']) {
      const exported = JSON.parse(await same(['machines', 'export', '--format', format, '--json'])) as { format: string; machines: number; text: string };
      assert.equal(exported.format, format);
      assert.match(exported.text, /lc-03/);
    }
  });

  test('machines select and bulk assign/reprovision by --selector: the same machines and JSON both ways', async () => {
    const selected = JSON.parse(await same(['machines', 'select', 'rack=r1', '--json'])) as Array<{ name: string; labels: Record<string, string> }>;
    assert.deepEqual(selected.map((m) => [m.name, m.labels]), [['lc-01', { rack: 'r1' }], ['lc-02', { rack: 'r1' }]]);
    const dry = JSON.parse(await same(['assign', '--selector', 'rack=r1', '--role', 'dev', '--dry-run', '--json'])) as { applied: boolean; machines: string[] };
    assert.deepEqual([dry.applied, dry.machines], [false, ['lc-01', 'lc-02']]);
    await same(['reprovision', '--selector', 'rack=r1', '--dry-run', '--json']);
    await same(['power', 'on', '--selector', 'rack=r1', '--dry-run', '--json']);
    const power = await remote(['power', 'on', '--selector', 'rack=r1', '--yes', '--json']);
    assert.equal(power.code, 1, power.stderr);
    assert.equal(jsonError(power.stderr).error.code, 'RACKBOOT_ERR_NO_POWER_DRIVER', 'POST /bulk/power of a server without a power driver');
    const tooMany = await same(['machines', 'select', 'rack', '--limit', '1', '--json'], 1);
    assert.equal(tooMany, '');

    const byServer = await remote(['assign', '--selector', 'rack=r1', '--role', 'small', '--mode', 'memory', '--yes', '--json']);
    assert.equal(byServer.code, 0, byServer.stderr);
    assert.deepEqual((JSON.parse(byServer.stdout) as Array<{ role: string; bootMode: string }>).map((m) => [m.role, m.bootMode]), [['small', 'memory'], ['small', 'memory']]);
    assert.equal((await local('machines', 'select', 'rack=r1', '--json')).stdout, byServer.stdout, 'what the server changed, as the local CLI sees it');

    const byLocal = await local('assign', '--selector', 'rack=r1', '--role', 'dev', '--yes', '--json');
    assert.equal(byLocal.code, 0, byLocal.stderr);
    assert.equal((await remote(['machines', 'select', 'rack=r1', '--json'])).stdout, byLocal.stdout);
    const unconfirmed = await remote(['assign', '--selector', 'rack=r1', '--role', 'dev', '--json']);
    assert.equal(unconfirmed.code, 2, 'off a terminal a bulk change needs --yes, remotely too');
  });

  test('machines edit, label, replace and delete: each way\'s answer is what the other way then shows', async () => {
    const edit = await remote(['machines', 'edit', 'lc-03', '--ip', '10.99.0.43', '--label', 'owner=ops', '--json']);
    assert.equal(edit.code, 0, edit.stderr);
    assert.deepEqual((JSON.parse(edit.stdout) as { ip: string; labels: Record<string, string> }).labels, { owner: 'ops', rack: 'r2' });
    assert.equal((await local('machines', 'show', 'lc-03', '--json')).stdout, edit.stdout);

    const label = await local('machines', 'label', 'lc-03', 'owner-', 'tier=gold', '--json');
    assert.equal(label.code, 0, label.stderr);
    assert.equal((await remote(['machines', 'show', 'lc-03', '--json'])).stdout, label.stdout);
    const relabel = await remote(['machines', 'label', 'lc-03', 'tier=silver', '--json']);
    assert.equal(relabel.code, 0, relabel.stderr);
    assert.deepEqual((JSON.parse(relabel.stdout) as { labels: Record<string, string> }).labels, { rack: 'r2', tier: 'silver' });
    assert.equal((await local('machines', 'show', 'lc-03', '--json')).stdout, relabel.stdout);
    const badLabel = await Promise.all([local('machines', 'label', 'lc-03', 'Bad Key=1', '--json'), remote(['machines', 'label', 'lc-03', 'Bad Key=1', '--json'])]);
    assert.deepEqual(badLabel.map((r) => r.code), [2, 2]);
    assert.deepEqual(jsonError(badLabel[1].stderr), jsonError(badLabel[0].stderr));

    const replace = await remote(['machines', 'replace', 'lc-02', '--mac', '52:54:00:dd:00:22', '--yes', '--json']);
    assert.equal(replace.code, 0, replace.stderr);
    assert.deepEqual((JSON.parse(replace.stdout) as { macs: string[] }).macs, ['52:54:00:dd:00:22']);
    assert.equal((await local('machines', 'show', 'lc-02', '--json')).stdout, replace.stdout);

    const [gone, goneLocally] = [await remote(['machines', 'delete', 'lc-03', '--yes', '--json']), await local('machines', 'delete', 'lc-02', '--yes', '--json')];
    assert.deepEqual([gone.code, JSON.parse(gone.stdout)], [0, { deleted: 'lc-03' }], gone.stderr);
    assert.deepEqual([goneLocally.code, JSON.parse(goneLocally.stdout)], [0, { deleted: 'lc-02' }], goneLocally.stderr);
    const missing = await Promise.all([local('machines', 'delete', 'lc-03', '--yes', '--json'), remote(['machines', 'delete', 'lc-02', '--yes', '--json'])]);
    assert.deepEqual(missing.map((r) => [r.code, jsonError(r.stderr).error.code]), [[1, 'RACKBOOT_ERR_NOT_FOUND'], [1, 'RACKBOOT_ERR_NOT_FOUND']]);
  });

  test('audit prints the same JSON both ways: local writes under the OS user, remote ones under the API token', async () => {
    for (const args of [['assign', 'node-10-99-0-12', '--role', 'dev'], ['reprovision', 'node-10-99-0-12', '--yes']]) {
      const result = await local(...args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
    }
    const entries = JSON.parse(await same(['audit', '--limit', '200', '--json'])) as Array<{ actor: string; action: string; target: string | null }>;
    const actorOf = (action: string, target: string) => entries.find((e) => e.action === action && e.target === target)?.actor;
    assert.equal(actorOf('machine.delete', 'lc-02'), `cli:${userInfo().username}`);
    const remoteActor = actorOf('machine.delete', 'lc-03');
    assert.ok(remoteActor !== undefined && remoteActor.startsWith('api'), String(remoteActor));
    assert.equal(actorOf('machine.replace', 'lc-02'), remoteActor);
    assert.equal(actorOf('machine.edit', 'lc-03') !== undefined, true);
    // machines add (remotely, in the first group) and assign by name locally are audited too
    assert.equal(actorOf('machine.add', 'node-10-99-0-11'), remoteActor);
    assert.equal(actorOf('machine.add', 'node-10-99-0-12'), `cli:${userInfo().username}`);
    assert.equal(actorOf('machine.assign', 'node-10-99-0-12'), `cli:${userInfo().username}`);
    assert.equal(actorOf('machine.reprovision', 'node-10-99-0-12'), `cli:${userInfo().username}`);
    assert.equal(actorOf('machine.reprovision', 'node-10-99-0-11'), remoteActor);
    const second = (entries[1] as unknown as { id: number }).id;
    const paged = JSON.parse(await same(['audit', '--limit', '2', '--before', String(second), '--json'])) as Array<{ id: number }>;
    assert.deepEqual(paged.map((e) => e.id), [second - 1, second - 2]);
  });
});

describe('remote mode: tokens, refusals, failures', () => {
  test('a token file readable by others is refused like ssh does (exit 2); mode 0600 works', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${token}\n`);
    chmodSync(file, 0o644);
    const open = await remote(['--token-file', file, 'machines', 'list', '--json'], { RACKBOOT_TOKEN: undefined });
    assert.equal(open.code, 2);
    const report = jsonError(open.stderr);
    assert.equal(report.error.code, 'RACKBOOT_ERR_TOKEN_FILE');
    assert.match(report.error.message, /mode 0644.*chmod 600/);
    const text = await remote(['--token-file', file, 'machines', 'list'], { RACKBOOT_TOKEN: undefined });
    assert.match(text.stderr, /accessible by group or others/);

    chmodSync(file, 0o600);
    const ok = await remote(['--token-file', file, 'assign', 'node-10-99-0-11', '--role', 'dev'], { RACKBOOT_TOKEN: undefined });
    assert.equal(ok.code, 0, ok.stderr);
    const viaEnv = await remote(['assign', 'node-10-99-0-11', '--role', 'dev'], { RACKBOOT_TOKEN: undefined, RACKBOOT_TOKEN_FILE: file });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
  });

  test('a wrong token is exit 4 (RACKBOOT_ERR_AUTH); no token: reads work, a mutation says where a token comes from', async () => {
    const wrong = await remote(['assign', 'node-10-99-0-11', '--role', 'dev', '--json'], { RACKBOOT_TOKEN: 'not-the-token' });
    assert.equal(wrong.code, 4);
    assert.equal(jsonError(wrong.stderr).error.code, 'RACKBOOT_ERR_AUTH');
    assert.match(jsonError(wrong.stderr).error.message, /RACKBOOT_TOKEN was refused/);
    const none = await remote(['assign', 'node-10-99-0-11', '--role', 'dev'], { RACKBOOT_TOKEN: undefined });
    assert.equal(none.code, 4);
    assert.match(none.stderr, /set \$RACKBOOT_TOKEN or give --token-file/);
    const read = await remote(['machines', 'list'], { RACKBOOT_TOKEN: undefined });
    assert.equal(read.code, 0, read.stderr);
  });

  test('a server that is down is exit 3 (RACKBOOT_ERR_UNREACHABLE), naming the URL', async () => {
    const port = await freePort();
    const down = await rackbootAsync(['--server', `http://127.0.0.1:${port}`, 'machines', 'list', '--json']);
    assert.equal(down.code, 3);
    const report = jsonError(down.stderr);
    assert.equal(report.error.code, 'RACKBOOT_ERR_UNREACHABLE');
    assert.match(report.error.message, new RegExp(`127\\.0\\.0\\.1:${port}: connection refused`));
    assert.equal(down.stdout, '');
  });

  test('a server that accepts but never answers ends at --timeout with exit 3', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const result = await rackbootAsync(['--server', `http://127.0.0.1:${port}`, '--timeout', '0.5', 'events']);
      assert.equal(result.code, 3);
      assert.match(result.stderr, /no answer within 0\.5 s/);
    } finally {
      silent.close();
    }
  });

  test('commands that need the local data directory refuse with --server (exit 2, RACKBOOT_ERR_LOCAL_ONLY)', async () => {
    for (const args of [['preview', 'node-10-99-0-11'], ['config'], ['discover', '--bmc', '10.1.0.7'], ['lab', 'down']]) {
      const result = await remote([...args, '--json']);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(jsonError(result.stderr).error.code, 'RACKBOOT_ERR_LOCAL_ONLY', args.join(' '));
    }
    const power = await remote(['power', 'status', 'node-10-99-0-11']);
    assert.equal(power.code, 2);
    assert.match(power.stderr, /power status reads the BMC directly/);
  });

  test('bad --server values are usage errors (exit 2)', async () => {
    const ftp = await rackbootAsync(['--server', 'ftp://x', 'machines', 'list', '--json']);
    assert.equal(ftp.code, 2);
    assert.equal(jsonError(ftp.stderr).error.code, 'RACKBOOT_ERR_USAGE');
    const ca = await rackbootAsync(['--server', url, '--ca-file', join(dir, 'ca.pem'), 'machines', 'list']);
    assert.equal(ca.code, 2);
    assert.match(ca.stderr, /--ca-file goes with an https:\/\/ server URL/);
  });

  test('the built dist/ CLI works in remote mode', { skip: existsSync(BUILT_CLI) ? false : 'dist/ is not built: run `npm run build` first' }, async () => {
    const built = await rackbootAsync(['--server', url, 'machines', 'list', '--json'], { built: true, env: { RACKBOOT_TOKEN: token } });
    assert.equal(built.code, 0, built.stderr);
    const source = await remote(['machines', 'list', '--json']);
    assert.equal(built.stdout, source.stdout);
    const wrong = await rackbootAsync(['--server', url, 'assign', 'node-10-99-0-11', '--role', 'dev', '--json'], { built: true, env: { RACKBOOT_TOKEN: 'wrong' } });
    assert.equal(wrong.code, 4);
  });
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('remote mode over HTTPS (http.tls)', { skip: hasOpenssl() ? false : 'openssl is not installed (apt-get install openssl)' }, () => {
  test('the server\'s CA from --ca-file is trusted; without it the TLS failure is exit 3 and suggests --ca-file', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'rb-remote-tls-'));
    const loaded = loadConfigFile(configFile);
    assert.ok(loaded.config);
    const { provisioner, close } = createProvisioner(loaded.config);
    let tlsApp: FastifyInstance | undefined;
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(tlsDir, 'key.pem'), '-out', join(tlsDir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
      tlsApp = await buildApp({
        provisioner,
        assetsDir: join(dir, 'assets'),
        firmwareDir: join(dir, 'tftp'),
        logger: createLogger('silent'),
        operator: { defaultMetrics: false },
        listeners: new HttpListeners(undefined, { cert: readFileSync(join(tlsDir, 'cert.pem')), key: readFileSync(join(tlsDir, 'key.pem')) }),
      });
      await tlsApp.listen({ host: '127.0.0.1', port: 0 });
      const httpsUrl = `https://127.0.0.1:${(tlsApp.server.address() as { port: number }).port}`;
      const trusted = await rackbootAsync(['--server', httpsUrl, '--ca-file', join(tlsDir, 'cert.pem'), 'machines', 'list', '--json']);
      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(trusted.stdout, (await local('machines', 'list', '--json')).stdout);
      const untrusted = await rackbootAsync(['--server', httpsUrl, 'machines', 'list']);
      assert.equal(untrusted.code, 3, untrusted.stderr);
      assert.match(untrusted.stderr, /TLS: .*--ca-file/);
    } finally {
      await tlsApp?.close();
      close();
      rmSync(tlsDir, { recursive: true, force: true });
    }
  });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
