/**
 * The HTTP listeners' bounds over real loopback sockets: per-client and total connection caps, the
 * header deadline that closes slow-loris clients, their counters in /metrics, and TLS (a certificate
 * made by openssl here) with the operator surface kept off the plain listener.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { DEFAULT_CONNECTION_LIMITS, HttpListeners, type ConnectionLimits, type TlsMaterial } from '../../../server/http/listeners.js';
import { silentLogger } from '../../../server/log.js';
import { testProvisioner } from '../../helpers/provisioner.js';

async function served(limits: Partial<ConnectionLimits>, tls: TlsMaterial | null = null): Promise<{ app: FastifyInstance; listeners: HttpListeners; port: number }> {
  const listeners = new HttpListeners({ ...DEFAULT_CONNECTION_LIMITS, ...limits }, tls);
  const t = testProvisioner();
  const app = await buildApp({ listeners, provisioner: t.provisioner, assetsDir: '/nonexistent', firmwareDir: '/nonexistent', logger: silentLogger(), operator: { defaultMetrics: false } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, listeners, port: (app.server.address() as AddressInfo).port };
}

/** Opens `n` sockets that never send anything; resolves with them once each is connected or closed. */
function openIdle(port: number, n: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<Socket>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.on('error', () => {});
      socket.once('connect', () => resolve(socket));
      socket.once('close', () => resolve(socket));
    })),
  );
}

const closedSoon = (socket: Socket, ms: number) =>
  new Promise<boolean>((resolve) => {
    if (socket.destroyed || socket.readyState === 'closed') return resolve(true);
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });

async function metric(app: FastifyInstance, line: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body;
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? NaN : Number(found.slice(line.length + 1));
}

test('one address cannot hold more than maxConnectionsPerClient sockets', async () => {
  const { app, listeners, port } = await served({ maxConnectionsPerClient: 4 });
  const sockets = await openIdle(port, 6);
  const closed = await Promise.all(sockets.map((s) => closedSoon(s, 1000)));
  assert.equal(closed.filter(Boolean).length, 2, 'two over the cap are closed at once');
  assert.equal(listeners.stats.refusedPerClient, 2);
  assert.equal(await metric(app, 'rackboot_http_connections_refused_total{reason="per-client"}'), 2);
  for (const socket of sockets) socket.destroy();
  await app.close();
});

test('above maxConnections Node closes new sockets and counts them', async () => {
  const { app, listeners, port } = await served({ maxConnections: 3, maxConnectionsPerClient: 100 });
  const sockets = await openIdle(port, 5);
  const closed = await Promise.all(sockets.map((s) => closedSoon(s, 1000)));
  assert.equal(closed.filter(Boolean).length, 2);
  assert.equal(listeners.stats.refusedTotal, 2);
  for (const socket of sockets) socket.destroy();
  await app.close();
});

test('a client that sends its headers too slowly is closed with a 408 (slow loris)', async () => {
  const { app, listeners, port } = await served({ headersTimeoutMs: 1000, requestTimeoutMs: 1000 });
  const [socket] = await openIdle(port, 1);
  let answer = '';
  socket!.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket!.write('GET /boot.ipxe HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => socket!.write('X-Slow: 1\r\n'), 200);
  const closed = await closedSoon(socket!, 4000);
  clearInterval(drip);
  assert.ok(closed, 'the slow client was closed');
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.equal(listeners.stats.timedOut, 1);
  assert.equal(await metric(app, 'rackboot_http_request_timeouts_total'), 1);
  await app.close();
});

function get(url: string): Promise<{ status: number; body: string }> {
  const send = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with TLS: the API and dashboard over HTTPS, the plain listener serves machines only', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-tls-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const tls = { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) };
    const { app, listeners, port } = await served({}, tls);
    const plainPort = await listeners.listenPlain('127.0.0.1', 0);
    try {
      assert.equal((await get(`https://127.0.0.1:${port}/api/v1/machines`)).status, 200);
      assert.equal((await get(`https://127.0.0.1:${port}/`)).status, 200);
      const plainApi = await get(`http://127.0.0.1:${plainPort}/api/v1/machines`);
      assert.equal(plainApi.status, 403);
      assert.equal(JSON.parse(plainApi.body).code, 'RACKBOOT_ERR_TLS_REQUIRED');
      assert.equal((await get(`http://127.0.0.1:${plainPort}/`)).status, 403, 'no dashboard over plain HTTP');
      const chain = await get(`http://127.0.0.1:${plainPort}/boot.ipxe`);
      assert.equal(chain.status, 200);
      assert.match(chain.body, /^#!ipxe/);
      assert.equal((await get(`http://127.0.0.1:${plainPort}/healthz`)).status, 200);
      await assert.rejects(get(`http://127.0.0.1:${port}/healthz`), 'the TLS port does not speak plain HTTP');
    } finally {
      await listeners.closePlain();
      await app.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
