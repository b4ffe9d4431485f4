/**
 * Issue 15, "small budgets": the attacks replayed against rackboot with its default configuration.
 *
 * - TFTP, on loopback (no root needed): 4,000 tiny RRQs from 127.0.0.2 that never ACK, while a real
 *   tftp-hpa client (else atftp) downloads from 127.0.0.1. Before the budgets, 4,000 RRQs filled
 *   every transfer slot and a real client waited 25 s.
 * - DHCP, in network namespaces this test creates and deletes (root): 60 DECLINEs from random MACs
 *   against a 50-address pool, then a real udhcpc with an unknown MAC. Before the budgets, 51
 *   DECLINEs emptied the pool for 600 s.
 * - IPMI 1.5: the unit tests with the fake BMC cover it (test/unit/bmc/ipmi/client.test.ts).
 *
 * Every loop is bounded in count and time; each replay prints what it measured.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseConfig, type Config } from '../../server/config/config.js';
import { createLabNetwork, uniqueLabName, type LabNetwork, type LabPeer } from '../../server/lab/netns.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import { execCommand, type LabProcess } from '../../server/lab/process.js';
import { silentLogger } from '../../server/log.js';
import { createRootResolver } from '../../server/net/tftp-files.js';
import { startTftpServer, type TftpServer } from '../../server/net/tftp-server.js';
import { encodeRequest } from '../../server/protocol/tftp/codec.js';

const ROOT = join(import.meta.dirname, '..', '..');
const report = (line: string): void => {
  process.stdout.write(`# attacks-budgets: ${line}\n`);
};
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function run(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, out: stdout + stderr });
    });
  });
}

function defaults(yaml: string, dir: string): Config {
  const parsed = parseConfig(yaml, 'attacks-budgets', dir);
  assert.ok(parsed.config, parsed.errors.join('\n'));
  return parsed.config;
}

// ---------------------------------------------------------------------------------------------

const tftpClient = findExecutable('tftp') ? 'tftp-hpa' : findExecutable('atftp') ? 'atftp' : null;

describe('TFTP: 4,000 tiny RRQs from one address while a real client downloads from another', { skip: tftpClient === null ? 'neither tftp-hpa nor atftp is installed' : false, timeout: 120_000 }, () => {
  const ATTACKER = '127.0.0.2';
  const FILE = 'undionly.kpxe';
  let dir = '';
  let server: TftpServer;
  let config: Config;
  let content: Buffer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rb-attack-tftp-'));
    content = randomBytes(70_000); // the size of an iPXE undionly.kpxe
    await writeFile(join(dir, FILE), content);
    config = defaults(`dataDir: ${dir}.data\ntftp: { listen: 127.0.0.1, root: ${dir} }\n`, dir);
    const t = config.tftp;
    server = await startTftpServer({
      address: '127.0.0.1',
      port: 0, // the config's port is 69; the defaults under test are the limits
      logger: silentLogger(),
      resolve: createRootResolver({ root: t.root, logger: silentLogger() }),
      maxBlockSize: t.maxBlockSize,
      maxWindowSize: t.maxWindowSize,
      maxTransfers: t.maxTransfers,
      maxTransfersPerClient: t.maxTransfersPerClient,
      clientRequestRate: t.clientRequestRate,
      clientRequestBurst: t.clientRequestBurst,
      retransmitMs: t.retransmitMs,
      maxRetries: t.maxRetries,
    });
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('the flood is held to its own budget (no ERROR sent), and the real client is served at once', async () => {
    const rssBefore = process.memoryUsage().rss;
    const sockets: Socket[] = [];
    let repliesToAttacker = 0;
    for (let i = 0; i < 40; i += 1) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, ATTACKER, () => resolve());
      });
      socket.on('message', () => (repliesToAttacker += 1)); // never ACKed: each started transfer holds its slot until it times out
      sockets.push(socket);
    }
    let sent = 0;
    const flood = (async () => {
      const started = Date.now();
      // 40 sockets x 100 spellings of the file: 4,000 distinct requests, none a duplicate of another.
      for (let round = 0; round < 100 && Date.now() - started < 20_000; round += 1) {
        for (const socket of sockets) {
          socket.send(encodeRequest('rrq', `${'/'.repeat(round)}${FILE}`, 'octet'), server.port, '127.0.0.1');
          sent += 1;
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      return Date.now() - started;
    })();

    await new Promise((r) => setTimeout(r, 20)); // the flood is under way
    const local = join(dir, 'downloaded.bin');
    const clientStarted = Date.now();
    const result = tftpClient === 'tftp-hpa'
      ? await run('tftp', ['127.0.0.1', String(server.port), '-m', 'binary', '-c', 'get', FILE, local])
      : await run('atftp', ['--get', '-r', FILE, '-l', local, '127.0.0.1', String(server.port)]);
    const clientMs = Date.now() - clientStarted;
    const floodMs = await flood;
    await new Promise((r) => setTimeout(r, 200)); // the last datagrams are counted
    const s = server.stats;
    const rssAfter = process.memoryUsage().rss;
    for (const socket of sockets) socket.close();

    report(`TFTP: ${sent} RRQs from ${ATTACKER} in ${floodMs} ms; ${tftpClient} from 127.0.0.1 got ${FILE} (${content.length} bytes) in ${clientMs} ms`);
    report(`TFTP: refused ${s.refused} (max-per-client ${s.refusedMaxPerClient}, client-rate ${s.refusedClientRate}, max-transfers ${s.refusedMaxTransfers}); peak active ${s.peakActive}; packets to the attacker ${repliesToAttacker}; RSS ${mb(rssBefore)} -> ${mb(rssAfter)}`);
    report(`TFTP: budgets tftp.maxTransfersPerClient ${config.tftp.maxTransfersPerClient}, tftp.clientRequestRate ${config.tftp.clientRequestRate}/s (burst ${config.tftp.clientRequestBurst}), tftp.maxTransfers ${config.tftp.maxTransfers}`);

    assert.equal(result.code, 0, result.out);
    assert.ok((await readFile(local)).equals(content), 'byte-identical');
    assert.equal(sent, 4000);
    assert.ok(s.peakActive <= config.tftp.maxTransfersPerClient + 1, `peak ${s.peakActive}: the flood held at most its per-client budget (+1: the real client)`);
    assert.ok(s.refusedMaxPerClient + s.refusedClientRate >= 4000 - config.tftp.clientRequestBurst, JSON.stringify(s));
    assert.equal(s.refusedMaxTransfers, 0, 'the server-wide cap was never reached');
    assert.equal(s.accessDenied + s.notFound + s.badMode, 0, 'refusals are silent: no ERROR that would make firmware reboot');
    assert.ok(clientMs < 10_000, `the real client took ${clientMs} ms (was 25 s)`);
  });
});

// ---------------------------------------------------------------------------------------------

function dhcpUnavailable(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  const missing = ['ip', 'udhcpc'].filter((t) => !findExecutable(t));
  return missing.length > 0 ? `not installed: ${missing.join(', ')}` : false;
}

describe('DHCP: 60 DECLINEs from random MACs, then an unknown client still gets a pool address', { skip: dhcpUnavailable(), timeout: 120_000 }, () => {
  const SERVER = '10.95.0.1';
  const POOL = { start: '10.95.0.100', end: '10.95.0.149', size: 50 };
  let lab: LabNetwork;
  let server: LabProcess | undefined;
  const peers: Record<string, LabPeer> = {};
  let dataDir = '';
  let config: Config;

  before(async () => {
    lab = await createLabNetwork({ name: uniqueLabName('rbbudget'), subnet: '10.95.0.0/24', radvd: false });
    await lab.exec('ip', ['route', 'add', '255.255.255.255/32', 'dev', lab.bridge]);
    peers.px = await lab.addPeer('px', { address: '10.95.0.9' });
    peers.cl = await lab.addPeer('cl');
    dataDir = join(lab.workDir, 'rackboot');
    mkdirSync(dataDir, { recursive: true });
    const yaml = `dataDir: ${dataDir}\nlog: { level: warn }\nserver: { address: ${SERVER} }\nhttp: { listen: ${SERVER} }\ntftp: { enabled: false }\n`
      + `dhcp:\n  enabled: true\n  interfaces: [${lab.bridge}]\n  subnets:\n    - { cidr: 10.95.0.0/24, gateway: ${SERVER}, leaseSeconds: 600, pool: { start: ${POOL.start}, end: ${POOL.end} } }\n`;
    const file = join(dataDir, 'rackboot.yaml');
    writeFileSync(file, yaml);
    config = defaults(yaml, dataDir);
    server = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'dhcp-service-server.ts'), file, '[]'], { cwd: ROOT, logFile: join(dataDir, 'server.log') });
    await server.waitForOutput(/"ready":/, 30_000);
  });

  after(async () => {
    await server?.stop().catch(() => {});
    await lab?.destroy();
  });

  let statsCalls = 0;
  async function stats(): Promise<{ ignoredByReason: Record<string, number>; received: number }> {
    assert.ok(server);
    statsCalls += 1;
    server.signal('SIGUSR2');
    const match = await server.waitForOutput(new RegExp(`\\{"stats":(.*),"n":${statsCalls}\\}`), 5000);
    return JSON.parse(match[1] ?? '{}') as { ignoredByReason: Record<string, number>; received: number };
  }

  function heldByDeclines(): number {
    const db = new Database(join(dataDir, 'rackboot.db'), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM dhcp_declined WHERE until > ?').get(Date.now()) as { n: number }).n;
    } finally {
      db.close();
    }
  }

  it('at most 10% of the pool is held; the DECLINEs beyond are counted, not honoured; udhcpc binds a free pool address', async () => {
    const sender = await peers.px!.exec(process.execPath, [
      '--import', 'tsx', join(ROOT, 'test', 'helpers', 'dhcp-decline-sender.ts'),
      JSON.stringify({ to: SERVER, serverId: SERVER, count: 60, first: POOL.start, size: POOL.size }),
    ], { cwd: ROOT, timeoutMs: 60_000 });
    const flood = JSON.parse(sender.stdout.trim().split('\n').at(-1) ?? '{}') as { sent: number; failed: number; ms: number };
    assert.equal(flood.sent, 60);
    await new Promise((r) => setTimeout(r, 300)); // group commit
    const afterFlood = await stats();
    const held = heldByDeclines();

    const out = join(lab.workDir, 'udhcpc.out');
    const script = join(lab.workDir, 'udhcpc.sh');
    writeFileSync(script, `#!/bin/sh\necho "$1 ip=$ip" >> '${out}'\n`);
    chmodSync(script, 0o755);
    const ip = findExecutable('ip') ?? 'ip';
    for (const args of [['down'], ['address', '52:54:00:95:00:77'], ['up']]) {
      await execCommand(ip, ['-n', peers.cl!.netns, 'link', 'set', 'eth0', ...args], { timeoutMs: 10_000 });
    }
    const started = Date.now();
    const client = await execCommand(ip, ['netns', 'exec', peers.cl!.netns, 'udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', script, '-t', '3', '-T', '1', '-A', '1'], { timeoutMs: 20_000, allowFailure: true });
    const clientMs = Date.now() - started;
    const seen = existsSync(out) ? readFileSync(out, 'utf8') : '';

    report(`DHCP: ${flood.sent} DECLINEs from random MACs in ${flood.ms} ms against a ${POOL.size}-address pool: ${held} addresses held (dhcp.declineMaxPoolPercent ${config.dhcp.declineMaxPoolPercent}%, holds of unknown MACs ${config.dhcp.declineUnknownSeconds} s); counted declined ${afterFlood.ignoredByReason['declined'] ?? 0}, decline-over-budget ${afterFlood.ignoredByReason['decline-over-budget'] ?? 0}`);
    report(`DHCP: udhcpc with an unknown MAC bound ${/ip=(\S+)/.exec(seen)?.[1] ?? 'nothing'} in ${clientMs} ms`);

    assert.ok(held <= 5, `${held} held`);
    assert.ok((afterFlood.ignoredByReason['decline-over-budget'] ?? 0) >= 50, JSON.stringify(afterFlood.ignoredByReason));
    assert.equal(client.code, 0, client.stdout + client.stderr);
    const bound = /^bound ip=(10\.95\.0\.(\d+))$/m.exec(seen);
    assert.ok(bound, seen);
    const last = Number(bound[2]);
    assert.ok(last >= 100 && last <= 149, `${bound[1]} is a pool address`);
  });
});
