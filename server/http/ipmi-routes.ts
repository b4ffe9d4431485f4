/**
 * BMCs found by `rackboot discover` and the static-IP plan (`ipmi.ipPlan`) with its diff: what the
 * dashboard shows before an operator applies it. Applying needs the API token and happens in one
 * transaction; a plan with any conflict is never applied.
 */
import type { FastifyInstance } from 'fastify';
import { runIpPlan } from '../bmc/ip-plan.js';
import type { BmcRegistry } from '../bmc/registry.js';
import type { IpRule } from '../core/ip-policy.js';
import type { IpPlanInventory } from '../bmc/ip-plan.js';
import type { NewAuditEntry } from '../core/ports.js';
import { bmcListQuery, bmcNext, PAGE_LIMITS } from './api-model.js';
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

export async function ipmiRoutes(app: FastifyInstance, options: IpmiRoutesOptions): Promise<void> {
  const now = options.now ?? Date.now;
  const auth = requireApiToken(options.tokens ?? NO_TOKENS);

  app.get<{ Querystring: { limit?: number; after?: number } }>(
    '/bmcs',
    {
      schema: {
        summary: 'BMCs recorded by discovery, by id (paged)',
        tags: ['ipmi'],
        querystring: bmcListQuery,
        response: { 200: { type: 'object', properties: { bmcs: { type: 'array', items: anyObject }, next: bmcNext } } },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? PAGE_LIMITS.bmcs.default;
      const after = request.query.after ?? 0;
      const rest = options.bmcs.list().filter((bmc) => bmc.id > after);
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
    { onRequest: auth, schema: { summary: 'apply the static-IP plan in one transaction (refused while it has conflicts)', tags: ['ipmi'], response: { 200: anyObject, 409: anyObject, 501: anyObject } } },
    async (request, reply) => {
      if (!options.rule) return reply.code(501).send({ error: NO_RULE });
      const run = runIpPlan({ bmcs: options.bmcs, inventory: options.inventory }, options.rule, { apply: true, now: now() });
      if (!run.applied) return reply.code(409).send({ error: `the plan has ${run.plan.counts.conflict} conflict(s); nothing was applied`, plan: run.plan });
      const c = run.plan.counts;
      options.audit?.({ actor: apiActor(request), action: 'ip-plan.apply', target: null, before: null, after: { ...c }, message: `ip-plan applied: ${c.add} added, ${c.update} updated` });
      return { applied: true, plan: run.plan };
    },
  );
}
