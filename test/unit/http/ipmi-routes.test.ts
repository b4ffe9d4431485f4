/** BMCs and the static-IP plan over the API: read open, apply bound to the API token, never partial. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { BmcOffsetRule } from '../../../server/core/ip-policy.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const rule: BmcOffsetRule = { kind: 'bmc-offset', hostSubnet: '10.99.0.0/24', bmcSubnet: '10.1.0.0/24', offset: 0 };
let app: FastifyInstance;
let noRule: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
let token: string;

function observe(bmcs: BmcStore, address: string, mac: string) {
  bmcs.recordObservation(
    {
      address, port: 623, username: 'admin', guid: null, bmcMac: null, bmcIp: address, lanChannel: 1, manufacturerId: 674,
      productId: 1, firmware: '1.0', ipmiVersion: '2.0', session: 'rmcp+ suite 17', hostMacs: [{ mac, source: 'fru', label: 'MAC0' }],
    },
    1,
  );
}

before(async () => {
  t = testProvisioner();
  token = new ApiTokenStore(t.db).rotate(t.clock.now());
  const bmcs = new BmcStore(t.db);
  observe(bmcs, '10.1.0.11', '52:54:00:99:00:11');
  observe(bmcs, '10.1.0.12', '52:54:00:99:00:12');
  const common = { provisioner: t.provisioner, assetsDir: '/nonexistent', firmwareDir: '/nonexistent', logger: silentLogger() };
  const operator = { tokens: new ApiTokenStore(t.db), defaultMetrics: false };
  app = await buildApp({ ...common, operator, ipmi: { bmcs, inventory: t.provisioner, rule } });
  noRule = await buildApp({ ...common, operator, ipmi: { bmcs, inventory: t.provisioner, rule: null } });
});

after(async () => {
  await app.close();
  await noRule.close();
});

test('the BMC list and the plan are readable; computing the plan writes nothing', async () => {
  const bmcs = (await app.inject('/api/v1/bmcs')).json() as { bmcs: Array<{ address: string }> };
  assert.deepEqual(bmcs.bmcs.map((b) => b.address).sort(), ['10.1.0.11', '10.1.0.12']);
  const plan = (await app.inject('/api/v1/ip-plan')).json() as { plan: { counts: Record<string, number>; applicable: boolean } };
  assert.deepEqual(plan.plan.counts, { add: 2, update: 0, unchanged: 0, skip: 0, conflict: 0 });
  assert.equal(plan.plan.applicable, true);
  assert.equal(t.store.listMachines().length, 0);
});

test('applying needs the token, then registers the machines in one go', async () => {
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/ip-plan/apply' })).statusCode, 401);
  assert.equal((await app.inject({ method: 'POST', url: '/api/v1/ip-plan/apply', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  const applied = await app.inject({ method: 'POST', url: '/api/v1/ip-plan/apply', headers: { authorization: `Bearer ${token}` } });
  assert.equal(applied.statusCode, 200, applied.body);
  assert.deepEqual(t.store.listMachines().map((m) => [m.name, m.ip, m.bmcAddress]), [
    ['node-10-99-0-11', '10.99.0.11', '10.1.0.11'],
    ['node-10-99-0-12', '10.99.0.12', '10.1.0.12'],
  ]);
  const again = (await app.inject('/api/v1/ip-plan')).json() as { plan: { counts: Record<string, number> } };
  assert.equal(again.plan.counts.unchanged, 2);
  const [audited] = t.provisioner.listAudit({ limit: 1 });
  assert.deepEqual([audited?.action, audited?.actor.startsWith('api'), audited?.message], ['ip-plan.apply', true, 'ip-plan applied: 2 added, 0 updated']);
});

test('without a configured rule the plan says how to configure one, and apply is 501', async () => {
  const plan = (await noRule.inject('/api/v1/ip-plan')).json() as { rule: null; reason: string };
  assert.equal(plan.rule, null);
  assert.match(plan.reason, /ipmi\.ipPlan/);
  assert.equal((await noRule.inject({ method: 'POST', url: '/api/v1/ip-plan/apply', headers: { authorization: `Bearer ${token}` } })).statusCode, 501);
});

test('the plan routes are in the OpenAPI document', async () => {
  const doc = (await app.inject('/api/v1/openapi.json')).json() as { paths: Record<string, unknown> };
  for (const path of ['/api/v1/bmcs', '/api/v1/ip-plan', '/api/v1/ip-plan/apply']) assert.ok(doc.paths[path], path);
});
