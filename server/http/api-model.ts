/**
 * The REST API's shapes: JSON schemas for every request and response (fastify validates requests
 * and serialises responses with them, and /api/v1/openapi.json is generated from them), and the
 * views that turn inventory records into those shapes.
 */
import type { FastifySchema, FastifySchemaValidationError } from 'fastify';
import { EMPTY_SUMMARY, type MachineSummary } from '../core/overview.js';
import type { PowerDriver } from '../bmc/power-driver.js';
import { POWER_DRIVER_ACTIONS } from '../bmc/power-driver.js';
import { ROLES } from '../core/roles.js';
import { MACHINE_STATES, type Machine } from '../core/types.js';

// ---- building blocks ----

const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
const int = { type: 'integer' } as const;
const str = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const millis = { type: 'integer', description: 'milliseconds since the epoch' } as const;

export const MAC_PATTERN = '^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f]{12}$|^[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}\\.[0-9A-Fa-f]{4}$';
export const IPV4_PATTERN = '^((25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)$';
export const NAME_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$';
export const UUID_PATTERN = '^[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}$';

const eventBrief = {
  type: 'object',
  required: ['id', 'at', 'type', 'message'],
  properties: { id: int, at: millis, type: str, message: str },
} as const;

const progress = {
  type: 'object',
  description: 'the last progress callback: a percentage or "step N/M" read from its message',
  required: ['percent', 'step', 'message', 'at'],
  properties: { percent: { type: ['number', 'null'] }, step: nullableString, message: str, at: millis },
} as const;

export const machineSchema = {
  type: 'object',
  required: ['id', 'name', 'uuid', 'bmcAddress', 'ip', 'role', 'bootMode', 'state', 'stateChangedAt', 'macs', 'ipxeChainedAt', 'createdAt', 'labels', 'lastEvent', 'progress', 'problem', 'power'],
  properties: {
    id: int,
    name: str,
    uuid: nullableString,
    bmcAddress: nullableString,
    ip: { ...nullableString, description: 'the reserved static IPv4 address' },
    role: nullableString,
    bootMode: { type: 'string', enum: ['install', 'memory'] },
    configFormat: { type: ['string', 'null'], enum: ['cloud-config', 'ignition', null], description: "the machine's own config format; null: its role's or the default (boot.configFormat)" },
    state: { type: 'string', enum: [...MACHINE_STATES] },
    stateChangedAt: millis,
    macs: { type: 'array', items: str },
    ipxeChainedAt: { type: ['integer', 'null'] },
    createdAt: millis,
    labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'operator labels (rack: r12): what label selectors match' },
    lastEvent: nullable(eventBrief),
    progress: nullable(progress),
    problem: { ...nullable(eventBrief), description: 'the last failed/stuck event: why the machine failed or is stuck' },
    power: {
      type: 'object',
      required: ['available', 'reason'],
      properties: { available: { type: 'boolean' }, reason: { ...nullableString, description: 'why power actions are unavailable' } },
    },
  },
} as const;

export const eventSchema = {
  type: 'object',
  required: ['id', 'machineId', 'mac', 'at', 'type', 'message'],
  properties: {
    id: int,
    machineId: { type: ['integer', 'null'] },
    mac: nullableString,
    at: millis,
    type: str,
    message: str,
    data: { type: 'object', additionalProperties: true },
  },
} as const;

const discoveredSchema = {
  type: 'object',
  required: ['mac', 'firstSeen', 'lastSeen', 'sightings', 'facts'],
  properties: { mac: str, firstSeen: millis, lastSeen: millis, sightings: int, facts: { type: 'object', additionalProperties: true } },
} as const;

/** The one error body (errors.ts errorBody): every 4xx/5xx of the API has this shape. */
export const errorSchema = {
  type: 'object',
  required: ['error', 'code'],
  properties: {
    error: { type: 'string', description: 'what went wrong, for a person' },
    code: { type: 'string', pattern: '^RACKBOOT_ERR_[A-Z_]+$', description: 'stable machine-readable code (docs/api.md lists them)' },
    details: { type: 'array', items: str },
  },
} as const;

export const refParams = {
  type: 'object',
  required: ['ref'],
  properties: { ref: { type: 'string', minLength: 1, maxLength: 200, description: 'machine name, MAC or IPv4 address' } },
} as const;

export const errors = (...codes: number[]) => Object.fromEntries(codes.map((code) => [code, errorSchema]));
/** Response schemas of these statuses, all the error body. */
export const errorResponses = (...codes: number[]): Record<number, typeof errorSchema> => errors(...codes);
export const bearer = [{ bearerAuth: [] }];

// ---- read routes ----

/** Page sizes of the list routes: every list an open route returns is bounded (issue 15). */
export const PAGE_LIMITS = {
  /** The dashboard reads /machines in one call: up to this many machines come at once. */
  machines: { default: 5000, max: 5000 },
  events: { default: 500, max: 10_000 },
  machineEvents: { default: 1000, max: 10_000 },
  discovered: { default: 1000, max: 1000 },
  bmcs: { default: 5000, max: 5000 },
} as const;

export const limitParam = (page: { default: number; max: number }) =>
  ({ type: 'integer', minimum: 1, maximum: page.max, default: page.default, description: `page size (at most ${page.max})` }) as const;
const nextCursor = (what: string, type: 'string' | 'integer') =>
  ({ type: [type, 'null'], description: `pass as ?after= for the next page; null: ${what}` }) as const;
const DISCOVERED_CURSOR = '^\\d{1,15}_([0-9a-f]{2}:){5}[0-9a-f]{2}$';

export const listMachinesSchema: FastifySchema = {
  summary: 'machines by name with their state, last event, install progress and problem (paged)',
  tags: ['machines'],
  querystring: {
    type: 'object',
    properties: {
      limit: limitParam(PAGE_LIMITS.machines),
      after: { type: 'string', minLength: 1, maxLength: 63, description: 'machines after this name' },
      state: { type: 'string', enum: [...MACHINE_STATES], description: 'only machines in this state' },
      role: { type: 'string', enum: [...ROLES, 'none'], description: 'only machines with this role (none: without a role)' },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['machines', 'latestEventId', 'next'],
      properties: {
        machines: { type: 'array', items: machineSchema },
        latestEventId: { type: 'integer', description: 'open /events/stream?after=<this> to follow changes without a gap' },
        next: nextCursor('this was the last page', 'string'),
      },
    },
    ...errors(400),
  },
};

export const getMachineSchema: FastifySchema = {
  summary: 'one machine', tags: ['machines'], params: refParams, response: { 200: machineSchema, ...errors(404) },
};

const eventPage = {
  type: 'object',
  required: ['events', 'next'],
  properties: { events: { type: 'array', items: eventSchema }, next: nextCursor('the page was not full: there are no more events now', 'integer') },
} as const;

const eventTypeParam = { type: 'string', pattern: '^[a-z][a-z0-9-]{0,39}$', description: 'only events of this type (e.g. failed, stuck, state)' } as const;

export const machineEventsSchema: FastifySchema = {
  summary: "a machine's timeline, oldest first",
  tags: ['events'],
  params: refParams,
  querystring: {
    type: 'object',
    properties: {
      after: { type: 'integer', minimum: 0, description: 'only events with a larger id' },
      limit: limitParam(PAGE_LIMITS.machineEvents),
      type: eventTypeParam,
    },
  },
  response: { 200: eventPage, ...errors(400, 404) },
};

export const eventsSchema: FastifySchema = {
  summary: 'every event, oldest first',
  tags: ['events'],
  querystring: {
    type: 'object',
    properties: { after: { type: 'integer', minimum: 0, description: 'only events with a larger id' }, limit: limitParam(PAGE_LIMITS.events), type: eventTypeParam },
  },
  response: { 200: eventPage, ...errors(400) },
};

export const discoveredListSchema: FastifySchema = {
  summary: 'MACs that asked for DHCP or a boot script but are not in the inventory, newest sighting first (paged)',
  tags: ['machines'],
  querystring: {
    type: 'object',
    properties: {
      limit: limitParam(PAGE_LIMITS.discovered),
      after: { type: 'string', pattern: DISCOVERED_CURSOR, description: 'the `next` of the previous page' },
      seenSince: { type: 'integer', minimum: 0, description: 'only clients seen at or after this time (ms since the epoch)' },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['discovered', 'next'],
      properties: { discovered: { type: 'array', items: discoveredSchema }, next: nextCursor('this was the last page', 'string') },
    },
    ...errors(400),
  },
};

export const bmcListQuery = {
  type: 'object',
  properties: {
    limit: limitParam(PAGE_LIMITS.bmcs),
    after: { type: 'integer', minimum: 0, description: 'BMCs with a larger id' },
    matched: { type: 'boolean', description: 'true: only BMCs matched to a machine; false: only unmatched ones' },
    failing: { type: 'boolean', description: 'true: only BMCs whose last contact failed; false: only healthy ones' },
  },
} as const;
export const bmcNext = nextCursor('this was the last page', 'integer');

export const overviewSchema: FastifySchema = {
  summary: 'counts by state, what the dashboard needs to draw its forms',
  tags: ['machines'],
  response: {
    200: {
      type: 'object',
      required: ['counts', 'total', 'latestEventId', 'roles', 'bootModes', 'power'],
      properties: {
        counts: { type: 'object', additionalProperties: { type: 'integer' }, description: 'machines by state (every state, 0 included)' },
        total: int,
        latestEventId: int,
        roles: { type: 'array', items: str },
        bootModes: { type: 'array', items: str },
        power: { type: 'object', required: ['configured', 'reason'], properties: { configured: { type: 'boolean' }, reason: nullableString } },
      },
    },
  },
};

export const eventStreamSchema: FastifySchema = {
  summary: 'Server-Sent Events: every new event with the machine it changed; resumes from Last-Event-ID (or ?after=)',
  tags: ['events'],
  querystring: { type: 'object', properties: { after: { type: 'integer', minimum: 0, description: 'start after this event id (Last-Event-ID wins)' } } },
  headers: { type: 'object', properties: { 'last-event-id': { type: 'string', pattern: '^\\d{1,15}$' } } },
  response: {
    200: {
      description: 'text/event-stream; each message: `id: <event id>`, `event: event`, `data: {"event": Event, "machine": Machine | null}`; `event: reset` asks the client to reload',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
    ...errors(400),
  },
};

// ---- mutations (bearer token) ----

export const registerMachineSchema: FastifySchema = {
  summary: 'register (adopt) a machine: its MACs, name, reserved IP and role',
  tags: ['actions'],
  security: bearer,
  body: {
    type: 'object',
    required: ['name', 'macs'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: NAME_PATTERN, description: 'a host name: lower-case letters, digits and hyphens' },
      macs: { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', pattern: MAC_PATTERN } },
      ip: { anyOf: [{ type: 'string', pattern: IPV4_PATTERN }, { type: 'null' }], description: 'reserved static IPv4 address' },
      role: { anyOf: [{ type: 'string', enum: [...ROLES] }, { type: 'null' }], description: 'none: the machine shows the boot menu' },
      bootMode: { type: 'string', enum: ['install', 'memory'], default: 'install' },
      uuid: { type: 'string', pattern: UUID_PATTERN },
      bmcAddress: { type: 'string', pattern: IPV4_PATTERN },
      labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'key: value labels (docs/inventory.md); checked like an edit' },
    },
  },
  response: { 201: machineSchema, ...errors(400, 401, 409) },
};

export const assignRoleSchema: FastifySchema = {
  summary: 'assign a role (or clear it: null shows the boot menu); the machine boots it on its next PXE boot',
  tags: ['actions'],
  security: bearer,
  params: refParams,
  body: {
    type: 'object',
    required: ['role'],
    additionalProperties: false,
    properties: {
      role: { anyOf: [{ type: 'string', enum: [...ROLES] }, { type: 'null' }] },
      bootMode: { type: 'string', enum: ['install', 'memory'], default: 'install' },
    },
  },
  response: { 200: machineSchema, ...errors(400, 401, 404) },
};

export const configFormatSchema: FastifySchema = {
  summary: "set the machine's own config format (cloud-config or ignition; null: its role's or the default) from its next PXE boot",
  tags: ['actions'],
  security: bearer,
  params: refParams,
  body: {
    type: 'object',
    required: ['format'],
    additionalProperties: false,
    properties: { format: { anyOf: [{ type: 'string', enum: ['cloud-config', 'ignition'] }, { type: 'null' }] } },
  },
  response: { 200: machineSchema, ...errors(400, 401, 404) },
};

export const reprovisionSchema: FastifySchema = {
  summary: 'send a machine back to registered: its next PXE boot installs its role again instead of booting its disk',
  tags: ['actions'],
  security: bearer,
  params: refParams,
  response: { 200: machineSchema, ...errors(400, 401, 404) },
};

export const powerSchema: FastifySchema = {
  summary: 'power a machine on, off or cycle it through its BMC (pxe: next boot from the network, read back first)',
  tags: ['actions'],
  security: bearer,
  params: refParams,
  body: {
    type: 'object',
    required: ['action'],
    additionalProperties: false,
    properties: { action: { type: 'string', enum: [...POWER_DRIVER_ACTIONS] }, pxe: { type: 'boolean', default: true } },
  },
  response: {
    200: { type: 'object', required: ['ok', 'message', 'machine'], properties: { ok: { type: 'boolean' }, message: str, machine: machineSchema } },
    ...errors(400, 401, 404, 409, 501, 502),
  },
};

/** "body/name must match pattern ..." becomes "invalid body: name must be a host name: ...". */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const parts = errors.map((e) => {
    const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '';
    const params = e.params as Record<string, unknown>;
    let message = e.message ?? 'is invalid';
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) message = `must be one of ${params.allowedValues.map(String).join(', ')}`;
    if (e.keyword === 'additionalProperties') message = `has an unknown field ${String(params.additionalProperty)}`;
    if (e.keyword === 'required') message = `needs the field ${String(params.missingProperty)}`;
    if (e.keyword === 'pattern') message = `${patternHint(String(params.pattern))}`;
    return where ? `${where} ${message}` : message;
  });
  const error = new Error(`invalid ${dataVar}: ${parts.join('; ')}`) as Error & { statusCode: number };
  error.statusCode = 400;
  return error;
}

function patternHint(pattern: string): string {
  if (pattern === NAME_PATTERN) return 'must be a host name (lower-case letters, digits and hyphens)';
  if (pattern === MAC_PATTERN) return 'must be a MAC address such as 52:54:00:12:34:56';
  if (pattern === IPV4_PATTERN) return 'must be an IPv4 address such as 10.0.0.11';
  if (pattern === UUID_PATTERN) return 'must be a UUID';
  return `must match ${pattern}`;
}

// ---- views ----

export interface ViewContext {
  readonly power: PowerDriver | null;
  readonly noPowerReason: string;
}

/** The API's view of a machine: the boot tokens are credentials and never leave the server. */
export function machineView(machine: Machine, summary: MachineSummary = EMPTY_SUMMARY, context?: ViewContext) {
  const { bootToken: _token, configToken: _config, ...rest } = machine;
  const reason = context ? (context.power ? context.power.unavailableReason(machine) : context.noPowerReason) : 'no power driver configured';
  return { ...rest, labels: machine.labels ?? {}, ...summary, power: { available: reason === null, reason } };
}
