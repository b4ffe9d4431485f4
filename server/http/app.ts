/**
 * buildApp assembles the HTTP service without listening, so tests drive it with inject().
 */
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Provisioner } from '../core/provisioner.js';
import { isRackbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { apiRoutes } from './api-routes.js';
import { bootRoutes } from './boot-routes.js';
import { ipmiRoutes, type IpmiRoutesOptions } from './ipmi-routes.js';
import { operatorSurface, type OperatorOptions } from './operator.js';

export interface AppOptions {
  readonly provisioner: Provisioner;
  readonly assetsDir: string;
  /** Where the iPXE binaries are (the TFTP root). */
  readonly firmwareDir: string;
  readonly logger: Logger;
  /** The operator's surface: dashboard, API mutations, event stream, metrics (see operator.ts). */
  readonly operator?: OperatorOptions;
  /** BMCs and the static-IP plan (rackboot discover / ip-plan), for the API and the dashboard. */
  readonly ipmi?: Omit<IpmiRoutesOptions, 'tokens'>;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger.child({ svc: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // boot firmware sends odd but harmless URLs; keep the limits explicit
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    bodyLimit: 1024 * 1024,
    // request.ip is the TCP peer: boot tokens are bound to it, so X-Forwarded-For is never believed
    trustProxy: false,
    // an unknown field in a body is an error (400), not silently dropped
    ajv: { customOptions: { removeAdditional: false } },
  });
  // serve: false: files are only sent by routes that decide which file a machine may have
  await app.register(fastifyStatic, { root: options.assetsDir, serve: false });

  app.setErrorHandler((error, request, reply) => {
    if (isRackbootError(error)) {
      return reply.code(error.status).send({ error: error.message, code: error.code, details: error.details });
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(status).send({ error: (error as Error).message });
  });

  // first: it sees every route after it (OpenAPI document, request metrics)
  const operator = await operatorSurface(app, options.provisioner, options.operator);
  app.get('/healthz', { schema: { summary: 'liveness', tags: ['operations'], response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } } } }, async () => ({ ok: true }));
  await app.register(bootRoutes, { provisioner: options.provisioner, assetsDir: options.assetsDir, firmwareDir: options.firmwareDir });
  await app.register(
    async (api) => {
      await api.register(apiRoutes, { provisioner: options.provisioner, overview: operator.overview, view: operator.view });
      await operator.api(api);
      if (options.ipmi) await api.register(ipmiRoutes, { ...options.ipmi, ...(options.operator?.tokens ? { tokens: options.operator.tokens } : {}) });
    },
    { prefix: '/api/v1' },
  );
  return app;
}
