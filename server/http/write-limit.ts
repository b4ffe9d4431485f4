/**
 * Per-source rate limit on the open boot routes that write (they record events, mint tokens or
 * change a machine): over its budget a client address gets 429 with Retry-After, and nothing is
 * written. Downloads (kernel, initrd, /assets, iPXE binaries) and /boot.ipxe are not limited here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sourceAddress } from '../core/boot-binding.js';
import type { SourceRateLimiter } from '../core/rate-limit.js';
import { errorBody } from '../errors.js';

export const WRITE_LIMITED_ROUTES: ReadonlySet<string> = new Set(['/ipxe', '/menu/:token/:item', '/callback/:token', '/cloud-config/:token', '/ignition/:token', '/install/:token']);

export interface WriteLimit {
  readonly limiter: SourceRateLimiter;
  /** Requests refused, by route pattern (for /metrics). */
  readonly refusedByRoute: Map<string, number>;
  readonly now?: () => number;
}

export function newWriteLimit(limiter: SourceRateLimiter): WriteLimit {
  return { limiter, refusedByRoute: new Map() };
}

export function writeLimitHook(limit: WriteLimit) {
  const now = limit.now ?? Date.now;
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const route = request.routeOptions.url;
    if (route === undefined || !WRITE_LIMITED_ROUTES.has(route)) return;
    const source = sourceAddress(request.ip);
    if (limit.limiter.take(source, now())) return;
    limit.refusedByRoute.set(route, (limit.refusedByRoute.get(route) ?? 0) + 1);
    const retry = limit.limiter.retryAfterSeconds(source);
    const message = `too many requests from ${source}; retry in ${retry} s`;
    await reply.code(429).header('retry-after', String(retry)).send(errorBody('RACKBOOT_ERR_RATE_LIMITED', message));
  };
}
