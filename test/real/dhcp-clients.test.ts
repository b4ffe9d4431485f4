/**
 * Real DHCP clients (ISC dhclient, busybox udhcpc) against rackboot's listener + decision, over a
 * veth pair between two network namespaces this test creates and deletes. Nothing touches a host
 * interface. Needs root, iproute2, isc-dhcp-client and udhcpc; skips with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { FixtureConfig } from '../helpers/dhcp-fixture-server.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fixtureServer = fileURLToPath(new URL('../helpers/dhcp-fixture-server.ts', import.meta.url));

const pid = process.pid;
const SERVER_NS = `rb-dhcp-s-${pid}`;
const CLIENT_NS = `rb-dhcp-c-${pid}`;
const SERVER_IF = `rbds${pid}`;
const CLIENT_IF = `rbdc${pid}`;
const NET = `10.98.${20 + (pid % 200)}`;
const SERVER_IP = `${NET}.1`;

const MACHINES = [
  { mac: '52:54:00:98:00:01', name: 'node01', ip: `${NET}.11` },
  { mac: '52:54:00:98:00:02', name: 'node02', ip: `${NET}.12` },
  { mac: '52:54:00:98:00:03', name: 'node03', ip: `${NET}.13` },
];
const UNKNOWN_MAC = '52:54:00:98:00:99';

const config: FixtureConfig = {
  address: '0.0.0.0',
  port: 67,
  settings: {
    serverAddress: SERVER_IP,
    subnets: [{ cidr: `${NET}.0/24`, gateway: SERVER_IP, dns: [SERVER_IP], domain: 'rack.test', leaseSeconds: 600 }],
    httpBaseUrl: `http://${SERVER_IP}:8080`,
    bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
    chainloadEmbeddedIpxe: false,
    chainWindowMs: 60_000,
  },
  machines: MACHINES,
};

function commandExists(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function missing(...tools: string[]): string | false {
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  const absent = tools.filter((t) => !commandExists(t));
  return absent.length > 0 ? `not installed: ${absent.join(', ')}` : false;
}

function sh(args: string[], timeoutMs = 5000): string {
  const r = spawnSync(args[0] ?? '', args.slice(1), { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}

interface Decision {
  request: string;
  mac: string | null;
  kind: string;
  reply?: string;
  yiaddr?: string;
  discovered: boolean;
}

interface ClientRun {
  code: number | null;
  output: string;
  timedOut: boolean;
  ms: number;
}

/** Runs a client in the client namespace; stops it (by its PID) at `until` or after `timeoutMs`. */
function runClient(args: string[], timeoutMs: number, until?: RegExp): Promise<ClientRun> {
  const started = Date.now();
  const child = spawn('ip', ['netns', 'exec', CLIENT_NS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  clients.add(child);
  let output = '';
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (until?.test(output)) child.kill('SIGTERM');
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', (code) => {
      clearTimeout(timer);
      clients.delete(child);
      resolve({ code, output, timedOut, ms: Date.now() - started });
    });
  });
}

function setClientMac(mac: string): void {
  sh(['ip', '-n', CLIENT_NS, 'link', 'set', CLIENT_IF, 'down']);
  sh(['ip', '-n', CLIENT_NS, 'link', 'set', CLIENT_IF, 'address', mac]);
  sh(['ip', '-n', CLIENT_NS, 'link', 'set', CLIENT_IF, 'up']);
}

const clients = new Set<ChildProcess>();
let server: ChildProcess | null = null;
let serverLog = '';
const decisions: Decision[] = [];
let workDir = '';
let setupError: string | null = null;

function createNetwork(): void {
  sh(['ip', 'netns', 'add', SERVER_NS]);
  sh(['ip', 'netns', 'add', CLIENT_NS]);
  // Created inside the server namespace with its peer sent straight to the client namespace.
  sh(['ip', 'netns', 'exec', SERVER_NS, 'ip', 'link', 'add', SERVER_IF, 'type', 'veth', 'peer', 'name', CLIENT_IF, 'netns', CLIENT_NS]);
  sh(['ip', '-n', SERVER_NS, 'addr', 'add', `${SERVER_IP}/24`, 'dev', SERVER_IF]);
  sh(['ip', '-n', SERVER_NS, 'link', 'set', 'lo', 'up']);
  sh(['ip', '-n', SERVER_NS, 'link', 'set', SERVER_IF, 'up']);
  // Without a route for the limited broadcast address, a socket bound to 0.0.0.0 gets ENETUNREACH
  // sending to 255.255.255.255: this is the deployment requirement of DHCP-06.
  sh(['ip', '-n', SERVER_NS, 'route', 'add', '255.255.255.255/32', 'dev', SERVER_IF]);
  sh(['ip', '-n', CLIENT_NS, 'link', 'set', 'lo', 'up']);
  setClientMac(MACHINES[0]?.mac ?? '');
}

function startServer(): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', SERVER_NS, process.execPath, '--import', 'tsx', fixtureServer, JSON.stringify(config)], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture server not ready after 30 s: ${serverLog}`)), 30_000);
    let pending = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      serverLog += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const parsed = JSON.parse(line) as { ready?: number; decision?: Decision };
        if (parsed.ready !== undefined) {
          clearTimeout(timer);
          resolve();
        }
        if (parsed.decision) decisions.push(parsed.decision);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`fixture server exited with ${code}: ${serverLog}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function deleteNamespace(name: string): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  if (!list.split('\n').some((line) => line.split(' ')[0] === name)) return;
  // Anything still inside was started by this test (e.g. tsx's esbuild helper).
  const pids = (spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '').split(/\s+/).filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', name]);
}

function skipIfUnavailable(t: TestContext, ...tools: string[]): boolean {
  const reason = missing(...tools) || setupError;
  if (reason) t.skip(reason);
  return Boolean(reason);
}

describe('real DHCP clients in network namespaces', { timeout: 120_000 }, () => {
  before(async () => {
    const reason = missing('ip');
    if (reason) return;
    workDir = mkdtempSync(join(tmpdir(), 'rackboot-dhcp-'));
    try {
      createNetwork();
    } catch (err) {
      setupError = `network namespaces unavailable: ${(err as Error).message}`;
      return;
    }
    await startServer();
  });

  after(async () => {
    for (const child of clients) await stopProcess(child);
    if (server) await stopProcess(server);
    deleteNamespace(CLIENT_NS);
    deleteNamespace(SERVER_NS);
    if (workDir && existsSync(workDir)) rmSync(workDir, { recursive: true, force: true });
  });

  it('ISC dhclient binds to its reserved address', async (t) => {
    if (skipIfUnavailable(t, 'ip', 'dhclient')) return;
    const machine = MACHINES[0];
    assert.ok(machine);
    setClientMac(machine.mac);
    const leases = join(workDir, 'dhclient.leases');
    const conf = join(workDir, 'dhclient.conf');
    writeFileSync(conf, 'timeout 10;\nretry 1;\nrequest subnet-mask, broadcast-address, routers, domain-name, domain-name-servers, host-name;\n');
    // -d keeps it in the foreground (we stop it by PID once bound); -sf /bin/true leaves the link alone.
    const run = await runClient(['dhclient', '-d', '-1', '-v', '-sf', '/bin/true', '-lf', leases,
      '-pf', join(workDir, 'dhclient.pid'), '-cf', conf, CLIENT_IF], 15_000, /bound to /);
    assert.match(run.output, new RegExp(`bound to ${machine.ip.replaceAll('.', '\\.')} `), run.output);
    const lease = readFileSync(leases, 'utf8');
    assert.match(lease, new RegExp(`fixed-address ${machine.ip.replaceAll('.', '\\.')};`));
    assert.match(lease, /option host-name "node01";/);
    assert.match(lease, new RegExp(`option routers ${SERVER_IP.replaceAll('.', '\\.')};`));
    assert.match(lease, /option dhcp-lease-time 600;/);
  });

  async function udhcpc(name: string, extra: string[], attempts = 3): Promise<{ run: ClientRun; script: string }> {
    const out = join(workDir, `${name}.out`);
    const script = join(workDir, `${name}.sh`);
    writeFileSync(script, `#!/bin/sh\necho "$1 ip=$ip siaddr=$siaddr boot_file=$boot_file hostname=$hostname serverid=$serverid router=$router subnet=$subnet lease=$lease" >> '${out}'\n`);
    chmodSync(script, 0o755);
    const run = await runClient(['udhcpc', '-f', '-q', '-n', '-i', CLIENT_IF, '-s', script, '-t', String(attempts), '-T', '1', '-A', '1', ...extra], 15_000);
    return { run, script: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  it('busybox udhcpc binds to its reserved address, without boot information', async (t) => {
    if (skipIfUnavailable(t, 'ip', 'udhcpc')) return;
    const machine = MACHINES[1];
    assert.ok(machine);
    setClientMac(machine.mac);
    const { run, script } = await udhcpc('plain', []);
    assert.equal(run.code, 0, run.output);
    assert.match(script, new RegExp(`^bound ip=${machine.ip.replaceAll('.', '\\.')} siaddr= boot_file= hostname=node02 serverid=${SERVER_IP.replaceAll('.', '\\.')} `, 'm'));
  });

  it('udhcpc posing as UEFI x64 PXE (option 60) is offered snponly.efi from the server', async (t) => {
    if (skipIfUnavailable(t, 'ip', 'udhcpc')) return;
    const machine = MACHINES[2];
    assert.ok(machine);
    setClientMac(machine.mac);
    const { run, script } = await udhcpc('pxe', ['-V', 'PXEClient:Arch:00007:UNDI:003016']);
    assert.equal(run.code, 0, run.output);
    assert.match(script, new RegExp(`^bound ip=${machine.ip.replaceAll('.', '\\.')} siaddr=${SERVER_IP.replaceAll('.', '\\.')} boot_file=snponly\\.efi `, 'm'));
  });

  it('an unknown MAC gets no lease within a bounded time, and is reported as discovered', async (t) => {
    if (skipIfUnavailable(t, 'ip', 'udhcpc')) return;
    setClientMac(UNKNOWN_MAC);
    const { run, script } = await udhcpc('unknown', [], 2);
    assert.notEqual(run.code, 0, 'udhcpc -n exits non-zero without a lease');
    assert.equal(run.timedOut, false);
    assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
    assert.doesNotMatch(script, /^bound/m);
    const seen = decisions.filter((d) => d.mac === UNKNOWN_MAC);
    assert.ok(seen.length >= 1, 'the server saw the DISCOVERs');
    assert.ok(seen.every((d) => d.kind === 'ignore' && d.discovered));
  });

  it('the server answered every known client with OFFER then ACK and logged no errors', (t) => {
    if (skipIfUnavailable(t, 'ip')) return;
    for (const machine of MACHINES) {
      const replies = decisions.filter((d) => d.mac === machine.mac && d.kind === 'reply').map((d) => d.reply);
      if (replies.length === 0) continue; // that client's test was skipped
      assert.deepEqual(replies.slice(0, 2), ['OFFER', 'ACK'], machine.name);
    }
    assert.equal(serverLog.trim(), '', 'fixture server stderr');
  });
});
