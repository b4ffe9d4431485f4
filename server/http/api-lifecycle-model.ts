/**
 * Schemas of the inventory lifecycle routes (api-lifecycle.ts): edit, delete, board replacement,
 * bulk actions by label selector, import and export, the audit log. Like api-model.ts, they
 * validate requests, serialise responses and make /api/v1/openapi.json.
 */
import type { FastifySchema } from 'fastify';
import { POWER_DRIVER_ACTIONS } from '../bmc/power-driver.js';
import { INVENTORY_FORMATS } from '../core/inventory-file.js';
import { BULK_DEFAULT_LIMIT, BULK_MAX, LABEL_KEY_PATTERN, LABEL_PART_PATTERN, MAX_LABELS } from '../core/labels.js';
import { ROLES } from '../core/roles.js';
import { bearer, errors, IPV4_PATTERN, limitParam, MAC_PATTERN, machineSchema, NAME_PATTERN, refParams, UUID_PATTERN } from './api-model.js';

const str = { type: 'string' } as const;
const nullableIp = { anyOf: [{ type: 'string', pattern: IPV4_PATTERN }, { type: 'null' }] } as const;
const macList = { type: 'array', minItems: 1, maxItems: 16, uniqueItems: true, items: { type: 'string', pattern: MAC_PATTERN } } as const;

export const labelsSchema = {
  type: 'object',
  maxProperties: MAX_LABELS,
  propertyNames: { pattern: LABEL_KEY_PATTERN },
  additionalProperties: { type: 'string', pattern: LABEL_PART_PATTERN },
  description: `at most ${MAX_LABELS}; keys and values: lower-case letters, digits, '.', '_', '-' (a key may have one prefix/); name, role and state are built-in keys`,
} as const;

export const editMachineSchema: FastifySchema = {
  summary: "edit a machine's MACs, IP, name, role, boot mode, UUID, BMC address or labels, checked like an add",
  tags: ['actions'],
  security: bearer,
  params: refParams,
  body: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      name: { type: 'string', pattern: NAME_PATTERN },
      macs: macList,
      ip: nullableIp,
      role: { anyOf: [{ type: 'string', enum: [...ROLES] }, { type: 'null' }] },
      bootMode: { type: 'string', enum: ['install', 'memory'] },
      uuid: { anyOf: [{ type: 'string', pattern: UUID_PATTERN }, { type: 'null' }] },
      bmcAddress: nullableIp,
      labels: { ...labelsSchema, description: `replaces every label: ${labelsSchema.description}` },
    },
  },
  response: { 200: machineSchema, ...errors(400, 401, 404, 409) },
};

export const deleteMachineSchema: FastifySchema = {
  summary: 'delete a machine: its name, IP and MACs are free again; its events stay',
  tags: ['actions'],
  security: bearer,
  params: refParams,
  response: { 200: { type: 'object', required: ['deleted'], properties: { deleted: str } }, ...errors(400, 401, 404) },
};

export const replaceBoardSchema: FastifySchema = {
  summary: "RMA: a new board keeps the machine's name, IP, role and labels; its MACs, UUID and BMC are replaced and it installs again",
  tags: ['actions'],
  security: bearer,
  params: refParams,
  body: {
    type: 'object',
    required: ['macs'],
    additionalProperties: false,
    properties: { macs: macList, uuid: { anyOf: [{ type: 'string', pattern: UUID_PATTERN }, { type: 'null' }] }, bmcAddress: nullableIp },
  },
  response: { 200: machineSchema, ...errors(400, 401, 404, 409) },
};

const bounds = {
  selector: { type: 'string', minLength: 1, maxLength: 1000, description: 'label selector: rack=r12,role=small (also key!=value, key, !key; name, role, state are built in)' },
  dryRun: { type: 'boolean', default: false, description: 'only list the machines that would be affected' },
  all: { type: 'boolean', default: false, description: `allow more than ${BULK_DEFAULT_LIMIT} machines (up to ${BULK_MAX})` },
  limit: { type: 'integer', minimum: 1, maximum: BULK_MAX, description: `refuse when more machines match (default ${BULK_DEFAULT_LIMIT})` },
} as const;

const bulkResponse = {
  type: 'object',
  required: ['applied', 'count', 'machines'],
  properties: { applied: { type: 'boolean', description: 'false on a dry run' }, count: { type: 'integer' }, machines: { type: 'array', items: str, description: 'names of the machines affected' } },
} as const;

export const bulkRoleSchema: FastifySchema = {
  summary: 'assign a role to every machine a label selector matches (one transaction)',
  tags: ['bulk'],
  security: bearer,
  body: {
    type: 'object',
    required: ['selector', 'role'],
    additionalProperties: false,
    properties: { ...bounds, role: { anyOf: [{ type: 'string', enum: [...ROLES] }, { type: 'null' }] }, bootMode: { type: 'string', enum: ['install', 'memory'], default: 'install' } },
  },
  response: { 200: bulkResponse, ...errors(400, 401) },
};

export const bulkReprovisionSchema: FastifySchema = {
  summary: 'reprovision every machine a label selector matches (one transaction)',
  tags: ['bulk'],
  security: bearer,
  body: { type: 'object', required: ['selector'], additionalProperties: false, properties: { ...bounds } },
  response: { 200: bulkResponse, ...errors(400, 401) },
};

export const bulkPowerSchema: FastifySchema = {
  summary: 'power on, off or cycle every machine a label selector matches through its BMC',
  tags: ['bulk'],
  security: bearer,
  body: {
    type: 'object',
    required: ['selector', 'action'],
    additionalProperties: false,
    properties: { ...bounds, action: { type: 'string', enum: [...POWER_DRIVER_ACTIONS] }, pxe: { type: 'boolean', default: true } },
  },
  response: {
    200: {
      type: 'object',
      required: ['applied', 'count', 'machines', 'results'],
      properties: {
        ...bulkResponse.properties,
        results: { type: 'array', items: { type: 'object', required: ['name', 'ok', 'message'], properties: { name: str, ok: { type: 'boolean' }, message: str } } },
      },
    },
    ...errors(400, 401, 501),
  },
};

export const matchSchema: FastifySchema = {
  summary: 'the machines a label selector matches (names), refused beyond the bulk limit like the bulk actions',
  tags: ['bulk'],
  querystring: {
    type: 'object',
    required: ['selector'],
    properties: { selector: bounds.selector, all: bounds.all, limit: bounds.limit },
  },
  response: { 200: { type: 'object', required: ['count', 'machines'], properties: { count: { type: 'integer' }, machines: { type: 'array', items: str } } }, ...errors(400) },
};

export const exportSchema: FastifySchema = {
  summary: 'the inventory as CSV or YAML (what import reads back)',
  tags: ['inventory'],
  querystring: { type: 'object', required: ['format'], properties: { format: { type: 'string', enum: [...INVENTORY_FORMATS] } } },
  response: {
    200: { description: 'text/csv or application/yaml', content: { 'text/csv': { schema: { type: 'string' } }, 'application/yaml': { schema: { type: 'string' } } } },
    ...errors(400),
  },
};

const change = {
  type: 'object',
  required: ['line', 'action', 'name'],
  properties: {
    line: { type: 'integer' },
    action: { type: 'string', enum: ['add', 'update', 'unchanged'] },
    name: str,
    macs: { type: 'array', items: str, description: 'add: the new machine\'s MACs' },
    ip: { anyOf: [str, { type: 'null' }], description: 'add: its IP' },
    changes: { type: 'array', items: { type: 'object', required: ['field'], properties: { field: str, from: {}, to: {} } } },
  },
} as const;

export const importSchema: FastifySchema = {
  summary: 'import an inventory file: a dry run by default (the diff and every row error with its line); apply: all rows in one transaction, or none',
  tags: ['inventory'],
  security: bearer,
  body: {
    type: 'object',
    required: ['format', 'text'],
    additionalProperties: false,
    properties: { format: { type: 'string', enum: [...INVENTORY_FORMATS] }, text: { type: 'string', maxLength: 8 * 1024 * 1024 }, apply: { type: 'boolean', default: false } },
  },
  response: {
    200: {
      type: 'object',
      required: ['applied', 'changes', 'errors'],
      properties: {
        applied: { type: 'boolean' },
        changes: { type: 'array', items: change },
        errors: { type: 'array', items: { type: 'object', required: ['line', 'message'], properties: { line: { type: 'integer' }, message: str } } },
      },
    },
    ...errors(400, 401),
  },
};

const auditEntry = {
  type: 'object',
  required: ['id', 'at', 'actor', 'action', 'target', 'before', 'after', 'message'],
  properties: {
    id: { type: 'integer' },
    at: { type: 'integer', description: 'milliseconds since the epoch' },
    actor: { type: 'string', description: 'cli:<OS user> or api:<API token name>' },
    action: str,
    target: { type: ['string', 'null'] },
    before: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
    after: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
    message: str,
  },
} as const;

export const AUDIT_PAGE = { default: 200, max: 5000 } as const;

export const auditSchema: FastifySchema = {
  summary: 'the audit log of operator writes, newest first (paged)',
  tags: ['audit'],
  querystring: {
    type: 'object',
    properties: { before: { type: 'integer', minimum: 1, description: 'entries with a smaller id (the `next` of the previous page)' }, limit: limitParam(AUDIT_PAGE) },
  },
  response: {
    200: {
      type: 'object',
      required: ['entries', 'next'],
      properties: { entries: { type: 'array', items: auditEntry }, next: { type: ['integer', 'null'], description: 'pass as ?before= for older entries; null: no more' } },
    },
    ...errors(400),
  },
};
