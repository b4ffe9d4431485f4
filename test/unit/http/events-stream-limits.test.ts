/**
 * The event stream's bounds over real loopback sockets: a cap on open streams (total and per
 * address; 503 with Retry-After), replays bounded (reset pointing at /api/v1/events), a client
 * that does not read is dropped, and the counters in /metrics.
 */
import assert from 'node:assert/strict';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { EventStreamLimits } from '../../../server/http/events-stream.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

async function served(limits: Partial<EventStreamLimits>) {
  const t = testProvisioner();
  t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:cc:00:01'], ip: '10.99.0.11', role: 'dev' });
  const app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false, pollMs: 20, eventStream: limits },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, t, port: (app.server.address() as AddressInfo).port };
}

interface Opened {
  req: ClientRequest;
  res: IncomingMessage;
}

function open(port: number, headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/v1/events/stream', headers }, (res) => resolve({ req, res }));
    req.on('error', reject);
    req.end();
  });
}

async function metric(app: FastifyInstance, line: string): Promise<number> {
  const text = (await app.inject({ url: '/metrics' })).body;
  const found = text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? NaN : Number(found.slice(line.length + 1));
}

const body = (res: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => (text += chunk));
    res.on('end', () => resolve(text));
  });

test('streams above maxConnections are answered 503 with Retry-After', async () => {
  const { app, port } = await served({ maxConnections: 2, maxConnectionsPerClient: 10 });
  const streams = [await open(port), await open(port)];
  const third = await open(port);
  assert.equal(third.res.statusCode, 503);
  assert.equal(third.res.headers['retry-after'], '10');
  assert.equal(JSON.parse(await body(third.res)).code, 'RACKBOOT_ERR_BUSY');
  assert.equal(await metric(app, 'rackboot_http_event_streams'), 2);
  assert.equal(await metric(app, 'rackboot_http_event_streams_shed_total{reason="total"}'), 1);
  streams[0]!.req.destroy();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const again = await open(port);
  assert.equal(again.res.statusCode, 200, 'a closed stream frees its slot');
  for (const s of [...streams, again]) s.req.destroy();
  await app.close();
});

test('one address holds at most maxConnectionsPerClient streams', async () => {
  const { app, port } = await served({ maxConnections: 10, maxConnectionsPerClient: 1 });
  const first = await open(port);
  const second = await open(port);
  assert.equal(second.res.statusCode, 503);
  await body(second.res);
  assert.equal(await metric(app, 'rackboot_http_event_streams_shed_total{reason="per-client"}'), 1);
  first.req.destroy();
  await app.close();
});

test('a replay longer than maxReplay sends reset with the page to read instead of the events', async () => {
  const { app, t, port } = await served({ maxReplay: 5 });
  const machine = t.store.machineByName('blade-01')!;
  for (let i = 0; i < 10; i += 1) t.provisioner.record(machine, 'progress', `step ${i}/10`);
  const stream = await open(port, { 'last-event-id': '0' });
  const text = await new Promise<string>((resolve) => {
    let buffer = '';
    stream.res.setEncoding('utf8');
    stream.res.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.includes('event: reset')) resolve(buffer);
    });
  });
  stream.req.destroy();
  assert.doesNotMatch(text, /event: event/, 'no event was replayed');
  const data = JSON.parse(/event: reset\ndata: (.*)\n/.exec(text)![1]!);
  assert.equal(data.page, '/api/v1/events?after=0');
  assert.ok(data.resumeAt > 5, 'live events continue after the ones the reset skipped');
  assert.equal(await metric(app, 'rackboot_http_event_streams_shed_total{reason="replay-reset"}'), 1);
  await app.close();
});

test('a client that does not read is disconnected instead of buffered without bound', async () => {
  const { app, t, port } = await served({ maxBufferedBytes: 65_536 });
  const machine = t.store.machineByName('blade-01')!;
  const stream = await open(port);
  stream.res.pause(); // never reads
  stream.req.socket?.pause();
  const filler = 'x'.repeat(4000);
  let dropped = false;
  // bounded: at most 40 batches of 500 large events (about 80 MB), usually far fewer
  for (let batch = 0; batch < 40 && !dropped; batch += 1) {
    for (let i = 0; i < 500; i += 1) t.provisioner.record(machine, 'progress', `${filler} ${batch}.${i}`);
    await new Promise((resolve) => setTimeout(resolve, 60));
    dropped = (await metric(app, 'rackboot_http_event_streams_shed_total{reason="slow"}')) === 1;
  }
  assert.ok(dropped, 'the slow reader was dropped');
  for (let i = 0; i < 50 && (await metric(app, 'rackboot_http_event_streams')) !== 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(await metric(app, 'rackboot_http_event_streams'), 0, 'its slot is free');
  stream.req.destroy();
  await app.close();
});
