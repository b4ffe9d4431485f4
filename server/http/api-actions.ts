/**
 * The API's mutations (register/adopt, assign a role, reprovision, power) and the overview the
 * dashboard draws from. Every mutation needs the API token (auth.ts) and goes through the Provisioner.
 */
import type { FastifyInstance } from 'fastify';
import type { ConfigFormat } from '../core/config-format.js';
import { normaliseMac, normaliseUuid } from '../core/identifiers.js';
import type { OverviewReader } from '../core/overview.js';
import type { PowerDriver, PowerDriverAction } from '../bmc/power-driver.js';
import type { Provisioner } from '../core/provisioner.js';
import { ROLES, type BootMode, type Role } from '../core/roles.js';
import { MACHINE_STATES, type Machine } from '../core/types.js';
import { errorBody, httpStatus, RackbootError } from '../errors.js';
import {
  assignRoleSchema,
  configFormatSchema,
  formatSchemaErrors,
  machineView,
  overviewSchema,
  powerSchema,
  registerMachineSchema,
  reprovisionSchema,
  type ViewContext,
} from './api-model.js';
import { apiActor, requireApiToken, type ApiTokenVerifier } from './auth.js';

export interface ApiActionsOptions {
  readonly provisioner: Provisioner;
  readonly overview: OverviewReader;
  readonly tokens: ApiTokenVerifier;
  readonly power: PowerDriver | null;
  readonly view: ViewContext;
}

export async function apiActions(app: FastifyInstance, options: ApiActionsOptions): Promise<void> {
  const { provisioner, overview, power, view } = options;
  const auth = requireApiToken(options.tokens);
  const show = (machine: Machine) => machineView(machine, overview.summary(machine.id), view);
  const find = (ref: string): Machine => {
    const machine = provisioner.machineByRef(ref);
    if (!machine) throw new RackbootError('RACKBOOT_ERR_NOT_FOUND', `no machine ${ref}`);
    return machine;
  };

  app.get('/overview', { schema: overviewSchema }, async () => {
    const latestEventId = overview.latestEventId();
    const counts: Record<string, number> = Object.fromEntries(MACHINE_STATES.map((s) => [s, 0]));
    const machines = provisioner.listMachines();
    for (const machine of machines) counts[machine.state] = (counts[machine.state] ?? 0) + 1;
    return {
      counts,
      total: machines.length,
      latestEventId,
      roles: [...ROLES],
      bootModes: ['install', 'memory'],
      power: { configured: power !== null, reason: power === null ? view.noPowerReason : null },
    };
  });

  app.post<{ Body: { name: string; macs: string[]; ip?: string | null; role?: Role | null; bootMode?: BootMode; uuid?: string; bmcAddress?: string; labels?: Record<string, string> } }>(
    '/machines',
    { schema: registerMachineSchema, onRequest: auth, schemaErrorFormatter: formatSchemaErrors },
    async (request, reply) => {
      const body = request.body;
      const macs = body.macs.map((raw) => normaliseMac(raw) ?? raw);
      if (new Set(macs).size !== macs.length) throw new RackbootError('RACKBOOT_ERR_INVALID_INPUT', 'the same MAC is given twice');
      const machine = provisioner.registerMachine({
        name: body.name,
        macs,
        ip: body.ip ?? null,
        role: body.role ?? null,
        bootMode: body.bootMode ?? 'install',
        uuid: body.uuid === undefined ? null : normaliseUuid(body.uuid),
        bmcAddress: body.bmcAddress ?? null,
        ...(body.labels ? { labels: body.labels } : {}),
      }, apiActor(request));
      request.log.info({ machine: machine.name, macs, ip: machine.ip }, 'api: machine registered');
      return reply.code(201).send(show(machine));
    },
  );

  app.put<{ Params: { ref: string }; Body: { role: Role | null; bootMode?: BootMode } }>(
    '/machines/:ref/role',
    { schema: assignRoleSchema, onRequest: auth, schemaErrorFormatter: formatSchemaErrors },
    async (request) => {
      const machine = find(request.params.ref);
      const updated = provisioner.assignRole(machine, request.body.role, request.body.bootMode ?? 'install', apiActor(request));
      request.log.info({ machine: machine.name, role: updated.role, mode: updated.bootMode }, 'api: role assigned');
      return show(updated);
    },
  );

  app.put<{ Params: { ref: string }; Body: { format: ConfigFormat | null } }>(
    '/machines/:ref/config-format',
    { schema: configFormatSchema, onRequest: auth, schemaErrorFormatter: formatSchemaErrors },
    async (request) => {
      const updated = provisioner.setConfigFormat(find(request.params.ref), request.body.format);
      request.log.info({ machine: updated.name, configFormat: updated.configFormat }, 'api: config format set');
      return show(updated);
    },
  );

  app.post<{ Params: { ref: string } }>(
    '/machines/:ref/reprovision',
    { schema: reprovisionSchema, onRequest: auth, schemaErrorFormatter: formatSchemaErrors },
    async (request) => {
      const updated = provisioner.reprovision(find(request.params.ref), undefined, apiActor(request));
      request.log.info({ machine: updated.name }, 'api: reprovision requested');
      return show(updated);
    },
  );

  app.post<{ Params: { ref: string }; Body: { action: PowerDriverAction; pxe?: boolean } }>(
    '/machines/:ref/power',
    { schema: powerSchema, onRequest: auth, schemaErrorFormatter: formatSchemaErrors },
    async (request, reply) => {
      const machine = find(request.params.ref);
      if (power === null) return reply.code(httpStatus('RACKBOOT_ERR_NO_POWER_DRIVER')).send(errorBody('RACKBOOT_ERR_NO_POWER_DRIVER', view.noPowerReason));
      const unavailable = power.unavailableReason(machine);
      if (unavailable !== null) return reply.code(httpStatus('RACKBOOT_ERR_NO_BMC')).send(errorBody('RACKBOOT_ERR_NO_BMC', unavailable));
      const result = await power.power(machine, request.body.action, { pxe: request.body.pxe ?? true });
      request.log.info({ machine: machine.name, action: request.body.action, ok: result.ok, message: result.message }, 'api: power');
      const updated = provisioner.machineById(machine.id) ?? machine;
      provisioner.recordAudit({ actor: apiActor(request), action: 'machine.power', target: machine.name, before: null, after: { action: request.body.action, ok: result.ok }, message: `power ${request.body.action}: ${result.message}` });
      if (!result.ok) return reply.code(httpStatus('RACKBOOT_ERR_BMC')).send(errorBody('RACKBOOT_ERR_BMC', result.message));
      return reply.code(200).send({ ...result, machine: show(updated) });
    },
  );
}
