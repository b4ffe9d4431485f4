import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:99:00:01';
let assets: string;
let app: FastifyInstance;
let t: ReturnType<typeof testProvisioner>;
const kernelBytes = Buffer.alloc(300_000, 7);

before(async () => {
  assets = mkdtempSync(join(tmpdir(), 'rb-assets-'));
  mkdirSync(join(assets, 'test-os'));
  writeFileSync(join(assets, 'test-os', 'vmlinuz'), kernelBytes);
  t = testProvisioner();
  t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role: 'dev', bootMode: 'memory' });
  mkdirSync(join(assets, 'firmware'));
  writeFileSync(join(assets, 'firmware', 'snponly.efi'), Buffer.from('MZ fake efi'));
  app = await buildApp({ provisioner: t.provisioner, assetsDir: assets, firmwareDir: join(assets, 'firmware'), logger: silentLogger() });
});

after(async () => {
  await app.close();
  rmSync(assets, { recursive: true, force: true });
});

test('/boot.ipxe chains to the per-machine script with the machine identity', async () => {
  const res = await app.inject('/boot.ipxe');
  assert.equal(res.statusCode, 200);
  assert.match(res.body, /^#!ipxe\n/);
  assert.match(res.body, /chain --autofree http:\/\/10\.99\.0\.1:8080\/ipxe\?mac=\$\{mac:hexhyp\}&uuid=\$\{uuid\}/);
  assert.doesNotMatch(res.body, /&amp;|&#x3D;/, 'no HTML escaping in iPXE scripts');
});

test('a whole boot over HTTP: script, kernel (with ranges), cloud-config, callback', async () => {
  const script = await app.inject(`/ipxe?mac=${MAC.replace(/:/g, '-')}&uuid=`);
  assert.equal(script.statusCode, 200);
  const kernelUrl = /^kernel (\S+)/m.exec(script.body)?.[1];
  assert.ok(kernelUrl, script.body);
  const kernelPath = new URL(kernelUrl).pathname;

  const kernel = await app.inject(kernelPath);
  assert.equal(kernel.statusCode, 200);
  assert.equal(kernel.rawPayload.length, kernelBytes.length);
  const range = await app.inject({ url: kernelPath, headers: { range: 'bytes=100-199' } });
  assert.equal(range.statusCode, 206);
  assert.equal(range.rawPayload.length, 100);

  const token = kernelPath.split('/')[2]!;
  const configPath = new URL(/cloud-config-url=(\S+)/.exec(script.body)![1]!).pathname;
  const stranger = await app.inject({ url: configPath, remoteAddress: '10.99.0.66' });
  assert.equal(stranger.statusCode, 403, 'only the machine may fetch its cloud-config');
  const config = await app.inject({ url: configPath, remoteAddress: '10.99.0.11' });
  assert.equal(config.statusCode, 200, config.body);
  assert.equal((await app.inject({ url: configPath, remoteAddress: '10.99.0.11' })).statusCode, 403, 'one-time');
  assert.match(config.body, /^#cloud-config\n/);

  const cb = await app.inject({ method: 'POST', url: `/callback/${token}`, payload: { event: 'ready', message: 'hello' } });
  assert.equal(cb.statusCode, 200);
  const machine = t.store.machineByMac(MAC)!;
  assert.equal(machine.state, 'ready');
  const types = t.store.listEvents({ machineId: machine.id }).map((e) => e.type);
  assert.deepEqual(types, ['registered', 'ipxe', 'booting', 'token-refused', 'configured', 'ready']);
});

test('boot URLs with a forged token get 403, a missing asset gets 404 and a failed event', async () => {
  assert.equal((await app.inject('/boot/forged/kernel/vmlinuz')).statusCode, 403);
  assert.equal((await app.inject('/cloud-config/forged')).statusCode, 403);
  assert.equal((await app.inject({ method: 'POST', url: '/callback/forged', payload: { event: 'ready' } })).statusCode, 403);
  const script = await app.inject(`/ipxe?mac=${MAC}`);
  const token = /\/boot\/([^/]+)\/initrd/.exec(script.body)?.[1];
  const initrd = await app.inject(`/boot/${token}/initrd/0/initrd.img`);
  assert.equal(initrd.statusCode, 404);
  const machine = t.store.machineByMac(MAC)!;
  assert.equal(machine.state, 'failed');
  assert.match(t.store.listEvents({ machineId: machine.id }).at(-1)?.message ?? '', /boot asset missing/);
});

test('a callback without an event is a 400 from schema validation', async () => {
  const res = await app.inject({ method: 'POST', url: '/callback/x', payload: { message: 'no event' } });
  assert.equal(res.statusCode, 400);
});

test('the API lists machines without their boot tokens', async () => {
  const res = await app.inject('/api/v1/machines');
  assert.equal(res.statusCode, 200);
  const body = res.json() as { machines: Array<Record<string, unknown>> };
  assert.equal(body.machines.length, 1);
  assert.equal(body.machines[0]?.name, 'blade-01');
  assert.ok(!('bootToken' in body.machines[0]!));
  const events = await app.inject('/api/v1/machines/blade-01/events');
  assert.equal(events.statusCode, 200);
  assert.equal((await app.inject('/api/v1/machines/nope/events')).statusCode, 404);
});

test('UEFI HTTP-boot clients fetch iPXE binaries over HTTP; nothing else under /ipxe/', async () => {
  const ok = await app.inject('/ipxe/snponly.efi');
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.body, 'MZ fake efi');
  assert.equal((await app.inject('/ipxe/ipxe.efi')).statusCode, 404);
  assert.equal((await app.inject('/ipxe/..%2Fvmlinuz')).statusCode, 404);
  assert.equal((await app.inject('/ipxe/boot.ipxe.hbs')).statusCode, 404);
});

test('/assets/ serves offline assets with ranges and refuses traversal', async () => {
  mkdirSync(join(assets, 'etcd'), { recursive: true });
  writeFileSync(join(assets, 'etcd', 'etcd'), Buffer.alloc(1000, 1));
  const ok = await app.inject('/assets/etcd/etcd');
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.rawPayload.length, 1000);
  assert.equal((await app.inject({ url: '/assets/etcd/etcd', headers: { range: 'bytes=0-9' } })).statusCode, 206);
  assert.equal((await app.inject('/assets/../package.json')).statusCode, 404);
  assert.equal((await app.inject('/assets/etcd/%2e%2e/%2e%2e/package.json')).statusCode, 404);
  assert.equal((await app.inject('/assets/missing')).statusCode, 404);
});

test('the boot menu round trip: a role-less machine picks an entry over HTTP', async () => {
  t.provisioner.registerMachine({ name: 'blade-02', macs: ['52:54:00:99:00:02'], ip: '10.99.0.12', role: null });
  const menu = await app.inject('/ipxe?mac=52-54-00-99-00-02');
  assert.match(menu.body, /^choose /m);
  const choiceUrl = /^chain --autofree (\S+)\/\$\{choice\}/m.exec(menu.body)![1]!;
  const chosen = await app.inject(`${new URL(choiceUrl).pathname}/small-memory`);
  assert.equal(chosen.statusCode, 200);
  assert.match(chosen.body, /^kernel /m);
  assert.equal(t.store.machineByName('blade-02')?.role, 'small');
});
