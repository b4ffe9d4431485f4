/**
 * A virtual rack network that lives entirely inside network namespaces this module creates.
 *
 *   namespace <name>:   lo, bridge br0 (stp off, forward delay 0) with the server address,
 *                       one tap per VM, the lab end of each peer's veth; the server runs here
 *                       (`net.spawn(process.execPath, [...])`).
 *   namespace <name>-<peer>:  optional client namespaces (udhcpc, atftp, perfdhcp...) joined to
 *                       br0 by a veth pair; their end is called eth0.
 *
 * Nothing touches a host interface. Every process started through `spawn` is recorded by its real
 * PID (`ip netns exec NS cmd` execs cmd in place), and `destroy()` stops them, sweeps whatever else
 * is left in the namespaces (`ip netns pids`), deletes the links and the namespaces. `destroy()` is
 * idempotent and safe in `after()`; a process 'exit' hook does the same synchronously when a test
 * run dies without calling it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { formatIpv4, parseCidr, parseIpv4, type Cidr } from '../core/ipv4.js';
import { findExecutable } from './prereqs.js';
import {
  execCommand,
  LabProcess,
  pidAlive,
  sleep,
  waitForPidExit,
  type ExecOptions,
  type ExecResult,
  type SpawnOptions,
} from './process.js';

export interface LabNetworkOptions {
  /** Namespace name; must be unique on the host: use `uniqueLabName()`. */
  readonly name: string;
  /** The lab subnet, e.g. '10.99.0.0/24'. Namespaces are private, so any subnet will do. */
  readonly subnet: string;
  /** The server's address on the bridge; default: the subnet's first host address. */
  readonly serverAddress?: string;
  /** Bridge name inside the namespace; default 'br0'. */
  readonly bridge?: string;
  /**
   * Send IPv6 router advertisements for a namespace-only ULA prefix on the bridge (radvd). iPXE
   * (Debian 12's 1.0.0+git-20190125) otherwise waits ~13 s for IPv6 autoconfiguration before it
   * loads its boot file: measured under TCG, BIOS iPXE ROM -> booted callback 23 s without, 9 s
   * with. 'auto' (default) = when radvd is installed; true = required.
   */
  readonly radvd?: boolean | 'auto';
  /** ULA /64 for radvd; default derived from the subnet, fd99:<a>:<b>:<c>::/64. */
  readonly ula?: string;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface LabPeer {
  /** Its own namespace, `<lab>-<label>`. */
  readonly netns: string;
  /** The interface inside the peer namespace (always 'eth0'). */
  readonly ifname: string;
  /** Static address given to eth0, if any (CIDR form). */
  readonly address: string | undefined;
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): Promise<LabProcess>;
}

export interface LabNetwork {
  readonly name: string;
  readonly netns: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly prefixLength: number;
  readonly netmask: string;
  readonly serverAddress: string;
  /** IPv6 ULA address of the bridge when radvd runs, else undefined. */
  readonly serverAddress6: string | undefined;
  /** True when radvd was started. */
  readonly radvd: boolean;
  /** Scratch directory for this lab (configs, logs); removed by destroy(). */
  readonly workDir: string;
  /** `hostAddress(n)`: the n-th host address of the subnet (1 = first). */
  hostAddress(n: number): string;
  /** Creates a persistent tap on the bridge, up; the name is local to the namespace. */
  addTap(name: string): Promise<string>;
  /** A client namespace joined to the bridge by a veth pair; its end is eth0. */
  addPeer(label: string, opts?: { address?: string }): Promise<LabPeer>;
  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a long-running command inside the namespace; its real PID is recorded. */
  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): Promise<LabProcess>;
  /** Processes started through spawn() that are still running. */
  processes(): readonly LabProcess[];
  /** PIDs of every process in this lab's namespaces (`ip netns pids`). */
  pids(): Promise<number[]>;
  /** Stops everything and deletes the namespaces. Idempotent; rejects only if something remains. */
  destroy(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;
const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const LABEL_RE = /^[a-z0-9][a-z0-9-]{0,9}$/;

let counter = 0;
/** `<prefix>-<pid>-<n>`: unique per process, and recognisable by `sweepStaleLabNetworks`. */
export function uniqueLabName(prefix = 'rblab'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

function ipPath(): string {
  return findExecutable('ip') ?? 'ip';
}

function ip(args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return execCommand(ipPath(), args, { timeoutMs: 10_000, ...opts });
}

/** Names from `ip netns list` (without the "(id: N)" suffix). */
export async function listNamespaces(): Promise<string[]> {
  const r = await ip(['netns', 'list'], { allowFailure: true });
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

export async function namespaceExists(name: string): Promise<boolean> {
  return (await listNamespaces()).includes(name);
}

async function netnsPids(ns: string): Promise<number[]> {
  const r = await ip(['netns', 'pids', ns], { allowFailure: true });
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Every live network of this process, for the synchronous exit hook. */
const live = new Set<LabNetworkImpl>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const net of live) net.destroySync();
  });
}

/**
 * Deletes lab namespaces named `<prefix>-<pid>-...` whose creating process is gone (a crashed
 * run). Returns the names deleted. Namespaces of live processes are left alone.
 */
export async function sweepStaleLabNetworks(prefix = 'rblab'): Promise<string[]> {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)-`);
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    const m = re.exec(ns);
    if (!m?.[1] || pidAlive(Number(m[1]))) continue;
    for (const pid of await netnsPids(ns)) killQuietly(pid, 'SIGKILL');
    await ip(['netns', 'del', ns], { allowFailure: true });
    removed.push(ns);
  }
  return removed;
}

function killQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

function defaultUla(cidr: Cidr): string {
  const n = cidr.network >>> 0;
  const hex = (v: number): string => v.toString(16);
  // fd99:<2nd octet>:<3rd octet>:<4th octet>::/64 — deterministic, private, namespace-only.
  return `fd99:${hex((n >>> 16) & 0xff)}:${hex((n >>> 8) & 0xff)}:${hex(n & 0xff)}::/64`;
}

class LabNetworkImpl implements LabNetwork {
  readonly name: string;
  readonly netns: string;
  readonly bridge: string;
  readonly subnet: string;
  readonly prefixLength: number;
  readonly netmask: string;
  readonly serverAddress: string;
  serverAddress6: string | undefined;
  radvd = false;
  readonly workDir: string;
  readonly #cidr: Cidr;
  readonly #log: (line: string) => void;
  readonly #procs = new Set<LabProcess>();
  readonly #taps = new Set<string>();
  readonly #peers = new Map<string, string>(); // peer netns -> veth name in the lab namespace
  #destroying: Promise<void> | undefined;
  /** Set once `ip netns add` succeeded: never delete a namespace someone else created. */
  #created = false;

  constructor(opts: LabNetworkOptions, cidr: Cidr, serverAddress: string) {
    this.name = opts.name;
    this.netns = opts.name;
    this.bridge = opts.bridge ?? 'br0';
    this.#cidr = cidr;
    this.subnet = `${formatIpv4(cidr.network)}/${cidr.prefix}`;
    this.prefixLength = cidr.prefix;
    this.netmask = formatIpv4(cidr.mask);
    this.serverAddress = serverAddress;
    this.#log = opts.log ?? (() => {});
    this.workDir = mkdtempSync(join(tmpdir(), `rackboot-lab-${opts.name}-`));
  }

  hostAddress(n: number): string {
    const hosts = 2 ** (32 - this.#cidr.prefix) - 2;
    if (!Number.isInteger(n) || n < 1 || n > hosts) throw new RangeError(`host ${n} is outside ${this.subnet}`);
    return formatIpv4(this.#cidr.network + n);
  }

  async setUp(opts: LabNetworkOptions): Promise<void> {
    const ns = this.netns;
    await ip(['netns', 'add', ns]);
    this.#created = true;
    live.add(this);
    installExitHook();
    await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    await ip(['-n', ns, 'link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    await ip(['-n', ns, 'addr', 'add', `${this.serverAddress}/${this.prefixLength}`, 'dev', this.bridge]);
    await ip(['-n', ns, 'link', 'set', this.bridge, 'up']);
    const radvdOpt = opts.radvd ?? 'auto';
    const wantRadvd = radvdOpt === 'auto' ? findExecutable('radvd') !== undefined : radvdOpt;
    if (wantRadvd) await this.#startRadvd(opts.ula ?? defaultUla(this.#cidr));
    this.#log(`lab ${ns}: ${this.bridge} ${this.serverAddress}/${this.prefixLength}${this.radvd ? `, radvd ${this.serverAddress6}` : ''}`);
  }

  async #startRadvd(ula: string): Promise<void> {
    const radvd = findExecutable('radvd');
    if (!radvd) throw new Error('radvd requested but not installed: apt-get install radvd');
    const prefix = ula.replace(/\/\d+$/, '');
    this.serverAddress6 = `${prefix}1`;
    // Namespace-local sysctls: radvd refuses to advertise unless forwarding is on.
    await this.exec('sh', ['-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding']);
    await ip(['-n', this.netns, 'addr', 'add', `${this.serverAddress6}/64`, 'dev', this.bridge, 'nodad']);
    const conf = join(this.workDir, 'radvd.conf');
    writeFileSync(
      conf,
      [
        `interface ${this.bridge} {`,
        '  AdvSendAdvert on;',
        '  MinRtrAdvInterval 3;',
        '  MaxRtrAdvInterval 10;',
        '  AdvDefaultLifetime 0;', // not a default router: nothing leaves the namespace anyway
        `  prefix ${ula} { AdvOnLink on; AdvAutonomous on; };`,
        '};',
        '',
      ].join('\n'),
    );
    await this.spawn(radvd, ['--nodaemon', '--config', conf, '--pidfile', join(this.workDir, 'radvd.pid'), '--logmethod', 'stderr']);
    this.radvd = true;
  }

  #nsCommand(ns: string, cmd: string, args: readonly string[]): [string, string[]] {
    return [ipPath(), ['netns', 'exec', ns, cmd, ...args]];
  }

  exec(cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return this.#execIn(this.netns, cmd, args, opts);
  }

  spawn(cmd: string, args: readonly string[], opts?: SpawnOptions): Promise<LabProcess> {
    return this.#spawnIn(this.netns, cmd, args, opts);
  }

  #execIn(ns: string, cmd: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    this.#assertUsable();
    const [c, a] = this.#nsCommand(ns, cmd, args);
    return execCommand(c, a, opts);
  }

  async #spawnIn(ns: string, cmd: string, args: readonly string[], opts?: SpawnOptions): Promise<LabProcess> {
    this.#assertUsable();
    const [c, a] = this.#nsCommand(ns, cmd, args);
    const p = await LabProcess.start(c, a, opts);
    this.#procs.add(p);
    void p.exited.then(() => this.#procs.delete(p));
    await this.#waitForExec(p, ns, cmd);
    return p;
  }

  /**
   * Until `ip netns exec` has entered the namespace and exec'd the command, the PID is still
   * `ip`'s: resolve only once the process runs `cmd` inside `ns`, so callers can rely on it.
   */
  async #waitForExec(p: LabProcess, ns: string, cmd: string): Promise<void> {
    const want = namespaceInode(ns);
    const ipExe = realpathSync(ipPath());
    const cmdIsIp = basename(cmd) === 'ip';
    const deadline = Date.now() + 5000;
    for (;;) {
      if (p.exitStatus) return; // the caller sees the exit (and its output)
      let exe: string | undefined;
      try {
        exe = readlinkSync(`/proc/${p.pid}/exe`);
      } catch {
        exe = undefined;
      }
      if (processNetnsInode(p.pid) === want && exe !== undefined && (cmdIsIp || exe !== ipExe)) return;
      if (Date.now() > deadline) {
        await p.stop(1000).catch(() => {});
        throw new Error(`${p.describe()} did not start inside namespace ${ns} within 5 s`);
      }
      await sleep(5);
    }
  }

  #assertUsable(): void {
    if (this.#destroying) throw new Error(`lab ${this.netns} is being destroyed`);
  }

  processes(): readonly LabProcess[] {
    return [...this.#procs];
  }

  async addTap(name: string): Promise<string> {
    this.#assertUsable();
    if (!IFNAME_RE.test(name)) throw new Error(`bad interface name ${JSON.stringify(name)} (1-15 characters)`);
    this.#taps.add(name);
    await ip(['-n', this.netns, 'tuntap', 'add', 'dev', name, 'mode', 'tap']);
    await ip(['-n', this.netns, 'link', 'set', name, 'master', this.bridge]);
    await ip(['-n', this.netns, 'link', 'set', name, 'up']);
    return name;
  }

  async addPeer(label: string, opts: { address?: string } = {}): Promise<LabPeer> {
    this.#assertUsable();
    if (!LABEL_RE.test(label)) throw new Error(`bad peer label ${JSON.stringify(label)} (a-z0-9-, up to 10)`);
    const peerNs = `${this.netns}-${label}`;
    const labEnd = `vp-${label}`;
    if (this.#peers.has(peerNs)) throw new Error(`peer ${label} exists`);
    await ip(['netns', 'add', peerNs]);
    this.#peers.set(peerNs, labEnd);
    await ip(['-n', peerNs, 'link', 'set', 'lo', 'up']);
    await ip(['-n', this.netns, 'link', 'add', labEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peerNs]);
    await ip(['-n', this.netns, 'link', 'set', labEnd, 'master', this.bridge]);
    await ip(['-n', this.netns, 'link', 'set', labEnd, 'up']);
    let address: string | undefined;
    if (opts.address !== undefined) {
      address = opts.address.includes('/') ? opts.address : `${opts.address}/${this.prefixLength}`;
      await ip(['-n', peerNs, 'addr', 'add', address, 'dev', 'eth0']);
    }
    await ip(['-n', peerNs, 'link', 'set', 'eth0', 'up']);
    return {
      netns: peerNs,
      ifname: 'eth0',
      address,
      exec: (cmd, args, o) => this.#execIn(peerNs, cmd, args, o),
      spawn: (cmd, args, o) => this.#spawnIn(peerNs, cmd, args, o),
    };
  }

  #namespaces(): string[] {
    return this.#created ? [...this.#peers.keys(), this.netns] : [];
  }

  async pids(): Promise<number[]> {
    const all = await Promise.all(this.#namespaces().map((ns) => netnsPids(ns)));
    return [...new Set(all.flat())];
  }

  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy();
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    const problems: string[] = [];
    // 1. Processes we started, by PID: SIGTERM, then SIGKILL.
    await Promise.all(
      [...this.#procs].map((p) => p.stop(2000).catch((err: unknown) => problems.push(String(err)))),
    );
    // 2. Anything else still inside the namespaces (children that daemonised, `sh -c 'x &'`).
    for (let round = 0; round < 3; round++) {
      const left = await this.pids();
      if (left.length === 0) break;
      this.#log(`lab ${this.netns}: killing leftover pids ${left.join(' ')}`);
      for (const pid of left) killQuietly(pid, 'SIGKILL');
      await Promise.all(left.map((pid) => waitForPidExit(pid, 3000)));
    }
    const survivors = await this.pids();
    if (survivors.length > 0) problems.push(`processes survived SIGKILL: ${survivors.join(' ')}`);
    // 3. Links, then namespaces (peers first). Deleting a namespace would remove its virtual
    //    links too; deleting them explicitly first keeps failures visible.
    const links = this.#created ? [...this.#taps, ...this.#peers.values(), this.bridge] : [];
    for (const link of links) {
      const r = await ip(['-n', this.netns, 'link', 'del', link], { allowFailure: true });
      if (r.code !== 0 && !/Cannot find device|does not exist|No such file|Invalid netns/.test(r.stderr)) {
        problems.push(`ip link del ${link}: ${r.stderr.trim()}`);
      }
    }
    for (const ns of this.#namespaces()) {
      const r = await ip(['netns', 'del', ns], { allowFailure: true });
      if (r.code !== 0 && !/No such file|Cannot remove namespace file/.test(r.stderr)) {
        problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
      }
    }
    const remaining = (await listNamespaces()).filter((n) => this.#namespaces().includes(n));
    if (remaining.length > 0) problems.push(`namespaces remain: ${remaining.join(' ')}`);
    rmSync(this.workDir, { recursive: true, force: true });
    live.delete(this);
    this.#log(`lab ${this.netns}: destroyed`);
    if (problems.length > 0) throw new Error(`lab ${this.netns} teardown: ${problems.join('; ')}`);
  }

  /** Best effort, synchronous: for the process 'exit' hook only. */
  destroySync(): void {
    const run = (args: string[]): string => spawnSync(ipPath(), args, { encoding: 'utf8', timeout: 5000 }).stdout ?? '';
    for (const p of this.#procs) killQuietly(p.pid, 'SIGKILL');
    for (const ns of this.#namespaces()) {
      for (const pid of run(['netns', 'pids', ns]).split(/\s+/).filter((s) => /^\d+$/.test(s))) {
        killQuietly(Number(pid), 'SIGKILL');
      }
    }
    for (const ns of this.#namespaces()) run(['netns', 'del', ns]);
    rmSync(this.workDir, { recursive: true, force: true });
    live.delete(this);
  }
}

/**
 * Creates the lab namespace, its bridge and the server address; optionally radvd. On any failure
 * everything created so far is removed before the error is rethrown.
 */
export async function createLabNetwork(opts: LabNetworkOptions): Promise<LabNetwork> {
  if (!NAME_RE.test(opts.name)) throw new Error(`bad lab name ${JSON.stringify(opts.name)}`);
  if (opts.bridge !== undefined && !IFNAME_RE.test(opts.bridge)) throw new Error(`bad bridge name ${opts.bridge}`);
  const cidr = parseCidr(opts.subnet);
  if (!cidr || cidr.prefix > 30) throw new Error(`bad lab subnet ${JSON.stringify(opts.subnet)} (want a.b.c.d/n, n <= 30)`);
  const serverAddress = opts.serverAddress ?? formatIpv4(cidr.network + 1);
  const server = parseIpv4(serverAddress);
  if (server === null || ((server & cidr.mask) >>> 0) !== cidr.network || server === cidr.network) {
    throw new Error(`server address ${serverAddress} is not a host address in ${opts.subnet}`);
  }
  if (await namespaceExists(opts.name)) throw new Error(`namespace ${opts.name} already exists (use uniqueLabName())`);
  const net = new LabNetworkImpl(opts, cidr, serverAddress);
  try {
    await net.setUp(opts);
  } catch (err) {
    await net.destroy().catch(() => {});
    throw err;
  }
  return net;
}

/** Inode of a namespace's bind mount, to check that a PID really runs inside it. */
export function namespaceInode(name: string): number {
  return statSync(`/run/netns/${name}`).ino;
}

/** Inode of a process's network namespace (undefined when the process is gone). */
export function processNetnsInode(pid: number): number | undefined {
  try {
    return statSync(`/proc/${pid}/ns/net`).ino;
  } catch {
    return undefined;
  }
}

/** For diagnostics: namespaces whose name starts with `prefix`. */
export function namespacesWithPrefix(prefix: string): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => n.startsWith(prefix));
  } catch {
    return [];
  }
}
