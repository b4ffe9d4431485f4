/**
 * The operator's REST API, read side: machines (with their last event, install progress and
 * problem), their timelines, discovered clients. Mutations are in api-actions.ts; every route has
 * request and response schemas (api-model.ts), which /api/v1/openapi.json is generated from.
 */
import type { FastifyInstance } from 'fastify';
import { EMPTY_SUMMARY, type OverviewReader } from '../core/overview.js';
import type { Provisioner } from '../core/provisioner.js';
import { errorBody, httpStatus } from '../errors.js';
import {
  discoveredListSchema,
  eventsSchema,
  formatSchemaErrors,
  getMachineSchema,
  listMachinesSchema,
  machineEventsSchema,
  machineView,
  type ViewContext,
} from './api-model.js';

export interface ApiRoutesOptions {
  readonly provisioner: Provisioner;
  /** Last event, progress and problem per machine; without it those fields are null. */
  readonly overview?: OverviewReader;
  readonly view?: ViewContext;
}

export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { provisioner, overview, view } = options;
  const schemaErrorFormatter = formatSchemaErrors;

  app.get('/machines', { schema: listMachinesSchema }, async () => {
    // the id first: events after it reach a client that follows /events/stream?after=<id>
    const latestEventId = overview?.latestEventId() ?? 0;
    const summaries = overview?.summaries();
    const machines = provisioner.listMachines().map((m) => machineView(m, summaries?.get(m.id) ?? EMPTY_SUMMARY, view));
    return { machines, latestEventId };
  });

  app.get<{ Params: { ref: string } }>('/machines/:ref', { schema: getMachineSchema, schemaErrorFormatter }, async (request, reply) => {
    const machine = provisioner.machineByRef(request.params.ref);
    if (!machine) return reply.code(httpStatus('RACKBOOT_ERR_NOT_FOUND')).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no machine ${request.params.ref}`));
    return machineView(machine, overview?.summary(machine.id) ?? EMPTY_SUMMARY, view);
  });

  app.get<{ Params: { ref: string }; Querystring: { after?: number; limit?: number } }>(
    '/machines/:ref/events',
    { schema: machineEventsSchema, schemaErrorFormatter },
    async (request, reply) => {
      const machine = provisioner.machineByRef(request.params.ref);
      if (!machine) return reply.code(httpStatus('RACKBOOT_ERR_NOT_FOUND')).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no machine ${request.params.ref}`));
      return { events: provisioner.listEvents({ machineId: machine.id, afterId: request.query.after ?? 0, limit: request.query.limit ?? 1000 }) };
    },
  );

  app.get<{ Querystring: { after?: number; limit?: number } }>('/events', { schema: eventsSchema, schemaErrorFormatter }, async (request) => ({
    events: provisioner.listEvents({ afterId: request.query.after ?? 0, limit: request.query.limit ?? 500 }),
  }));

  app.get('/discovered', { schema: discoveredListSchema }, async () => ({ discovered: provisioner.listDiscovered() }));
}
