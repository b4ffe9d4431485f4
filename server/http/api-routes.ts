/**
 * The operator's REST API (read side for now): machines, their timelines, discovered clients.
 */
import type { FastifyInstance } from 'fastify';
import type { Provisioner } from '../core/provisioner.js';
import type { Machine } from '../core/types.js';

export interface ApiRoutesOptions {
  readonly provisioner: Provisioner;
}

export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { provisioner } = options;
  const store = provisioner.store;

  app.get('/machines', async () => ({ machines: store.listMachines().map(machineView) }));

  app.get<{ Params: { ref: string } }>('/machines/:ref', async (request, reply) => {
    const machine = provisioner.machineByRef(request.params.ref);
    if (!machine) return reply.code(404).send({ error: `no machine ${request.params.ref}` });
    return machineView(machine);
  });

  app.get<{ Params: { ref: string }; Querystring: { after?: string } }>('/machines/:ref/events', async (request, reply) => {
    const machine = provisioner.machineByRef(request.params.ref);
    if (!machine) return reply.code(404).send({ error: `no machine ${request.params.ref}` });
    return { events: store.listEvents({ machineId: machine.id, afterId: Number(request.query.after ?? 0) || 0 }) };
  });

  app.get<{ Querystring: { after?: string; limit?: string } }>('/events', async (request) => ({
    events: store.listEvents({ afterId: Number(request.query.after ?? 0) || 0, limit: Number(request.query.limit ?? 500) || 500 }),
  }));

  app.get('/discovered', async () => ({ discovered: store.listDiscovered() }));
}

/** The API's view of a machine: the boot token is a credential and never leaves the server. */
function machineView(machine: Machine) {
  const { bootToken: _token, configToken: _config, ...rest } = machine;
  return rest;
}
