/**
 * The inventory lifecycle over the API with inject(): edit, delete, board replacement, bulk actions
 * by label selector (dry run, bounds), import/export round trip, the audit log under the token's name.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { PowerDriver, PowerDriverAction } from '../../../server/bmc/power-driver.js';
import type { Machine } from '../../../server/core/types.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let app: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
let token: string;
const powered: Array<{ name: string; action: PowerDriverAction }> = [];

const fakePower: PowerDriver = {
  unavailableReason: (machine: Machine) => (machine.bmcAddress ? null : `${machine.name} has no known BMC`),
  async power(machine, action) {
    powered.push({ name: machine.name, action });
    return { ok: true, message: `${action} done` };
  },
};

const auth = () => ({ authorization: `Bearer ${token}` });

before(async () => {
  t = testProvisioner();
  token = new ApiTokenStore(t.db).rotate(t.clock.now(), 'ops-bot');
  for (let i = 1; i <= 4; i++) {
    t.provisioner.registerMachine({ name: `blade-0${i}`, macs: [`52:54:00:aa:00:0${i}`], ip: `10.99.0.1${i}`, role: null, labels: { rack: i <= 3 ? 'r12' : 'r13' }, ...(i === 4 ? {} : { bmcAddress: `10.1.0.1${i}` }) });
  }
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), tokens: new ApiTokenStore(t.db), power: fakePower, defaultMetrics: false, pollMs: 20 },
  });
});

after(async () => {
  await app.close();
});

test('the machine object carries its labels', async () => {
  const res = await app.inject('/api/v1/machines/blade-01');
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json().labels, { rack: 'r12' });
  const list = await app.inject('/api/v1/machines');
  assert.deepEqual(list.json().machines.map((m: { labels: unknown }) => m.labels), [{ rack: 'r12' }, { rack: 'r12' }, { rack: 'r12' }, { rack: 'r13' }]);
});

test('POST /machines takes labels, checked like an edit', async () => {
  const bad = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { name: 'spare-01', macs: ['52:54:00:aa:00:99'], labels: { rack: 'R1' } } });
  assert.equal(bad.statusCode, 400);
  assert.match(bad.json().error, /label rack value "R1"/);
  const ok = await app.inject({ method: 'POST', url: '/api/v1/machines', headers: auth(), payload: { name: 'spare-01', macs: ['52:54:00:aa:00:99'], labels: { zone: 'b', rack: 'r99' } } });
  assert.equal(ok.statusCode, 201, ok.body);
  assert.deepEqual(ok.json().labels, { rack: 'r99', zone: 'b' });
  const [audit] = t.provisioner.listAudit({ limit: 1 });
  assert.deepEqual([audit?.actor, audit?.action, audit?.target], ['api:ops-bot', 'machine.add', 'spare-01']);
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/machines/spare-01', headers: auth() })).statusCode, 200);
});

test('PATCH /machines/{ref}: needs the token; edits; conflicts are 409, bad input 400, unknown 404', async () => {
  assert.equal((await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', payload: { ip: '10.99.0.31' } })).statusCode, 401);
  const ok = await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', headers: auth(), payload: { ip: '10.99.0.31', labels: { rack: 'r12', zone: 'a' } } });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual([ok.json().ip, ok.json().labels], ['10.99.0.31', { rack: 'r12', zone: 'a' }]);
  const conflict = await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', headers: auth(), payload: { macs: ['52:54:00:aa:00:02'] } });
  assert.equal(conflict.statusCode, 409);
  assert.equal(conflict.json().code, 'RACKBOOT_ERR_CONFLICT');
  assert.match(conflict.json().error, /MAC 52:54:00:aa:00:02 is also machine blade-02's/);
  const outside = await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', headers: auth(), payload: { ip: '192.168.1.1' } });
  assert.equal(outside.statusCode, 400);
  assert.equal(outside.json().code, 'RACKBOOT_ERR_INVALID_INPUT');
  const badLabel = await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', headers: auth(), payload: { labels: { Rack: 'x' } } });
  assert.equal(badLabel.statusCode, 400);
  const empty = await app.inject({ method: 'PATCH', url: '/api/v1/machines/blade-01', headers: auth(), payload: {} });
  assert.equal(empty.statusCode, 400);
  assert.equal((await app.inject({ method: 'PATCH', url: '/api/v1/machines/nope', headers: auth(), payload: { ip: null } })).statusCode, 404);
});

test('bulk: match and dry run list the machines; the action applies; beyond the limit is refused (400, RACKBOOT_ERR_TOO_MANY)', async () => {
  const match = await app.inject('/api/v1/bulk/match?selector=rack%3Dr12,zone!%3Da');
  assert.equal(match.statusCode, 200, match.body);
  assert.deepEqual(match.json(), { count: 2, machines: ['blade-02', 'blade-03'] });
  const dry = await app.inject({ method: 'POST', url: '/api/v1/bulk/role', headers: auth(), payload: { selector: 'rack=r12', role: 'small', dryRun: true } });
  assert.deepEqual(dry.json(), { applied: false, count: 3, machines: ['blade-01', 'blade-02', 'blade-03'] });
  assert.equal(t.provisioner.machineByRef('blade-02')?.role, null);
  const role = await app.inject({ method: 'POST', url: '/api/v1/bulk/role', headers: auth(), payload: { selector: 'rack=r12', role: 'small', bootMode: 'memory' } });
  assert.equal(role.json().applied, true);
  assert.deepEqual(t.provisioner.listMachines().map((m) => m.role), ['small', 'small', 'small', null]);
  const tooMany = await app.inject({ method: 'POST', url: '/api/v1/bulk/reprovision', headers: auth(), payload: { selector: 'rack', limit: 2 } });
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'RACKBOOT_ERR_TOO_MANY');
  const bad = await app.inject('/api/v1/bulk/match?selector=Rack%3D1');
  assert.equal(bad.statusCode, 400);
  const power = await app.inject({ method: 'POST', url: '/api/v1/bulk/power', headers: auth(), payload: { selector: 'role=small', action: 'cycle' } });
  assert.equal(power.statusCode, 200, power.body);
  assert.equal(power.json().count, 3);
  assert.deepEqual(powered.map((p) => p.name).sort(), ['blade-01', 'blade-02', 'blade-03']);
  const noBmc = await app.inject({ method: 'POST', url: '/api/v1/bulk/power', headers: auth(), payload: { selector: 'rack=r13', action: 'on' } });
  assert.deepEqual(noBmc.json().results, [{ name: 'blade-04', ok: false, message: 'blade-04 has no known BMC' }]);
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/bulk/power', payload: { selector: 'rack', action: 'on' } })).statusCode, 401);
});

test('export then import round-trips; import is a dry run by default; an invalid row on apply is 400 with every line', async () => {
  for (const format of ['csv', 'yaml']) {
    const exported = await app.inject(`/api/v1/inventory/export?format=${format}`);
    assert.equal(exported.statusCode, 200);
    assert.match(String(exported.headers['content-type']), format === 'csv' ? /^text\/csv/ : /^application\/yaml/);
    const same = await app.inject({ method: 'POST', url: '/api/v1/inventory/import', headers: auth(), payload: { format, text: exported.body } });
    assert.equal(same.statusCode, 200, same.body);
    assert.deepEqual(same.json().changes.map((c: { action: string }) => c.action), ['unchanged', 'unchanged', 'unchanged', 'unchanged']);
  }
  const csv = (await app.inject('/api/v1/inventory/export?format=csv')).body;
  const edited = `${csv.replace('10.99.0.12,', '10.99.0.22,')}blade-05,52:54:00:aa:00:05,10.99.0.15,,,,,rack=r13\n`;
  const dry = await app.inject({ method: 'POST', url: '/api/v1/inventory/import', headers: auth(), payload: { format: 'csv', text: edited } });
  assert.equal(dry.json().applied, false);
  assert.deepEqual(dry.json().changes.filter((c: { action: string }) => c.action !== 'unchanged'), [
    { line: 3, action: 'update', name: 'blade-02', changes: [{ field: 'ip', from: '10.99.0.12', to: '10.99.0.22' }] },
    { line: 6, action: 'add', name: 'blade-05', macs: ['52:54:00:aa:00:05'], ip: '10.99.0.15' },
  ]);
  assert.equal(t.provisioner.machineByRef('blade-05'), null);
  const broken = `${edited}blade-06,52:54:00:aa:00:05,,,,,,\nblade-07,xx,,,,,,\n`;
  const refused = await app.inject({ method: 'POST', url: '/api/v1/inventory/import', headers: auth(), payload: { format: 'csv', text: broken, apply: true } });
  assert.equal(refused.statusCode, 400);
  assert.deepEqual(refused.json().details.map((d: string) => d.split(':')[0]), ['line 7', 'line 8']);
  assert.equal(t.provisioner.machineByRef('blade-05'), null, 'nothing applied');
  const applied = await app.inject({ method: 'POST', url: '/api/v1/inventory/import', headers: auth(), payload: { format: 'csv', text: edited, apply: true } });
  assert.equal(applied.json().applied, true);
  assert.equal(t.provisioner.machineByRef('blade-02')?.ip, '10.99.0.22');
  assert.equal(t.provisioner.machineByRef('blade-05')?.ip, '10.99.0.15');
});

test('replace and delete; the audit log names the token, newest first, paged', async () => {
  const replaced = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-03/replace', headers: auth(), payload: { macs: ['52:54:00:aa:00:33'], bmcAddress: '10.1.0.33' } });
  assert.equal(replaced.statusCode, 200, replaced.body);
  assert.deepEqual([replaced.json().name, replaced.json().ip, replaced.json().macs, replaced.json().state], ['blade-03', '10.99.0.13', ['52:54:00:aa:00:33'], 'registered']);
  const deleted = await app.inject({ method: 'DELETE', url: '/api/v1/machines/blade-04', headers: auth() });
  assert.equal(deleted.statusCode, 200, deleted.body);
  assert.deepEqual(deleted.json(), { deleted: 'blade-04' });
  assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/machines/blade-04', headers: auth() })).statusCode, 404);

  const audit = await app.inject('/api/v1/audit?limit=2');
  assert.equal(audit.statusCode, 200);
  const page = audit.json();
  assert.deepEqual(page.entries.map((e: { action: string; actor: string; target: string }) => [e.action, e.actor, e.target]), [
    ['machine.delete', 'api:ops-bot', 'blade-04'],
    ['machine.replace', 'api:ops-bot', 'blade-03'],
  ]);
  const older = await app.inject(`/api/v1/audit?limit=500&before=${page.next}`);
  const actions = older.json().entries.map((e: { action: string }) => e.action);
  assert.ok(actions.includes('inventory.import') && actions.includes('bulk.power') && actions.includes('machine.assign') && actions.includes('machine.edit'), actions.join());
  assert.equal(older.json().next, null);
  assert.equal((await app.inject('/api/v1/audit?limit=100000')).statusCode, 400, 'bounded');
});
