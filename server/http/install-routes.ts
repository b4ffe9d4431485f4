/**
 * Routes of install mode (registered by bootRoutes): the per-machine install script, bound to the
 * boot token and to the machine's own address like the cloud-config, and the clock the script sets
 * itself from before anything else.
 */
import type { FastifyInstance } from 'fastify';
import type { Provisioner } from '../core/provisioner.js';
import { httpStatus } from '../errors.js';
import type { EtcdMembership } from '../services/etcd-membership.js';

export interface InstallRoutesOptions {
  readonly provisioner: Provisioner;
  readonly etcd?: EtcdMembership;
}

export async function installRoutes(app: FastifyInstance, options: InstallRoutesOptions): Promise<void> {
  const { provisioner } = options;

  // The install script (boot-templates/install.sh.hbs); ?dryRun=1 renders the plan-only variant.
  app.get<{ Params: { token: string }; Querystring: { dryRun?: string } }>('/install/:token', { schema: { summary: "the machine's install script (boot token; ?dryRun=1: the plan only)", tags: ['boot'] } }, async (request, reply) => {
    // a dry run changes nothing, also not the etcd membership
    if (options.etcd && request.query.dryRun !== '1') {
      const prepared = await options.etcd.beforeRender(request.params.token, request.ip, 'install');
      if (!prepared.ok) return reply.code(httpStatus(prepared.code)).type('text/plain; charset=utf-8').send(`${prepared.message}\n`);
    }
    const outcome = provisioner.installScript(request.params.token, request.ip, { dryRun: request.query.dryRun === '1' });
    if (!outcome.ok) return reply.code(httpStatus(outcome.code)).type('text/plain; charset=utf-8').send(`${outcome.message}\n`);
    return reply.header('cache-control', 'no-store').type('text/x-shellscript; charset=utf-8').send(outcome.value);
  });

  // Seconds since the epoch (and the Date header): install scripts set their clock from it.
  app.get('/time', { schema: { summary: 'seconds since the epoch: install scripts set their clock from it', tags: ['boot'] } }, async (_request, reply) => reply.header('cache-control', 'no-store').type('text/plain').send(`${Math.floor(Date.now() / 1000)}\n`));
}
