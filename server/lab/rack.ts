/**
 * `rackboot lab up|down`: a virtual rack on one Linux box, for trying rackboot without hardware.
 *
 *   <ns>        bridge br0 with the server address (hosts subnet) and a management address (BMC
 *               subnet); one tap per blade; radvd when installed; `rackboot serve` runs here.
 *   <ns>-bmc    eth0 (veth to br0) carries every BMC address; one ipmi_sim per blade runs here,
 *               or with `bmcProtocol: 'redfish'` one Redfish BMC (redfish-bmc-main.ts, HTTPS 443).
 *               A blade's power-on (ipmi_sim's chassis_control, or the Redfish Reset through the
 *               same program) starts a QEMU VM on its tap.
 *
 * Unlike the test harness (netns.ts), every process is detached: it outlives `lab up`, writes to a
 * log file in the lab directory and is known only by the PID recorded in `<dir>/lab.json`. The
 * state file is rewritten after every step, so `lab down` also cleans up after an `up` that died
 * half-way: it stops every recorded PID (TERM, then KILL), every QEMU from the BMCs' PID files,
 * sweeps `ip netns pids`, deletes the recorded namespaces and removes the state file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { encodeFru } from '../protocol/ipmi/fru.js';
import { chassisControlScript, emuCommands, lanConf, lanControlScript, shellQuote, type VirtualBmcSpec } from './bmc.js';
import type { LabNetwork } from './netns.js';
import { findExecutable, testOsFiles } from './prereqs.js';
import { execCommand, pidAlive, sleep, waitForPidExit } from './process.js';
import { qemuArgs } from './qemu.js';
import { packageRoot } from '../paths.js';

const ROOT = packageRoot();
export const DEFAULT_LAB_DIR = './var/lab';
export const STATE_FILE = 'lab.json';
export const LAB_NS_PREFIX = 'rbrack';
export const HOST_SUBNET_PREFIX = '10.98.0';
export const BMC_SUBNET_PREFIX = '10.98.1';
const PASSWORD_BYTES = 9;
const MAX_NODES = 32;

export interface LabProcessRecord {
  readonly role: 'radvd' | 'ipmi_sim' | 'redfish-bmc' | 'rackboot';
  readonly name: string;
  readonly pid: number;
  readonly log: string;
}

export interface LabBmcRecord {
  readonly name: string;
  readonly address: string;
  readonly hostMac: string;
  readonly machine: string;
  readonly hostIp: string;
  /** QEMU writes its PID here while the blade is powered on. */
  readonly vmPidFile: string;
}

export interface LabState {
  version: 1;
  dir: string;
  /** 'starting' until `up` finished. */
  status: 'starting' | 'up';
  netns: string;
  /** Every namespace created so far (the lab's and the BMC one). */
  namespaces: string[];
  processes: LabProcessRecord[];
  bmcs: LabBmcRecord[];
  config?: string;
  database?: string;
  serverAddress: string;
  bmcRange?: string;
  dashboard?: string;
  passwordFile?: string;
  /** How rackboot talks to the blades' BMCs (absent in older state files: ipmi). */
  bmcProtocol?: LabBmcProtocol;
  createdAt: string;
}

export type LabBmcProtocol = 'ipmi' | 'redfish';

export interface LabUpOptions {
  readonly nodes: number;
  readonly dir?: string;
  /** Seconds before the menu's default (dev-memory) boots. */
  readonly menuTimeoutSeconds?: number;
  /** ipmi (default): ipmi_sim BMCs; redfish: Redfish BMCs (the emulator of redfish-bmc.ts) on HTTPS. */
  readonly bmcProtocol?: LabBmcProtocol;
  readonly log?: (line: string) => void;
  /** Steps done of all (the test OS, the namespaces, each blade, the server), for a progress bar. */
  readonly progress?: (done: number, total: number, step: string) => void;
}

export class LabError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export function labDir(dir: string | undefined): string {
  return resolve(dir ?? DEFAULT_LAB_DIR);
}

export function readLabState(dir: string): LabState | undefined {
  const file = join(dir, STATE_FILE);
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

function writeState(state: LabState): void {
  const file = join(state.dir, STATE_FILE);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

function ipPath(): string {
  return findExecutable('ip') ?? 'ip';
}

async function ip(args: readonly string[], allowFailure = false): Promise<void> {
  await execCommand(ipPath(), args, { timeoutMs: 10_000, allowFailure });
}

async function listNamespaces(): Promise<string[]> {
  const r = await execCommand(ipPath(), ['netns', 'list'], { allowFailure: true, timeoutMs: 10_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await execCommand(ipPath(), ['netns', 'pids', ns], { allowFailure: true, timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}


/**
 * Starts `cmd args` inside `ns`, detached (own session, stdio to `logFile`, not the caller's), and
 * returns its PID: `ip netns exec` execs the command in place, so the PID is the command's own.
 */
function spawnDetached(ns: string, cmd: string, args: readonly string[], logFile: string, cwd = ROOT): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(ipPath(), ['netns', 'exec', ns, cmd, ...args], { cwd, detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${cmd} in ${ns}`);
    child.on('error', () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** A self-signed certificate for the lab's Redfish BMCs, naming each BMC address. */
function labCertificate(dir: string, addresses: readonly string[]): { certFile: string; keyFile: string } {
  const keyFile = join(dir, 'bmc-tls.key');
  const certFile = join(dir, 'bmc-tls.crt');
  const san = addresses.map((a) => `IP:${a}`).join(',');
  const r = spawnSync(findExecutable('openssl') ?? 'openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30', '-subj', '/CN=rackboot lab BMC', '-addext', `subjectAltName=${san}`], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl could not make the lab BMC certificate: ${r.stderr}`);
  return { certFile, keyFile };
}

function mac(prefix: string, i: number): string {
  return `52:54:00:${prefix}:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
}



async function waitForTcp(ns: string, endpoint: string, pid: number, logFile: string, timeoutMs: number): Promise<void> {
  const ss = findExecutable('ss') ?? 'ss';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pidAlive(pid)) throw new Error(`Redfish BMC (pid ${pid}) exited; see ${logFile}: ${readTail(logFile)}`);
    const r = await execCommand(ipPath(), ['netns', 'exec', ns, ss, '-Hntl'], { allowFailure: true, timeoutMs: 5000 });
    if (r.stdout.split('\n').some((line) => line.split(/\s+/).includes(endpoint))) return;
    if (Date.now() > deadline) throw new Error(`the Redfish BMC did not listen on TCP ${endpoint} within ${timeoutMs} ms; see ${logFile}`);
    await sleep(100);
  }
}

/** The Redfish BMC program next to this module: .ts from a checkout (under tsx), .js when built. */
function redfishBmcProgram(): string {
  const here = import.meta.filename;
  return join(import.meta.dirname, `redfish-bmc-main${here.endsWith('.ts') ? '.ts' : '.js'}`);
}

async function waitForUdp(ns: string, endpoint: string, pid: number, logFile: string, timeoutMs: number): Promise<void> {
  const ss = findExecutable('ss') ?? 'ss';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!pidAlive(pid)) throw new Error(`ipmi_sim (pid ${pid}) exited; see ${logFile}: ${readTail(logFile)}`);
    const r = await execCommand(ipPath(), ['netns', 'exec', ns, ss, '-Hnul'], { allowFailure: true, timeoutMs: 5000 });
    if (r.stdout.split('\n').some((line) => line.split(/\s+/).includes(endpoint))) return;
    if (Date.now() > deadline) throw new Error(`ipmi_sim did not open UDP ${endpoint} within ${timeoutMs} ms; see ${logFile}`);
    await sleep(50);
  }
}

function readTail(file: string, chars = 1500): string {
  try {
    return readFileSync(file, 'utf8').slice(-chars);
  } catch {
    return '';
  }
}

async function waitForLog(file: string, re: RegExp, pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (re.test(readTail(file, 64 * 1024))) return;
    if (!pidAlive(pid)) throw new Error(`pid ${pid} exited before logging ${re}; ${file} ends with:\n${readTail(file)}`);
    if (Date.now() > deadline) throw new Error(`no ${re} in ${file} within ${timeoutMs} ms; it ends with:\n${readTail(file)}`);
    await sleep(100);
  }
}

/** Missing host tools for `lab up`, each with what to install. */
export function labPrerequisites(protocol: LabBmcProtocol = 'ipmi'): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (namespaces, bridges and taps): run with sudo');
  for (const [tool, pkg] of [
    ['ip', 'iproute2'],
    ['ss', 'iproute2'],
    protocol === 'ipmi' ? (['ipmi_sim', 'openipmi'] as const) : (['openssl', 'openssl'] as const),
    ['qemu-system-x86_64', 'qemu-system-x86'],
  ] as const) {
    if (!findExecutable(tool)) missing.push(`${tool}: apt-get install ${pkg}`);
  }
  if (!existsSync('/dev/net/tun')) missing.push('/dev/net/tun: modprobe tun');
  return missing;
}

/** Brings the lab up; returns the final state. On failure, what was created is torn down. */
export async function labUp(opts: LabUpOptions): Promise<LabState> {
  const log = opts.log ?? (() => {});
  const nodes = opts.nodes;
  let stepsDone = 0;
  const stepDone = (step: string) => opts.progress?.((stepsDone += 1), nodes + 3, step);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) throw new LabError(`--nodes must be 1-${MAX_NODES}`, 2);
  const protocol = opts.bmcProtocol ?? 'ipmi';
  const missing = labPrerequisites(protocol);
  if (missing.length > 0) throw new LabError(`missing prerequisites:\n${missing.map((m) => `  - ${m}`).join('\n')}`, 2);
  const dir = labDir(opts.dir);
  const existing = readLabState(dir);
  if (existing) {
    const alive = existing.processes.some((p) => pidAlive(p.pid));
    if (alive) throw new LabError(`a lab is already up in ${dir} (namespace ${existing.netns}): run \`rackboot lab down --dir ${dir}\` first`, 1);
    log(`a stale lab state in ${dir}: cleaning it up first`);
    await labDown(dir, log);
  }
  mkdirSync(dir, { recursive: true });

  // The test OS (its script is a cheap no-op when the files are up to date).
  const os = testOsFiles(join(ROOT, '.cache', 'test-os'));
  if (![os.kernel, os.initrd, os.manifest].every((f) => existsSync(f))) {
    log(`building the test OS in ${os.dir} (scripts/build-test-os.sh; a few minutes the first time)`);
    const build = spawnSync('bash', [join(ROOT, 'scripts', 'build-test-os.sh'), os.dir], { encoding: 'utf8', timeout: 900_000 });
    if (build.status !== 0) throw new LabError(`scripts/build-test-os.sh failed: ${(build.stderr || build.stdout).trim().split('\n').slice(-5).join('\n')}`, 1);
  }
  stepDone('test OS');

  const ns = `${LAB_NS_PREFIX}-${randomBytes(3).toString('hex')}`;
  const bmcNs = `${ns}-bmc`;
  const server = `${HOST_SUBNET_PREFIX}.1`;
  const mgmt = `${BMC_SUBNET_PREFIX}.1`;
  const state: LabState = {
    version: 1,
    dir,
    status: 'starting',
    netns: ns,
    namespaces: [],
    processes: [],
    bmcs: [],
    serverAddress: server,
    bmcProtocol: protocol,
    createdAt: new Date().toISOString(),
  };
  writeState(state);

  try {
    // Lab namespace: bridge with the server's and the management address.
    await ip(['netns', 'add', ns]);
    state.namespaces.push(ns);
    writeState(state);
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    await ip(['-n', ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await ip(['-n', ns, 'addr', 'add', `${server}/24`, 'dev', 'br0']);
    await ip(['-n', ns, 'addr', 'add', `${mgmt}/24`, 'dev', 'br0']);
    await ip(['-n', ns, 'link', 'set', 'br0', 'up']);
    await ip(['-n', ns, 'route', 'add', '255.255.255.255/32', 'dev', 'br0']);
    log(`namespace ${ns}: br0 ${server}/24 (hosts), ${mgmt}/24 (BMCs)`);
    stepDone(`namespace ${ns}`);

    // radvd: without IPv6 autoconfiguration iPXE waits ~13 s before it loads its boot file.
    const radvd = findExecutable('radvd');
    if (radvd) {
      await execCommand(ipPath(), ['netns', 'exec', ns, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding']);
      await ip(['-n', ns, 'addr', 'add', 'fd98:0:0:1::1/64', 'dev', 'br0', 'nodad']);
      const conf = join(dir, 'radvd.conf');
      writeFileSync(
        conf,
        'interface br0 {\n  AdvSendAdvert on;\n  MinRtrAdvInterval 3;\n  MaxRtrAdvInterval 10;\n  AdvDefaultLifetime 0;\n  prefix fd98:0:0:1::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n',
      );
      const logFile = join(dir, 'radvd.log');
      const pid = spawnDetached(ns, radvd, ['--nodaemon', '--config', conf, '--pidfile', join(dir, 'radvd.pid'), '--logmethod', 'stderr'], logFile);
      state.processes.push({ role: 'radvd', name: 'radvd', pid, log: logFile });
      writeState(state);
    }

    // BMC namespace joined to br0.
    await ip(['netns', 'add', bmcNs]);
    state.namespaces.push(bmcNs);
    writeState(state);
    await ip(['-n', bmcNs, 'link', 'set', 'lo', 'up']);
    await ip(['-n', ns, 'link', 'add', 'vp-bmc', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', bmcNs]);
    await ip(['-n', ns, 'link', 'set', 'vp-bmc', 'master', 'br0']);
    await ip(['-n', ns, 'link', 'set', 'vp-bmc', 'up']);
    for (let i = 1; i <= nodes; i++) await ip(['-n', bmcNs, 'addr', 'add', `${BMC_SUBNET_PREFIX}.${10 + i}/24`, 'dev', 'eth0']);
    await ip(['-n', bmcNs, 'link', 'set', 'eth0', 'up']);

    // The blades: a tap, an ipmi_sim whose power-on starts QEMU on it.
    const password = randomBytes(PASSWORD_BYTES).toString('base64url');
    const passwordFile = join(dir, 'bmc-password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    state.passwordFile = passwordFile;
    const ipmiSim = findExecutable('ipmi_sim') as string;
    const qemu = findExecutable('qemu-system-x86_64') as string;
    // Redfish BMCs: one throwaway certificate naming every BMC address (rackboot trusts it on first use).
    const tls = protocol === 'redfish' ? labCertificate(dir, Array.from({ length: nodes }, (_, k) => `${BMC_SUBNET_PREFIX}.${11 + k}`)) : null;
    for (let i = 1; i <= nodes; i++) {
      const name = `blade-${i}`;
      const address = `${BMC_SUBNET_PREFIX}.${10 + i}`;
      const hostIp = `${HOST_SUBNET_PREFIX}.${10 + i}`;
      const hostMac = mac('98', i);
      const tap = `tap-${name}`;
      await ip(['-n', ns, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      await ip(['-n', ns, 'link', 'set', tap, 'master', 'br0']);
      await ip(['-n', ns, 'link', 'set', tap, 'up']);
      const bdir = join(dir, name);
      mkdirSync(join(bdir, 'state'), { recursive: true });
      const guid = `5a1e0000-0000-4000-8000-${(0x980000000000 + i).toString(16)}`;
      const spec: VirtualBmcSpec = {
        name,
        address,
        guid,
        bmcMac: mac('99', i),
        password,
        fru: { board: { manufacturer: 'Rackboot Lab', productName: 'Virtual blade', serialNumber: `LAB-${i}`, extras: [`MAC0=${hostMac}`] } },
      };
      // qemuArgs only builds an argument list; it never touches the network object.
      const args = qemuArgs({
        netns: undefined as unknown as LabNetwork,
        tap,
        mac: hostMac,
        firmware: 'bios-ipxe-rom',
        serialLog: join(bdir, 'serial.log'),
        noReboot: false,
        uuid: guid,
        name: `rackboot-lab-${name}`,
      });
      const vmPidFile = join(bdir, 'qemu.pid');
      const start = [ipPath(), 'netns', 'exec', ns, qemu, ...args, '-daemonize', '-pidfile', vmPidFile].map(shellQuote).join(' ');
      const lanCtl = join(bdir, 'lan-control');
      const chassisCtl = join(bdir, 'chassis-control');
      writeFileSync(lanCtl, lanControlScript({ name: spec.name, address, bmcMac: spec.bmcMac }, { netmask: '255.255.255.0', gateway: mgmt }), { mode: 0o755 });
      writeFileSync(chassisCtl, chassisControlScript(bdir, start), { mode: 0o755 });
      const fru = encodeFru(spec.fru ?? {});
      writeFileSync(join(bdir, 'fru.bin'), fru);
      writeFileSync(join(bdir, 'lan.conf'), lanConf(spec, { lanControl: lanCtl, chassisControl: chassisCtl }));
      writeFileSync(join(bdir, 'bmc.emu'), emuCommands(spec, { path: join(bdir, 'fru.bin'), size: fru.length }));
      state.bmcs.push({ name, address, hostMac, hostIp, machine: `node-${hostIp.replace(/\./g, '-')}`, vmPidFile });
      if (tls) {
        const specFile = join(bdir, 'redfish-bmc.json');
        writeFileSync(
          specFile,
          `${JSON.stringify({ name, address, port: 443, certFile: tls.certFile, keyFile: tls.keyFile, username: 'admin', passwordFile, uuid: guid, hostMac, bmcMac: spec.bmcMac, chassisControl: chassisCtl }, null, 2)}\n`,
        );
        const logFile = join(bdir, 'redfish-bmc.log');
        const pid = spawnDetached(bmcNs, process.execPath, [...process.execArgv, redfishBmcProgram(), specFile], logFile);
        state.processes.push({ role: 'redfish-bmc', name, pid, log: logFile });
        writeState(state);
        await waitForTcp(bmcNs, `${address}:443`, pid, logFile, 30_000);
        log(`blade ${name}: Redfish BMC https://${address} (pid ${pid}), host NIC ${hostMac} on ${tap}, planned ${hostIp}`);
        continue;
      }
      const logFile = join(bdir, 'ipmi_sim.log');
      const pid = spawnDetached(bmcNs, ipmiSim, ['-c', join(bdir, 'lan.conf'), '-f', join(bdir, 'bmc.emu'), '-s', join(bdir, 'state'), '-n'], logFile);
      state.processes.push({ role: 'ipmi_sim', name, pid, log: logFile });
      writeState(state);
      await waitForUdp(bmcNs, `${address}:623`, pid, logFile, 10_000);
      log(`blade ${name}: BMC ${address} (ipmi_sim pid ${pid}), host NIC ${hostMac} on ${tap}, planned ${hostIp}`);
      stepDone(`blade ${name}`);
    }
    state.bmcRange = nodes === 1 ? `${BMC_SUBNET_PREFIX}.11` : `${BMC_SUBNET_PREFIX}.11-${10 + nodes}`;

    // rackboot's configuration and server, inside the lab namespace.
    const config = join(dir, 'rackboot.yaml');
    const dataDir = join(dir, 'data');
    writeFileSync(
      config,
      `# Generated by \`rackboot lab up\`: a virtual rack in namespace ${ns}.
dataDir: ${dataDir}
log: { level: info }
server: { address: ${server} }
http: { listen: ${server}, port: 8080 }
tftp: { listen: ${server}, port: 69 }
dhcp:
  enabled: true
  subnets: [{ cidr: ${HOST_SUBNET_PREFIX}.0/24, gateway: ${server}, dns: [${server}], leaseSeconds: 600 }]
boot:
  assetsDir: ${os.dir}
  os: { name: test-os, kernel: vmlinuz, initrds: [initrd.img], args: [rackboot.test.poweroff] }
  kernelArgs: [console=ttyS0]
  menu: { defaultItem: dev-memory, timeoutSeconds: ${opts.menuTimeoutSeconds ?? 5} }
ipmi:
  username: admin
  passwordFile: ${passwordFile}
  ipPlan: { kind: bmc-offset, hostSubnet: ${HOST_SUBNET_PREFIX}.0/24, bmcSubnet: ${BMC_SUBNET_PREFIX}.0/24, offset: 0 }
  ranges: [{ range: ${BMC_SUBNET_PREFIX}.0/24, protocol: ${protocol} }]
`,
    );
    state.config = config;
    state.database = join(dataDir, 'rackboot.db');
    state.dashboard = `http://${server}:8080/`;
    writeState(state);
    const cli = resolve(process.argv[1] ?? join(ROOT, 'server', 'cli', 'index.ts'));
    const rbLog = join(dir, 'rackboot.log');
    const rbPid = spawnDetached(ns, process.execPath, [...process.execArgv, cli, '--config', config, 'serve'], rbLog);
    state.processes.push({ role: 'rackboot', name: 'rackboot serve', pid: rbPid, log: rbLog });
    writeState(state);
    await waitForLog(rbLog, /rackboot serving/, rbPid, 60_000);
    log(`rackboot serve (pid ${rbPid}) in ${ns}, log ${rbLog}`);
    stepDone('rackboot serve');
    state.status = 'up';
    writeState(state);
    return state;
  } catch (error) {
    log(`lab up failed: ${(error as Error).message}; cleaning up`);
    await labDown(dir, log).catch(() => {});
    throw error;
  }
}

async function stopPid(pid: number): Promise<boolean> {
  if (!pidAlive(pid)) return true;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return true;
  }
  if (await waitForPidExit(pid, 3000)) return true;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true;
  }
  return waitForPidExit(pid, 5000);
}

function vmPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Every PID the state file knows of (processes and running VMs). */
export function recordedPids(state: LabState): number[] {
  const pids = state.processes.map((p) => p.pid);
  for (const b of state.bmcs) {
    const pid = vmPid(b.vmPidFile);
    if (pid !== undefined) pids.push(pid);
  }
  return pids;
}

/**
 * Stops everything the state file in `dir` records and deletes its namespaces. Idempotent: no
 * state file means nothing to do. Rejects (leaving the state file) only if something survives.
 */
export async function labDown(dirArg: string, log: (line: string) => void = () => {}): Promise<{ stopped: number; namespaces: string[] }> {
  const dir = labDir(dirArg);
  const state = readLabState(dir);
  if (!state) return { stopped: 0, namespaces: [] };
  const problems: string[] = [];
  let stopped = 0;
  // BMCs first (no new power-ons), then VMs and the rest.
  const isBmc = (p: LabProcessRecord) => (p.role === 'ipmi_sim' || p.role === 'redfish-bmc' ? -1 : 0);
  const order = [...state.processes].sort((a, b) => isBmc(a) - isBmc(b));
  await Promise.all(
    order.map(async (p) => {
      if (!pidAlive(p.pid)) return;
      if (await stopPid(p.pid)) stopped++;
      else problems.push(`${p.name} (pid ${p.pid}) survived SIGKILL`);
    }),
  );
  await Promise.all(
    state.bmcs.map(async (b) => {
      const pid = vmPid(b.vmPidFile);
      if (pid === undefined) return;
      if (await stopPid(pid)) stopped++;
      else problems.push(`QEMU of ${b.name} (pid ${pid}) survived SIGKILL`);
    }),
  );
  const present = await listNamespaces();
  const deleted: string[] = [];
  for (const ns of state.namespaces) {
    if (!present.includes(ns)) continue;
    for (const pid of await netnsPids(ns)) {
      if (await stopPid(pid)) stopped++;
      else problems.push(`pid ${pid} in ${ns} survived SIGKILL`);
    }
    await ip(['netns', 'del', ns], true);
    if ((await listNamespaces()).includes(ns)) problems.push(`namespace ${ns} could not be deleted`);
    else deleted.push(ns);
  }
  if (problems.length > 0) throw new LabError(`lab down left things behind:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 1);
  rmSync(join(dir, STATE_FILE), { force: true });
  log(`lab down: ${stopped} process(es) stopped, namespace(s) deleted: ${deleted.join(', ') || '(none left)'}`);
  return { stopped, namespaces: deleted };
}

/** What to run next, for the operator. */
export function nextSteps(state: LabState): string {
  const ns = state.netns;
  const cfg = state.config ?? '<config>';
  const rb = `ip netns exec ${ns} rackboot --config ${cfg}`;
  return [
    `lab up: namespace ${ns} (BMCs in ${ns}-bmc), ${state.bmcs.length} blade(s), state ${join(state.dir, STATE_FILE)}`,
    `  server   ${state.serverAddress} (DHCP on, only inside ${ns}); config ${cfg}`,
    `  BMCs     ${state.bmcs.map((b) => `${b.name}=${b.address}`).join(' ')} (${state.bmcProtocol === 'redfish' ? 'Redfish over HTTPS' : 'IPMI'}, user admin, password in ${state.passwordFile ?? '?'})`,
    `  logs     ${state.dir}/rackboot.log, ${state.dir}/blade-N/{${state.bmcProtocol === 'redfish' ? 'redfish-bmc' : 'ipmi_sim'},qemu,serial}.log`,
    '',
    'Next (as root; `rackboot` = `node --import tsx server/cli/index.ts` from a checkout):',
    `  ${rb} discover --bmc ${state.bmcRange ?? ''}`,
    `  ${rb} ip-plan --apply            # reserve ${state.bmcs.map((b) => b.hostIp).join(', ')} for the discovered MACs`,
    `  ${rb} power on --pxe --all       # blades PXE-boot; role-less ones get the menu, dev-memory after the timeout`,
    `  ${rb} machines list              # or watch the dashboard:`,
    `  dashboard ${state.dashboard ?? ''} lives inside the namespace: ip netns exec ${ns} curl -s ${state.dashboard ?? ''}`,
    `            from this host's browser: socat TCP-LISTEN:8080,bind=127.0.0.1,reuseaddr,fork EXEC:'ip netns exec ${ns} socat STDIO TCP:${state.serverAddress}:8080'`,
    '            then open http://127.0.0.1:8080/',
    `  rackboot lab down --dir ${state.dir}`,
  ].join('\n');
}
