/**
 * BMCs found by `rackboot discover` and the static-IP plan (`ipmi.ipPlan`) with its diff: what the
 * dashboard shows before an operator applies it. Applying needs the API token and happens in one
 * transaction; a plan with any conflict is never applied.
 */
import type { FastifyInstance, FastifySchema } from 'fastify';
import { runIpPlan } from '../bmc/ip-plan.js';
import type { BmcRegistry } from '../bmc/registry.js';
import type { IpRule } from '../core/ip-policy.js';
import type { IpPlanInventory } from '../bmc/ip-plan.js';
import type { NewAuditEntry } from '../core/ports.js';
import { errorBody, httpStatus } from '../errors.js';
import { bmcListQuery, bmcNext, errorResponses, errorSchema, formatSchemaErrors, PAGE_LIMITS } from './api-model.js';
import { apiActor, NO_TOKENS, requireApiToken, type ApiTokenVerifier } from './auth.js';

export interface IpmiRoutesOptions {
  readonly bmcs: BmcRegistry;
  readonly inventory: IpPlanInventory;
  /** The configured rule, or null (then the plan endpoints explain how to configure one). */
  readonly rule: IpRule | null;
  readonly tokens?: ApiTokenVerifier;
  readonly now?: () => number;
  /** Records an applied plan in the audit log (under the API token's name). */
  readonly audit?: (entry: NewAuditEntry) => void;
}

const NO_RULE = 'no static-IP rule is configured: set ipmi.ipPlan in the config (see docs/ipmi.md)';
const anyObject = { type: 'object', additionalProperties: true } as const;

const applySchema: FastifySchema = {
  summary: 'apply the static-IP plan in one transaction (refused while it has conflicts)',
  tags: ['ipmi'],
  security: [{ bearerAuth: [] }],
  response: { 200: anyObject, ...errorResponses(401, 501), 409: { ...errorSchema, properties: { ...errorSchema.properties, plan: anyObject } } },
};

export async function ipmiRoutes(app: FastifyInstance, options: IpmiRoutesOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const auth = requireApiToken(options.tokens ?? NO_TOKENS);

  app.get<{ Querystring: { limit?: number; after?: number; matched?: boolean; failing?: boolean } }>(
    '/bmcs',
    {
      schemaErrorFormatter: formatSchemaErrors,
      schema: {
        summary: 'BMCs recorded by discovery, by id (paged; filters: matched, failing)',
        tags: ['ipmi'],
        querystring: bmcListQuery,
        response: { 200: { type: 'object', required: ['bmcs', 'next'], properties: { bmcs: { type: 'array', items: anyObject }, next: bmcNext } }, ...errorResponses(400) },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? PAGE_LIMITS.bmcs.default;
      const { after = 0, matched, failing } = request.query;
      const rest = options.bmcs
        .list()
        .filter((bmc) => bmc.id > after && (matched === undefined || (bmc.machineId !== null) === matched) && (failing === undefined || (bmc.lastError !== null) === failing));
      const bmcs = rest.slice(0, limit);
      return { bmcs, next: rest.length > limit ? (bmcs.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/ip-plan',
    { schema: { summary: 'the static-IP plan and its diff, computed now (nothing is written)', tags: ['ipmi'], response: { 200: anyObject } } },
    async () => {
      if (!options.rule) return { rule: null, reason: NO_RULE };
      const { plan } = runIpPlan({ bmcs: options.bmcs, inventory: options.inventory }, options.rule, { apply: false, now: now() });
      return { rule: options.rule, plan };
    },
  );

  app.post(
    '/ip-plan/apply',
    {
      onRequest: auth,
      schema: applySchema,
    },
    async (request, reply) => {
      if (!options.rule) return reply.code(httpStatus('RACKBOOT_ERR_NO_IP_RULE')).send(errorBody('RACKBOOT_ERR_NO_IP_RULE', NO_RULE));
      const run = runIpPlan({ bmcs: options.bmcs, inventory: options.inventory }, options.rule, { apply: true, now: now() });
      if (!run.applied) {
        const message = `the plan has ${run.plan.counts.conflict} conflict(s); nothing was applied`;
        return reply.code(httpStatus('RACKBOOT_ERR_CONFLICT')).send(errorBody('RACKBOOT_ERR_CONFLICT', message, { plan: run.plan }));
      }
      const c = run.plan.counts;
      options.audit?.({ actor: apiActor(request), action: 'ip-plan.apply', target: null, before: null, after: { ...c }, message: `ip-plan applied: ${c.add} added, ${c.update} updated` });
      return { applied: true, plan: run.plan };
    },
  );
}
