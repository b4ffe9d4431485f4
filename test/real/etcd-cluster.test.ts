/**
 * Real etcd 3.4 (Debian's etcd-server/etcd-client) started from what rackboot renders, in network
 * namespaces this test creates (`rbetcd-<pid>-<n>`, one per machine, joined by a bridge where
 * `rackboot serve` runs). Each "machine" boots the way the OS does: GET /ipxe?mac= from its own
 * address, the cloud-config from the one-time URL in that script, then the etcd unit's Environment=
 * lines and ExecStart= run as rendered (/opt/bin/etcd is Debian's /usr/bin/etcd), with the rendered
 * certificate files, in a private mount namespace that puts the machine's own directories at
 * /etc/rackboot/etcd and /var/lib/rackboot-etcd. The health check is the rendered
 * rackboot-etcd-health script.
 *
 * Proves: 3 production-central members form over TLS; one member's data wiped and rebooted (memory
 * mode) is healed by rackboot's membership adapter (old member removed, new one added, `existing`);
 * a 4th central machine assigned later joins as a member; a worker's proxy reads and writes with
 * its client certificate; the whole cluster rebooted in memory mode is a reported cold start (503,
 * event, API state), not a new empty cluster. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { createLabNetwork, uniqueLabName, type LabNetwork, type LabPeer } from '../../server/lab/netns.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import { sleep, type LabProcess } from '../../server/lab/process.js';
import { rackboot } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ETCD = '/usr/bin/etcd';
const ETCDCTL = '/usr/bin/etcdctl';
const CERT_DIR = '/etc/rackboot/etcd';
const DATA_DIR = '/var/lib/rackboot-etcd';
const HEALTH_TIMEOUT_MS = 60_000;
const API_TIMEOUT_MS = 60_000;

function prerequisites(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (network and mount namespaces)';
  for (const binary of [ETCD, ETCDCTL]) if (!existsSync(binary)) return `${binary} is missing: apt-get install etcd-server etcd-client`;
  for (const tool of ['ip', 'unshare', 'mount', 'curl']) if (!findExecutable(tool)) return `${tool} is not installed`;
  return null;
}

const skipReason = prerequisites();

interface Machine {
  readonly name: string;
  readonly mac: string;
  readonly host: number;
  readonly role: string;
}

const CENTRAL: Machine[] = [1, 2, 3].map((n) => ({ name: `c${n}`, mac: `52:54:00:98:00:1${n}`, host: 10 + n, role: 'production-central' }));
const FOURTH: Machine = { name: 'c4', mac: '52:54:00:98:00:14', host: 14, role: 'production-central' };
const WORKER: Machine = { name: 'w1', mac: '52:54:00:98:00:21', host: 21, role: 'production-worker' };

/** What a machine runs, taken from its rendered cloud-config. */
interface Rendered {
  readonly text: string;
  readonly unit: 'rackboot-etcd.service' | 'rackboot-etcd-gateway.service';
  readonly env: Record<string, string>;
  readonly argv: string[];
  readonly files: Array<{ path: string; permissions: string; content: string }>;
  readonly health: string[];
}

function extract(text: string): Rendered {
  const doc = parse(text) as { write_files: Array<{ path: string; permissions: string; content: string }>; coreos: { units: Array<{ name: string; content?: string }> } };
  const unit = doc.coreos.units.find((u) => u.name === 'rackboot-etcd.service' || u.name === 'rackboot-etcd-gateway.service');
  assert.ok(unit?.content, 'the config has an etcd unit');
  const env: Record<string, string> = {};
  let exec = '';
  for (const line of unit.content.split('\n')) {
    const variable = /^Environment=([A-Z0-9_]+)=(.*)$/.exec(line);
    if (variable) env[variable[1] as string] = variable[2] as string;
    if (line.startsWith('ExecStart=')) exec = line.slice('ExecStart='.length);
  }
  const argv = exec.split(' ');
  assert.equal(argv[0], '/opt/bin/etcd', 'the unit runs the fetched etcd');
  argv[0] = ETCD;
  const healthScript = doc.write_files.find((f) => f.path === '/opt/rackboot/bin/rackboot-etcd-health')?.content ?? '';
  const execLine = healthScript.split('\n').find((l) => l.startsWith('exec '));
  assert.ok(execLine, 'the health script runs etcdctl');
  const health = execLine.slice(5).split(' ');
  assert.equal(health[0], '/opt/bin/etcdctl');
  health[0] = ETCDCTL;
  return {
    text,
    unit: unit.name as Rendered['unit'],
    env,
    argv,
    files: doc.write_files.filter((f) => f.path.startsWith(`${CERT_DIR}/`)),
    health,
  };
}

describe('etcd clusters from rackboot\'s settings (real etcd 3.4, TLS, namespaces)', { skip: skipReason ?? false, timeout: 600_000 }, () => {
  let lab: LabNetwork;
  let work: string;
  let config: string;
  let server: LabProcess | undefined;
  const peers = new Map<string, LabPeer>();
  const running = new Map<string, LabProcess>();
  const createdMountPoints: string[] = [];
  let base = '';

  const machineDir = (name: string, part: 'etc' | 'data') => join(work, 'machines', name, part);

  /** argv inside the machine: its own directories at the rendered paths, in a private mount namespace. */
  const inMachine = (name: string, argv: readonly string[]): [string, string[]] => [
    'unshare',
    ['--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$1" ${CERT_DIR} && mount --bind "$2" ${DATA_DIR} && shift 2 && exec "$@"`, 'sh', machineDir(name, 'etc'), machineDir(name, 'data'), ...argv],
  ];

  async function api(path: string): Promise<unknown> {
    const result = await lab.exec('curl', ['-sS', '--max-time', '10', `${base}${path}`], { allowFailure: true });
    return JSON.parse(result.stdout || 'null');
  }

  /** GET /ipxe from the machine's address, then the cloud-config at the one-time URL in the script. */
  async function fetchConfig(machine: Machine): Promise<{ status: number; body: string }> {
    const peer = peers.get(machine.name) as LabPeer;
    const script = await peer.exec('curl', ['-sS', '--max-time', '10', `${base}/ipxe?mac=${machine.mac}`]);
    const url = /cloud-config-url=(\S+)/.exec(script.stdout)?.[1];
    assert.ok(url, `${machine.name}: the iPXE script names a cloud-config URL:\n${script.stdout}`);
    const out = join(work, `${machine.name}.config`);
    const result = await peer.exec('curl', ['-sS', '--max-time', '30', '-o', out, '-w', '%{http_code}', url]);
    const { readFileSync } = await import('node:fs');
    return { status: Number(result.stdout), body: existsSync(out) ? readFileSync(out, 'utf8') : '' };
  }

  /** A memory-mode boot: empty data directory, the rendered files, etcd as rendered. */
  async function boot(machine: Machine): Promise<Rendered> {
    const fetched = await fetchConfig(machine);
    assert.equal(fetched.status, 200, `${machine.name}: cloud-config: ${fetched.body}`);
    const rendered = extract(fetched.body);
    rmSync(join(work, 'machines', machine.name), { recursive: true, force: true });
    mkdirSync(machineDir(machine.name, 'etc'), { recursive: true });
    mkdirSync(machineDir(machine.name, 'data'), { recursive: true, mode: 0o700 });
    for (const file of rendered.files) {
      writeFileSync(join(machineDir(machine.name, 'etc'), file.path.slice(CERT_DIR.length + 1)), file.content, { mode: Number.parseInt(file.permissions, 8) });
    }
    const [cmd, args] = inMachine(machine.name, rendered.argv);
    const peer = peers.get(machine.name) as LabPeer;
    running.set(machine.name, await peer.spawn(cmd, args, { env: rendered.env, logFile: join(work, `${machine.name}.etcd.log`) }));
    return rendered;
  }

  async function healthy(machine: Machine, rendered: Rendered, timeoutMs = HEALTH_TIMEOUT_MS): Promise<void> {
    const peer = peers.get(machine.name) as LabPeer;
    const [cmd, args] = inMachine(machine.name, rendered.health);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const result = await peer.exec(cmd, args, { allowFailure: true, timeoutMs: 15_000 });
      if (result.code === 0) return;
      last = `${result.stdout}${result.stderr}`;
      const proc = running.get(machine.name);
      if (proc?.exitStatus) assert.fail(`${machine.name}'s etcd exited: ${proc.output().slice(-3000)}`);
      await sleep(1000);
    }
    assert.fail(`${machine.name} not healthy within ${timeoutMs} ms: ${last}\n${running.get(machine.name)?.output().slice(-3000) ?? ''}`);
  }

  /** `etcdctl member list` over TLS from c1's namespace with c1's certificate. */
  async function memberList(via: Machine): Promise<Array<{ ID: number | string; name: string; peerURLs: string[]; clientURLs?: string[] }>> {
    const peer = peers.get(via.name) as LabPeer;
    const own = (await import('node:fs')).existsSync(join(machineDir(via.name, 'etc'), 'server.crt')) ? 'server' : 'client';
    const [cmd, args] = inMachine(via.name, [
      ETCDCTL, `--endpoints=https://${lab.hostAddress(via.host)}:2379`, `--cacert=${CERT_DIR}/ca.crt`, `--cert=${CERT_DIR}/${own}.crt`, `--key=${CERT_DIR}/${own}.key`, '-w', 'json', 'member', 'list',
    ]);
    const result = await peer.exec(cmd, args, { timeoutMs: 15_000 });
    return (JSON.parse(result.stdout) as { members: Array<{ ID: number; name: string; peerURLs: string[]; clientURLs?: string[] }> }).members;
  }

  async function waitForCluster(predicate: (c: { state: string; members: Array<{ name: string; healthy: boolean }>; leader: string | null; missing: string[] }) => boolean, what: string) {
    const deadline = Date.now() + API_TIMEOUT_MS;
    let last: unknown = null;
    while (Date.now() < deadline) {
      last = await api('/api/v1/clusters/production');
      const cluster = last as { state?: string };
      if (cluster && typeof cluster.state === 'string' && predicate(last as never)) return last as { state: string; members: Array<{ name: string; healthy: boolean }>; leader: string | null; missing: string[] };
      await sleep(2000);
    }
    assert.fail(`GET /api/v1/clusters/production never showed ${what}; last: ${JSON.stringify(last)}`);
  }

  async function stop(name: string): Promise<void> {
    await running.get(name)?.stop();
    running.delete(name);
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-etcd-'));
    for (const dir of [CERT_DIR, DATA_DIR]) {
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        createdMountPoints.push(dir);
      }
    }
    lab = await createLabNetwork({ name: uniqueLabName('rbetcd'), subnet: '10.98.0.0/24', radvd: false });
    const address = lab.serverAddress;
    base = `http://${address}:8080`;
    config = join(work, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${work}/data
log: { level: info }
server: { address: ${address} }
http: { listen: ${address}, port: 8080 }
tftp: { listen: ${address}, port: 6969 }
dhcp:
  enabled: false
  subnets: [{ cidr: ${lab.subnet}, gateway: ${address}, dns: [${address}], leaseSeconds: 600 }]
boot:
  assetsDir: ${work}/assets
  os: { name: test-os, kernel: flatcar/vmlinuz, initrds: [flatcar/initrd] }
cluster: { name: lab }
`,
    );
    for (const m of [...CENTRAL, WORKER]) {
      const add = rackboot(['--config', config, 'machines', 'add', '--mac', m.mac, '--ip', lab.hostAddress(m.host), '--name', m.name, '--role', m.role, '--mode', 'memory']);
      assert.equal(add.code, 0, add.stderr);
    }
    for (const m of [...CENTRAL, FOURTH, WORKER]) peers.set(m.name, await lab.addPeer(m.name, { address: `${lab.hostAddress(m.host)}/${lab.prefixLength}` }));
    server = await lab.spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], { cwd: ROOT, logFile: join(work, 'rackboot.log') });
    await server.waitForOutput(/rackboot serving/, 30_000);
  });

  after(async () => {
    for (const name of [...running.keys()]) await stop(name).catch(() => undefined);
    await server?.stop();
    await lab?.destroy();
    for (const dir of createdMountPoints.reverse()) {
      if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
    }
    if (existsSync('/etc/rackboot') && readdirSync('/etc/rackboot').length === 0 && createdMountPoints.includes(CERT_DIR)) rmdirSync('/etc/rackboot');
    if (work && !process.env.RACKBOOT_KEEP_TEST_DIR) rmSync(work, { recursive: true, force: true });
  });

  const renders = new Map<string, Rendered>();

  test('3 central members form over TLS from the rendered settings; the health check and the API agree', async () => {
    const booted = await Promise.all(CENTRAL.map((m) => boot(m)));
    CENTRAL.forEach((m, i) => renders.set(m.name, booted[i] as Rendered));
    for (const r of booted) {
      assert.equal(r.env.ETCD_INITIAL_CLUSTER_STATE, 'new');
      assert.match(r.env.ETCD_LISTEN_PEER_URLS ?? '', /^https:/);
      assert.equal(r.env.ETCD_CLIENT_CERT_AUTH, 'true');
      assert.equal(r.env.ETCD_PEER_CLIENT_CERT_AUTH, 'true');
    }
    for (const m of CENTRAL) await healthy(m, renders.get(m.name) as Rendered);
    const members = await memberList(CENTRAL[0] as Machine);
    assert.deepEqual(members.map((m) => m.name).sort(), ['c1', 'c2', 'c3']);
    for (const m of members) assert.match(m.peerURLs[0] ?? '', /^https:\/\//);
    // plain HTTP and TLS without a client certificate are refused
    const peer = peers.get('c1') as LabPeer;
    const plain = await peer.exec('curl', ['-sS', '--max-time', '5', '-X', 'POST', '-d', '{}', `http://${lab.hostAddress(11)}:2379/v3/cluster/member/list`], { allowFailure: true });
    assert.notEqual(plain.code === 0 && plain.stdout.includes('members'), true, 'no member list over plain HTTP');
    const [cmd, args] = inMachine('c1', ['curl', '-sS', '--max-time', '5', '--cacert', `${CERT_DIR}/ca.crt`, '-X', 'POST', '-d', '{}', `https://${lab.hostAddress(11)}:2379/v3/cluster/member/list`]);
    const anonymous = await peer.exec(cmd, args, { allowFailure: true });
    assert.ok(!(anonymous.code === 0 && anonymous.stdout.includes('"members"')), `TLS without a client certificate must be refused: ${anonymous.stdout}`);
    const cluster = await waitForCluster((c) => c.state === 'healthy' && c.members.length === 3 && c.leader !== null, 'a healthy cluster of 3 with a leader');
    assert.deepEqual(cluster.missing, []);
  });

  test('a member rebooted in memory (data wiped) is healed by rackboot: removed, added, `existing`', async () => {
    const before = await memberList(CENTRAL[0] as Machine);
    const oldId = String(before.find((m) => m.name === 'c2')?.ID);
    await stop('c2');
    const degraded = await waitForCluster((c) => c.missing.includes('c2'), 'c2 missing');
    assert.notEqual(degraded.state, 'healthy');
    const rendered = await boot(CENTRAL[1] as Machine);
    assert.equal(rendered.env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(rendered.env.ETCD_INITIAL_CLUSTER?.split(',').length, 3);
    renders.set('c2', rendered);
    await healthy(CENTRAL[1] as Machine, rendered);
    const after = await memberList(CENTRAL[0] as Machine);
    assert.deepEqual(after.map((m) => m.name).sort(), ['c1', 'c2', 'c3']);
    assert.notEqual(String(after.find((m) => m.name === 'c2')?.ID), oldId, 'c2 is a new member');
    await waitForCluster((c) => c.state === 'healthy' && c.members.length === 3, 'healthy again with 3 members');
    const events = rackboot(['--config', config, 'events', 'c2', '--json']);
    assert.match(events.stdout, /replaced by a new member/);
  });

  test('a 4th central machine assigned later joins as a member (the count allows up to 7)', async () => {
    const add = rackboot(['--config', config, 'machines', 'add', '--mac', FOURTH.mac, '--ip', lab.hostAddress(FOURTH.host), '--name', FOURTH.name, '--role', FOURTH.role, '--mode', 'memory']);
    assert.equal(add.code, 0, add.stderr);
    const rendered = await boot(FOURTH);
    assert.equal(rendered.unit, 'rackboot-etcd.service');
    assert.equal(rendered.env.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    renders.set('c4', rendered);
    await healthy(FOURTH, rendered);
    assert.deepEqual((await memberList(CENTRAL[0] as Machine)).map((m) => m.name).sort(), ['c1', 'c2', 'c3', 'c4']);
    await waitForCluster((c) => c.state === 'healthy' && c.members.length === 4, 'healthy with 4 members');
  });

  test('a worker\'s proxy reads and writes through to the cluster with its client certificate', async () => {
    const rendered = await boot(WORKER);
    assert.equal(rendered.unit, 'rackboot-etcd-gateway.service');
    assert.deepEqual(rendered.files.map((f) => f.path).sort(), [`${CERT_DIR}/ca.crt`, `${CERT_DIR}/client.crt`, `${CERT_DIR}/client.key`]);
    await healthy(WORKER, rendered);
    const peer = peers.get('w1') as LabPeer;
    const put = await peer.exec(ETCDCTL, ['--endpoints=http://127.0.0.1:2379', 'put', '/rackboot/test', 'through-the-proxy'], { timeoutMs: 15_000 });
    assert.match(put.stdout, /OK/);
    const get = await peer.exec(ETCDCTL, ['--endpoints=http://127.0.0.1:2379', 'get', '--print-value-only', '/rackboot/test'], { timeoutMs: 15_000 });
    assert.equal(get.stdout.trim(), 'through-the-proxy');
    // and the value is in the cluster: read it from a member over TLS
    const [cmd, args] = inMachine('c3', [ETCDCTL, `--endpoints=https://${lab.hostAddress(13)}:2379`, `--cacert=${CERT_DIR}/ca.crt`, `--cert=${CERT_DIR}/server.crt`, `--key=${CERT_DIR}/server.key`, 'get', '--print-value-only', '/rackboot/test']);
    const fromMember = await (peers.get('c3') as LabPeer).exec(cmd, args, { timeoutMs: 15_000 });
    assert.equal(fromMember.stdout.trim(), 'through-the-proxy');
    await stop('w1');
  });

  test('the whole cluster rebooted in memory is reported as a cold start, never formed empty', async () => {
    for (const m of [...CENTRAL, FOURTH]) await stop(m.name);
    const cluster = await waitForCluster((c) => c.state === 'cold-start', 'cold-start');
    assert.deepEqual([...cluster.missing].sort(), ['c1', 'c2', 'c3', 'c4']);
    const refused = await fetchConfig(CENTRAL[0] as Machine);
    assert.equal(refused.status, 503, refused.body);
    assert.match(refused.body, /cold start/);
    const events = rackboot(['--config', config, 'events', 'c1', '--json']);
    assert.match(events.stdout, /cold start/);
    // the CLI checks from rackboot's host (here: the lab namespace) and says the same
    const clusters = await lab.exec(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'clusters'], { allowFailure: true, cwd: ROOT, timeoutMs: 60_000 });
    assert.equal(clusters.code, 1, clusters.stderr);
    assert.match(clusters.stdout, /production\s+cold-start/);
  });
});
