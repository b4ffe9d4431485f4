/**
 * Durability drill: a storm of a few hundred simulated machines (bench/storm), rackboot killed with
 * SIGKILL in the middle of it and started again, twice. What the clients saw acknowledged (DHCP ACKs,
 * scripts with their boot tokens, cloud-configs, callback event ids) must all be in the database
 * after the restart; every machine must still reach `installed` by retrying; and the restart (spawn
 * to "rackboot serving" and to the first answered DHCP DISCOVER) must take under 2 s. rackboot runs
 * compiled (tsc into .cache/, as `npm start` runs dist/), so the restart is the production one.
 * Runs once with DHCP on its worker thread and once on the main thread (dhcp.worker: false).
 * Root only: namespaces. Bounded: the storm's deadline is 75 s per run.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { compileServer, removeCompiledServer, StormLab, stormPrereqs } from '../../bench/lib/storm-lab.js';
import type { Ack } from '../../bench/storm/plan.js';

const MACHINES = 300;
const RESTART_LIMIT_MS = 2000;
const skipReason = stormPrereqs();

// Both DHCP paths (issue 18): the worker thread (default; it commits each ACK's lease on its own
// connection before the ACK leaves) and the main thread (dhcp.worker: false, via RACKBOOT_DHCP_WORKER).
for (const path of ['worker thread', 'main thread'] as const) {
  test(`kill -9 twice mid-storm, DHCP on the ${path}: nothing acknowledged is lost, every machine finishes, restart < 2 s`, { skip: skipReason ?? false, timeout: 150_000 }, (t) => drill(t, path));
}

async function drill(t: TestContext, path: 'worker thread' | 'main thread'): Promise<void> {
  let lab: StormLab | undefined;
  const saved = process.env.RACKBOOT_DHCP_WORKER;
  process.env.RACKBOOT_DHCP_WORKER = path === 'worker thread' ? 'true' : 'false';
  try {
    // rackboot as production starts it (compiled, no tsx): the restart time is the one an operator sees
    const compiledCli = compileServer();
    lab = await StormLab.create({ machines: MACHINES, logLevel: 'warn' });
    let server = (await lab.startServer({ logName: 'rackboot-1.log', compiledCli })).proc;
    const client = await lab.startClient({ rampMs: 3000, deadlineMs: 75_000, reportAcks: true });
    const installed = () => client.acks.filter((a) => a.kind === 'event' && a.type === 'installed').length;

    // Two crashes mid-storm (a fifth, then three fifths of the machines installed; the rest at every
    // other step), each followed by a restart timed while the storm keeps retrying.
    const restarts: number[] = [];
    for (const [round, fraction] of [[1, 0.2], [2, 0.6]] as const) {
      await waitUntil(() => installed() >= MACHINES * fraction, 45_000, `${fraction * 100}% of the machines installed`);
      const acked = client.acks.length;
      server.signal('SIGKILL');
      assert.equal((await server.exited).signal, 'SIGKILL');
      const installedAtKill = installed();
      assert.ok(installedAtKill < MACHINES, 'the kill happened mid-storm');

      // the probe DISCOVERs every 10 ms from before the spawn
      const t0 = Date.now();
      const probe = client.probe();
      const started = await lab.startServer({ logName: `rackboot-${round + 1}.log`, compiledCli });
      server = started.proc;
      const answered = await probe;
      assert.ok(answered.answeredAt > 0, 'the restarted server answers DHCP');
      const toServing = started.servingAt - t0;
      const toDhcp = answered.answeredAt - t0;
      restarts.push(Math.max(toServing, toDhcp));
      t.diagnostic(`kill ${round} after ${acked} acknowledgements (${installedAtKill}/${MACHINES} installed); restart: "rackboot serving" after ${toServing} ms, first DHCP answer after ${toDhcp} ms`);
    }

    const report = await client.report;
    t.diagnostic(`storm: ${report.installed}/${MACHINES} installed in ${(report.wallMs / 1000).toFixed(1)} s; retries: ${JSON.stringify(report.counters)}`);
    assert.equal(report.installed, MACHINES, `every machine reaches installed; errors: ${JSON.stringify(report.errors)}`);
    await server.stop(10_000);

    checkAcknowledged(lab.dbPath, client.acks, lab.machines);
    // Checked last, so a slow restart on a loaded machine does not hide a lost acknowledgement. The box
    // is shared (CI runs QEMU suites alongside): the better of the two restarts must be under 2 s, and
    // neither may be far off.
    assert.ok(Math.min(...restarts) < RESTART_LIMIT_MS, `restarts took ${restarts.join(' and ')} ms`);
    assert.ok(Math.max(...restarts) < 2.5 * RESTART_LIMIT_MS, `restarts took ${restarts.join(' and ')} ms`);
  } finally {
    if (saved === undefined) delete process.env.RACKBOOT_DHCP_WORKER;
    else process.env.RACKBOOT_DHCP_WORKER = saved;
    await lab?.destroy();
    removeCompiledServer();
  }
}

if (skipReason) test('durability drill', { skip: `skipped: ${skipReason}` }, () => {});

async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface MachineRow {
  id: number;
  ip: string;
  state: string;
  boot_token: string | null;
  mac: string;
}

/** Everything a client saw acknowledged, before or after the kill, is in the store. */
function checkAcknowledged(dbPath: string, acks: readonly Ack[], machines: ReadonlyArray<{ mac: string; ip: string }>): void {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT m.id, m.ip, m.state, m.boot_token, i.mac FROM machines m JOIN interfaces i ON i.machine_id = m.id').all() as MachineRow[];
    const byMac = new Map(rows.map((r) => [r.mac, r]));
    // reservations
    for (const m of machines) assert.equal(byMac.get(m.mac)?.ip, m.ip, `reservation of ${m.mac}`);

    const leaseOf = db.prepare('SELECT ip FROM leases WHERE mac = ?');
    const eventById = db.prepare('SELECT machine_id, type FROM events WHERE id = ?');
    const countOf = db.prepare('SELECT count(*) AS n FROM events WHERE machine_id = ? AND type = ?');
    const acked = new Map<string, { leases: number; scripts: number; configs: number; lastToken: string | null; installed: boolean }>();
    const entry = (mac: string) => {
      let e = acked.get(mac);
      if (!e) acked.set(mac, (e = { leases: 0, scripts: 0, configs: 0, lastToken: null, installed: false }));
      return e;
    };
    let events = 0;
    for (const ack of acks) {
      const machine = byMac.get(ack.mac);
      assert.ok(machine, `acknowledged to an unknown MAC ${ack.mac}`);
      const e = entry(ack.mac);
      if (ack.kind === 'lease') {
        e.leases += 1;
        assert.equal((leaseOf.get(ack.mac) as { ip: string } | undefined)?.ip, ack.ip, `lease of ${ack.mac}`);
      } else if (ack.kind === 'script') {
        e.scripts += 1;
        e.lastToken = ack.bootToken;
      } else if (ack.kind === 'config') e.configs += 1;
      else {
        events += 1;
        const row = eventById.get(ack.id) as { machine_id: number; type: string } | undefined;
        assert.ok(row, `event ${ack.id} (${ack.type} of ${ack.mac}) was acknowledged but is not in the store`);
        assert.deepEqual(row, { machine_id: machine.id, type: ack.type }, `event ${ack.id}`);
        if (ack.type === 'installed') e.installed = true;
      }
    }
    assert.ok(events > 0);
    for (const [mac, e] of acked) {
      const machine = byMac.get(mac) as MachineRow;
      const count = (type: string) => (countOf.get(machine.id, type) as { n: number }).n;
      assert.ok(count('dhcp') >= e.leases, `${mac}: ${e.leases} DHCP ACKs acknowledged, ${count('dhcp')} dhcp events stored`);
      assert.ok(count('ipxe') >= e.scripts, `${mac}: ${e.scripts} scripts served, ${count('ipxe')} ipxe events stored`);
      assert.ok(count('configured') >= e.configs, `${mac}: ${e.configs} cloud-configs served, ${count('configured')} configured events`);
      assert.equal(machine.boot_token, e.lastToken, `${mac}: the boot token of the last script it was given`);
      if (e.installed) assert.equal(machine.state, 'installed', `${mac}: install state`);
    }
  } finally {
    db.close();
  }
}
