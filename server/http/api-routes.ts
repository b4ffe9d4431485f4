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
  PAGE_LIMITS,
  type ViewContext,
} from './api-model.js';
import type { MachineEvent } from '../core/types.js';

export interface ApiRoutesOptions {
  readonly provisioner: Provisioner;
  /** Last event, progress and problem per machine; without it those fields are null. */
  readonly overview?: OverviewReader;
  readonly view?: ViewContext;
}

export async function apiRoutes(app: FastifyInstance, options: ApiRoutesOptions): Promise<void> {
  const { provisioner, overview, view } = options;
  const schemaErrorFormatter = formatSchemaErrors;

  app.get<{ Querystring: { limit?: number; after?: string; state?: string; role?: string } }>('/machines', { schema: listMachinesSchema, schemaErrorFormatter }, async (request) => {
    // the id first: events after it reach a client that follows /events/stream?after=<id>
    const latestEventId = overview?.latestEventId() ?? 0;
    const { limit = PAGE_LIMITS.machines.default, after, state, role } = request.query;
    const page = provisioner.listMachinesPage({
      limit: limit + 1,
      ...(after === undefined ? {} : { afterName: after }),
      ...(state === undefined ? {} : { state }),
      ...(role === undefined ? {} : { role: role === 'none' ? null : role }),
    });
    const more = page.length > limit;
    if (more) page.length = limit;
    const summaries = overview?.summaries();
    const machines = page.map((m) => machineView(m, summaries?.get(m.id) ?? EMPTY_SUMMARY, view));
    return { machines, latestEventId, next: more ? (page.at(-1)?.name ?? null) : null };
  });

  app.get<{ Params: { ref: string } }>('/machines/:ref', { schema: getMachineSchema, schemaErrorFormatter }, async (request, reply) => {
    const machine = provisioner.machineByRef(request.params.ref);
    if (!machine) return reply.code(httpStatus('RACKBOOT_ERR_NOT_FOUND')).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no machine ${request.params.ref}`));
    return machineView(machine, overview?.summary(machine.id) ?? EMPTY_SUMMARY, view);
  });

  app.get<{ Params: { ref: string }; Querystring: { after?: number; limit?: number; type?: string } }>(
    '/machines/:ref/events',
    { schema: machineEventsSchema, schemaErrorFormatter },
    async (request, reply) => {
      const machine = provisioner.machineByRef(request.params.ref);
      if (!machine) return reply.code(httpStatus('RACKBOOT_ERR_NOT_FOUND')).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no machine ${request.params.ref}`));
      const limit = request.query.limit ?? PAGE_LIMITS.machineEvents.default;
      return eventPage(provisioner.listEvents({ machineId: machine.id, afterId: request.query.after ?? 0, limit, ...typeFilter(request.query.type) }), limit);
    },
  );

  app.get<{ Querystring: { after?: number; limit?: number; type?: string } }>('/events', { schema: eventsSchema, schemaErrorFormatter }, async (request) => {
    const limit = request.query.limit ?? PAGE_LIMITS.events.default;
    return eventPage(provisioner.listEvents({ afterId: request.query.after ?? 0, limit, ...typeFilter(request.query.type) }), limit);
  });

  app.get<{ Querystring: { after?: string; limit?: number; seenSince?: number } }>('/discovered', { schema: discoveredListSchema, schemaErrorFormatter }, async (request) => {
    const limit = request.query.limit ?? PAGE_LIMITS.discovered.default;
    const after = parseDiscoveredCursor(request.query.after);
    const seenSince = request.query.seenSince;
    const page = provisioner.listDiscoveredPage({ limit: limit + 1, ...(after ? { after } : {}), ...(seenSince === undefined ? {} : { seenSince }) });
    const more = page.length > limit;
    if (more) page.length = limit;
    const last = page.at(-1);
    return { discovered: page, next: more && last ? `${last.lastSeen}_${last.mac}` : null };
  });
}

const typeFilter = (type: string | undefined) => (type === undefined ? {} : { type });

/** A full page may have a successor: `next` is its last id (an empty page then ends the walk). */
function eventPage(events: MachineEvent[], limit: number) {
  return { events, next: events.length >= limit ? (events.at(-1)?.id ?? null) : null };
}

function parseDiscoveredCursor(cursor: string | undefined): { lastSeen: number; mac: string } | null {
  if (cursor === undefined) return null;
  const split = cursor.indexOf('_');
  return { lastSeen: Number(cursor.slice(0, split)), mac: cursor.slice(split + 1) };
}
