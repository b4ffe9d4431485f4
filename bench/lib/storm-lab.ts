/**
 * The storm's lab: a namespace with rackboot (DHCP on 0.0.0.0:67 there, never on a host
 * interface), a client namespace whose eth0 carries every simulated machine's reserved address as
 * a secondary address (so TFTP and HTTP come from the machine's own IP and the one-time
 * cloud-config token check passes honestly), permanent neighbour entries for those addresses on
 * the server side (no ARP storm, no neighbour-table overflow), the inventory written in one
 * transaction, and helpers to start, kill and restart the server and to run the client.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../server/config/config.js';
import { formatIpv4 } from '../../server/core/ipv4.js';
import { createLabNetwork, uniqueLabName, type LabNetwork, type LabPeer } from '../../server/lab/netns.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import type { LabProcess } from '../../server/lab/process.js';
import { createProvisioner } from '../../server/main.js';
import type { ClientLine, RetryPolicy, SimMachine, StormPlan, StormReport, Ack } from '../storm/plan.js';
import { FIRMWARE_RETRY } from '../storm/plan.js';
import { NsChild } from './ns-child.js';

export const ROOT = join(import.meta.dirname, '..', '..');
const SUBNET = '10.99.0.0/16';
const SERVER = '10.99.0.1';
const CLIENT_PRIMARY = '10.99.0.2';
const HTTP_PORT = 8080;
/** Real iPXE builds when the `ipxe` package is installed; otherwise random files of their size. */
const IPXE_FILES: ReadonlyArray<{ name: string; size: number }> = [
  { name: 'undionly.kpxe', size: 74_213 },
  { name: 'snponly.efi', size: 173_792 },
];

/** What is missing for the storm to run here, or null. */
export function stormPrereqs(): string | null {
  if (process.platform !== 'linux') return 'needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!findExecutable('ip')) return 'needs iproute2 (ip)';
  return null;
}

/** Machine `index` (0-based): MAC, reserved IP in 10.99.1.1 upwards, UUID, BIOS or UEFI alternately. */
export function simMachine(index: number): SimMachine & { name: string } {
  const n = index + 1;
  const hex = (v: number) => v.toString(16).padStart(2, '0');
  return {
    name: `storm-${String(n).padStart(5, '0')}`,
    mac: `52:54:ab:${hex((n >> 16) & 0xff)}:${hex((n >> 8) & 0xff)}:${hex(n & 0xff)}`,
    ip: formatIpv4(((10 << 24) | (99 << 16)) + (1 + Math.floor(index / 250)) * 256 + 1 + (index % 250)),
    uuid: `5a5a5a5a-0000-4000-8000-${n.toString(16).padStart(12, '0')}`,
    firmware: index % 2 === 0 ? 'bios' : 'uefi',
  };
}

/**
 * Compiles server/ with tsconfig.build.json into `.cache/storm-dist-<pid>` (inside the package, so
 * packageRoot() still finds the catalog and node_modules resolve) and returns the CLI's path: the
 * storm measures rackboot as production runs it (`node dist/server/cli/index.js`), not through tsx, whose
 * loader costs start-up time and memory. tsc still emits when another module has a type error; only
 * a missing cli.js is fatal. Remove the directory with `removeCompiledServer`.
 */
export function compileServer(): string {
  const outDir = join(ROOT, '.cache', `storm-dist-${process.pid}`);
  const cli = join(outDir, 'server', 'cli', 'index.js');
  if (existsSync(cli)) return cli;
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (!existsSync(cli)) throw new Error(`tsc did not produce ${cli}: ${(r.stdout + r.stderr).slice(-2000)}`);
  return cli;
}

export function removeCompiledServer(): void {
  rmSync(join(ROOT, '.cache', `storm-dist-${process.pid}`), { recursive: true, force: true });
}

/** The durability drill's probe machine: registered, never booted. */
export const PROBE_MACHINE = { name: 'storm-probe', mac: '52:54:ab:ff:ff:fe', ip: '10.99.255.250', uuid: '5a5a5a5a-0000-4000-8000-fffffffffffe' } as const;

export interface StormLabOptions {
  readonly machines: number;
  /** Kernel and initrd sizes (the storm's "small test files"). */
  readonly kernelBytes?: number;
  readonly initrdBytes?: number;
  readonly logLevel?: string;
  /** tftp.maxTransfers for rackboot (its default when absent). */
  readonly tftpMaxTransfers?: number;
  readonly log?: (line: string) => void;
}

export interface ServerStart {
  readonly proc: LabProcess;
  /** Date.now() just before the spawn, and when it printed "rackboot serving". */
  readonly spawnedAt: number;
  readonly servingAt: number;
}

export interface StormClient {
  readonly proc: NsChild;
  readonly acks: Ack[];
  readonly report: Promise<StormReport>;
  /** Last progress line. */
  progress(): { installed: number; failed: number };
  /** Starts the 10 ms DISCOVER loop; resolves when the probe machine is answered. */
  probe(): Promise<{ sentAt: number; answeredAt: number; attempts: number }>;
  /** Resolves once `installed` machines have finished. */
  whenInstalled(count: number, timeoutMs: number): Promise<void>;
}

export class StormLab {
  readonly machines: ReadonlyArray<SimMachine & { name: string }>;
  readonly configPath: string;
  readonly dbPath: string;
  readonly serverAddress = SERVER;
  readonly httpBase = `http://${SERVER}:${HTTP_PORT}`;
  private readonly tftpFiles: Record<string, { size: number; sha256: string }> = {};
  private server: LabProcess | undefined;
  private clients: NsChild[] = [];

  private constructor(
    readonly lab: LabNetwork,
    readonly peer: LabPeer,
    readonly dir: string,
    private readonly options: StormLabOptions,
  ) {
    this.machines = Array.from({ length: options.machines }, (_, i) => simMachine(i));
    this.configPath = join(dir, 'rackboot.yaml');
    this.dbPath = join(dir, 'data', 'rackboot.db');
  }

  static async create(options: StormLabOptions): Promise<StormLab> {
    const lab = await createLabNetwork({ name: uniqueLabName('rbstorm'), subnet: SUBNET, serverAddress: SERVER, radvd: false, ...(options.log ? { log: options.log } : {}) });
    try {
      await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
      const peer = await lab.addPeer('c', { address: `${CLIENT_PRIMARY}/16` });
      const storm = new StormLab(lab, peer, lab.workDir, options);
      await storm.setUp();
      return storm;
    } catch (error) {
      await lab.destroy().catch(() => {});
      throw error;
    }
  }

  private async setUp(): Promise<void> {
    const t0 = Date.now();
    await this.peer.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', 'eth0']);
    // Every machine's reservation on the client's eth0; the server side knows their MAC for good.
    const addrBatch = join(this.dir, 'client-addrs.batch');
    writeFileSync(addrBatch, this.machines.map((m) => `addr add ${m.ip}/16 dev eth0\n`).join(''));
    await this.peer.exec('ip', ['-batch', addrBatch], { timeoutMs: 120_000 });
    const link = JSON.parse((await this.peer.exec('ip', ['-j', 'link', 'show', 'eth0'])).stdout) as Array<{ address?: string }>;
    const clientMac = link[0]?.address;
    if (!clientMac) throw new Error('cannot read the client eth0 MAC');
    const neighBatch = join(this.dir, 'server-neigh.batch');
    writeFileSync(neighBatch, this.machines.map((m) => `neigh replace ${m.ip} lladdr ${clientMac} dev ${this.lab.bridge} nud permanent\n`).join(''));
    await this.lab.exec('ip', ['-batch', neighBatch], { timeoutMs: 120_000 });
    this.options.log?.(`storm lab: ${this.machines.length} addresses and neighbours in ${Date.now() - t0} ms`);

    const tftpRoot = join(this.dir, 'tftp');
    const assets = join(this.dir, 'assets');
    mkdirSync(tftpRoot, { recursive: true });
    mkdirSync(assets, { recursive: true });
    for (const file of IPXE_FILES) {
      const real = join('/usr/lib/ipxe', file.name);
      const target = join(tftpRoot, file.name);
      if (existsSync(real) && statSync(real).isFile()) copyFileSync(real, target);
      else writeFileSync(target, randomBytes(file.size));
      const data = readFileSync(target);
      this.tftpFiles[file.name] = { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    }
    writeFileSync(join(assets, 'vmlinuz'), randomBytes(this.options.kernelBytes ?? 128 * 1024));
    writeFileSync(join(assets, 'initrd.img'), randomBytes(this.options.initrdBytes ?? 128 * 1024));
    writeFileSync(
      this.configPath,
      `dataDir: ${join(this.dir, 'data')}
log: { level: ${this.options.logLevel ?? 'info'} }
server: { address: ${SERVER} }
http: { listen: ${SERVER}, port: ${HTTP_PORT} }
tftp: { listen: ${SERVER}, port: 69, root: ${tftpRoot}${this.options.tftpMaxTransfers === undefined ? '' : `, maxTransfers: ${this.options.tftpMaxTransfers}`} }
dhcp:
  enabled: true
  listen: 0.0.0.0
  subnets: [{ cidr: ${SUBNET}, gateway: ${SERVER}, dns: [${SERVER}], domain: storm.test, leaseSeconds: 3600 }]
boot:
  assetsDir: ${assets}
  os: { name: storm-os, kernel: vmlinuz, initrds: [initrd.img], args: [] }
cluster: { name: storm }
`,
    );
    await this.registerInventory();
  }

  /** The whole inventory through the Provisioner API in one transaction (10,000 machines: well under a second). */
  private async registerInventory(): Promise<void> {
    const loaded = loadConfigFile(this.configPath);
    if (!loaded.config) throw new Error(`storm config: ${loaded.errors.join('; ')}`);
    const t0 = performance.now();
    const { provisioner, close } = createProvisioner(loaded.config);
    try {
      provisioner.registerMachines(
        [...this.machines, PROBE_MACHINE].map((m) => ({ name: m.name, macs: [m.mac], ip: m.ip, uuid: m.uuid, role: 'dev', bootMode: 'install' as const })),
      );
    } finally {
      close();
    }
    this.options.log?.(`storm lab: registered ${this.machines.length + 1} machines in ${Math.round(performance.now() - t0)} ms`);
  }

  /**
   * Starts `rackboot serve` inside the lab namespace (from `compiledCli`, else from source through
   * tsx); resolves when it printed "rackboot serving".
   */
  async startServer(opts: { nodeArgs?: readonly string[]; logName?: string; compiledCli?: string } = {}): Promise<ServerStart> {
    const entry = opts.compiledCli ? [opts.compiledCli] : ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts')];
    const spawnedAt = Date.now();
    const proc = await this.lab.spawn(
      process.execPath,
      [...(opts.nodeArgs ?? []), ...entry, '--config', this.configPath, 'serve'],
      { cwd: ROOT, logFile: join(this.dir, opts.logName ?? 'rackboot.log'), keepOutputBytes: 64 * 1024 },
    );
    this.server = proc;
    await proc.waitForOutput(/rackboot serving/, 30_000);
    return { proc, spawnedAt, servingAt: Date.now() };
  }

  get serverProcess(): LabProcess | undefined {
    return this.server;
  }

  /** Runs the load generator in the client namespace. */
  async startClient(overrides: Partial<Omit<StormPlan, 'retry'>> & { retry?: Partial<RetryPolicy> } = {}): Promise<StormClient> {
    const plan: StormPlan = {
      serverAddress: SERVER,
      httpBase: this.httpBase,
      dhcpPort: 67,
      tftpPort: 69,
      machines: this.machines.map(({ mac, ip, uuid, firmware }) => ({ mac, ip, uuid, firmware })),
      rampMs: 1000,
      thinkMs: { afterFirmware: 0, afterKernel: 0, beforeInstalled: 0 },
      callbacks: ['booted', 'progress', 'installed'],
      tftpFiles: this.tftpFiles,
      deadlineMs: 120_000,
      reportAcks: false,
      probe: { mac: PROBE_MACHINE.mac },
      ...overrides,
      retry: { ...FIRMWARE_RETRY, ...overrides.retry },
    };
    const planPath = join(this.dir, `plan-${this.clients.length + 1}.json`);
    writeFileSync(planPath, JSON.stringify(plan));
    const proc = await NsChild.start(this.peer.netns, process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'storm', 'client.ts'), planPath], {
      cwd: ROOT,
      stderrLog: join(this.dir, `client-${this.clients.length + 1}.stderr`),
    });
    this.clients.push(proc);

    const acks: Ack[] = [];
    let progress = { installed: 0, failed: 0 };
    const probeWaiters: Array<(p: { sentAt: number; answeredAt: number; attempts: number }) => void> = [];
    const progressWaiters = new Set<() => void>();
    let resolveReport!: (r: StormReport) => void;
    let rejectReport!: (e: Error) => void;
    const report = new Promise<StormReport>((resolve, reject) => {
      resolveReport = resolve;
      rejectReport = reject;
    });
    report.catch(() => {});
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    proc.onLine((text) => {
      let line: ClientLine;
      try {
        line = JSON.parse(text) as ClientLine;
      } catch {
        return;
      }
      if (line.t === 'ready') ready();
      else if (line.t === 'ack') acks.push(line.ack);
      else if (line.t === 'progress') {
        progress = { installed: line.installed, failed: line.failed };
        for (const w of progressWaiters) w();
      } else if (line.t === 'probe') probeWaiters.shift()?.({ sentAt: line.sentAt, answeredAt: line.answeredAt, attempts: line.attempts });
      else if (line.t === 'report') {
        progress = { installed: line.report.installed, failed: line.report.failed };
        for (const w of progressWaiters) w();
        resolveReport(line.report);
      }
    });
    void proc.exited.then((status) => rejectReport(new Error(`storm client exited (${status.code ?? status.signal}) without a report: ${proc.stderr().slice(-2000)}`)));
    await Promise.race([isReady, proc.exited.then(() => Promise.reject(new Error(`storm client did not start: ${proc.stderr().slice(-2000)}`)))]);

    return {
      proc,
      acks,
      report,
      progress: () => progress,
      probe: () =>
        new Promise((resolve) => {
          probeWaiters.push(resolve);
          proc.write('probe');
        }),
      whenInstalled: (count, timeoutMs) =>
        new Promise<void>((resolve, reject) => {
          const check = (): void => {
            if (progress.installed >= count) {
              progressWaiters.delete(check);
              clearTimeout(timer);
              resolve();
            }
          };
          const timer = setTimeout(() => {
            progressWaiters.delete(check);
            reject(new Error(`only ${progress.installed} machines installed within ${timeoutMs} ms`));
          }, timeoutMs);
          progressWaiters.add(check);
          check();
        }),
    };
  }

  /**
   * 10% (or `percent`) packet loss on the client's link, both directions: netem on both veth ends
   * when the kernel has it, else nftables `numgen random` drops in the client namespace (this
   * machine's kernel is built without sch_netem). Returns what was used.
   */
  async addPacketLoss(percent: number): Promise<string> {
    const netem = await this.peer.exec('tc', ['qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'loss', `${percent}%`], { allowFailure: true });
    if (netem.code === 0) {
      await this.lab.exec('tc', ['qdisc', 'add', 'dev', 'vp-c', 'root', 'netem', 'loss', `${percent}%`]);
      return `tc netem loss ${percent}% on both ends of the client veth`;
    }
    if (!findExecutable('nft')) throw new Error(`tc netem is unavailable (${netem.stderr.trim()}) and nft is not installed`);
    const rules = join(this.dir, 'loss.nft');
    writeFileSync(
      rules,
      `table inet rbloss {
  chain in { type filter hook input priority 0; policy accept; iifname "eth0" numgen random mod 100 < ${percent} counter drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "eth0" numgen random mod 100 < ${percent} counter drop; }
}
`,
    );
    await this.peer.exec('nft', ['-f', rules]);
    return `nftables numgen random drop ${percent}% in and out of the client's eth0 (tc netem: ${netem.stderr.trim() || 'unavailable'})`;
  }

  /**
   * Datagrams dropped by full receive buffers on rackboot's live sockets (/proc/net/udp in its
   * namespace), by local port: 67 is DHCP, 69 the TFTP listener, anything else TFTP transfers.
   */
  async serverSocketDrops(): Promise<{ dhcp: number; tftpListener: number; other: number }> {
    const text = (await this.lab.exec('cat', ['/proc/net/udp'])).stdout;
    const out = { dhcp: 0, tftpListener: 0, other: 0 };
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const port = parseInt(f[1]?.split(':')[1] ?? '', 16);
      const drops = Number(f[12] ?? NaN);
      if (!Number.isFinite(port) || !Number.isFinite(drops)) continue;
      if (port === 67) out.dhcp += drops;
      else if (port === 69) out.tftpListener += drops;
      else out.other += drops;
    }
    return out;
  }

  /** UDP receive-buffer overflows (datagrams dropped because a socket was full) in each namespace. */
  async udpDrops(): Promise<{ server: number; client: number }> {
    const read = async (exec: (cmd: string, args: readonly string[]) => Promise<{ stdout: string }>): Promise<number> => {
      const lines = (await exec('cat', ['/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Udp:'));
      const names = lines[0]?.split(/\s+/) ?? [];
      const numbers = lines[1]?.split(/\s+/) ?? [];
      return Number(numbers[names.indexOf('RcvbufErrors')] ?? NaN);
    };
    return { server: await read((c, a) => this.lab.exec(c, a)), client: await read((c, a) => this.peer.exec(c, a)) };
  }

  /** Packets the nftables loss rules dropped, if they are in use. */
  async droppedPackets(): Promise<number | null> {
    const r = await this.peer.exec('nft', ['list', 'table', 'inet', 'rbloss'], { allowFailure: true });
    if (r.code !== 0) return null;
    return [...r.stdout.matchAll(/counter packets (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  }

  async destroy(): Promise<void> {
    for (const client of this.clients) await client.stop(1000).catch(() => {});
    await this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
