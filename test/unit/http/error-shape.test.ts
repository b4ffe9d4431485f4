/**
 * One error shape everywhere (issue 16: errors came in three shapes). Every route of the OpenAPI
 * document is sent bad requests: unknown parameters, wrong types, no token, a wrong token, a body that
 * is not JSON, too large or of another type; plus unknown routes and the write limit. Every JSON error
 * that comes back is {error, code, details?} with a registered code whose status is the answer's.
 * Boot routes may answer in plain text (iPXE shows it); every API route answers in JSON.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { SourceRateLimiter } from '../../../server/core/rate-limit.js';
import { ERROR_CODES } from '../../../server/errors.js';
import { buildApp } from '../../../server/http/app.js';
import { newWriteLimit } from '../../../server/http/write-limit.js';
import { silentLogger } from '../../../server/log.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let app: FastifyInstance;
const seen = new Map<number, number>();

before(async () => {
  const t = testProvisioner();
  t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:aa:00:01'], ip: '10.99.0.21', role: 'dev' });
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false, tokens: { verify: (token) => token === 'right' } },
    ipmi: { bmcs: new BmcStore(t.db), inventory: t.provisioner, rule: null },
    writeLimit: newWriteLimit(new SourceRateLimiter({ perSecond: 0.001, burst: 3, maxSources: 10 })),
  });
});

after(async () => {
  await app.close();
});

function checkShape(label: string, res: LightMyRequestResponse): void {
  if (res.statusCode < 400) return;
  seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
  const type = String(res.headers['content-type'] ?? '');
  if (!type.startsWith('application/json')) {
    assert.ok(!label.includes(' /api/'), `${label}: an API error is JSON, got ${type}: ${res.body}`);
    return;
  }
  const body = res.json() as Record<string, unknown>;
  assert.equal(typeof body.error, 'string', `${label}: ${res.body}`);
  assert.ok((body.error as string).length > 0, label);
  assert.equal(typeof body.code, 'string', `${label}: ${res.body}`);
  const entry = ERROR_CODES[body.code as keyof typeof ERROR_CODES];
  assert.ok(entry, `${label}: ${String(body.code)} is registered`);
  assert.equal(entry.status, res.statusCode, `${label}: ${String(body.code)} goes with ${entry.status}, answered ${res.statusCode}`);
  if ('details' in body) assert.ok(Array.isArray(body.details), label);
  for (const key of Object.keys(body)) assert.ok(['error', 'code', 'details', 'plan', 'ok'].includes(key), `${label}: unexpected field ${key}`);
}

test('every route answers bad requests with the one error body', async () => {
  const doc = (await app.inject({ url: '/api/v1/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  let requests = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const M = method.toUpperCase() as 'GET';
      const badQuery = { url: `${path.replace(/\{[^}]+\}/g, 'x')}?limit=-1&after=%zz&type=NOT%20A%20TYPE&state=melted&seenSince=yesterday&matched=perhaps` };
      // a stream that opens never ends: only the request it refuses
      if (JSON.stringify(operation).includes('text/event-stream')) {
        checkShape(`${M} ${path} (bad query)`, await app.inject({ method: M, url: badQuery.url }));
        continue;
      }
      const variants: Array<{ url: string; headers?: Record<string, string>; payload?: string }> = [
        badQuery,
        { url: path.replace(/\{[^}]+\}/g, 'no-such-thing') },
        { url: path.replace(/\{[^}]+\}/g, 'blade-01'), headers: { authorization: 'Bearer wrong' } },
        { url: path.replace(/\{[^}]+\}/g, 'blade-01'), headers: { authorization: 'Basic abc' } },
      ];
      if (M !== 'GET') {
        const url = path.replace(/\{[^}]+\}/g, 'blade-01');
        const auth = { authorization: 'Bearer right' };
        variants.push(
          { url, headers: { ...auth, 'content-type': 'application/json' }, payload: '{not json' },
          { url, headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }) },
          { url, headers: { ...auth, 'content-type': 'application/xml' }, payload: '<a/>' },
          { url, headers: { ...auth, 'content-type': 'application/json' }, payload: '{"unknownField": 1}' },
        );
      }
      for (const variant of variants) {
        const res = await app.inject({ method: M, url: variant.url, ...(variant.headers ? { headers: variant.headers } : {}), ...(variant.payload === undefined ? {} : { payload: variant.payload }) });
        checkShape(`${M} ${variant.url.slice(0, 80)}`, res);
        requests += 1;
      }
    }
  }
  assert.ok(requests > 50, `walked ${requests} requests`);
});

test('unknown routes, unknown methods and the write limit answer with the one error body', async () => {
  for (const url of ['/api/v1/nope', '/nope', '/api/v2/machines', '/assets']) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 404, url);
    assert.equal(res.json().code, 'RACKBOOT_ERR_NOT_FOUND');
    checkShape(`GET ${url}`, res);
  }
  const del = await app.inject({ method: 'DELETE', url: '/api/v1/overview' });
  checkShape('DELETE /api/v1/overview', del);
  let limited: LightMyRequestResponse | null = null;
  for (let i = 0; i < 10 && limited === null; i += 1) {
    const res = await app.inject({ url: '/ipxe?mac=52:54:00:aa:00:09' });
    if (res.statusCode === 429) limited = res;
  }
  assert.ok(limited, 'the write limit refused');
  assert.equal(limited.json().code, 'RACKBOOT_ERR_RATE_LIMITED');
  checkShape('GET /ipxe (limited)', limited);
});

test('the walk met the statuses it is meant to check', () => {
  for (const status of [400, 401, 404, 413, 415, 429]) assert.ok((seen.get(status) ?? 0) > 0, `saw ${status}: ${JSON.stringify([...seen])}`);
});
