import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { IpmiAuthError } from '../../../server/bmc/ipmi/errors.js';
import { Catalog } from '../../../server/catalog/catalog.js';
import { quirksFor, registerIpmiCommands } from '../../../server/cli/bmc.js';
import { Provisioner } from '../../../server/core/provisioner.js';
import { catalogDirs } from '../../../server/paths.js';
import { encodeFru, parseFru } from '../../../server/protocol/ipmi/fru.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { openDatabase, type Db } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { TEST_SETTINGS } from '../../helpers/provisioner.js';
import { FakeBmc, fakeConnector } from '../bmc/fake-bmc.js';

class Capture extends Writable {
  text = '';
  isTTY = false;
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'rb-cli-ipmi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const fru = (mac: string) => parseFru(encodeFru({ board: { manufacturer: 'Lab', extras: [`MAC0=${mac}`] } }));

/** A Provisioner over the test's database on the CLI's clock: `power` journals through it. */
function provisionerOver(db: Db): Provisioner {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  return new Provisioner({ store: new SqliteStore(db), renderer: loaded.catalog, settings: TEST_SETTINGS, clock: { now: () => 1_700_000_000_000 }, newToken: () => 'token' });
}

function cli(bmcs: Record<string, FakeBmc | Error>, env: NodeJS.ProcessEnv = { RACKBOOT_IPMI_PASSWORD: 'pw' }, db: Db = openDatabase(':memory:')) {
  const out = new Capture();
  const err = new Capture();
  let exitCode = 0;
  const usernames: string[] = [];
  const { connect } = fakeConnector(bmcs);
  const program = new Command().exitOverride();
  registerIpmiCommands(program, {
    openDatabase: () => ({ db, close: () => {} }),
    openProvisioner: () => ({ provisioner: provisionerOver(db), db, close: () => {} }),
    connect: () => async (target, credentials) => {
      usernames.push(`${credentials.username}:${credentials.password}`);
      return connect(target, credentials);
    },
    env,
    stdout: out,
    stderr: err,
    clock: () => 1_700_000_000_000,
    setExitCode: (code) => (exitCode = code),
  });
  return {
    db,
    out,
    err,
    usernames,
    exitCode: () => exitCode,
    run: (...args: string[]) => program.parseAsync(args, { from: 'user' }),
  };
}

describe('rackboot discover', () => {
  it('needs a password from the environment or a file, never a flag', async () => {
    const c = cli({}, {});
    await c.run('discover', '--bmc', '10.1.0.11');
    assert.equal(c.exitCode(), 2);
    assert.match(c.err.text, /no BMC password: set RACKBOOT_IPMI_PASSWORD or pass --password-file/);
    await assert.rejects(cli({}).run('discover', '--bmc', '10.1.0.11', '--password', 'x'), /unknown option '--password'/);
  });

  it('reads --password-file (one trailing newline stripped) and warns when others can read it', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 's3cret\n');
    chmodSync(file, 0o644);
    const c = cli({ '10.1.0.11': new FakeBmc('10.1.0.11', { fru: fru('52:54:00:99:00:11') }) }, {});
    await c.run('discover', '--bmc', '10.1.0.11', '--password-file', file, '--user', 'root');
    assert.deepEqual(c.usernames, ['root:s3cret']);
    assert.match(c.err.text, /readable by other users/);
    assert.equal(c.exitCode(), 0);
  });

  it('prints a summary table, stores the BMCs, and exits 1 when any BMC failed', async () => {
    const c = cli({
      '10.1.0.11': new FakeBmc('10.1.0.11', { fru: fru('52:54:00:99:00:11') }),
      '10.1.0.12': new IpmiAuthError('BMC 10.1.0.12:623: wrong password for user admin', '10.1.0.12'),
    });
    await c.run('discover', '--bmc', '10.1.0.11-12');
    assert.equal(c.exitCode(), 1);
    assert.match(c.out.text, /10\.1\.0\.11\s+ok\s+00112233-4455-6677-8899-aabbccddeeff\s+52:54:00:aa:00:01\s+52:54:00:99:00:11 \(FRU\)\s+Dell/);
    assert.match(c.out.text, /10\.1\.0\.12\s+auth\s+.*wrong password/);
    assert.match(c.out.text, /1 of 2 BMCs answered/);
    assert.deepEqual(new BmcStore(c.db).list().map((b) => [b.address, b.lastErrorKind]), [
      ['10.1.0.11', null],
      ['10.1.0.12', 'auth'],
    ]);
  });

  it('--json prints the results; bad targets are a usage error listing each', async () => {
    const c = cli({ '10.1.0.11': new FakeBmc('10.1.0.11', { fru: fru('52:54:00:99:00:11') }) });
    await c.run('discover', '--bmc', '10.1.0.11', '--json');
    const [result] = JSON.parse(c.out.text) as Array<{ ok: boolean; hostMacs: unknown[] }>;
    assert.equal(result?.ok, true);
    const bad = cli({});
    await bad.run('discover', '--bmc', '10.1.0.0/33', '--bmc', 'nope');
    assert.equal(bad.exitCode(), 2);
    assert.match(bad.err.text, /invalid --bmc\n {2}- 10\.1\.0\.0\/33: not a CIDR block\n {2}- nope/);
  });
});

describe('rackboot ip-plan and power', () => {
  it('plans, applies, and powers the new machine on with --pxe, journaling it', async () => {
    const blade = new FakeBmc('10.1.0.11', { fru: fru('52:54:00:99:00:11') });
    const db = openDatabase(':memory:');
    const discover = cli({ '10.1.0.11': blade }, undefined, db);
    await discover.run('discover', '--bmc', '10.1.0.11');

    const plan = cli({}, undefined, db);
    await plan.run('ip-plan', '--rule', 'bmc-offset', '--host-subnet', '10.99.0.0/24', '--bmc-subnet', '10.1.0.0/24');
    assert.match(plan.out.text, /add\s+10\.1\.0\.11\s+node-10-99-0-11\s+10\.99\.0\.11\s+MACs 52:54:00:99:00:11/);
    assert.match(plan.out.text, /plan: 1 to add, .*run with --apply to commit/);
    assert.equal(new SqliteStore(db).listMachines().length, 0);

    const ruleFile = join(dir, 'rule.yaml');
    writeFileSync(ruleFile, 'kind: bmc-offset\nhostSubnet: 10.99.0.0/24\nbmcSubnet: 10.1.0.0/24\noffset: 0\n');
    const apply = cli({}, undefined, db);
    await apply.run('ip-plan', '--rule-file', ruleFile, '--apply');
    assert.match(apply.out.text, /applied: 1 to add/);
    assert.equal(apply.exitCode(), 0);

    const power = cli({ '10.1.0.11': blade }, undefined, db);
    await power.run('power', 'on', '--pxe', 'node-10-99-0-11');
    assert.equal(power.exitCode(), 0, power.err.text);
    assert.match(power.out.text, /node-10-99-0-11\s+10\.1\.0\.11\s+off\s+on\s+boot device PXE \(read back\), on -> power is on/);
    const inventory = new SqliteStore(db);
    const machine = inventory.machineByName('node-10-99-0-11');
    assert.equal(machine?.state, 'powering-on');
    assert.ok(inventory.listEvents({ machineId: machine?.id as number }).some((e) => e.type === 'power'));
  });

  it('refuses to apply a plan with conflicts (exit 1) and rejects bad rules and refs (exit 2)', async () => {
    const db = openDatabase(':memory:');
    new SqliteStore(db).addMachine({ name: 'squatter', macs: ['aa:aa:aa:aa:aa:aa'], ip: '10.99.0.11', role: null }, 1);
    const discover = cli({ '10.1.0.11': new FakeBmc('10.1.0.11', { fru: fru('52:54:00:99:00:11') }) }, undefined, db);
    await discover.run('discover', '--bmc', '10.1.0.11');
    const apply = cli({}, undefined, db);
    await apply.run('ip-plan', '--rule', 'bmc-offset', '--host-subnet', '10.99.0.0/24', '--bmc-subnet', '10.1.0.0/24', '--apply');
    assert.equal(apply.exitCode(), 1);
    assert.match(apply.out.text, /CONFLICT\s+10\.1\.0\.11.*reserved for machine squatter/);
    assert.match(apply.out.text, /NOT applied/);

    const badRule = cli({}, undefined, db);
    await badRule.run('ip-plan', '--rule', 'bmc-offset', '--host-subnet', '10.99.0.0/24');
    assert.equal(badRule.exitCode(), 2);
    assert.match(badRule.err.text, /bmcSubnet: expected a subnet/);

    const badRef = cli({}, undefined, db);
    await badRef.run('power', 'on', 'ghost', 'squatter');
    assert.equal(badRef.exitCode(), 2);
    assert.match(badRef.err.text, /ghost: no machine or discovered BMC.*\n.*squatter: machine squatter has no known BMC/);

    const mixed = cli({}, undefined, db);
    await mixed.run('power', 'status', '--pxe', '10.1.0.11');
    assert.equal(mixed.exitCode(), 2);
  });

  it('power off and cycle ask first: without a terminal they need --yes, and nothing is sent before', async () => {
    const db = openDatabase(':memory:');
    const bmc = new FakeBmc('10.1.0.21', { power: 'on', fru: fru('52:54:00:99:00:21') });
    await cli({ '10.1.0.21': bmc }, undefined, db).run('discover', '--bmc', '10.1.0.21');
    const refused = cli({ '10.1.0.21': bmc }, undefined, db);
    await assert.rejects(refused.run('power', 'off', '10.1.0.21'), /Not a terminal: add --yes to confirm/);
    await assert.rejects(refused.run('power', 'cycle', '10.1.0.21'), /add --yes/);
    assert.deepEqual(refused.usernames, [], 'no BMC session was opened');
    const confirmed = cli({ '10.1.0.21': bmc }, undefined, db);
    await confirmed.run('power', 'off', '10.1.0.21', '--yes', '--json');
    assert.equal(confirmed.exitCode(), 0, confirmed.err.text);
    assert.equal(confirmed.usernames.length, 1);
  });

  it('power status of a discovered BMC by address, without a machine', async () => {
    const db = openDatabase(':memory:');
    const bmc = new FakeBmc('10.1.0.11', { power: 'on', fru: fru('52:54:00:99:00:11') });
    await cli({ '10.1.0.11': bmc }, undefined, db).run('discover', '--bmc', '10.1.0.11');
    const status = cli({ '10.1.0.11': bmc }, undefined, db);
    await status.run('power', 'status', '10.1.0.11', '--json');
    const [outcome] = JSON.parse(status.out.text) as Array<{ ok: boolean; after: string }>;
    assert.deepEqual([outcome?.ok, outcome?.after], [true, 'on']);
  });
});

describe('per-BMC quirks from settings', () => {
  it('an exact address wins over the narrowest containing CIDR block', () => {
    const table = { '10.1.0.0/16': { fruChunkSize: 8 }, '10.1.2.0/24': { noBootFlagValidClearing: true }, '10.1.2.7': { lanChannel: 2 } };
    assert.deepEqual(quirksFor(table, '10.1.2.7'), { lanChannel: 2 });
    assert.deepEqual(quirksFor(table, '10.1.2.8'), { noBootFlagValidClearing: true });
    assert.deepEqual(quirksFor(table, '10.1.9.9'), { fruChunkSize: 8 });
    assert.equal(quirksFor(table, '10.2.0.1'), undefined);
    assert.equal(quirksFor(undefined, '10.2.0.1'), undefined);
  });
});
