/**
 * The OpenAPI document passes Redocly's `recommended-strict` ruleset (issue 16: the strict linter found
 * undeclared path parameters and an unsecured mutation). The document is generated from whatever routes
 * the app registers, so every route added later is linted here too.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

let app: FastifyInstance;

before(async () => {
  const t = testProvisioner();
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false },
    ipmi: { bmcs: new BmcStore(t.db), inventory: t.provisioner, rule: null },
  });
});

after(async () => {
  await app.close();
});

async function document(): Promise<Record<string, unknown>> {
  const res = await app.inject({ url: '/api/v1/openapi.json' });
  assert.equal(res.statusCode, 200);
  return res.json();
}

test('the OpenAPI document has no problem under Redocly recommended-strict', async () => {
  const config = await createConfig({ extends: ['recommended-strict'] });
  const problems = await lintFromString({ source: JSON.stringify(await document()), absoluteRef: '/openapi.json', config });
  const listed = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer).join(', ')}`);
  assert.deepEqual(listed, []);
});

test('an operation says it needs the bearer token exactly when it refuses a request without one', async () => {
  const doc = (await document()) as { paths: Record<string, Record<string, { security?: unknown[] }>>; components: { securitySchemes: Record<string, unknown> } };
  assert.deepEqual(Object.keys(doc.components.securitySchemes), ['bearerAuth']);
  let secured = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      // a stream that opens never ends: the event stream is open to reads (as every GET of the API)
      if (JSON.stringify(operation).includes('text/event-stream')) {
        assert.deepEqual(operation.security, [], `${method} ${path}`);
        continue;
      }
      const url = path.replace(/\{[^}]+\}/g, 'x');
      const res = await app.inject({ method: method.toUpperCase() as 'GET', url, ...(method === 'get' ? {} : { payload: {} }) });
      const saysToken = JSON.stringify(operation.security) === JSON.stringify([{ bearerAuth: [] }]);
      assert.equal(saysToken, res.statusCode === 401, `${method} ${path}: security ${JSON.stringify(operation.security)}, answered ${res.statusCode}`);
      if (saysToken) secured += 1;
    }
  }
  assert.ok(secured >= 5, `the mutations are secured (${secured})`);
  assert.deepEqual(doc.paths['/api/v1/ip-plan/apply']?.post?.security, [{ bearerAuth: [] }]);
});
