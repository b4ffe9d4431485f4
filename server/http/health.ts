/**
 * GET /healthz: 200 {ok: true}, or 503 with the reason while the process cannot do its job safely
 * (the data directory is low on space: services/disk-guard.ts).
 */
import type { FastifyInstance } from 'fastify';
import { errorBody } from '../errors.js';

export type Health = () => { ok: true } | { ok: false; reason: string };

export async function healthRoute(app: FastifyInstance, options: { health?: Health }): Promise<void> {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'liveness and health: 503 with the reason while the data directory is low on space',
        tags: ['operations'],
        response: {
          200: { type: 'object', properties: { ok: { type: 'boolean' } } },
          503: { type: 'object', properties: { ok: { type: 'boolean' }, error: { type: 'string' }, code: { type: 'string' } } },
        },
      },
    },
    async (_request, reply) => {
      const state = options.health?.() ?? { ok: true as const };
      if (state.ok) return { ok: true };
      return reply.code(503).send({ ok: false, ...errorBody('RACKBOOT_ERR_DISK_LOW', state.reason) });
    },
  );
}
