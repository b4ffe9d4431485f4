/**
 * Response compression (gzip or br, as the client asks) for the operator's surface: the API's JSON,
 * the dashboard's HTML, JS and CSS above 1 KiB. Boot routes are never compressed (firmware asks for
 * byte ranges and iPXE does not inflate), nor is the event stream (it is hijacked and streamed), nor
 * any 206/Content-Range answer. Request bodies are never inflated (no decompression bombs).
 */
import fastifyCompress from '@fastify/compress';
import type { FastifyInstance, RouteOptions } from 'fastify';

export const COMPRESSIBLE_TYPES = /^(application\/json|text\/html|text\/javascript|application\/javascript|text\/css|image\/svg\+xml)\s*(;|$)/;
export const COMPRESS_THRESHOLD_BYTES = 1024;
const OPERATOR_ROUTE = /^\/(api\/|ui\/|$)/;
const STREAMED_ROUTES: ReadonlySet<string> = new Set(['/api/v1/events/stream']);

/** Call on the root instance before any route is registered. */
export async function registerCompression(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route: RouteOptions) => {
    route.decompress = false;
    if (!OPERATOR_ROUTE.test(route.url) || STREAMED_ROUTES.has(route.url)) route.compress = false;
  });
  await app.register(fastifyCompress, { threshold: COMPRESS_THRESHOLD_BYTES, encodings: ['br', 'gzip'], customTypes: COMPRESSIBLE_TYPES });
}
