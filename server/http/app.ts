/**
 * buildApp assembles the HTTP service without listening, so tests drive it with inject().
 */
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { NewAuditEntry } from '../core/ports.js';
import type { Provisioner } from '../core/provisioner.js';
import { codeForStatus, errorBody, httpStatus, isRackbootError } from '../errors.js';
import type { Logger } from '../log.js';
import { apiRoutes } from './api-routes.js';
import { bootRoutes } from './boot-routes.js';
import { registerCompression } from './compression.js';
import { healthRoute, type Health } from './health.js';
import { ipmiRoutes, type IpmiRoutesOptions } from './ipmi-routes.js';
import { HttpListeners } from './listeners.js';
import { operatorSurface, type OperatorOptions } from './operator.js';
import type { WriteLimit } from './write-limit.js';
import type { EtcdMembership } from '../services/etcd-membership.js';
import { clusterRoutes } from './cluster-routes.js';

export interface AppOptions {
  readonly provisioner: Provisioner;
  readonly assetsDir: string;
  /** Where the iPXE binaries are (the TFTP root). */
  readonly firmwareDir: string;
  /** Files or directories outside firmwareDir its symlinks may point to (tftp.symlinkTargets). */
  readonly firmwareSymlinkTargets?: readonly string[];
  readonly logger: Logger;
  /** The operator's surface: dashboard, API mutations, event stream, metrics (see operator.ts). */
  readonly operator?: OperatorOptions;
  /** BMCs and the static-IP plan (rackboot discover / ip-plan), for the API and the dashboard. */
  readonly ipmi?: Omit<IpmiRoutesOptions, 'tokens'>;
  /** /healthz: red (503) with the reason while this says so (the disk guard); absent: always ok. */
  readonly health?: Health;
  /** Per-source rate limit on the boot routes that write; absent: none. */
  readonly writeLimit?: WriteLimit;
  /** The server(s) under the app: connection limits and timeouts, optional TLS (default: the safe limits, no TLS). */
  readonly listeners?: HttpListeners;
  /** The etcd membership adapter and cluster health (GET /api/v1/clusters); absent: static bootstrap, no cluster view. */
  readonly etcd?: EtcdMembership;
}

/** With TLS on, these stay off the plain listener: the API token and the dashboard travel over HTTPS only. */
const OPERATOR_PATHS = /^\/(api\/|ui\/|$|\?)/;

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const listeners = options.listeners ?? new HttpListeners();
  const app = Fastify({
    serverFactory: listeners.factory,
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
  await registerCompression(app);
  // serve: false: files are only sent by routes that decide which file a machine may have
  await app.register(fastifyStatic, { root: options.assetsDir, serve: false });

  // one error shape everywhere (errors.ts errorBody): fastify's own errors (validation, body size,
  // content type, unknown routes) get the code of their status
  app.setErrorHandler((error, request, reply) => {
    if (isRackbootError(error)) return reply.code(error.status).send(errorBody(error.code, error.message, { details: error.details }));
    const raw = (error as { statusCode?: number }).statusCode;
    const status = raw !== undefined && raw >= 400 && raw < 600 ? raw : 500;
    if (status >= 500) request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(status).send(errorBody(codeForStatus(status), (error as Error).message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`)),
  );

  if (listeners.tls !== null) {
    app.addHook('onRequest', async (request, reply) => {
      if ((request.raw.socket as { encrypted?: boolean } | null)?.encrypted === true || !OPERATOR_PATHS.test(request.url)) return;
      await reply.code(httpStatus('RACKBOOT_ERR_TLS_REQUIRED')).send(errorBody('RACKBOOT_ERR_TLS_REQUIRED', 'the API and the dashboard are served over HTTPS only (http.tls)'));
    });
  }

  // first: it sees every route after it (OpenAPI document, request metrics)
  const operator = await operatorSurface(app, options.provisioner, { ...options.operator, connections: listeners.stats });
  await app.register(healthRoute, { ...(options.health ? { health: options.health } : {}) });
  await app.register(bootRoutes, { provisioner: options.provisioner, assetsDir: options.assetsDir, firmwareDir: options.firmwareDir, ...(options.firmwareSymlinkTargets ? { firmwareSymlinkTargets: options.firmwareSymlinkTargets } : {}), stats: listeners.stats, ...(options.writeLimit ? { writeLimit: options.writeLimit } : {}), ...(options.etcd ? { etcd: options.etcd } : {}) });
  await app.register(
    async (api) => {
      await api.register(apiRoutes, { provisioner: options.provisioner, overview: operator.overview, view: operator.view });
      await operator.api(api);
      await api.register(clusterRoutes, { ...(options.etcd ? { etcd: options.etcd } : {}) });
      if (options.ipmi) {
        const audit = (entry: NewAuditEntry) => void options.provisioner.recordAudit(entry);
        await api.register(ipmiRoutes, { audit, ...options.ipmi, ...(options.operator?.tokens ? { tokens: options.operator.tokens } : {}) });
      }
    },
    { prefix: '/api/v1' },
  );
  return app;
}
