/**
 * GET /api/v1/events/stream over a real loopback socket: live events with the machine they changed,
 * resuming with Last-Event-ID (and ?after=), and close() ending open streams.
 */
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { OverviewStore } from '../../../server/store/overview-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';

interface Frame {
  id?: string;
  event?: string;
  data?: string;
}

let app: FastifyInstance;
let port: number;
let t: ReturnType<typeof testProvisioner>;

before(async () => {
  t = testProvisioner();
  t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:cc:00:01'], ip: '10.99.0.11', role: 'dev' });
  app = await buildApp({
    provisioner: t.provisioner,
    assetsDir: '/nonexistent',
    firmwareDir: '/nonexistent',
    logger: silentLogger(),
    operator: { overview: new OverviewStore(t.db), defaultMetrics: false, pollMs: 20 },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});

after(async () => {
  await app.close();
});

/** Opens the stream and collects frames until `until` says stop (bounded by a timeout). */
function stream(path: string, headers: Record<string, string>, until: (frames: Frame[]) => boolean, act?: () => void): Promise<{ frames: Frame[]; response: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const frames: Frame[] = [];
    const req = request({ host: '127.0.0.1', port, path, headers }, (response) => {
      let buffer = '';
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`timed out; got ${JSON.stringify(frames)}`));
      }, 5000);
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const frame: Frame = {};
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            if (colon <= 0) continue;
            const key = line.slice(0, colon) as keyof Frame;
            if (key === 'id' || key === 'event' || key === 'data') frame[key] = line.slice(colon + 1).trimStart();
          }
          if (frame.event) frames.push(frame);
        }
        if (until(frames)) {
          clearTimeout(timer);
          req.destroy();
          resolve({ frames, response });
        }
      });
      act?.();
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}

test('a new event arrives with the machine it changed', async () => {
  const machine = t.store.machineByName('blade-01')!;
  const { frames, response } = await stream(
    '/api/v1/events/stream',
    {},
    (f) => f.some((x) => x.event === 'event' && JSON.parse(x.data ?? '{}').event.type === 'progress'),
    () => setTimeout(() => t.provisioner.record(machine, 'progress', 'writing image 55%'), 60),
  );
  assert.equal(response.headers['content-type'], 'text/event-stream; charset=utf-8');
  const frame = frames.find((x) => JSON.parse(x.data ?? '{}').event.type === 'progress')!;
  const payload = JSON.parse(frame.data!);
  assert.equal(frame.id, String(payload.event.id), 'the SSE id is the event id');
  assert.equal(payload.machine.name, 'blade-01');
  assert.equal(payload.machine.state, 'installing');
  assert.equal(payload.machine.progress.percent, 55);
  assert.equal(payload.machine.bootToken, undefined);
});

test('Last-Event-ID (and ?after=) replay exactly what was missed', async () => {
  const machine = t.store.machineByName('blade-01')!;
  const mark = t.provisioner.record(machine, 'progress', 'step 1/4').id;
  const missed = [t.provisioner.record(machine, 'progress', 'step 2/4').id, t.provisioner.record(machine, 'progress', 'step 3/4').id];
  const { frames } = await stream('/api/v1/events/stream?after=0', { 'last-event-id': String(mark) }, (f) => f.length >= 2);
  assert.deepEqual(frames.slice(0, 2).map((f) => Number(f.id)), missed, 'the header wins over ?after=');
  const fromQuery = await stream(`/api/v1/events/stream?after=${missed[0]}`, {}, (f) => f.length >= 1);
  assert.equal(Number(fromQuery.frames[0]?.id), missed[1]);
});

test('a replay that is too long asks the client to reload', async () => {
  const { frames } = await stream('/api/v1/events/stream', { 'last-event-id': '0' }, (f) => f.length >= 1);
  // a handful of events: replayed, not reset
  assert.equal(frames[0]?.event, 'event');
});

test('a bad Last-Event-ID is a 400', async () => {
  const res = await app.inject({ url: '/api/v1/events/stream', headers: { 'last-event-id': 'abc' } });
  assert.equal(res.statusCode, 400);
});
