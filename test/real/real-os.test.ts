/**
 * The real test OS (scripts/build-real-test-os.sh: Debian kernel, systemd as PID 1, systemd-networkd,
 * Debian's Ignition, rackboot-cloudinit) PXE-boots from rackboot in QEMU (SeaBIOS + iPXE ROM, TCG):
 *   (a) Ignition: a hand-written Ignition config served from rackboot's /assets writes a file and an
 *       enabled unit; systemd starts the unit after switch-root and it POSTs the file to a listener
 *       this test runs in the namespace.
 *   (b) cloud-config: rackboot renders the `test` role (one etcd member); rackboot-cloudinit applies
 *       it (write_files, networkd, units), the member's etcd comes from rackboot's /assets (Debian's
 *       etcd packed like an upstream release, scripts/build-etcd-release.sh), and the rendered
 *       rackboot-ready reports `ready` once etcd answers.
 * One VM at a time. Needs root, QEMU, the iPXE ROM and the Debian mirror for the first build; skips
 * saying what is missing. Boot times are printed (docs/testing.md quotes them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createLabNetwork, uniqueLabName, type LabNetwork } from '../../server/lab/netns.js';
import { checkLabPrereqs, testOsFiles } from '../../server/lab/prereqs.js';
import type { LabProcess } from '../../server/lab/process.js';
import { startVm, type Vm } from '../../server/lab/qemu.js';
import { rackboot } from '../helpers/cli.js';
import { manifest } from '../helpers/install.js';
import { assertInOrder, machineEvents, runBuildScript, waitForEvent, type EventRow } from '../helpers/lab-events.js';

const ROOT = join(import.meta.dirname, '..', '..');
const realOs = testOsFiles(join(ROOT, '.cache', 'real-test-os'));
const ETCD_RELEASE = join(ROOT, '.cache', 'etcd-release');
const ETCD_MIRROR_VERSION = 'v3.4.23';
const BOOT_TIMEOUT_MS = Number(process.env.RACKBOOT_TESTOS_BOOT_TIMEOUT_S ?? 540) * 1000;
const LISTENER_PORT = 8081;
const VM_MEMORY_MB = 768;
const ARTIFACTS = join(ROOT, 'test-artifacts');

function prerequisites(): string | null {
  const basic = checkLabPrereqs({ needQemu: true, needIpxeRom: true });
  if (!basic.ok) return basic.missing.join('; ');
  return runBuildScript('build-real-test-os.sh', [realOs.dir]) ?? runBuildScript('build-etcd-release.sh', [ETCD_RELEASE]);
}

const skipReason = prerequisites();

/** The etcd binary from the release tarball the mirror script made (etcd-vX.Y.Z-linux-amd64/etcd). */
/** The release tarball's etcd and etcdctl as an imported mirror version (files + manifest.json), so rackboot can give Ignition their checksums. */
function mirrorEtcd(into: string, assets: string): string {
  const etcd = etcdFromRelease(into);
  const dir = join(assets, 'etcd', ETCD_MIRROR_VERSION);
  mkdirSync(dir, { recursive: true });
  const files: Record<string, Buffer> = {};
  for (const name of ['etcd', 'etcdctl']) {
    copyFileSync(join(etcd, '..', name), join(dir, name));
    files[name] = readFileSync(join(dir, name));
  }
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest('etcd', ETCD_MIRROR_VERSION, files), null, 2)}\n`);
  return `etcd/${ETCD_MIRROR_VERSION}/etcd`;
}

function etcdFromRelease(into: string): string {
  const list = spawnSync('bash', ['-c', `ls -d "${ETCD_RELEASE}"/etcd-v*-linux-amd64.tar.gz | sort -V | tail -n 1`], { encoding: 'utf8' });
  const tarball = list.stdout.trim();
  assert.ok(tarball.endsWith('.tar.gz'), `no etcd release tarball in ${ETCD_RELEASE}`);
  const name = tarball.slice(tarball.lastIndexOf('/') + 1, -'.tar.gz'.length);
  const out = mkdtempSync(join(into, 'etcd-'));
  const untar = spawnSync('tar', ['-xzf', tarball, '-C', out], { encoding: 'utf8' });
  assert.equal(untar.status, 0, untar.stderr);
  return join(out, name, 'etcd');
}

describe('the real test OS boots from rackboot and applies what it is given', { skip: skipReason ?? false }, () => {
  let lab: LabNetwork;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-testos-'));
    lab = await createLabNetwork({ name: uniqueLabName('rbtestos'), subnet: '10.99.0.0/24' });
    await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
  });

  after(async () => {
    await lab?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function boot(options: {
    label: string;
    mac: string;
    hostNumber: number;
    role: string;
    extraArgs: readonly string[];
    /** files to place below the assets directory (relative path -> source file or text) */
    assets: Record<string, { file: string } | { text: string }>;
    /** the role's config format (boot.configFormat.default) */
    configFormat?: 'cloud-config' | 'ignition';
    /** resolves when the boot has done what the test waits for */
    until: (ctx: { db: string; rb: LabProcess; listener: LabProcess; vm: Vm }) => Promise<void>;
  }): Promise<{ db: string; seconds: number; serial: string; listener: string }> {
    const dir = mkdtempSync(join(work, `${options.label}-`));
    const assets = join(dir, 'assets');
    mkdirSync(assets);
    copyFileSync(realOs.kernel, join(assets, 'vmlinuz'));
    copyFileSync(realOs.initrd, join(assets, 'initrd.img'));
    for (const [path, source] of Object.entries(options.assets)) {
      mkdirSync(join(assets, path, '..'), { recursive: true });
      if ('file' in source) copyFileSync(source.file, join(assets, path));
      else writeFileSync(join(assets, path), source.text);
    }
    const etcdBinary = mirrorEtcd(dir, assets);
    const server = lab.serverAddress;
    const config = join(dir, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${dir}/data
log: { level: info }
server: { address: ${server} }
http: { listen: ${server}, port: 8080 }
tftp: { listen: ${server}, port: 69 }
dhcp:
  enabled: true
  subnets: [{ cidr: ${lab.subnet}, gateway: ${server}, dns: [${server}], leaseSeconds: 600 }]
boot:
  assetsDir: ${assets}
  os: { name: real-test-os, kernel: vmlinuz, initrds: [initrd.img], args: [${options.extraArgs.join(', ')}] }
  kernelArgs: [console=ttyS0]
  configFormat: { default: ${options.configFormat ?? 'cloud-config'} }
cluster: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxeHKmWGXo8k0wq8ZRUAiGc0DT9HxEVWV0QJOQOdmqA testos@rackboot"], etcdBinary: ${etcdBinary} }
`,
    );
    const ip = lab.hostAddress(options.hostNumber);
    const add = rackboot(['--config', config, 'machines', 'add', '--mac', options.mac, '--ip', ip, '--name', options.label, '--role', options.role, '--mode', 'memory']);
    assert.equal(add.code, 0, add.stderr);

    let rb: LabProcess | undefined;
    let listener: LabProcess | undefined;
    let vm: Vm | undefined;
    try {
      rb = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], { cwd: ROOT, logFile: join(dir, 'rackboot.log') });
      await rb.waitForOutput(/rackboot serving/, 30_000);
      listener = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'callback-listener.ts'), server, String(LISTENER_PORT)], { cwd: ROOT });
      await listener.waitForOutput(/listening on/, 30_000);
      const tap = await lab.addTap(`tap-${options.label}`.slice(0, 15));
      const started = Date.now();
      vm = await startVm({ netns: lab, tap, mac: options.mac, firmware: 'bios-ipxe-rom', memoryMb: VM_MEMORY_MB, serialLog: join(dir, 'serial.log') });
      const db = join(dir, 'data', 'rackboot.db');
      try {
        // systemd's emergency mode (a failed Ignition stage, a failed switch-root) ends the wait at once
        const emergency = vm.waitForSerial(/Reached target .*emergency\.target/, BOOT_TIMEOUT_MS + 60_000).then(
          () => {
            throw new Error('the VM entered systemd emergency mode');
          },
          () => new Promise<never>(() => {}),
        );
        await Promise.race([options.until({ db, rb, listener, vm }), emergency]);
      } catch (error) {
        throw new Error(`${(error as Error).message}\n--- serial (tail) ---\n${vm.serial().slice(-4000)}\n--- rackboot (tail) ---\n${rb.output().slice(-2000)}`);
      }
      const seconds = (Date.now() - started) / 1000;
      return { db, seconds, serial: vm.serial(), listener: listener.output() };
    } finally {
      await vm?.stop();
      await listener?.stop();
      await rb?.stop();
      // the whole console stays for reading after the run (test-artifacts/ is not committed)
      mkdirSync(ARTIFACTS, { recursive: true });
      if (vm) copyFileSync(join(dir, 'serial.log'), join(ARTIFACTS, `real-os-${options.label}.serial.log`));
    }
  }

  const serverDied = (rb: LabProcess, vm: Vm) => (): string | null => {
    if (rb.exitStatus) return `rackboot exited (${JSON.stringify(rb.exitStatus)})`;
    if (vm.process.exitStatus) return `QEMU exited (${JSON.stringify(vm.process.exitStatus)})`;
    return null;
  };

  test("(a) Ignition: rackboot's rendered Ignition for the `test` role is applied by the real Ignition; etcd starts over TLS and the machine reports ready", async (t) => {
    const result = await boot({
      label: 'ign',
      mac: '52:54:00:99:00:31',
      hostNumber: 31,
      role: 'test',
      configFormat: 'ignition',
      extraArgs: [],
      assets: {},
      until: async ({ db, rb, vm }) => {
        const events = await waitForEvent(db, 'ign', 'ready', BOOT_TIMEOUT_MS, () => {
          const died = serverDied(rb, vm)();
          if (died) return died;
          const failed = eventsOf(db, 'ign').find((e) => e.type === 'failed' || e.type === 'render-failed');
          return failed ? `${failed.type}: ${failed.message}` : null;
        });
        assert.ok(events.length > 0);
      },
    });
    t.diagnostic(`Ignition boot: QEMU start -> ready ${result.seconds.toFixed(0)} s (TCG)`);
    const events = eventsOf(result.db, 'ign');
    assertInOrder(events.map((e) => e.type), ['dhcp', 'ipxe', 'booting', 'configured', 'ready']);
    assert.match(events.find((e) => e.type === 'ipxe')?.message ?? '', /ignition/);
    assert.match(events.find((e) => e.type === 'ready')?.message ?? '', /etcd is up/);
    // Ignition itself ran its stages in the initrd (its journal lines reach the serial console), and the cloud-config applier did not run
    assert.match(result.serial, /Ignition \(files\)/);
    assert.match(result.serial, /Switching root/);
    assert.doesNotMatch(result.serial, /rackboot-cloudinit: applied/);
  });

  test('(b) rackboot-cloudinit applies the rendered `test` role: etcd from /assets starts and rackboot-ready reports ready', async (t) => {
    const result = await boot({
      label: 'ccfg',
      mac: '52:54:00:99:00:32',
      hostNumber: 32,
      role: 'test',
      extraArgs: [],
      assets: {},
      until: async ({ db, rb, vm }) => {
        const events = await waitForEvent(db, 'ccfg', 'ready', BOOT_TIMEOUT_MS, () => {
          const died = serverDied(rb, vm)();
          if (died) return died;
          const failed = eventsOf(db, 'ccfg').find((e) => e.type === 'failed');
          return failed ? `failed: ${failed.message}` : null;
        });
        assert.ok(events.length > 0);
      },
    });
    t.diagnostic(`cloud-config boot: QEMU start -> ready ${result.seconds.toFixed(0)} s (TCG)`);
    const events = eventsOf(result.db, 'ccfg');
    assertInOrder(events.map((e) => e.type), ['dhcp', 'ipxe', 'booting', 'booted', 'configured', 'ready']);
    assert.match(events.find((e) => e.type === 'ready')?.message ?? '', /etcd is up/);
    assert.match(result.serial, /rackboot-cloudinit: hostname: ccfg/);
    assert.match(result.serial, /rackboot-cloudinit: write_files: \/etc\/systemd\/network\/10-rackboot.network/);
    assert.match(result.serial, /rackboot-cloudinit: ssh_authorized_keys: 1 for core/);
    assert.match(result.serial, /rackboot-cloudinit: applied: \d+ units/);
  });
});

if (skipReason) {
  test('the real test OS boots from rackboot', { skip: `skipped: ${skipReason}` }, () => {});
}

/**
 * rackboot-cloudinit's YAML reader (awk, run by busybox as in the image) against the `yaml` package,
 * on what rackboot renders for every role and mode, and on YAML it must refuse. No root, no QEMU.
 */
const BUSYBOX = '/bin/busybox';
const APPLIER = join(ROOT, 'scripts', 'real-test-os', 'rackboot-cloudinit');
describe("rackboot-cloudinit reads rackboot's cloud-configs as a YAML parser does", { skip: existsSync(BUSYBOX) ? false : `skipped: ${BUSYBOX} is missing (apt-get install busybox-static)` }, () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rb-testos-parse-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function parseWithApplier(text: string, name: string): { code: number | null; stderr: string; values: Map<string, string> } {
    const input = join(dir, `${name}.yaml`);
    const out = join(dir, `${name}.parsed`);
    writeFileSync(input, text);
    // busybox's awk and sh, as inside the image
    const run = spawnSync(BUSYBOX, ['sh', APPLIER, '--parse', input, out], { encoding: 'utf8', env: { PATH: join(dir, 'bin') } });
    const values = new Map<string, string>();
    if (existsSync(out)) for (const file of readdirSync(out)) values.set(file, readFileSync(join(out, file), 'utf8'));
    return { code: run.status, stderr: run.stderr, values };
  }

  /** Every scalar of the document by its path (list items numbered from 0), as strings. */
  function flatten(value: unknown, path: string, into: Map<string, string>): Map<string, string> {
    if (Array.isArray(value)) value.forEach((item, i) => flatten(item, path ? `${path}.${i}` : String(i), into));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) flatten(v, path ? `${path}.${k}` : k, into);
    else into.set(path, String(value));
    return into;
  }

  test('every role (dev also in install mode): the same scalars as the yaml package', () => {
    mkdirSync(join(dir, 'bin'), { recursive: true });
    for (const applet of ['awk', 'sed', 'mkdir', 'cat', 'head', 'grep', 'sort', 'ls', 'tr']) {
      spawnSync('ln', ['-sf', BUSYBOX, join(dir, 'bin', applet)]);
    }
    const config = join(dir, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${dir}/data
server: { address: 10.99.0.1 }
http: { listen: 10.99.0.1, port: 8080 }
dhcp:
  subnets: [{ cidr: 10.99.0.0/24, gateway: 10.99.0.1, dns: [10.99.0.1], domain: rack.test, leaseSeconds: 600 }]
boot:
  assetsDir: ${join(dir, 'bin')}
  os: { name: real-test-os, kernel: vmlinuz, initrds: [initrd.img] }
cluster: { sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBxeHKmWGXo8k0wq8ZRUAiGc0DT9HxEVWV0QJOQOdmqA a@b", "ssh-rsa AAAAB3NzaC1yc2E= second key"], ntpServers: [10.99.0.1] }
`,
    );
    const roles = ['dev', 'test', 'small', 'production-central', 'production-worker'];
    let host = 10;
    let rendered = 0;
    for (const role of roles) {
      for (const mode of role === 'dev' ? ['memory', 'install'] : ['memory']) {
        host += 1;
        const name = `${role}-${mode}`;
        const add = rackboot(['--config', config, 'machines', 'add', '--mac', `52:54:00:99:01:${host.toString(16).padStart(2, '0')}`, '--ip', `10.99.0.${host}`, '--name', name, '--role', role, '--mode', mode]);
        assert.equal(add.code, 0, add.stderr);
        const preview = rackboot(['--config', config, 'preview', name, '--json']);
        assert.equal(preview.code, 0, preview.stderr);
        const cloudConfig = (JSON.parse(preview.stdout) as { preview: { cloudConfig: { ok: boolean; text?: string } } }).preview.cloudConfig;
        if (!cloudConfig.ok || !cloudConfig.text) continue; // e.g. a cluster role that needs more members first
        rendered += 1;
        const parsed = parseWithApplier(cloudConfig.text, name);
        assert.equal(parsed.code, 0, `${name}: ${parsed.stderr}`);
        assert.deepEqual(Object.fromEntries([...parsed.values].sort()), Object.fromEntries([...flatten(parseYaml(cloudConfig.text), '', new Map())].sort()), name);
      }
    }
    assert.ok(rendered >= 3, `only ${rendered} role/mode renders to compare`);
  });

  test('YAML outside its subset is refused before anything is applied', () => {
    const refused = {
      folded: '#cloud-config\nwrite_files:\n  - path: /x\n    content: >\n      folded\n',
      anchor: '#cloud-config\nhostname: &h a\n',
      alias: '#cloud-config\nhostname: *h\n',
      tag: '#cloud-config\nhostname: !!str a\n',
      flowMapping: '#cloud-config\nhostname: {a: b}\n',
      twoDocuments: '#cloud-config\nhostname: a\n---\nhostname: b\n',
      unterminated: '#cloud-config\nhostname: "a\n',
    };
    for (const [name, text] of Object.entries(refused)) {
      const parsed = parseWithApplier(text, `bad-${name}`);
      assert.equal(parsed.code, 2, `${name} is refused (exit 2): ${parsed.stderr}`);
    }
  });
});

function eventsOf(db: string, machine: string): EventRow[] {
  return machineEvents(db, machine);
}
