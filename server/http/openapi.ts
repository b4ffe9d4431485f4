/**
 * GET /api/v1/openapi.json, generated from the routes fastify registered and their own schema
 * objects (the ones it validates and serialises with), so the document cannot drift from the code.
 * OpenAPI 3.1 takes JSON Schema as it is. Routes marked `hide: true` (the dashboard's files) are left out.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorSchema } from './api-model.js';
import { needsApiToken } from './auth.js';

// The documentation keys route schemas carry (the same declarations as @fastify/swagger's).
declare module 'fastify' {
  interface FastifySchema {
    hide?: boolean;
    tags?: readonly string[];
    description?: string;
    summary?: string;
    security?: ReadonlyArray<{ [securityLabel: string]: readonly string[] }>;
  }
}

interface CollectedRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: Record<string, unknown> | undefined;
  /** The route runs the API-token hook (auth.ts): the document says it needs the bearer token. */
  readonly needsToken: boolean;
}

export interface RouteCollector {
  readonly routes: readonly CollectedRoute[];
}

/** Call on the root instance before any route is registered: it sees every route, in every plugin. */
export function collectRoutes(app: FastifyInstance): RouteCollector {
  const routes: CollectedRoute[] = [];
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      routes.push({ method: method.toLowerCase(), url: route.url, schema: route.schema as Record<string, unknown> | undefined, needsToken: needsApiToken(route) });
    }
  });
  return { routes };
}

type Json = Record<string, unknown>;

export function buildOpenApi(routes: readonly CollectedRoute[], info: { title: string; version: string; description: string }): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const schema = route.schema ?? {};
    if (schema.hide === true) continue;
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{wildcard}');
    const parameters = [
      ...pathParameters(route.url, schema.params),
      ...parametersFrom(schema.querystring, 'query'),
      ...parametersFrom(schema.headers, 'header'),
    ];
    const security = route.needsToken ? BEARER : Array.isArray(schema.security) ? schema.security : [];
    const operation: Json = {
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      ...(typeof schema.summary === 'string' ? { summary: schema.summary } : {}),
      ...(typeof schema.description === 'string' ? { description: schema.description } : {}),
      tags: Array.isArray(schema.tags) ? schema.tags : [route.url.startsWith('/api/') ? 'api' : 'boot'],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } } : {}),
      responses: withClientErrors(responsesFrom(schema.response), route, security.length > 0),
      // [] says "open": reads and the boot routes (bound to one-time boot tokens instead)
      security,
    };
    (paths[path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { ...info, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
    servers: [{ url: '/', description: 'this rackboot server' }],
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'the API token printed at first start or by `rackboot api-token rotate`' } } },
  };
}

const BEARER = [{ bearerAuth: [] }];

/** Every `:name` of the URL (and a trailing `*`), described by the route's params schema where it has one. */
function pathParameters(url: string, params: unknown): Json[] {
  const declared = new Map(parametersFrom(params, 'path').map((p) => [p.name as string, p]));
  const names = [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] as string);
  const fromUrl = names.map((name) => declared.get(name) ?? { name, in: 'path', required: true, schema: { type: 'string' } });
  return url.endsWith('*') ? [...fromUrl, { name: 'wildcard', in: 'path', required: true, description: 'the rest of the path', schema: { type: 'string' } }] : fromUrl;
}

/**
 * Every operation can be refused: unknown routes, bad input, the token, the write limit. Operations whose
 * schema lists no 4xx get a 4XX range: the error body on the API, plain text (what iPXE shows) on boot routes.
 */
function withClientErrors(responses: Json, route: CollectedRoute, secured: boolean): Json {
  const out: Json = { ...responses };
  if (secured && !('401' in out)) out['401'] = { description: describeStatus('401'), content: { 'application/json': { schema: errorSchema } } };
  if (Object.keys(out).some((status) => /^4(\d\d|XX)$/.test(status))) return out;
  const json = { 'application/json': { schema: errorSchema } };
  out['4XX'] = route.url.startsWith('/api/')
    ? { description: 'refused: the error body says why', content: json }
    : { description: 'refused: a plain-text reason (iPXE shows it); 429 from the write limit and unknown routes: the error body', content: { 'text/plain': { schema: { type: 'string' } }, ...json } };
  return out;
}

function parametersFrom(schema: unknown, where: 'path' | 'query' | 'header'): Json[] {
  if (schema === null || typeof schema !== 'object') return [];
  const { properties, required } = schema as { properties?: Record<string, Json>; required?: string[] };
  if (!properties) return [];
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: where,
      required: where === 'path' || (required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function responsesFrom(response: unknown): Json {
  if (response === null || typeof response !== 'object') return { 200: { description: 'OK' } };
  const out: Json = {};
  for (const [status, value] of Object.entries(response as Record<string, Json>)) {
    const description = typeof value.description === 'string' ? value.description : describeStatus(status);
    if (value.content && typeof value.content === 'object') out[status] = { description, content: value.content };
    else out[status] = { description, content: { 'application/json': { schema: value } } };
  }
  return out;
}

function describeStatus(status: string): string {
  const text: Record<string, string> = {
    '200': 'OK',
    '201': 'created',
    '400': 'invalid request (the message says which field and why)',
    '401': 'no API token, or a wrong one',
    '404': 'no such machine',
    '409': 'conflicts with the inventory',
    '501': 'not available in this installation',
    '502': 'the BMC failed',
  };
  return text[status] ?? status;
}

export async function openApiRoute(app: FastifyInstance, options: { collector: RouteCollector; version: string }): Promise<void> {
  let cached: Json | null = null;
  app.get(
    '/openapi.json',
    { schema: { summary: 'this document', tags: ['operations'], response: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } } } },
    async (_request, reply) => {
      cached ??= buildOpenApi(options.collector.routes, {
        title: 'rackboot',
        version: options.version,
        description:
          'PXE provisioning server API. Reads are open on the provisioning network; mutations need the API token (Authorization: Bearer). ' +
          'Boot and install routes are open to machines but bound to their one-time boot tokens.',
      });
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(cached));
    },
  );
}
