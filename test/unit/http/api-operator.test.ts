/**
 * The operator's API with inject(): bearer-token auth on mutations, schema validation errors, the
 * mutations themselves (adopt, assign, reprovision, power), the machine summaries, the OpenAPI
 * document and /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { PowerDriver, PowerDriverAction } from '../../../server/bmc/power-driver.js';
import type { Machine } from '../../../server/core/types.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:aa:00:01';
let app: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
let token: string;
const powerCalls: Array<{ name: string; action: PowerDriverAction; pxe: boolean }> = [];
const dhcpStats = {
  received: 10,
  malformed: 1,
  replied: 6,
  ignored: 3,
  errors: 0,
  byType: { DISCOVER: { replied: 3, ignored: 2, errors: 0 } },
  sent: { OFFER: 3, ACK: 3 },
  ignoredByReason: { 'unknown-mac': 3 },
  rogueSightings: 2,
};
const tftpStats = { requests: 4, completed: 3, failed: 1, refused: 0, bytesSent: 123456, active: 1, retransmits: 2 };

const fakePower: PowerDriver = {
  unavailableReason: (machine: Machine) => (machine.bmcAddress ? null : `${machine.name} has no known BMC`),
  async power(machine, action, options) {
    powerCalls.push({ name: machine.name, action, pxe: options.pxe });
    return { ok: true, message: `${action} done` };
  },
};

const auth = (value = token) => ({ authorization: `Bearer ${value}` });

before(async () => {
  t = testProvisioner();
  token = new ApiTokenStore(t.db).rotate(t.clock.now());
  t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role: 'dev', bootMode: 'install', bmcAddress: '10.1.0.11' });
  t.provisioner.registerMachine({ name: 'blade-02', macs: ['52:54:00:aa:00:02'], ip: '10.99.0.12', role: null });
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: {
      overview: new OverviewStore(t.db),
      tokens: new ApiTokenStore(t.db),
      power: fakePower,
      metrics: { dhcp: () => dhcpStats, tftp: () => tftpStats },
      defaultMetrics: false,
      pollMs: 20,
    },
  });
});

after(async () => {
  await app.close();
});

describe('auth: mutations need the bearer token, reads do not', () => {
  const body = { name: 'new-01', macs: ['52:54:00:bb:00:01'], ip: '10.99.0.21', role: 'small' };

  test('no token: 401 with WWW-Authenticate, before the body is even validated', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/machines', payload: body });
    assert.equal(res.statusCode, 401);
    assert.match(String(res.headers['www-authenticate']), /^Bearer realm="rackboot"/);
    assert.match(res.json().error, /needs the API token/);
    const invalid = await app.inject({ method: 'POST', url: '/api/v1/machines', payload: { nonsense: true } });
    assert.equal(invalid.statusCode, 401, 'an unauthenticated caller learns nothing about the schema');
  });

  test('wrong, revoked or malformed token: 401', async () => {
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/machines', payload: body, headers: auth('rbt_not-the-token') });
    assert.equal(wrong.statusCode, 401);
    assert.match(String(wrong.headers['www-authenticate']), /invalid_token/);
    const basic = await app.inject({ method: 'POST', url: '/api/v1/machines', payload: body, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    assert.equal(basic.statusCode, 401);
    for (const url of ['/api/v1/machines/blade-01/reprovision', '/api/v1/machines/blade-01/power']) {
      assert.equal((await app.inject({ method: 'POST', url, payload: { action: 'on' } })).statusCode, 401, url);
    }
    assert.equal((await app.inject({ method: 'PUT', url: '/api/v1/machines/blade-01/role', payload: { role: 'dev' } })).statusCode, 401);
  });

  test('the right token: 201, and the machine is in the store', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/machines', payload: body, headers: auth() });
    assert.equal(res.statusCode, 201, res.body);
    const machine = res.json();
    assert.equal(machine.name, 'new-01');
    assert.equal(machine.state, 'registered');
    assert.equal(machine.bootToken, undefined, 'tokens never leave the server');
    assert.equal(t.store.machineByName('new-01')?.ip, '10.99.0.21');
  });

  test('rotation revokes the old token at once', async () => {
    const tokens = new ApiTokenStore(t.db);
    const fresh = tokens.rotate(t.clock.now());
    const old = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-02/reprovision', headers: auth() });
    assert.equal(old.statusCode, 401);
    const ok = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-02/reprovision', headers: auth(fresh) });
    assert.equal(ok.statusCode, 200, ok.body);
    token = fresh;
  });

  test('reads stay open', async () => {
    for (const url of ['/api/v1/machines', '/api/v1/machines/blade-01', '/api/v1/machines/blade-01/events', '/api/v1/events', '/api/v1/discovered', '/api/v1/overview']) {
      assert.equal((await app.inject(url)).statusCode, 200, url);
    }
  });
});

describe('schema validation: 400 with a message that names the field', () => {
  const post = (payload: unknown) => app.inject({ method: 'POST', url: '/api/v1/machines', payload: payload as object, headers: auth() });

  test('bad MAC, bad IP, unknown role, missing and unknown fields', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ name: 'x-1', macs: ['52:54:00:zz:00:01'] }, /invalid body: macs\.0 must be a MAC address/],
      [{ name: 'x-1', macs: ['52:54:00:cc:00:01'], ip: '10.99.0.300' }, /ip must be an IPv4 address|ip must match/],
      [{ name: 'x-1', macs: ['52:54:00:cc:00:01'], role: 'mainframe' }, /role must be one of dev, small/],
      [{ macs: ['52:54:00:cc:00:01'] }, /needs the field name/],
      [{ name: 'Bad_Name', macs: ['52:54:00:cc:00:01'] }, /name must be a host name/],
      [{ name: 'x-1', macs: [] }, /macs must NOT have fewer than 1 items/],
    ];
    for (const [payload, message] of cases) {
      const res = await post(payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.match(res.json().error, message, JSON.stringify(payload));
    }
  });

  test('query strings and bodies of other routes', async () => {
    const events = await app.inject('/api/v1/machines/blade-01/events?after=abc');
    assert.equal(events.statusCode, 400);
    assert.match(events.json().error, /invalid querystring: after must be integer/);
    const power = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-01/power', payload: { action: 'explode' }, headers: auth() });
    assert.equal(power.statusCode, 400);
    assert.match(power.json().error, /action must be one of on, off, cycle/);
    const role = await app.inject({ method: 'PUT', url: '/api/v1/machines/blade-01/role', payload: { role: 'dev', colour: 'red' }, headers: auth() });
    assert.equal(role.statusCode, 400);
  });

  test('a conflict is 409, an unknown machine 404', async () => {
    const dup = await post({ name: 'dup-1', macs: [MAC] });
    assert.equal(dup.statusCode, 409);
    assert.match(dup.json().error, /MAC 52:54:00:aa:00:01 belongs to blade-01/);
    const missing = await app.inject({ method: 'PUT', url: '/api/v1/machines/nope/role', payload: { role: 'dev' }, headers: auth() });
    assert.equal(missing.statusCode, 404);
  });
});

describe('actions', () => {
  test('assign a role: stored, on the timeline', async () => {
    const res = await app.inject({ method: 'PUT', url: '/api/v1/machines/blade-02/role', payload: { role: 'test', bootMode: 'memory' }, headers: auth() });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().role, 'test');
    const stored = t.store.machineByName('blade-02')!;
    assert.equal(stored.role, 'test');
    assert.equal(stored.bootMode, 'memory');
    assert.equal(t.store.listEvents({ machineId: stored.id }).at(-1)?.type, 'role-assigned');
    const cleared = await app.inject({ method: 'PUT', url: '/api/v1/machines/blade-02/role', payload: { role: null }, headers: auth() });
    assert.equal(cleared.json().role, null);
  });

  test('reprovision: an installed machine goes back to registered and its boot token dies', async () => {
    const machine = t.store.machineByName('blade-01')!;
    t.store.setBootToken(machine.id, 'boot-tok');
    t.provisioner.record(machine, 'installed', 'installed to /dev/sda');
    assert.equal(t.store.machineById(machine.id)?.state, 'installed');
    const res = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-01/reprovision', headers: auth() });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().state, 'registered');
    const after = t.store.machineById(machine.id)!;
    assert.equal(after.bootToken, null);
    assert.match(t.store.listEvents({ machineId: machine.id }).at(-1)?.message ?? '', /reprovision requested by the operator \(was installed\): the next PXE boot installs dev again/);
  });

  test('power: through the driver; a machine without a BMC is 409', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-01/power', payload: { action: 'cycle' }, headers: auth() });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(powerCalls.at(-1), { name: 'blade-01', action: 'cycle', pxe: true });
    assert.equal(res.json().machine.name, 'blade-01');
    const noBmc = await app.inject({ method: 'POST', url: '/api/v1/machines/blade-02/power', payload: { action: 'on', pxe: false }, headers: auth() });
    assert.equal(noBmc.statusCode, 409);
    assert.match(noBmc.json().error, /no known BMC/);
  });
});

test('machine summaries: last event, install progress from the message, the reason of a failure', async () => {
  const machine = t.store.machineByName('blade-01')!;
  t.provisioner.record(machine, 'progress', 'partitioning: step 3/7');
  let view = (await app.inject('/api/v1/machines/blade-01')).json();
  assert.equal(view.state, 'installing');
  assert.equal(view.progress.step, '3/7');
  assert.equal(view.progress.percent, 42.9);
  assert.equal(view.lastEvent.type, 'progress');
  assert.deepEqual(view.power, { available: true, reason: null });
  t.provisioner.record(machine, 'progress', 'copying image 87%');
  t.provisioner.record(machine, 'failed', 'disk /dev/sda not found');
  const list = (await app.inject('/api/v1/machines')).json();
  view = list.machines.find((m: { name: string }) => m.name === 'blade-01');
  assert.equal(view.state, 'failed');
  assert.equal(view.problem.message, 'disk /dev/sda not found');
  assert.equal(view.progress.percent, 87);
  assert.ok(list.latestEventId >= view.lastEvent.id);
  const overview = (await app.inject('/api/v1/overview')).json();
  assert.equal(overview.counts.failed, 1);
  assert.equal(overview.total, 3);
  assert.equal(overview.power.configured, true);
  assert.ok(overview.roles.includes('production-worker'));
});

test('the OpenAPI document lists every route, with schemas and security', async () => {
  const res = await app.inject('/api/v1/openapi.json');
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.equal(doc.openapi, '3.1.0');
  const listed = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
  const expected = [
    'GET /api/v1/machines',
    'POST /api/v1/machines',
    'GET /api/v1/machines/{ref}',
    'GET /api/v1/machines/{ref}/events',
    'PUT /api/v1/machines/{ref}/role',
    'POST /api/v1/machines/{ref}/reprovision',
    'POST /api/v1/machines/{ref}/power',
    'GET /api/v1/events',
    'GET /api/v1/events/stream',
    'GET /api/v1/discovered',
    'GET /api/v1/overview',
    'GET /api/v1/openapi.json',
    'GET /metrics',
    'GET /healthz',
    'GET /boot.ipxe',
    'GET /ipxe',
    'GET /boot/{token}/kernel/{name}',
    'GET /cloud-config/{token}',
    'POST /callback/{token}',
  ];
  for (const route of expected) assert.ok(listed.includes(route), `${route} is missing from ${listed.join(', ')}`);
  assert.ok(!listed.some((r) => r.endsWith(' /') || r.includes('/ui/')), 'the dashboard files are not API');
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown; parameters?: unknown[] }>>)) {
    if (!path.startsWith('/api/v1/')) continue;
    for (const [method, op] of Object.entries(ops)) {
      const ok = op.responses['200'] ?? op.responses['201'];
      assert.ok(ok, `${method} ${path} has a success response schema`);
      if (method !== 'get') {
        assert.deepEqual(op.security, [{ bearerAuth: [] }], `${method} ${path} is marked as needing the token`);
        if (!path.endsWith('/machines/{ref}/reprovision') && method !== 'delete') assert.ok(op.requestBody, `${method} ${path} documents its body`);
      }
      if (path.includes('{ref}')) assert.ok(op.parameters?.length, `${method} ${path} documents {ref}`);
    }
  }
  assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
  // every documented operation is a real route
  for (const route of listed) {
    const [method, path] = route.split(' ') as [string, string];
    const url = path.replace(/\{wildcard\}$/, '*').replace(/\{([^}]+)\}/g, ':$1');
    assert.ok(app.hasRoute({ method: method as 'GET', url }), `${route} is documented but not routed`);
  }
});

test('/metrics: DHCP and TFTP stats, HTTP requests by route, machines by state, install durations', async () => {
  const machine = t.store.machineByName('new-01')!;
  t.clock.t += 1000;
  t.provisioner.record(machine, 'installing', 'installer started');
  await new Promise((resolve) => setTimeout(resolve, 80)); // the feed polls every 20 ms
  t.clock.t += 300_000;
  t.provisioner.record(machine, 'progress', 'step 7/7');
  t.provisioner.record(machine, 'installed', 'done');
  await new Promise((resolve) => setTimeout(resolve, 80));
  const res = await app.inject('/metrics');
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain/);
  const text = res.body;
  assert.match(text, /^rackboot_dhcp_packets_total\{result="replied"\} 6$/m);
  assert.match(text, /^rackboot_dhcp_received_total 10$/m);
  assert.match(text, /^rackboot_dhcp_messages_total\{type="DISCOVER",result="ignored"\} 2$/m);
  assert.match(text, /^rackboot_dhcp_replies_total\{type="ACK"\} 3$/m);
  assert.match(text, /^rackboot_dhcp_ignored_total\{reason="unknown-mac"\} 3$/m);
  assert.match(text, /^rackboot_dhcp_rogue_sightings_total 2$/m);
  assert.match(text, /^rackboot_tftp_transfers_total\{result="completed"\} 3$/m);
  assert.match(text, /^rackboot_tftp_sent_bytes_total 123456$/m);
  assert.match(text, /^rackboot_tftp_active_transfers 1$/m);
  assert.match(text, /^rackboot_http_requests_total\{route="\/api\/v1\/machines\/:ref",method="GET",status="200"\} \d+$/m);
  assert.match(text, /^rackboot_machines\{state="failed"\} 1$/m);
  assert.match(text, /^rackboot_machines\{state="installed"\} 1$/m);
  assert.match(text, /^rackboot_machines_stuck 0$/m);
  assert.match(text, /^rackboot_install_duration_seconds_count 1$/m);
  assert.match(text, /^rackboot_install_duration_seconds_sum 300$/m);
  assert.match(text, /^rackboot_events_total\{type="installed"\} [1-9]\d*$/m);
  assert.doesNotMatch(text, /boot-tok|rbt_/, 'no tokens in labels');
});
