/**
 * Bearer-token authentication for the API's mutations. Reads stay open on the provisioning network
 * (docs/api.md says why); boot and install routes are bound to each machine's one-time tokens instead.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { errorBody, httpStatus } from '../errors.js';

export interface ApiTokenVerifier {
  /** True when `token` is the active API token. */
  verify(token: string): boolean;
  /** Who a verified token is for the audit log (`api:<name>`); absent: `api`. */
  actorFor?(token: string): string | null;
}

const actors = new WeakMap<FastifyRequest, string>();

/** The audit actor of an authenticated request: its API token's name (requireApiToken sets it). */
export function apiActor(request: FastifyRequest): string {
  return actors.get(request) ?? 'api';
}

/** Used when the app is built without a token store: every mutation is refused. */
export const NO_TOKENS: ApiTokenVerifier = { verify: () => false };

const REALM = 'Bearer realm="rackboot"';

/** An onRequest hook: runs before the body is parsed, so an unauthenticated request learns nothing about the schema. */
export function requireApiToken(verifier: ApiTokenVerifier): onRequestHookHandler {
  const hook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      refuse(reply, REALM, 'this action needs the API token: send "Authorization: Bearer <token>" (rackboot api-token rotate prints a new one)');
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      refuse(reply, `${REALM}, error="invalid_request"`, 'the Authorization header must be "Bearer <token>"');
      return;
    }
    if (!verifier.verify(match[1] as string)) {
      request.log.warn({ ip: request.ip, url: request.url }, 'api: wrong or revoked API token');
      refuse(reply, `${REALM}, error="invalid_token"`, 'the API token is wrong or was rotated');
      return;
    }
    actors.set(request, verifier.actorFor?.(match[1] as string) ?? 'api');
    done();
  };
  return Object.assign(hook, { [API_TOKEN_HOOK]: true });
}

/** Marks the hook requireApiToken returns, so the OpenAPI document tells which operations need the token. */
const API_TOKEN_HOOK = Symbol('rackboot.apiToken');

/** True when the route runs requireApiToken's hook. */
export function needsApiToken(route: Pick<RouteOptions, 'onRequest'>): boolean {
  const hooks = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
  return hooks.some((hook) => (hook as unknown as Record<symbol, unknown>)[API_TOKEN_HOOK] === true);
}

function refuse(reply: FastifyReply, challenge: string, message: string): void {
  void reply.code(httpStatus('RACKBOOT_ERR_AUTH')).header('www-authenticate', challenge).send(errorBody('RACKBOOT_ERR_AUTH', message));
}
