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
  const script = await app.inject({ url: `/ipxe?mac=${MAC.replace(/:/g, '-')}&uuid=`, remoteAddress: '10.99.0.11' });
  assert.equal(script.statusCode, 200);
  const kernelUrl = /^kernel (\S+)/m.exec(script.body)?.[1];
  assert.ok(kernelUrl, script.body);
  const kernelPath = new URL(kernelUrl).pathname;

  const kernel = await app.inject({ url: kernelPath, remoteAddress: '10.99.0.11' });
  assert.equal(kernel.statusCode, 200);
  assert.equal(kernel.rawPayload.length, kernelBytes.length);
  const range = await app.inject({ url: kernelPath, headers: { range: 'bytes=100-199' }, remoteAddress: '10.99.0.11' });
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

  const cb = await app.inject({ method: 'POST', url: `/callback/${token}`, payload: { event: 'ready', message: 'hello' }, remoteAddress: '10.99.0.11' });
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
  const script = await app.inject({ url: `/ipxe?mac=${MAC}`, remoteAddress: '10.99.0.11' });
  const token = /\/boot\/([^/]+)\/initrd/.exec(script.body)?.[1];
  const initrd = await app.inject({ url: `/boot/${token}/initrd/0/initrd.img`, remoteAddress: '10.99.0.11' });
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
  const menu = await app.inject({ url: '/ipxe?mac=52-54-00-99-00-02', remoteAddress: '10.99.0.12' });
  assert.match(menu.body, /^choose /m);
  const choiceUrl = /^chain --autofree (\S+)\/\$\{choice\}/m.exec(menu.body)![1]!;
  const chosen = await app.inject({ url: `${new URL(choiceUrl).pathname}/small-memory`, remoteAddress: '10.99.0.12' });
  assert.equal(chosen.statusCode, 200);
  assert.match(chosen.body, /^kernel /m);
  assert.equal(t.store.machineByName('blade-02')?.role, 'small');
});

test('tokens are bound to the TCP peer: X-Forwarded-For naming the machine is not believed', async () => {
  t.provisioner.registerMachine({ name: 'blade-03', macs: ['52:54:00:99:00:03'], ip: '10.99.0.13', role: 'dev', bootMode: 'memory' });
  const forwarded = { 'x-forwarded-for': '10.99.0.13', 'x-real-ip': '10.99.0.13', forwarded: 'for=10.99.0.13' };
  const spoofed = await app.inject({ url: '/ipxe?mac=52-54-00-99-00-03', remoteAddress: '10.99.0.66', headers: forwarded });
  assert.equal(spoofed.statusCode, 200);
  assert.doesNotMatch(spoofed.body, /\/boot\/|\/callback\//, 'no tokens for a relayed request');
  assert.equal(t.store.machineByName('blade-03')?.bootToken, null);
  const own = await app.inject({ url: '/ipxe?mac=52-54-00-99-00-03', remoteAddress: '::ffff:10.99.0.13' });
  const token = /\/callback\/(\S+)/.exec(own.body)?.[1];
  assert.ok(token, own.body);
  const forged = await app.inject({ method: 'POST', url: `/callback/${token}`, payload: { event: 'installed' }, remoteAddress: '10.99.0.66', headers: forwarded });
  assert.equal(forged.statusCode, 403);
  assert.equal((forged.json() as { code: string }).code, 'RACKBOOT_ERR_TOKEN');
  const menu = await app.inject({ url: `/menu/${token}/production-central-install`, remoteAddress: '10.99.0.66' });
  assert.equal(menu.statusCode, 403);
  assert.equal(t.store.machineByName('blade-03')?.role, 'dev');
  assert.equal((await app.inject({ url: `/boot/${token}/kernel/vmlinuz`, remoteAddress: '10.99.0.66' })).statusCode, 403);
  assert.equal((await app.inject({ url: `/boot/${token}/kernel/vmlinuz`, remoteAddress: '10.99.0.13' })).statusCode, 200);
  const metrics = await app.inject('/metrics');
  assert.match(metrics.body, /^rackboot_boot_token_refusals_total\{route="callback",reason="wrong-address"\} [1-9]\d*$/m);
  assert.match(metrics.body, /^rackboot_boot_token_refusals_total\{route="ipxe",reason="wrong-address"\} [1-9]\d*$/m);
});

test('no read route hands out a live boot or config token', async () => {
  const script = await app.inject({ url: `/ipxe?mac=${MAC}`, remoteAddress: '10.99.0.11' });
  const boot = /\/callback\/(\S+)/.exec(script.body)?.[1];
  const config = /\/cloud-config\/(\S+)/.exec(script.body)?.[1];
  assert.ok(boot && config, script.body);
  const reads = ['/api/v1/machines', '/api/v1/machines/blade-01', '/api/v1/machines/blade-01/events', '/api/v1/events', '/api/v1/overview', '/api/v1/discovered', '/metrics'];
  for (const url of reads) {
    const res = await app.inject(url);
    if (res.statusCode === 404) continue;
    assert.ok(!res.body.includes(boot) && !res.body.includes(config), `${url} leaks a token`);
  }
  const list = (await app.inject('/api/v1/machines')).json() as { machines: Array<Record<string, unknown>> };
  for (const machine of list.machines) assert.ok(!('bootToken' in machine) && !('configToken' in machine));
});
