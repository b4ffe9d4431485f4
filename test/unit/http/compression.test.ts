/**
 * The API's JSON and the dashboard's files are compressed (gzip or br, as asked) above 1 KiB; boot
 * routes (assets, kernels: byte ranges, iPXE) and the event stream never are, nor small answers.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let app: FastifyInstance;
let dir: string;
const bigJson = JSON.stringify({ rows: Array.from({ length: 400 }, (_, i) => ({ i, name: `row-${i}` })) });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rackboot-apipack-compress-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'assets', 'inventory.json'), bigJson);
  const t = testProvisioner();
  for (let i = 0; i < 30; i += 1) t.provisioner.registerMachine({ name: `blade-${i}`, macs: [`52:54:00:cc:00:${i.toString(16).padStart(2, '0')}`], ip: `10.99.0.${100 + i}`, role: 'dev' });
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: join(dir, 'assets'),
    firmwareDir: dir,
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false },
  });
});

after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

test('large API answers are gzip- or br-compressed as the client asks, and decode to the same JSON', async () => {
  const plain = await app.inject({ url: '/api/v1/machines' });
  assert.equal(plain.headers['content-encoding'], undefined);
  assert.ok(plain.rawPayload.length > 1024);
  const gz = await app.inject({ url: '/api/v1/machines', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.match(String(gz.headers.vary), /accept-encoding/i);
  assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString()), plain.json());
  assert.ok(gz.rawPayload.length < plain.rawPayload.length / 3, `${gz.rawPayload.length} of ${plain.rawPayload.length}`);
  const br = await app.inject({ url: '/api/v1/machines', headers: { 'accept-encoding': 'br' } });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString()), plain.json());
  const spec = await app.inject({ url: '/api/v1/openapi.json', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(spec.headers['content-encoding'], 'gzip');
});

test('the dashboard page and its scripts are compressed', async () => {
  for (const url of ['/', '/ui/app.js']) {
    const res = await app.inject({ url, headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.statusCode, 200, url);
    assert.equal(res.headers['content-encoding'], 'gzip', url);
    assert.ok(gunzipSync(res.rawPayload).length > 0);
  }
});

test('small answers, boot assets (whole or ranged), iPXE scripts and errors are sent as they are', async () => {
  const small = await app.inject({ url: '/api/v1/machines/blade-1', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(small.statusCode, 200);
  assert.equal(small.headers['content-encoding'], undefined);
  const asset = await app.inject({ url: '/assets/inventory.json', headers: { 'accept-encoding': 'gzip, br' } });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers['content-encoding'], undefined);
  assert.equal(asset.body, bigJson);
  const range = await app.inject({ url: '/assets/inventory.json', headers: { 'accept-encoding': 'gzip', range: 'bytes=0-99' } });
  assert.equal(range.statusCode, 206);
  assert.equal(range.headers['content-encoding'], undefined);
  assert.equal(range.body, bigJson.slice(0, 100));
  const script = await app.inject({ url: '/boot.ipxe', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(script.headers['content-encoding'], undefined);
  assert.match(script.body, /^#!ipxe/);
});
