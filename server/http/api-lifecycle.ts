/**
 * The inventory's lifecycle over the API: edit, delete and board replacement of one machine, bulk
 * actions on the machines a label selector matches, import and export, and the audit log. Writes
 * need the API token; the audit records them under the token's name.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { PowerDriver, PowerDriverAction } from '../bmc/power-driver.js';
import { encodeInventory, type InventoryFormat } from '../core/inventory-file.js';
import type { OverviewReader } from '../core/overview.js';
import type { BulkBounds, MachinePatch, Outcome, Provisioner } from '../core/provisioner.js';
import type { BootMode, Role } from '../core/roles.js';
import type { Machine } from '../core/types.js';
import { errorBody, httpStatus, RackbootError } from '../errors.js';
import {
  AUDIT_PAGE,
  auditSchema,
  bulkPowerSchema,
  bulkReprovisionSchema,
  bulkRoleSchema,
  deleteMachineSchema,
  editMachineSchema,
  exportSchema,
  importSchema,
  matchSchema,
  replaceBoardSchema,
} from './api-lifecycle-model.js';
import { formatSchemaErrors, machineView, type ViewContext } from './api-model.js';
import { apiActor, requireApiToken, type ApiTokenVerifier } from './auth.js';

export interface ApiLifecycleOptions {
  readonly provisioner: Provisioner;
  readonly overview: OverviewReader;
  readonly tokens: ApiTokenVerifier;
  readonly power: PowerDriver | null;
  readonly view: ViewContext;
}

/** Power actions of one bulk request run this many at a time (each waits on its BMC). */
const POWER_CONCURRENCY = 8;

type BulkBody = BulkBounds & { selector: string; dryRun?: boolean };

export async function apiLifecycle(app: FastifyInstance, options: ApiLifecycleOptions): Promise<void> {
  const { provisioner, overview, power, view } = options;
  const auth = requireApiToken(options.tokens);
  const schemaErrorFormatter = formatSchemaErrors;
  const show = (machine: Machine) => machineView(machine, overview.summary(machine.id), view);
  const find = (ref: string): Machine => {
    const machine = provisioner.machineByRef(ref);
    if (!machine) throw new RackbootError('RACKBOOT_ERR_NOT_FOUND', `no machine ${ref}`);
    return machine;
  };
  const send = <T>(reply: FastifyReply, outcome: Outcome<T>, view: (value: T) => unknown) =>
    outcome.ok ? reply.send(view(outcome.value)) : reply.code(httpStatus(outcome.code)).send(errorBody(outcome.code, outcome.message));
  const bounds = (body: BulkBounds) => ({ ...(body.all === undefined ? {} : { all: body.all }), ...(body.limit === undefined ? {} : { limit: body.limit }) });
  const names = (machines: readonly Machine[]) => machines.map((m) => m.name);

  app.patch<{ Params: { ref: string }; Body: MachinePatch }>('/machines/:ref', { schema: editMachineSchema, onRequest: auth, schemaErrorFormatter }, async (request, reply) => {
    const outcome = provisioner.editMachine(find(request.params.ref), request.body, apiActor(request));
    if (outcome.ok) request.log.info({ machine: outcome.value.name, actor: apiActor(request) }, 'api: machine edited');
    return send(reply, outcome, show);
  });

  app.delete<{ Params: { ref: string } }>('/machines/:ref', { schema: deleteMachineSchema, onRequest: auth, schemaErrorFormatter }, async (request, reply) => {
    const outcome = provisioner.deleteMachine(find(request.params.ref), apiActor(request));
    if (outcome.ok) request.log.info({ machine: outcome.value.name, actor: apiActor(request) }, 'api: machine deleted');
    return send(reply, outcome, (v) => ({ deleted: v.name }));
  });

  app.post<{ Params: { ref: string }; Body: { macs: string[]; uuid?: string | null; bmcAddress?: string | null } }>(
    '/machines/:ref/replace',
    { schema: replaceBoardSchema, onRequest: auth, schemaErrorFormatter },
    async (request, reply) => {
      const outcome = provisioner.replaceBoard(find(request.params.ref), request.body, apiActor(request));
      if (outcome.ok) request.log.info({ machine: outcome.value.name, actor: apiActor(request) }, 'api: board replaced');
      return send(reply, outcome, show);
    },
  );

  app.get<{ Querystring: { selector: string; all?: boolean; limit?: number } }>('/bulk/match', { schema: matchSchema, schemaErrorFormatter }, async (request, reply) => {
    return send(reply, provisioner.selectMachines(request.query.selector, bounds(request.query)), (m) => ({ count: m.length, machines: names(m) }));
  });

  app.post<{ Body: BulkBody & { role: Role | null; bootMode?: BootMode } }>('/bulk/role', { schema: bulkRoleSchema, onRequest: auth, schemaErrorFormatter }, async (request, reply) => {
    const body = request.body;
    const outcome = provisioner.bulkAssignRole(body.selector, body.role, body.bootMode ?? 'install', apiActor(request), { ...bounds(body), dryRun: body.dryRun ?? false });
    return send(reply, outcome, (r) => ({ applied: r.applied, count: r.machines.length, machines: names(r.machines) }));
  });

  app.post<{ Body: BulkBody }>('/bulk/reprovision', { schema: bulkReprovisionSchema, onRequest: auth, schemaErrorFormatter }, async (request, reply) => {
    const body = request.body;
    const outcome = provisioner.bulkReprovision(body.selector, apiActor(request), { ...bounds(body), dryRun: body.dryRun ?? false });
    return send(reply, outcome, (r) => ({ applied: r.applied, count: r.machines.length, machines: names(r.machines) }));
  });

  app.post<{ Body: BulkBody & { action: PowerDriverAction; pxe?: boolean } }>('/bulk/power', { schema: bulkPowerSchema, onRequest: auth, schemaErrorFormatter }, async (request, reply) => {
    const body = request.body;
    const selected = provisioner.selectMachines(body.selector, bounds(body));
    if (!selected.ok) return send(reply, selected, () => null);
    const machines = selected.value;
    if (body.dryRun) return { applied: false, count: machines.length, machines: names(machines), results: [] };
    if (power === null) return reply.code(httpStatus('RACKBOOT_ERR_NO_POWER_DRIVER')).send(errorBody('RACKBOOT_ERR_NO_POWER_DRIVER', view.noPowerReason));
    const actor = apiActor(request);
    const results = await powerEach(machines, (machine) => powerOne(power, machine, body.action, body.pxe ?? true));
    provisioner.recordAudit({
      actor,
      action: 'bulk.power',
      target: body.selector,
      before: null,
      after: { action: body.action, ok: results.filter((r) => r.ok).map((r) => r.name), failed: results.filter((r) => !r.ok).map((r) => r.name) },
      message: `power ${body.action} on ${machines.length} machine(s) matching ${body.selector}: ${results.filter((r) => !r.ok).length} failed`,
    });
    request.log.info({ selector: body.selector, action: body.action, machines: machines.length, actor }, 'api: bulk power');
    return { applied: true, count: machines.length, machines: names(machines), results };
  });

  app.get<{ Querystring: { format: InventoryFormat } }>('/inventory/export', { schema: exportSchema, schemaErrorFormatter }, async (request, reply) => {
    const format = request.query.format;
    const text = encodeInventory(provisioner.listMachines(), format);
    return reply.type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/yaml; charset=utf-8').send(text);
  });

  app.post<{ Body: { format: InventoryFormat; text: string; apply?: boolean } }>(
    '/inventory/import',
    { schema: importSchema, onRequest: auth, schemaErrorFormatter, bodyLimit: 9 * 1024 * 1024 },
    async (request, reply) => {
      const body = request.body;
      const result = provisioner.importInventory(body.text, body.format, { apply: body.apply ?? false, actor: apiActor(request) });
      if (body.apply && result.errors.length > 0) {
        return reply.code(httpStatus('RACKBOOT_ERR_INVALID_INPUT')).send(
          errorBody('RACKBOOT_ERR_INVALID_INPUT', `${result.errors.length} row error(s): nothing was applied`, { details: result.errors.map((e) => `line ${e.line}: ${e.message}`) }),
        );
      }
      if (result.applied) request.log.info({ rows: result.changes.length, actor: apiActor(request) }, 'api: inventory imported');
      return {
        applied: result.applied,
        changes: result.changes.map((c) => ({
          line: c.line,
          action: c.action,
          ...(c.action === 'add' ? { name: c.row.name, macs: c.row.macs, ip: c.row.ip } : { name: c.name }),
          ...(c.action === 'update' ? { changes: c.changes } : {}),
        })),
        errors: result.errors.map((e) => ({ line: e.line, message: e.message })),
      };
    },
  );

  app.get<{ Querystring: { before?: number; limit?: number } }>('/audit', { schema: auditSchema, schemaErrorFormatter }, async (request) => {
    const limit = request.query.limit ?? AUDIT_PAGE.default;
    const entries = provisioner.listAudit({ limit, ...(request.query.before === undefined ? {} : { beforeId: request.query.before }) });
    return { entries, next: entries.length >= limit ? (entries.at(-1)?.id ?? null) : null };
  });
}

async function powerOne(power: PowerDriver, machine: Machine, action: PowerDriverAction, pxe: boolean): Promise<{ name: string; ok: boolean; message: string }> {
  const unavailable = power.unavailableReason(machine);
  if (unavailable !== null) return { name: machine.name, ok: false, message: unavailable };
  try {
    const result = await power.power(machine, action, { pxe });
    return { name: machine.name, ok: result.ok, message: result.message };
  } catch (error) {
    return { name: machine.name, ok: false, message: (error as Error).message };
  }
}

/** Runs `work` over every machine, POWER_CONCURRENCY at a time; results in the machines' order. */
export async function powerEach<T>(machines: readonly Machine[], work: (machine: Machine) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(machines.length);
  let next = 0;
  const worker = async () => {
    while (next < machines.length) {
      const index = next++;
      results[index] = await work(machines[index] as Machine);
    }
  };
  await Promise.all(Array.from({ length: Math.min(POWER_CONCURRENCY, machines.length) }, worker));
  return results;
}
