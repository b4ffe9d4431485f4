/**
 * The lab harness end to end: build (or reuse) the test OS, make a lab network, run an HTTP server
 * and busybox udhcpd inside it, and boot three VMs into the test OS at once:
 *   vm1  direct kernel (-kernel/-initrd/-append), virtio-net, static ip=
 *   vm2  direct kernel, e1000, DHCP (udhcpc), no rackboot.test.poweroff (stays up; stop() ends it)
 *   vm3  SeaBIOS + iPXE option ROM: DHCP -> http boot.ipxe -> kernel + initrd over HTTP
 * and check the callbacks of the test OS's /init contract. Then tear down and check nothing is left.
 *
 * Needs root, iproute2, /dev/net/tun, QEMU; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  createLabNetwork,
  namespaceExists,
  namespaceInode,
  processNetnsInode,
  sweepStaleLabNetworks,
  uniqueLabName,
  type LabNetwork,
} from '../../server/lab/netns.js';
import { checkLabPrereqs, findExecutable, testOsFiles } from '../../server/lab/prereqs.js';
import { pidAlive, type LabProcess } from '../../server/lab/process.js';
import { startVm, type Vm } from '../../server/lab/qemu.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const osFiles = testOsFiles(join(repoRoot, '.cache/test-os'));
const prereqs = checkLabPrereqs({ needQemu: true });
const skipAll = prereqs.ok ? false : `lab prerequisites missing: ${prereqs.missing.join('; ')}`;
const busybox = findExecutable('busybox');

interface Request {
  t: number;
  method: string;
  url: string;
  contentType: string | null;
  body: string;
}

const SERVER_JS = `
import fs from 'node:fs';
import http from 'node:http';
const [addr, port, kernel, initrd, bootScript] = process.argv.slice(2);
const files = { '/vmlinuz': fs.readFileSync(kernel), '/initrd.img': fs.readFileSync(initrd),
  '/boot.ipxe': fs.readFileSync(bootScript) };
const cloudConfig = (name) => '#cloud-config\\nhostname: ' + name + '\\nssh_authorized_keys: []\\n';
http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    console.log('REQ ' + JSON.stringify({ t: Date.now(), method: req.method, url: req.url,
      contentType: req.headers['content-type'] ?? null, body }));
    if (req.method === 'GET' && req.url.startsWith('/cloud-config/')) {
      res.setHeader('content-type', 'text/yaml');
      res.end(cloudConfig(req.url.slice('/cloud-config/'.length)));
    } else if (req.method === 'GET' && files[req.url]) {
      res.end(files[req.url]);
    } else if (req.method === 'POST' && req.url.startsWith('/callback/')) {
      res.setHeader('content-type', 'application/json');
      res.end('{}');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
}).listen(Number(port), addr, () => console.log('listening on ' + addr + ':' + port));
`;

const cloudConfigFor = (name: string): string => `#cloud-config\nhostname: ${name}\nssh_authorized_keys: []\n`;

function requests(server: LabProcess): Request[] {
  return server
    .output()
    .split('\n')
    .filter((l) => l.startsWith('REQ '))
    .map((l) => JSON.parse(l.slice(4)) as Request);
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('lab harness (namespaces + QEMU + test OS)', { skip: skipAll }, () => {
  let testOsSkip: string | undefined;
  let net: LabNetwork | undefined;
  const started: number[] = [];

  after(async () => {
    await net?.destroy();
  });

  test('scripts/build-test-os.sh builds or reuses the test OS', { timeout: 600_000 }, (t) => {
    const t0 = Date.now();
    const r = spawnSync('bash', [join(repoRoot, 'scripts/build-test-os.sh'), osFiles.dir], {
      encoding: 'utf8',
      timeout: 590_000,
    });
    t.diagnostic(`build-test-os.sh: exit ${r.status} in ${Date.now() - t0} ms: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    if (r.status === 2) {
      testOsSkip = `test OS prerequisites missing:\n${r.stderr}`;
      t.skip(testOsSkip);
      return;
    }
    assert.equal(r.status, 0, `build-test-os.sh failed:\n${r.stderr}`);
    const manifest = JSON.parse(readFileSync(osFiles.manifest, 'utf8')) as {
      kernelVersion: string;
      files: Record<string, { sha256: string; bytes: number }>;
    };
    assert.match(manifest.kernelVersion, /^\d+\.\d+\.\d+-\d+-amd64$/);
    for (const [name, path] of [['vmlinuz', osFiles.kernel], ['initrd.img', osFiles.initrd]] as const) {
      const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
      assert.equal(manifest.files[name]?.sha256, sha, `${name} matches manifest.json`);
    }
  });

  test('boots the test OS on a lab network and receives its callbacks', { timeout: 300_000 }, async (t) => {
    if (testOsSkip || !existsSync(osFiles.initrd)) {
      t.skip(testOsSkip ?? 'no test OS');
      return;
    }
    const stale = await sweepStaleLabNetworks('rbtest');
    if (stale.length > 0) t.diagnostic(`removed namespaces of dead earlier runs: ${stale.join(' ')}`);
    net = await createLabNetwork({ name: uniqueLabName('rbtest'), subnet: '10.99.0.0/24' });
    const server = net.serverAddress;
    assert.equal(server, '10.99.0.1');
    t.diagnostic(`lab ${net.netns}, radvd ${net.radvd ? 'on' : 'off (not installed: iPXE waits ~13 s for IPv6)'}`);

    const base = `http://${server}:8080`;
    const kernelArgs = (name: string, extra: string[], poweroff: boolean): string =>
      ['console=ttyS0', ...extra, `cloud-config-url=${base}/cloud-config/${name}`, `rackboot.callback=${base}/callback/${name}`,
        poweroff ? 'rackboot.test.poweroff' : ''].filter(Boolean).join(' ');
    // vm3's iPXE script. `initrd=initrd.img` matters under UEFI (the EFI stub loads the initrd by
    // name); under BIOS it is harmless.
    const bootScript = join(net.workDir, 'boot.ipxe');
    writeFileSync(bootScript, `#!ipxe\nkernel ${base}/vmlinuz initrd=initrd.img ${kernelArgs('vm3', [], true)}\ninitrd ${base}/initrd.img\nboot\n`);

    // The HTTP server runs inside the namespace; its PID is node's own, not a wrapper's.
    const serverJs = join(net.workDir, 'http-server.mjs');
    writeFileSync(serverJs, SERVER_JS);
    const http = await net.spawn(process.execPath, [serverJs, server, '8080', osFiles.kernel, osFiles.initrd, bootScript]);
    started.push(http.pid);
    await http.waitForOutput(/listening on/, 10_000);
    assert.equal(processNetnsInode(http.pid), namespaceInode(net.netns), 'server runs inside the lab namespace');
    assert.equal(readFileSync(`/proc/${http.pid}/comm`, 'utf8').trim(), 'node', 'recorded PID is node itself');

    // busybox udhcpd: leases for vm2 (the test OS's udhcpc path) and vm3 (iPXE, boot file URL).
    let dhcp: LabProcess | undefined;
    if (busybox) {
      const conf = join(net.workDir, 'udhcpd.conf');
      writeFileSync(conf, [
        `interface ${net.bridge}`, `start ${net.hostAddress(100)}`, `end ${net.hostAddress(150)}`,
        `lease_file ${join(net.workDir, 'udhcpd.leases')}`, `pidfile ${join(net.workDir, 'udhcpd.pid')}`,
        `siaddr ${server}`, `boot_file ${base}/boot.ipxe`,
        `option subnet ${net.netmask}`, `option router ${server}`, `option dns ${server}`, 'option lease 600', '',
      ].join('\n'));
      writeFileSync(join(net.workDir, 'udhcpd.leases'), '');
      dhcp = await net.spawn(busybox, ['udhcpd', '-f', conf]);
      started.push(dhcp.pid);
    }

    interface Booted { name: string; vm: Vm; t0: number; poweroff: boolean; how: 'static' | 'dhcp' | 'ipxe' }
    const vms: Booted[] = [];
    const boot = async (name: string, n: number, nic: 'virtio-net-pci' | 'e1000', how: Booted['how'], poweroff: boolean): Promise<void> => {
      const lab = net!;
      const tap = await lab.addTap(`tap${n}`);
      const ipArg = how === 'static' ? [`ip=${lab.hostAddress(10 + n)}::${server}:${lab.netmask}:${name}:eth0:off`] : [];
      const t0 = Date.now();
      const vm = await startVm({
        netns: lab,
        tap,
        mac: `52:54:00:99:00:${String(n).padStart(2, '0')}`,
        nic,
        firmware: how === 'ipxe' ? 'bios-ipxe-rom' : 'direct-kernel',
        kernel: { kernel: osFiles.kernel, initrd: osFiles.initrd, append: kernelArgs(name, ipArg, poweroff) },
        serialLog: join(lab.workDir, `${name}.serial.log`),
      });
      started.push(vm.pid);
      assert.equal(processNetnsInode(vm.pid), namespaceInode(lab.netns), 'QEMU runs inside the lab namespace');
      assert.equal(readFileSync(`/proc/${vm.pid}/comm`, 'utf8').trim().slice(0, 6), 'qemu-s', 'recorded PID is QEMU itself');
      vms.push({ name, vm, t0, poweroff, how });
    };
    await boot('vm1', 1, 'virtio-net-pci', 'static', true);
    if (dhcp) {
      await boot('vm2', 2, 'e1000', 'dhcp', false);
      await boot('vm3', 3, 'virtio-net-pci', 'ipxe', true);
    } else {
      t.diagnostic('busybox not found: only the static VM was booted');
    }

    for (const { name, vm, t0, poweroff, how } of vms) {
      const ready = new RegExp(`"url":"/callback/${name}".*\\\\"event\\\\":\\\\"(ready|failed)\\\\"`);
      try {
        await http.waitForOutput(ready, 200_000);
      } catch (err) {
        assert.fail(`${name}: ${String(err)}\nserial console:\n${vm.serial().split('\n').slice(-30).join('\n')}`);
      }
      const all = requests(http);
      const reqs = all.filter((r) => r.url.endsWith(`/${name}`));
      const callbacks = reqs.filter((r) => r.method === 'POST');
      for (const cb of callbacks) assert.equal(cb.contentType, 'application/json');
      const events = callbacks.map((r) => JSON.parse(r.body) as { event: string; message: string });
      assert.deepEqual(events.map((e) => e.event), ['booted', 'ready'], `${name} events: ${JSON.stringify(events)}`);
      assert.deepEqual(Object.keys(events[0]!).sort(), ['event', 'message']);
      assert.match(events[0]!.message, how === 'static' ? new RegExp(`${net.hostAddress(10 + Number(name.slice(2)))}/24 \\(static\\)`) : /\(dhcp\)/);
      const cc = cloudConfigFor(name);
      const sha = createHash('sha256').update(cc).digest('hex');
      assert.equal(events[1]!.message, `cloud-config ${Buffer.byteLength(cc)} bytes, sha256 ${sha}`);
      assert.ok(reqs.some((r) => r.method === 'GET' && r.url === `/cloud-config/${name}`), 'cloud-config fetched');
      if (how === 'ipxe') {
        for (const f of ['/boot.ipxe', '/vmlinuz', '/initrd.img']) assert.ok(all.some((r) => r.url === f), `iPXE fetched ${f}`);
      }
      t.diagnostic(`${name} (${how}): QEMU start -> booted callback ${callbacks[0]!.t - t0} ms, -> ready ${callbacks[1]!.t - t0} ms`);
      await vm.waitForSerial(/test-os: callback ready sent/, 20_000);

      if (poweroff) {
        const status = await within(vm.exited, 30_000, `${name} powers off (rackboot.test.poweroff)`);
        assert.equal(status.code, 0, `${name} QEMU exit status`);
      } else {
        await vm.waitForSerial(/test-os: staying up/, 10_000);
        assert.equal(vm.process.exitStatus, undefined, `${name} still running without rackboot.test.poweroff`);
        await within(vm.stop(), 15_000, `${name} stop()`);
        assert.equal(pidAlive(vm.pid), false);
      }
    }
  });

  test('destroy() stops every process, sweeps leftovers and deletes the namespace', { timeout: 60_000 }, async (t) => {
    if (!net) {
      t.skip('no lab network (the boot test was skipped)');
      return;
    }
    // A process the harness did not start itself: only the `ip netns pids` sweep can find it.
    const orphan = await net.exec('sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo $!']);
    const orphanPid = Number(orphan.stdout.trim());
    assert.ok(pidAlive(orphanPid));
    assert.ok((await net.pids()).includes(orphanPid));
    const name = net.netns;
    const workDir = net.workDir;
    const t0 = Date.now();
    await net.destroy();
    t.diagnostic(`destroy() took ${Date.now() - t0} ms`);
    assert.equal(await namespaceExists(name), false, 'namespace deleted');
    for (const pid of [...started, orphanPid]) assert.equal(pidAlive(pid), false, `pid ${pid} gone`);
    assert.equal(existsSync(workDir), false, 'work dir removed');
    await net.destroy(); // idempotent
  });
});
