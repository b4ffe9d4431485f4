import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance } from 'fastify';
import { FileChunkCache } from '../../../server/http/file-chunks.js';

// Small chunks so that every test crosses chunk boundaries.
const CHUNK = 1000;
let dir: string;
let app: FastifyInstance;
let cache: FileChunkCache;
let content: Buffer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rb-chunks-'));
  content = randomBytes(10_500);
  writeFileSync(join(dir, 'kernel'), content);
  cache = new FileChunkCache({ chunkBytes: CHUNK, budgetBytes: 4 * CHUNK });
  app = Fastify();
  await app.register(fastifyStatic, { root: dir, serve: false });
  app.addHook('onSend', cache.onSend);
  app.get('/f/:name', async (request, reply) => reply.sendFile((request.params as { name: string }).name, dir));
  app.get('/text', async () => 'not a file');
});

after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a whole file comes out byte for byte, with the headers @fastify/send set', async () => {
  const res = await app.inject('/f/kernel');
  assert.equal(res.statusCode, 200);
  assert.ok(res.rawPayload.equals(content));
  assert.equal(res.headers['content-length'], String(content.length));
  assert.equal(res.headers['accept-ranges'], 'bytes');
  assert.match(String(res.headers.etag), /^W\//);
  assert.ok(cache.cachedBytes > 0 && cache.cachedBytes <= 4 * CHUNK, `cache holds ${cache.cachedBytes} bytes, within its budget`);
});

test('ranges across chunk boundaries, open-ended and suffix ranges', async () => {
  for (const [header, start, end] of [
    ['bytes=990-2010', 990, 2010],
    ['bytes=9999-', 9999, content.length - 1],
    ['bytes=-700', content.length - 700, content.length - 1],
    ['bytes=0-0', 0, 0],
  ] as const) {
    const res = await app.inject({ url: '/f/kernel', headers: { range: header } });
    assert.equal(res.statusCode, 206, header);
    assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${content.length}`);
    assert.ok(res.rawPayload.equals(content.subarray(start, end + 1)), header);
  }
});

test('what is not a file body passes untouched: HEAD, 304, 416, other payloads', async () => {
  const head = await app.inject({ method: 'HEAD', url: '/f/kernel' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.rawPayload.length, 0);
  const etag = String((await app.inject('/f/kernel')).headers.etag);
  assert.equal((await app.inject({ url: '/f/kernel', headers: { 'if-none-match': etag } })).statusCode, 304);
  assert.equal((await app.inject({ url: '/f/kernel', headers: { range: 'bytes=20000-30000' } })).statusCode, 416);
  assert.equal((await app.inject('/text')).body, 'not a file');
});

test('concurrent downloads share chunks and each gets the whole file', async () => {
  const all = await Promise.all(Array.from({ length: 12 }, () => app.inject('/f/kernel')));
  for (const res of all) assert.ok(res.rawPayload.equals(content));
});

test('a replaced file is served in its new version, never mixed with cached chunks of the old one', async () => {
  const next = randomBytes(content.length);
  writeFileSync(join(dir, 'kernel.new'), next);
  renameSync(join(dir, 'kernel.new'), join(dir, 'kernel'));
  const res = await app.inject('/f/kernel');
  assert.ok(res.rawPayload.equals(next));
  content = next;
});
