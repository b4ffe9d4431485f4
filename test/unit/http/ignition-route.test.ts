/**
 * GET /ignition/<token> over HTTP: a dev machine set to Ignition boots with ignition.config.url=,
 * fetches its config once (Ignition's media type), strangers and replays are refused, and the API
 * sets the format per machine (PUT /api/v1/machines/{ref}/config-format, token required).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { checkIgnition } from '../../../server/core/ignition-check.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { ApiTokenStore } from '../../../server/store/api-token-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:99:00:01';
let assets: string;
let app: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
let apiToken: string;

before(async () => {
  assets = mkdtempSync(join(tmpdir(), 'rb-ignition-'));
  t = testProvisioner({ configFormat: { default: 'cloud-config', roles: { dev: 'ignition' } } });
  t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role: 'dev', bootMode: 'memory' });
  apiToken = new ApiTokenStore(t.db).rotate(t.clock.now());
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: assets,
    firmwareDir: assets,
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), tokens: new ApiTokenStore(t.db), metrics: { dhcp: () => null, tftp: () => null }, defaultMetrics: false },
  });
});

after(async () => {
  await app.close();
  rmSync(assets, { recursive: true, force: true });
});

test('the machine fetches its Ignition config once from ignition.config.url', async () => {
  const script = await app.inject({ url: `/ipxe?mac=${MAC}`, remoteAddress: '10.99.0.11' });
  assert.equal(script.statusCode, 200);
  const url = /ignition\.config\.url=(\S+)/.exec(script.body)?.[1];
  assert.ok(url, script.body);
  assert.doesNotMatch(script.body, /cloud-config-url=/);
  const path = new URL(url).pathname;
  assert.match(path, /^\/ignition\/[^/]+$/);
  const stranger = await app.inject({ url: path, remoteAddress: '10.99.0.66' });
  assert.equal(stranger.statusCode, 403);
  const wrongFormat = await app.inject({ url: path.replace('/ignition/', '/cloud-config/'), remoteAddress: '10.99.0.11' });
  assert.equal(wrongFormat.statusCode, 409, wrongFormat.body);
  const config = await app.inject({ url: path, remoteAddress: '10.99.0.11' });
  assert.equal(config.statusCode, 200, config.body);
  assert.match(String(config.headers['content-type']), /^application\/vnd\.coreos\.ignition\+json/);
  assert.deepEqual(checkIgnition(config.body), []);
  const again = await app.inject({ url: path, remoteAddress: '10.99.0.11' });
  assert.equal(again.statusCode, 403);
});

test('PUT /api/v1/machines/{ref}/config-format sets and clears the machine\'s own format; it needs the API token', async () => {
  const url = '/api/v1/machines/blade-01/config-format';
  const anonymous = await app.inject({ method: 'PUT', url, payload: { format: 'cloud-config' } });
  assert.equal(anonymous.statusCode, 401);
  assert.equal(t.provisioner.machineByRef('blade-01')?.configFormat, null);
  const headers = { authorization: `Bearer ${apiToken}` };
  const bad = await app.inject({ method: 'PUT', url, payload: { format: 'yaml' }, headers });
  assert.equal(bad.statusCode, 400);
  const set = await app.inject({ method: 'PUT', url, payload: { format: 'cloud-config' }, headers });
  assert.equal(set.statusCode, 200, set.body);
  assert.equal(set.json().configFormat, 'cloud-config');
  const script = await app.inject({ url: `/ipxe?mac=${MAC}`, remoteAddress: '10.99.0.11' });
  assert.match(script.body, /cloud-config-url=/);
  const cleared = await app.inject({ method: 'PUT', url, payload: { format: null }, headers });
  assert.equal(cleared.json().configFormat, null);
  const read = await app.inject({ url: '/api/v1/machines/blade-01' });
  assert.equal(read.json().configFormat, null);
  const again = await app.inject({ url: `/ipxe?mac=${MAC}`, remoteAddress: '10.99.0.11' });
  assert.match(again.body, /ignition\.config\.url=/);
});
