/**
 * The real Ignition (Debian's `ignition` 2.14, the binary its dracut module runs at first boot)
 * applies rackboot's Ignition config of a small-cluster member into a scratch root: the `fetch`
 * stage reads the config (platform `file`), the `files` stage writes users' SSH keys, every file,
 * the units, the enable links and masks, and downloads the etcd binary from a local HTTP server
 * (127.0.0.1 only) checking `verification.hash`. A corrupted mirror file makes Ignition fail and
 * leaves no /opt/bin/etcd.
 *
 * Debian's build relabels for SELinux after the files stage: the scratch root gets an
 * /etc/selinux/config and `setfiles` is a stub on PATH (this machine has no SELinux policy; the
 * stub only swallows the file list). Needs root (Ignition chowns and switches to the user to write
 * its SSH keys) and the `ignition` package; skips saying which is missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Catalog } from '../../server/catalog/catalog.js';
import { buildCloudConfigContext } from '../../server/core/cloud-config-context.js';
import { ignitionFromCloudConfig } from '../../server/core/ignition-from-cloud-config.js';
import type { Machine } from '../../server/core/types.js';
import { catalogDirs } from '../../server/paths.js';

const IGNITION = '/usr/lib/dracut/modules.d/30ignition/ignition';
const skip = process.getuid?.() !== 0 ? 'needs root (Ignition chowns files and writes SSH keys as the user)' : !existsSync(IGNITION) ? `${IGNITION} is missing (Debian package ignition)` : false;

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJhY2tib290LXRlc3Qta2V5LW5vdC1yZWFs operator@lab';
const etcdBytes = randomBytes(64 * 1024);
// the etcdctl a member's ready unit runs its health check with (docs/etcd.md)
const etcdctlBytes = randomBytes(32 * 1024);
let server: Server;
let base = '';
let work = '';
let corrupt = false;

function small(id: number, name: string, ip: string): Machine {
  return {
    id, name, uuid: null, bmcAddress: null, ip, role: 'small', bootMode: 'memory', state: 'registered', stateChangedAt: 0,
    macs: [`52:54:00:20:00:${ip.split('.')[3]}`], bootToken: `tok-${name}`, configToken: null, ipxeChainedAt: null, createdAt: 0,
  };
}

function renderS1(): string {
  const inventory = [small(1, 's1', '10.20.0.11'), small(2, 's2', '10.20.0.12'), small(3, 's3', '10.20.0.13')];
  const built = buildCloudConfigContext(
    {
      machine: inventory[0]!,
      inventory,
      subnets: [{ cidr: '10.20.0.0/24', gateway: '10.20.0.1', dns: ['10.20.0.2'], domain: 'rack.lab', leaseSeconds: 3600 }],
      baseUrl: base,
      serverAddress: '127.0.0.1',
      cluster: { name: 'lab', sshAuthorizedKeys: [SSH_KEY], ntpServers: ['10.20.0.2'], etcdBinary: 'etcd/v3.5.17/etcd' },
      bootToken: 'tok-s1',
    },
    'default',
  );
  if (!built.ok) throw new Error(built.errors.join(' '));
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join(' '));
  const cloud = loaded.catalog.cloudConfig(built.template, built.context as unknown as Record<string, unknown>);
  if (!cloud.ok) throw new Error(cloud.errors.join(' '));
  const sha512 = createHash('sha512').update(etcdBytes).digest('hex');
  const etcdctlSha512 = createHash('sha512').update(etcdctlBytes).digest('hex');
  const ignition = ignitionFromCloudConfig(cloud.text, built.context.etcd, (url) =>
    url === `${base}/assets/etcd/v3.5.17/etcd` ? sha512 : url === `${base}/assets/etcd/v3.5.17/etcdctl` ? etcdctlSha512 : null,
  );
  if (!ignition.ok) throw new Error(ignition.errors.join(' '));
  return ignition.text;
}

/** A scratch root as an OS image would have it: the core user, its home, an SELinux config. */
function scratchRoot(name: string): string {
  const root = join(work, name);
  mkdirSync(join(root, 'etc', 'selinux'), { recursive: true });
  writeFileSync(join(root, 'etc', 'selinux', 'config'), 'SELINUX=disabled\nSELINUXTYPE=targeted\n');
  writeFileSync(join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\ncore:x:500:500:Core:/home/core:/bin/sh\n');
  writeFileSync(join(root, 'etc', 'group'), 'root:x:0:\ncore:x:500:\n');
  writeFileSync(join(root, 'etc', 'shadow'), 'root:*:1::::::\ncore:*:1::::::\n');
  writeFileSync(join(root, 'etc', 'gshadow'), 'root:*::\ncore:!::\n');
  mkdirSync(join(root, 'home', 'core'), { recursive: true });
  chownSync(join(root, 'home', 'core'), 500, 500);
  return root;
}

/** Ignition's fetch and files stages, as its dracut units run them; the output of both. */
async function applyIgnition(config: string, root: string): Promise<{ ok: boolean; output: string }> {
  const dir = mkdtempSync(join(work, 'run-'));
  writeFileSync(join(dir, 'config.ign'), config);
  const common = ['--platform', 'file', '--config-cache', join(dir, 'cache.json'), '--state-file', join(dir, 'state'), '--log-to-stdout'];
  const env = { ...process.env, IGNITION_CONFIG_FILE: join(dir, 'config.ign'), PATH: `${join(work, 'stub')}:${process.env.PATH ?? ''}` };
  let output = '';
  for (const stage of [['--stage', 'fetch', '--neednet', join(dir, 'neednet')], ['--stage', 'files', '--root', root]]) {
    // asynchronous: the mirror is served by this process
    const r = await run(IGNITION, [...stage, ...common], env);
    output += r.output;
    if (r.status !== 0) return { ok: false, output: `${output}\nexit status ${String(r.status)}` };
  }
  return { ok: true, output };
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('the real Ignition applies rackboot\'s config', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-ignition-apply-'));
    chmodSync(work, 0o755); // Ignition writes the SSH keys as the user: it must reach the home directory
    mkdirSync(join(work, 'stub'));
    writeFileSync(join(work, 'stub', 'setfiles'), '#!/bin/sh\ncat >/dev/null\nexit 0\n');
    chmodSync(join(work, 'stub', 'setfiles'), 0o755);
    server = createServer((request, response) => {
      if (request.url === '/assets/etcd/v3.5.17/etcdctl') return response.writeHead(200, { 'content-length': etcdctlBytes.length }).end(etcdctlBytes);
      if (request.url !== '/assets/etcd/v3.5.17/etcd') return response.writeHead(404).end();
      const body = Buffer.from(etcdBytes);
      if (corrupt) body[100] = (body[100] ?? 0) ^ 0xff;
      response.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(work, { recursive: true, force: true });
  });

  it('small-s1: files, units, links, masks, SSH key and the verified etcd binary land in the root', async () => {
    corrupt = false;
    const root = scratchRoot('good');
    const result = await applyIgnition(renderS1(), root);
    assert.ok(result.ok, result.output.split('\n').filter((l) => /CRITICAL|ERROR|exit status/.test(l)).join('\n') || result.output.slice(-3000));
    const read = (path: string) => readFileSync(join(root, path), 'utf8');
    assert.equal(read('etc/hostname'), 's1\n');
    assert.match(read('etc/systemd/network/10-rackboot.network'), /^\[Match\]\nMACAddress=52:54:00:20:00:11\n\[Network\]\nAddress=10\.20\.0\.11\/24\n/);
    assert.equal(read('etc/systemd/timesyncd.conf'), '[Time]\nNTP=10.20.0.2\n');
    assert.equal(lstatSync(join(root, 'etc/rackboot/callback-url')).mode & 0o777, 0o600);
    assert.deepEqual(readFileSync(join(root, 'opt/bin/etcd')), etcdBytes);
    assert.equal(lstatSync(join(root, 'opt/bin/etcd')).mode & 0o777, 0o755);
    assert.deepEqual(readFileSync(join(root, 'opt/bin/etcdctl')), etcdctlBytes);
    assert.equal(lstatSync(join(root, 'opt/rackboot/bin/rackboot-fetch')).mode & 0o777, 0o755);
    assert.match(read('etc/systemd/system/rackboot-etcd.service'), /^Environment=ETCD_NAME=s1$/m);
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/rackboot-etcd.service')), '/etc/systemd/system/rackboot-etcd.service');
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/multi-user.target.wants/rackboot-ready.service')), '/etc/systemd/system/rackboot-ready.service');
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/update-engine.service')), '/dev/null');
    assert.equal(readlinkSync(join(root, 'etc/systemd/system/locksmithd.service')), '/dev/null');
    assert.match(read('home/core/.ssh/authorized_keys.d/ignition'), new RegExp(SSH_KEY.replace(/[+/]/g, '\\$&')));
  });

  it('a corrupted etcd binary on the mirror: Ignition refuses it and fails, /opt/bin/etcd is not written', async () => {
    corrupt = true;
    const root = scratchRoot('corrupt');
    const result = await applyIgnition(renderS1(), root);
    assert.equal(result.ok, false, 'Ignition accepted a file whose hash does not match');
    assert.match(result.output, /CRITICAL : Ignition failed: .*\/opt\/bin\/etcd.*hash verification failed/);
    assert.ok(!existsSync(join(root, 'opt/bin/etcd')));
  });
});

if (skip) describe('the real Ignition applies rackboot\'s config', () => it(`skipped: ${skip}`, { skip }, () => {}));
