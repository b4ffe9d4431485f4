/**
 * boot-templates/install.sh.hbs rendered for every role of a sample rack (and DC/OS, dry run and
 * reprovision variants): bash -n and shellcheck on the script and on every script it writes, golden
 * files (test/fixtures/golden/install/; regenerate with UPDATE_GOLDEN=1), systemd-analyze verify on
 * every unit it writes, and the script run for real against a fake machine (sysfs, /dev, /proc in a
 * temp dir) and a local HTTP server standing in for rackboot: dry run, hardware minimums, a disk
 * with partitions, a corrupted image.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { InstallScriptContext, RootFile } from '../../../server/core/install-types.js';
import { installProvisioner, sampleInstallSettings, SAMPLE_IMAGE } from '../../helpers/install.js';

const GOLDEN = join(import.meta.dirname, '..', '..', 'fixtures', 'golden', 'install');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

interface Render {
  readonly id: string;
  readonly text: string;
  readonly context: InstallScriptContext;
}

function renderAll(): Render[] {
  const out: Render[] = [];
  const { provisioner, store } = installProvisioner();
  for (const name of ['s1', 's2', 't1', 't2', 'c1', 'c2', 'w1', 'd1']) {
    const r = provisioner.renderInstallScript(store.machineByName(name)!, `tok-${name}`);
    if (!r.ok) throw new Error(`${name}: ${r.errors.join('; ')}`);
    out.push({ id: `${store.machineByName(name)!.role}-${name}`, text: r.text, context: r.context });
  }
  const dry = provisioner.renderInstallScript(store.machineByName('d1')!, 'tok-d1', { dryRun: true });
  if (!dry.ok) throw new Error(dry.errors.join('; '));
  out.push({ id: 'dev-d1.dry-run', text: dry.text, context: dry.context });
  // DC/OS: one master (the dev box), the small machines as agents, a data profile on the master
  const dcos = installProvisioner({
    settings: sampleInstallSettings({
      roles: { dev: { payload: 'dcos', dcos: 'master', profile: 'data' }, small: { payload: 'dcos', dcos: 'slave' }, test: { payload: 'dcos', dcos: 'slave_public' } },
    }),
  });
  for (const name of ['d1', 's1', 't1']) {
    const r = dcos.provisioner.renderInstallScript(dcos.store.machineByName(name)!, `tok-${name}`);
    if (!r.ok) throw new Error(`dcos ${name}: ${r.errors.join('; ')}`);
    out.push({ id: `dcos-${name}`, text: r.text, context: r.context });
  }
  return out;
}

const renders = renderAll();
const byId = (id: string) => renders.find((r) => r.id === id) as Render;
const files = (r: Render): RootFile[] => [...r.context.files.os, ...r.context.files.payload, ...r.context.files.network];

describe('install.sh: rendered for every role', () => {
  it('bash -n accepts every render', () => {
    for (const r of renders) {
      const result = spawnSync('bash', ['-n'], { input: r.text, encoding: 'utf8' });
      assert.equal(result.status, 0, `${r.id}: ${result.stderr}`);
    }
  });

  it('shellcheck finds nothing in any render', { skip: which('shellcheck') ? false : 'shellcheck (Debian package shellcheck) is not installed' }, () => {
    for (const r of renders) {
      const result = spawnSync('shellcheck', ['-s', 'bash', '-'], { input: r.text, encoding: 'utf8' });
      assert.equal(result.status, 0, `${r.id}:\n${result.stdout}${result.stderr}`);
    }
  });

  it('shellcheck finds nothing in the scripts the install writes (rackboot-kubeadm, rackboot-dcos-install, ip-detect)', { skip: which('shellcheck') ? false : 'shellcheck is not installed' }, () => {
    let checked = 0;
    for (const r of renders) {
      for (const f of files(r).filter((f) => f.content.startsWith('#!'))) {
        const shell = f.content.startsWith('#!/bin/bash') ? 'bash' : 'sh';
        const result = spawnSync('shellcheck', ['-s', shell, '-'], { input: f.content, encoding: 'utf8' });
        assert.equal(result.status, 0, `${r.id} ${f.path}:\n${result.stdout}`);
        checked++;
      }
    }
    assert.ok(checked >= 8, `${checked} scripts checked`);
  });

  for (const r of renders) {
    it(`${r.id} matches test/fixtures/golden/install/${r.id}.sh`, () => {
      const path = join(GOLDEN, `${r.id}.sh`);
      if (UPDATE) {
        mkdirSync(GOLDEN, { recursive: true });
        writeFileSync(path, r.text);
        return;
      }
      assert.ok(existsSync(path), `${path} is missing: UPDATE_GOLDEN=1 node --import tsx --test test/unit/install/install-script.test.ts`);
      const golden = readFileSync(path, 'utf8');
      if (golden !== r.text) {
        const a = golden.split('\n');
        const b = r.text.split('\n');
        const line = a.findIndex((l, i) => l !== b[i]);
        assert.fail(`${r.id} differs at line ${line + 1}:\n  golden:   ${JSON.stringify(a[line])}\n  rendered: ${JSON.stringify(b[line])}\n(UPDATE_GOLDEN=1 to accept, then review git diff)`);
      }
    });
  }

  it('kubernetes: the lowest-IP control plane inits, the other control planes join with the certificate key, workers with the CA hash', () => {
    const yaml = (id: string) => files(byId(id)).find((f) => f.path === '/etc/rackboot/kubeadm.yaml')?.content ?? '';
    for (const id of ['production-central-c1', 'small-s1', 'test-t1']) {
      assert.match(yaml(id), /kind: InitConfiguration/, id);
      assert.match(yaml(id), /token: "abcdef\.0123456789abcdef"/, id);
      assert.ok(files(byId(id)).some((f) => f.path === '/etc/kubernetes/pki/ca.key' && f.mode === '0600'), id);
      assert.match(byId(id).text, /kubeadm init --config \/etc\/rackboot\/kubeadm\.yaml --upload-certs/, id);
    }
    assert.match(yaml('production-central-c1'), /controlPlaneEndpoint: "10\.99\.0\.51:6443"/);
    assert.match(yaml('production-central-c1'), /external:\n {4}endpoints:\n {6}- https:\/\/10\.99\.0\.51:2379\n {6}- https:\/\/10\.99\.0\.52:2379\n {6}- https:\/\/10\.99\.0\.53:2379\n {4}caFile: \/etc\/rackboot\/etcd\/ca\.crt\n {4}certFile: \/etc\/rackboot\/etcd\/server\.crt\n {4}keyFile: \/etc\/rackboot\/etcd\/server\.key/);
    for (const id of ['production-central-c2', 'small-s2']) {
      assert.match(yaml(id), /kind: JoinConfiguration[\s\S]*controlPlane:[\s\S]*certificateKey: "f{64}"/, id);
      assert.ok(!files(byId(id)).some((f) => f.path.startsWith('/etc/kubernetes/pki')), `${id} gets the certificates from the cluster`);
    }
    for (const id of ['production-worker-w1', 'test-t2']) {
      assert.match(yaml(id), /kind: JoinConfiguration[\s\S]*caCertHashes: \["sha256:0{64}"\]/, id);
      assert.doesNotMatch(yaml(id), /controlPlane:|certificateKey/, id);
    }
    assert.match(yaml('production-worker-w1'), /apiServerEndpoint: "10\.99\.0\.51:6443"/);
    assert.match(yaml('test-t2'), /apiServerEndpoint: "10\.99\.0\.31:6443"/);
    const c1 = byId('production-central-c1').context;
    assert.deepEqual(c1.downloads.map((d) => d.path), ['/opt/bin/kubeadm', '/opt/bin/kubelet', '/opt/bin/kubectl', '/opt/bin/crictl', '/opt/rackboot/kubernetes/images.tar']);
    assert.equal(byId('dev-d1').context.payload.kind, 'none');
  });

  it('DC/OS: dcos_install.sh from the bootstrap tree on first boot, ip-detect prints the static IP, local resolvers, no systemd-resolved', () => {
    const master = byId('dcos-d1');
    const helper = files(master).find((f) => f.path === '/opt/rackboot/bin/rackboot-dcos-install')?.content ?? '';
    assert.match(helper, /url='http:\/\/10\.99\.0\.1:8080\/assets\/dcos\/2\.2\.0\/dcos_install\.sh'/);
    assert.match(helper, /--no-block-dcos-setup master$/m);
    assert.equal(files(master).find((f) => f.path === '/etc/rackboot/dcos/ip-detect')?.content.split('\n').at(-2), 'echo 10.99.0.71');
    assert.equal(files(master).find((f) => f.path === '/etc/resolv.conf')?.content, 'nameserver 10.99.0.1\nsearch rack.test\n');
    assert.deepEqual(master.context.mask, ['systemd-resolved.service']);
    assert.match(files(byId('dcos-t1')).find((f) => f.path === '/opt/rackboot/bin/rackboot-dcos-install')?.content ?? '', /slave_public$/m);
    const two = installProvisioner({ settings: sampleInstallSettings({ roles: { small: { payload: 'dcos', dcos: 'master' } } }) });
    const three = two.provisioner.renderInstallScript(two.store.machineByName('s1')!, 't');
    assert.ok(three.ok, three.ok ? '' : three.errors.join());
    const even = installProvisioner({ settings: sampleInstallSettings({ roles: { small: { payload: 'dcos', dcos: 'master' }, dev: { payload: 'dcos', dcos: 'master' } } }) });
    const bad = even.provisioner.renderInstallScript(even.store.machineByName('s1')!, 't');
    assert.ok(!bad.ok && /1, 3, 5, 7 or 9 masters; the inventory has 4/.test(bad.errors.join()), bad.ok ? 'rendered' : bad.errors.join());
  });

  it('the installed system gets the role cloud-config (third stage), its callback URL, static network and a mount unit per profile partition', () => {
    const d1 = byId('dcos-d1').context;
    const userData = d1.files.os.find((f) => f.path === '/var/lib/flatcar-install/user_data')?.content ?? '';
    assert.match(userData, /^#cloud-config\n/);
    assert.match(userData, /rackboot-ready/);
    assert.doesNotMatch(userData, /install-script-url|rackboot-install/);
    assert.equal(d1.files.os.find((f) => f.path === '/etc/rackboot/callback-url')?.content, 'http://10.99.0.1:8080/callback/tok-d1\n');
    const mount = d1.files.os.find((f) => f.path === '/etc/systemd/system/var-lib-docker.mount')?.content ?? '';
    assert.match(mount, /What=\/dev\/disk\/by-label\/DOCKER\nWhere=\/var\/lib\/docker\nType=ext4/);
    assert.deepEqual(d1.partitions, [{ label: 'DOCKER', sizeMiB: 10240, filesystem: 'ext4' }, { label: 'DATA', sizeMiB: 0, filesystem: 'ext4' }]);
    assert.equal(
      byId('dev-d1').context.files.network.find((f) => f.path === '/etc/systemd/network/10-rackboot.network')?.content,
      '[Match]\nMACAddress=52:54:00:99:01:71\n[Network]\nAddress=10.99.0.71/24\nGateway=10.99.0.1\nDNS=10.99.0.1\nDomains=rack.test\nNTP=10.99.0.1\n',
    );
  });
});

describe('install.sh: the units it writes pass systemd-analyze verify', () => {
  const available = which('systemd-analyze') && existsSync('/usr/lib/systemd/system/sysinit.target');
  const reason = available ? false : 'systemd-analyze (Debian package systemd) is not installed';
  let root = '';
  before(() => {
    if (available) root = mkdtempSync(join(tmpdir(), 'rb-install-units-'));
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  // A throw-away root: this machine's system units, the files the install writes, and stand-ins for
  // what only the target has (the downloaded binaries in /opt/bin, Flatcar's containerd and docker units).
  function verify(r: Render): void {
    const dir = join(root, r.id);
    cpSync('/usr/lib/systemd/system', join(dir, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const f of files(r)) {
      const path = join(dir, f.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, f.content);
      chmodSync(path, parseInt(f.mode, 8));
    }
    for (const d of r.context.downloads) {
      mkdirSync(dirname(join(dir, d.path)), { recursive: true });
      writeFileSync(join(dir, d.path), '#!/bin/sh\n');
      chmodSync(join(dir, d.path), parseInt(d.mode, 8));
    }
    for (const stub of ['containerd.service', 'docker.service']) {
      if (!existsSync(join(dir, 'usr/lib/systemd/system', stub))) {
        writeFileSync(join(dir, 'usr/lib/systemd/system', stub), `[Unit]\nDescription=stand-in for Flatcar ${stub}\n[Service]\nExecStart=/bin/true\n`);
      }
    }
    const units = files(r)
      .filter((f) => /^\/etc\/systemd\/system\/[^/]+\.(service|mount)$/.test(f.path))
      .map((f) => f.path.split('/').pop() as string);
    if (units.length === 0) return;
    const result = spawnSync('systemd-analyze', ['verify', '--man=no', `--root=${dir}`, ...units], { encoding: 'utf8' });
    assert.equal(`${result.stdout}${result.stderr}`, '', `${r.id}: systemd-analyze verify printed findings`);
    assert.equal(result.status, 0, r.id);
  }

  for (const r of renders) it(`${r.id}: its units verify`, { skip: reason }, () => verify(r));
  it('verify does report a broken unit (the check is live)', { skip: reason }, () => {
    const r = byId('production-central-c1');
    const broken: Render = {
      ...r,
      id: 'broken',
      context: {
        ...r.context,
        files: { ...r.context.files, payload: r.context.files.payload.map((f) => (f.path.endsWith('rackboot-kubeadm.service') ? { ...f, content: f.content.replace('Type=oneshot', 'Type=oneshot\nBogusKey=1') } : f)) },
      },
    };
    assert.throws(() => verify(broken), /verify printed findings/);
  });
});

describe('install.sh: run against a fake machine and a stand-in rackboot', () => {
  let dir = '';
  let server: Server;
  let base = '';
  let image = SAMPLE_IMAGE;
  const posts: Array<{ event: string; message: string }> = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-install-run-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method === 'POST') {
          posts.push(JSON.parse(body) as { event: string; message: string });
          res.end('{}');
        } else if (req.url === '/time') res.end(`${Math.floor(Date.now() / 1000)}\n`);
        else if (req.url?.endsWith('flatcar_production_image.bin.bz2')) res.end(image);
        else res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A machine: 2 CPUs, 4 GiB, one 48 GiB virtio disk (optionally with a partition), one NIC. */
  function fakeMachine(name: string, options: { partition?: boolean; memoryKb?: number } = {}): string {
    const m = join(dir, name);
    const pci = join(m, 'sys/devices/pci0000:00/0000:00:04.0/virtio1');
    mkdirSync(pci, { recursive: true });
    mkdirSync(join(m, 'sys/block/vda'), { recursive: true });
    symlinkSync(pci, join(m, 'sys/block/vda/device'));
    writeFileSync(join(m, 'sys/block/vda/size'), `${48 * 1024 * 1024 * 2}\n`);
    writeFileSync(join(m, 'sys/block/vda/serial'), 'rbdisk-0');
    mkdirSync(join(m, 'sys/block/loop0'), { recursive: true });
    mkdirSync(join(m, 'sys/class/net/eth0/device'), { recursive: true });
    mkdirSync(join(m, 'sys/class/net/lo'), { recursive: true });
    mkdirSync(join(m, 'proc'), { recursive: true });
    writeFileSync(join(m, 'proc/cpuinfo'), 'processor\t: 0\nprocessor\t: 1\n');
    writeFileSync(join(m, 'proc/meminfo'), `MemTotal:       ${options.memoryKb ?? 4_000_000} kB\n`);
    writeFileSync(join(m, 'proc/mounts'), 'proc /proc proc rw 0 0\n');
    mkdirSync(join(m, 'dev'), { recursive: true });
    const disk = Buffer.alloc(1024 * 1024);
    if (options.partition) {
      mkdirSync(join(m, 'sys/block/vda/vda1'), { recursive: true });
      writeFileSync(join(m, 'sys/block/vda/vda1/partition'), '1\n');
      disk[510] = 0x55;
      disk[511] = 0xaa;
    }
    writeFileSync(join(m, 'dev/vda'), disk);
    return m;
  }

  function script(options: { allowWipe?: boolean; dryRun?: boolean; minimums?: Record<string, number> } = {}): string {
    const t = installProvisioner({
      settings: sampleInstallSettings({ diskRules: ['by-id:virtio-rbdisk-*'], roles: { dev: { minimums: { cpus: 2, memoryMb: 2048, disks: 1, diskMb: 8192, nics: 1, ...options.minimums } } } }),
    });
    const d1 = t.store.machineByName('d1')!;
    if (options.allowWipe) t.provisioner.reprovision(d1);
    const r = t.provisioner.renderInstallScript(t.store.machineByName('d1')!, 'tok', { dryRun: options.dryRun ?? false });
    if (!r.ok) throw new Error(r.errors.join());
    // the stand-in rackboot
    return r.text.replaceAll('http://10.99.0.1:8080', base);
  }

  function run(machine: string, text: string): Promise<{ code: number | null; output: string }> {
    const path = join(machine, 'install.sh');
    writeFileSync(path, text);
    return new Promise((resolve) => {
      const child = spawn('bash', [path], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', RACKBOOT_SYS: join(machine, 'sys'), RACKBOOT_DEV: join(machine, 'dev'), RACKBOOT_PROC: join(machine, 'proc'), RACKBOOT_WORK: join(machine, 'work'), RACKBOOT_FETCH_TRIES: '1', RACKBOOT_CALLBACK_TRIES: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }

  it('dry run: time, hardware, the disk by its stable id, then the plan; nothing written, no installed', async () => {
    posts.length = 0;
    const m = fakeMachine('dry');
    const result = await run(m, script({ dryRun: true }));
    assert.equal(result.code, 0, result.output);
    assert.deepEqual(posts.map((p) => p.message.slice(0, 24)), ['step 1/7 time: clock set', 'step 2/7 hardware: 2 CPU', 'step 3/7 disk: by-id/vir', 'dry run: would write fla']);
    assert.match(posts[2]!.message, /by-id\/virtio-rbdisk-0 \(vda, 49152 MiB\) is blank/);
    assert.match(posts[3]!.message, /to by-id\/virtio-rbdisk-0 \(vda\).*payload \(none\)/);
    assert.ok(readFileSync(join(m, 'dev/vda')).every((b) => b === 0));
  });

  it('below the role minimums: failed at step 2 with every shortfall', async () => {
    posts.length = 0;
    const result = await run(fakeMachine('small'), script({ dryRun: true, minimums: { cpus: 4, nics: 2 } }));
    assert.equal(result.code, 1);
    assert.equal(posts.at(-1)?.event, 'failed');
    assert.match(posts.at(-1)!.message, /^step 2\/7 hardware: below the minimums of role dev: 2 CPUs, needs 4; 1 NICs, needs 2 \| last output: /);
  });

  it('a disk with partitions is refused unless the machine was reprovisioned', async () => {
    posts.length = 0;
    const refused = await run(fakeMachine('used', { partition: true }), script({ dryRun: true }));
    assert.equal(refused.code, 1);
    assert.match(posts.at(-1)!.message, /^step 3\/7 disk: by-id\/virtio-rbdisk-0 \(vda\) holds partitions \(vda1\); refusing to overwrite it \(run: rackboot reprovision d1\)/);
    posts.length = 0;
    const allowed = await run(fakeMachine('reprovisioned', { partition: true }), script({ dryRun: true, allowWipe: true }));
    assert.equal(allowed.code, 0, allowed.output);
    assert.match(posts.find((p) => p.message.startsWith('step 3/7'))!.message, /holds partitions \(vda1\): overwriting it \(reprovision\)/);
  });

  it('an image that does not match the manifest is never written: failed at step 4 naming the checksums', async () => {
    posts.length = 0;
    image = Buffer.from('not really a flatcar imagE\n');
    const m = fakeMachine('corrupt');
    const result = await run(m, script());
    image = SAMPLE_IMAGE;
    assert.equal(result.code, 1);
    const failed = posts.at(-1)!;
    assert.equal(failed.event, 'failed');
    assert.match(failed.message, /^step 4\/7 os: checksum mismatch for http:\S+flatcar_production_image\.bin\.bz2: 27 bytes with sha256 [0-9a-f]{64}; the manifest says 27 bytes with sha256 [0-9a-f]{64}/);
    assert.ok(readFileSync(join(m, 'dev/vda')).every((b) => b === 0), 'the disk was not touched');
  });
});
