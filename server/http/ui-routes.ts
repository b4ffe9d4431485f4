/**
 * The dashboard: plain HTML, CSS and ES modules from server/http/ui/, no build step, no CDN.
 * Only the files listed here are served; they talk to the API (/api/v1) and its event stream.
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const FILES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'filter.js': 'text/javascript; charset=utf-8',
  'lifecycle.js': 'text/javascript; charset=utf-8',
  'clusters.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export interface UiRoutesOptions {
  /** The directory holding index.html and the FILES above. */
  readonly dir: string;
}

export async function uiRoutes(app: FastifyInstance, options: UiRoutesOptions): Promise<void> {
  const hide = { schema: { hide: true } };
  app.get('/', hide, async (_request, reply) =>
    reply.headers(SECURITY_HEADERS).type('text/html; charset=utf-8').send(await readFile(join(options.dir, 'index.html'))),
  );
  app.get<{ Params: { file: string } }>('/ui/:file', hide, async (request, reply) => {
    const type = Object.hasOwn(FILES, request.params.file) ? FILES[request.params.file] : undefined;
    if (type === undefined) return reply.code(404).type('text/plain').send('not found\n');
    return reply.headers(SECURITY_HEADERS).type(type).send(await readFile(join(options.dir, request.params.file)));
  });
}
