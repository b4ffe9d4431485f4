/**
 * GET /api/v1/clusters and /api/v1/clusters/{name}: each etcd cluster's health as the membership
 * adapter last checked it (members, leader, who is missing, cold start). Reads, open like the
 * machine list (docs/api.md); no certificate or key is ever part of it.
 */
import type { FastifyInstance } from 'fastify';
import { errorBody, httpStatus } from '../errors.js';
import { errorResponses } from './api-model.js';
import type { EtcdMembership } from '../services/etcd-membership.js';

export interface ClusterRoutesOptions {
  readonly etcd?: EtcdMembership;
}

export async function clusterRoutes(app: FastifyInstance, options: ClusterRoutesOptions): Promise<void> {
  const latest = () => options.etcd?.latest() ?? [];
  app.get('/clusters', { schema: { summary: "every etcd cluster's health as last checked over TLS", tags: ['clusters'] } }, async () => ({ clusters: latest() }));
  const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z0-9-]{1,63}$', description: 'the cluster (its member role: small, production, test)' } } };
  app.get<{ Params: { name: string } }>('/clusters/:name', { schema: { summary: "one etcd cluster's health", tags: ['clusters'], params: nameParams, response: { 200: { type: 'object', additionalProperties: true, description: 'state, clusterId, leader, members, missing, message, checkedAt (docs/api.md)' }, ...errorResponses(400, 404) } } }, async (request, reply) => {
    const found = latest().find((c) => c.cluster === request.params.name);
    if (!found) {
      return reply.code(httpStatus('RACKBOOT_ERR_NOT_FOUND')).send(errorBody('RACKBOOT_ERR_NOT_FOUND', `no etcd cluster ${JSON.stringify(request.params.name)} (known: ${latest().map((c) => c.cluster).join(', ') || 'none checked yet'})`));
    }
    return found;
  });
}
