/**
 * The offline mirror: import from a directory or tarball (every file checksummed, all problems at
 * once, nothing half-imported, versions immutable), list, and the /assets route that serves only
 * bytes matching the manifest (with ranges); the /install and /time routes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { AssetImportError, AssetVerifier, importAssets, listAssets } from '../../../server/assets/mirror.js';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { installProvisioner } from '../../helpers/install.js';

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const sha512 = (b: string | Buffer) => createHash('sha512').update(b).digest('hex');

let root: string;
before(() => {
  root = mkdtempSync(join(tmpdir(), 'rb-mirror-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string | Buffer>): string {
  const dir = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

const IMAGE = Buffer.alloc(200_000, 3);
const flatcar = (version: string, image: Buffer = IMAGE) => ({
  [`flatcar/${version}/flatcar_production_image.bin.bz2`]: image,
  [`flatcar/${version}/version.txt`]: `FLATCAR_VERSION=${version}\n`,
  [`flatcar/${version}/SHA256SUMS`]: `${sha256(IMAGE)}  flatcar_production_image.bin.bz2\n${sha256(`FLATCAR_VERSION=${version}\n`)}  version.txt\n`,
});

describe('rackboot assets import', () => {
  it('imports Flatcar (SHA256SUMS), Kubernetes (SHA512SUMS) and a DC/OS tree (nested paths) with a manifest per version', async () => {
    const src = tree('good', {
      ...flatcar('4081.2.0'),
      'kubernetes/v1.31.2/kubeadm': 'kubeadm',
      'kubernetes/v1.31.2/SHA512SUMS': `${sha512('kubeadm')} *kubeadm\n`,
      'dcos/2.2.0/dcos_install.sh': '#!/bin/bash\n',
      'dcos/2.2.0/packages/dcos-config/dcos-config--setup_x.tar.xz': 'pkg',
      'dcos/2.2.0/SHA256SUMS': `${sha256('#!/bin/bash\n')}  ./dcos_install.sh\n${sha256('pkg')}  packages/dcos-config/dcos-config--setup_x.tar.xz\n`,
      'flatcar/4081.2.0/.build-stamp': 'ignored',
    });
    const assets = join(root, 'assets-good');
    const result = await importAssets(src, assets, new Date('2025-05-01T00:00:00Z'));
    assert.deepEqual(result.map((r) => `${r.status} ${r.kind}/${r.version} ${r.files}`), ['imported dcos/2.2.0 3', 'imported flatcar/4081.2.0 3', 'imported kubernetes/v1.31.2 2']);
    const manifest = JSON.parse(readFileSync(join(assets, 'flatcar/4081.2.0/manifest.json'), 'utf8'));
    assert.deepEqual(manifest.files['flatcar_production_image.bin.bz2'], { bytes: IMAGE.length, sha256: sha256(IMAGE), sha512: sha512(IMAGE) });
    assert.equal(manifest.importedAt, '2025-05-01T00:00:00.000Z');
    assert.ok(!existsSync(join(assets, 'flatcar/4081.2.0/.build-stamp')));
    assert.deepEqual(readdirSync(assets).filter((n) => n.startsWith('.')), [], 'no staging left behind');
    assert.deepEqual(listAssets(assets).map((v) => `${v.kind}/${v.version}:${v.files}`), ['dcos/2.2.0:3', 'flatcar/4081.2.0:3', 'kubernetes/v1.31.2:2']);
    const again = await importAssets(src, assets);
    assert.deepEqual(again.map((r) => r.status), ['unchanged', 'unchanged', 'unchanged']);
  });

  it('reports its progress: bytes copied so far, growing to the bytes of every file it imports', async () => {
    const src = tree('progress', { ...flatcar('5.0.0'), 'flatcar/5.0.0/.stamp': 'not imported' });
    const seen: Array<[number, number, string]> = [];
    await importAssets(src, join(root, 'assets-progress'), new Date(), (copied, total, file) => seen.push([copied, total, file]));
    const total = IMAGE.length + 'FLATCAR_VERSION=5.0.0\n'.length + Buffer.byteLength(flatcar('5.0.0')['flatcar/5.0.0/SHA256SUMS'] as string);
    assert.deepEqual(seen[0], [0, total, '']);
    assert.equal(seen.at(-1)?.[0], total);
    assert.ok(seen.every(([copied], i) => i === 0 || copied >= (seen[i - 1]?.[0] ?? 0)), 'never goes back');
    assert.ok(seen.some(([, , file]) => file === 'flatcar/5.0.0/flatcar_production_image.bin.bz2'));
  });

  it('refuses, with every problem and nothing imported: a file without a checksum, a mismatch, a changed version', async () => {
    const assets = join(root, 'assets-bad');
    await importAssets(tree('v1', flatcar('1.0.0')), assets);
    const src = tree('bad', {
      ...flatcar('1.0.0', Buffer.alloc(200_000, 4)),
      ...flatcar('2.0.0'),
      'flatcar/2.0.0/extra.bin': 'no checksum for me',
      'kubernetes/v1/kubelet': 'kubelet',
      'kubernetes/v1/kubelet.sha256': `${'0'.repeat(64)}\n`,
    });
    await assert.rejects(importAssets(src, assets), (error: unknown) => {
      assert.ok(error instanceof AssetImportError);
      const text = error.problems.join('\n');
      assert.match(text, /flatcar\/1\.0\.0: flatcar_production_image\.bin\.bz2: sha256 [0-9a-f]{64} does not match/);
      assert.match(text, /flatcar\/2\.0\.0: extra\.bin has no checksum/);
      assert.match(text, /kubernetes\/v1: kubelet: sha256 [0-9a-f]{64} does not match 0{64} \(kubelet\.sha256\)/);
      return true;
    });
    assert.ok(!existsSync(join(assets, 'flatcar/2.0.0')), 'atomic: the good version of a failed import is not there either');
    assert.deepEqual(readdirSync(assets).filter((n) => n.startsWith('.')), []);
    const changed = tree('changed', { 'flatcar/1.0.0/version.txt': 'other\n', 'flatcar/1.0.0/SHA256SUMS': `${sha256('other\n')}  version.txt\n` });
    await assert.rejects(importAssets(changed, assets), /nothing was imported/);
  });

  it('imports a tarball, and Flatcar DIGESTS files', async () => {
    const digests = `# MD5 HASH\n${'a'.repeat(32)}  flatcar_production_image.bin.bz2\n# SHA512 HASH\n${sha512(IMAGE)}  flatcar_production_image.bin.bz2\n`;
    const src = tree('tar', { 'flatcar/3.0.0/flatcar_production_image.bin.bz2': IMAGE, 'flatcar/3.0.0/flatcar_production_image.bin.bz2.DIGESTS': digests });
    const tarball = join(root, 'mirror.tar.gz');
    assert.equal(spawnSync('tar', ['-czf', tarball, '-C', src, 'flatcar']).status, 0);
    const result = await importAssets(tarball, join(root, 'assets-tar'));
    assert.deepEqual(result.map((r) => `${r.status} ${r.kind}/${r.version} ${r.files}`), ['imported flatcar/3.0.0 2']);
  });
});

describe('/assets, /install and /time over HTTP', () => {
  let app: FastifyInstance;
  let assets: string;
  let t: ReturnType<typeof installProvisioner>;
  before(async () => {
    assets = join(root, 'assets-http');
    await importAssets(tree('http', flatcar('4081.2.0')), assets);
    mkdirSync(join(assets, 'etcd'), { recursive: true });
    writeFileSync(join(assets, 'etcd', 'etcd'), 'hand-placed');
    t = installProvisioner();
    app = await buildApp({ provisioner: t.provisioner, assetsDir: assets, firmwareDir: assets, logger: silentLogger() });
  });
  after(async () => app?.close());

  it('serves imported files that match their manifest, with ranges; files outside imported versions as before', async () => {
    const whole = await app.inject('/assets/flatcar/4081.2.0/flatcar_production_image.bin.bz2');
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.rawPayload.length, IMAGE.length);
    const range = await app.inject({ url: '/assets/flatcar/4081.2.0/flatcar_production_image.bin.bz2', headers: { range: 'bytes=10-19' } });
    assert.equal(range.statusCode, 206);
    assert.equal(range.rawPayload.length, 10);
    assert.equal((await app.inject('/assets/etcd/etcd')).body, 'hand-placed');
    assert.equal((await app.inject('/assets/flatcar/4081.2.0/manifest.json')).statusCode, 200);
  });

  it('a file whose bytes no longer match is not served (409), and the machine that asked gets a warning event', async () => {
    const path = join(assets, 'flatcar/4081.2.0/version.txt');
    writeFileSync(path, 'FLATCAR_VERSION=666666\n'.slice(0, readFileSync(path).length));
    const refused = await app.inject({ url: '/assets/flatcar/4081.2.0/version.txt', remoteAddress: '10.99.0.71' });
    assert.equal(refused.statusCode, 409);
    assert.match(refused.body, /fails its checksum/);
    const d1 = t.store.machineByName('d1')!;
    assert.match(t.store.listEvents({ machineId: d1.id }).at(-1)?.message ?? '', /^asset refused: flatcar\/4081\.2\.0\/version\.txt fails its checksum/);
  });

  it('GET /install/<token> only from the machine; GET /time is the server clock', async () => {
    const d1 = t.store.machineByName('d1')!;
    assert.ok(t.provisioner.machineScript({ mac: d1.macs[0], clientIp: d1.ip! }).ok);
    const token = t.store.machineByName('d1')!.bootToken!;
    assert.equal((await app.inject({ url: `/install/${token}`, remoteAddress: '10.99.0.99' })).statusCode, 403);
    const script = await app.inject({ url: `/install/${token}?dryRun=1`, remoteAddress: d1.ip! });
    assert.equal(script.statusCode, 200);
    assert.match(script.headers['content-type'] as string, /^text\/x-shellscript/);
    assert.match(script.body, /^DRY_RUN=1$/m);
    const time = await app.inject('/time');
    assert.ok(Math.abs(Number(time.body) - Date.now() / 1000) < 5);
    assert.ok(time.headers.date);
  });

  it('the verifier re-checks a file after it changes', async () => {
    const verifier = new AssetVerifier(assets);
    const path = 'flatcar/4081.2.0/flatcar_production_image.bin.bz2';
    assert.deepEqual(await verifier.check(path), { ok: true });
    writeFileSync(join(assets, path), Buffer.alloc(IMAGE.length, 9));
    const check = await verifier.check(path);
    assert.equal(!check.ok && check.status, 409);
    assert.equal((await verifier.check('flatcar/4081.2.0/not-listed')).ok, false);
  });
});
