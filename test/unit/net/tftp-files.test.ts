import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../server/log.js';
import { createRootResolver } from '../../../server/net/tftp-files.js';
import type { TftpContent, TftpRequestInfo } from '../../../server/net/tftp-server.js';

let base = '';
let root = '';

const request = (path: string): TftpRequestInfo => ({ path, client: { address: '127.0.0.1', port: 2000 }, localAddress: '127.0.0.1', options: {} });

function kindOf(content: TftpContent): string {
  return content.kind === 'buffer' ? `buffer:${content.data.toString()}` : content.kind;
}

before(async () => {
  base = await mkdtemp(join(tmpdir(), 'rackboot-tftp-files-'));
  root = join(base, 'root');
  await mkdir(join(root, 'boot/x64'), { recursive: true });
  await writeFile(join(root, 'undionly.kpxe'), 'kpxe');
  await writeFile(join(root, 'boot/x64/ipxe.efi'), 'efi');
  await writeFile(join(base, 'outside.txt'), 'secret');
  await writeFile(join(root, 'private.bin'), 'private');
  await chmod(join(root, 'private.bin'), 0o600);
  await symlink(join(base, 'outside.txt'), join(root, 'escape'));
  await symlink('../../outside.txt', join(root, 'boot/relative-escape'));
  await symlink(base, join(root, 'escape-dir'));
  await symlink('x64/ipxe.efi', join(root, 'boot/alias.efi'));
  await symlink('missing', join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
});

after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('tftp root resolver: confinement', () => {
  const cases: Array<[string, string]> = [
    ['undionly.kpxe', 'buffer:kpxe'],
    ['boot/x64/ipxe.efi', 'buffer:efi'],
    ['boot/alias.efi', 'buffer:efi'], // a symlink that stays inside is fine
    ['missing.efi', 'not-found'],
    ['undionly.kpxe/x', 'not-found'],
    ['dangling', 'not-found'],
    ['escape', 'denied'],
    ['boot/relative-escape', 'denied'],
    ['escape-dir/outside.txt', 'denied'],
    ['boot', 'denied'], // a directory
    ['fifo', 'denied'], // must not block on open
    ['private.bin', 'denied'], // not world-readable
    ['../outside.txt', 'denied'], // re-checked even if a caller skipped the path rules
    ['', 'denied'],
  ];
  for (const [path, expected] of cases) {
    it(`${JSON.stringify(path)} -> ${expected}`, async () => {
      const resolve = createRootResolver({ root, logger: silentLogger() });
      assert.equal(kindOf(await resolve(request(path))), expected);
    });
  }

  it('serves non-world-readable files when allowed', async () => {
    const resolve = createRootResolver({ root, logger: silentLogger(), allowNonWorldReadable: true });
    assert.equal(kindOf(await resolve(request('private.bin'))), 'buffer:private');
  });

  it('works when the root itself is reached through a symlink', async () => {
    const link = join(base, 'root-link');
    await symlink(root, link);
    const resolve = createRootResolver({ root: link, logger: silentLogger() });
    assert.equal(kindOf(await resolve(request('undionly.kpxe'))), 'buffer:kpxe');
    assert.equal(kindOf(await resolve(request('escape'))), 'denied');
  });

  it('follows a link out of the root only to a target named in symlinkTargets (file or directory)', async () => {
    await mkdir(join(base, 'firmware'), { recursive: true });
    await writeFile(join(base, 'firmware', 'ipxe.efi'), 'debian efi');
    await writeFile(join(base, 'firmware', 'other.efi'), 'other');
    await symlink(join(base, 'firmware', 'ipxe.efi'), join(root, 'debian-ipxe.efi'));
    await symlink(join(base, 'firmware', 'other.efi'), join(root, 'other.efi'));
    const refused = createRootResolver({ root, logger: silentLogger() });
    assert.equal(kindOf(await refused(request('debian-ipxe.efi'))), 'denied');
    const byFile = createRootResolver({ root, logger: silentLogger(), symlinkTargets: [join(base, 'firmware', 'ipxe.efi')] });
    assert.equal(kindOf(await byFile(request('debian-ipxe.efi'))), 'buffer:debian efi');
    assert.equal(kindOf(await byFile(request('other.efi'))), 'denied');
    assert.equal(kindOf(await byFile(request('escape'))), 'denied');
    const byDir = createRootResolver({ root, logger: silentLogger(), symlinkTargets: [join(base, 'firmware'), join(base, 'no-such-dir')] });
    assert.equal(kindOf(await byDir(request('other.efi'))), 'buffer:other');
    assert.equal(kindOf(await byDir(request('escape'))), 'denied');
  });

  it('refuses files above maxFileBytes', async () => {
    const resolve = createRootResolver({ root, logger: silentLogger(), maxFileBytes: 3 });
    assert.equal(kindOf(await resolve(request('undionly.kpxe'))), 'denied');
    assert.equal(kindOf(await resolve(request('boot/x64/ipxe.efi'))), 'buffer:efi');
  });

  it('rejects when the root does not exist (a configuration error, logged by the server)', async () => {
    const resolve = createRootResolver({ root: join(base, 'no-such-root'), logger: silentLogger() });
    await assert.rejects(resolve(request('x')), /ENOENT/);
  });
});

describe('tftp root resolver: cache', () => {
  it('serves the same buffer from memory until the file changes', async () => {
    const file = join(root, 'cached.bin');
    await writeFile(file, 'one');
    const resolve = createRootResolver({ root, logger: silentLogger() });
    const first = await resolve(request('cached.bin'));
    const second = await resolve(request('cached.bin'));
    assert.ok(first.kind === 'buffer' && second.kind === 'buffer');
    assert.equal(first.data, second.data, 'the very same Buffer: no second read');

    await writeFile(file, 'two!');
    await utimes(file, new Date(), new Date(Date.now() + 5_000)); // a different mtime even on coarse clocks
    const third = await resolve(request('cached.bin'));
    assert.equal(kindOf(third), 'buffer:two!');
  });

  it('shares one read between concurrent requests', async () => {
    await writeFile(join(root, 'shared.bin'), Buffer.alloc(1 << 20, 1));
    const resolve = createRootResolver({ root, logger: silentLogger() });
    const all = await Promise.all(Array.from({ length: 20 }, () => resolve(request('shared.bin'))));
    const buffers = new Set(all.map((c) => (c.kind === 'buffer' ? c.data : null)));
    assert.equal(buffers.size, 1);
  });

  it('evicts the least recently used file beyond maxCacheBytes', async () => {
    await writeFile(join(root, 'a.bin'), 'aaaa');
    await writeFile(join(root, 'b.bin'), 'bbbb');
    const resolve = createRootResolver({ root, logger: silentLogger(), maxCacheBytes: 6 });
    const a1 = await resolve(request('a.bin'));
    await resolve(request('b.bin')); // evicts a
    const a2 = await resolve(request('a.bin'));
    assert.ok(a1.kind === 'buffer' && a2.kind === 'buffer');
    assert.notEqual(a1.data, a2.data, 'a was read again');
    assert.deepEqual(a1.data, a2.data);
  });
});
