/**
 * Bearer-token authentication for the API's mutations. Reads stay open on the provisioning network
 * (docs/api.md says why); boot and install routes are bound to each machine's one-time tokens instead.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';

export interface ApiTokenVerifier {
  /** True when `token` is the active API token. */
  verify(token: string): boolean;
}

/** Used when the app is built without a token store: every mutation is refused. */
export const NO_TOKENS: ApiTokenVerifier = { verify: () => false };

const REALM = 'Bearer realm="rackboot"';

/** An onRequest hook: runs before the body is parsed, so an unauthenticated request learns nothing about the schema. */
export function requireApiToken(verifier: ApiTokenVerifier): onRequestHookHandler {
  return (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
    const header = request.headers.authorization;
    if (header === undefined || header === '') {
      void reply
        .code(401)
        .header('www-authenticate', REALM)
        .send({ error: 'this action needs the API token: send "Authorization: Bearer <token>" (rackboot api-token rotate prints a new one)', code: 'RACKBOOT_ERR_AUTH' });
      return;
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      void reply
        .code(401)
        .header('www-authenticate', `${REALM}, error="invalid_request"`)
        .send({ error: 'the Authorization header must be "Bearer <token>"', code: 'RACKBOOT_ERR_AUTH' });
      return;
    }
    if (!verifier.verify(match[1] as string)) {
      request.log.warn({ ip: request.ip, url: request.url }, 'api: wrong or revoked API token');
      void reply
        .code(401)
        .header('www-authenticate', `${REALM}, error="invalid_token"`)
        .send({ error: 'the API token is wrong or was rotated', code: 'RACKBOOT_ERR_AUTH' });
      return;
    }
    done();
  };
}
