/**
 * Issue 15, "boot takeover without credentials", replayed against a served rackboot (`rackboot
 * serve` as a child process, HTTP on 127.0.0.1, no DHCP: the reserved-IP rule of
 * docs/security/tokens.md). Loopback gives two sources without root: the machines are 127.0.0.2-4,
 * the attacker is 127.0.0.9. Every loop is bounded in count and time; numbers are printed.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { LabProcess } from '../../server/lab/process.js';
import { rackboot } from '../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
const ATTACKER = '127.0.0.9';
const VICTIM = { name: 'victim', mac: '52:54:00:15:00:02', ip: '127.0.0.2' };
const MENU_VICTIM = { name: 'menu-victim', mac: '52:54:00:15:00:03', ip: '127.0.0.3' };
const INSTALLER = { name: 'installer', mac: '52:54:00:15:00:04', ip: '127.0.0.4' };
const FLOOD_REQUESTS = 2000;
const FLOOD_PARALLEL = 16;
const FLOOD_DEADLINE_MS = 60_000;

interface Reply {
  readonly status: number;
  readonly body: string;
}

let work: string;
let port: number;
let rb: LabProcess;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: p } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return p;
}

/** One HTTP request to the served rackboot from `from` (a loopback source address). */
function call(from: string, path: string, options: { method?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        localAddress: from,
        agent: false,
        timeout: 10_000,
        headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const pathOf = (url: string) => new URL(url).pathname;

function bootUrls(script: string) {
  const kernel = /^kernel (\S+)/m.exec(script)?.[1];
  const initrd = /^initrd (\S+)/m.exec(script)?.[1];
  const config = /cloud-config-url=(\S+)/.exec(script)?.[1];
  const callback = /rackboot\.callback=(\S+)/.exec(script)?.[1];
  assert.ok(kernel && initrd && config && callback, script);
  return { kernel: pathOf(kernel), initrd: pathOf(initrd), config: pathOf(config), callback: pathOf(callback), token: pathOf(callback).split('/')[2]! };
}

function rssKiB(pid: number): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
}

function db<T>(read: (database: Database.Database) => T): T {
  const database = new Database(join(work, 'data', 'rackboot.db'), { readonly: true, fileMustExist: true });
  try {
    return read(database);
  } finally {
    database.close();
  }
}

const machineRow = (name: string) => db((d) => d.prepare('SELECT state, role, boot_token AS bootToken, config_token AS configToken FROM machines WHERE name = ?').get(name) as { state: string; role: string | null; bootToken: string | null; configToken: string | null });
const eventCount = () => db((d) => (d.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n);
const refusalRows = () => db((d) => (d.prepare("SELECT count(*) AS n FROM events WHERE type = 'token-refused'").get() as { n: number }).n);

/** `count` requests from `parallel` workers, stopped at the deadline; returns how many were sent and their statuses. */
async function flood(count: number, parallel: number, next: (i: number) => Promise<Reply>): Promise<{ sent: number; statuses: Map<number, number>; ms: number }> {
  const started = Date.now();
  const statuses = new Map<number, number>();
  let issued = 0;
  const worker = async () => {
    while (issued < count && Date.now() - started < FLOOD_DEADLINE_MS) {
      const i = issued++;
      const reply = await next(i);
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { sent: issued, statuses, ms: Date.now() - started };
}

describe('boot takeover attempts from another address (issue 15)', () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'rb-attack-tokens-'));
    const assets = join(work, 'assets');
    mkdirSync(join(assets, 'test-os'), { recursive: true });
    writeFileSync(join(assets, 'test-os', 'vmlinuz'), Buffer.alloc(256 * 1024, 7));
    writeFileSync(join(assets, 'test-os', 'initrd.img'), Buffer.alloc(64 * 1024, 9));
    port = await freePort();
    const config = join(work, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${work}/data
log: { level: warn }
server: { address: 127.0.0.1 }
http: { listen: 127.0.0.1, port: ${port} }
tftp: { enabled: false }
dhcp: { enabled: false, subnets: [{ cidr: 127.0.0.0/8 }] }
# this suite replays the token attacks; the per-address write rate (attacks-writes) would answer most with 429
store: { writeRate: { perSecond: 100000, burst: 100000 } }
boot:
  assetsDir: ${assets}
  os: { name: test-os, kernel: test-os/vmlinuz, initrds: [test-os/initrd.img], args: [console=ttyS0] }
  menu: { timeoutSeconds: 5 }
`,
    );
    for (const [m, role, mode] of [[VICTIM, 'dev', 'memory'], [MENU_VICTIM, null, 'memory'], [INSTALLER, 'dev', 'install']] as const) {
      const add = rackboot(['--config', config, 'machines', 'add', '--mac', m.mac, '--ip', m.ip, '--name', m.name, ...(role ? ['--role', role] : []), '--mode', mode]);
      assert.equal(add.code, 0, add.stderr);
    }
    rb = await LabProcess.start(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, 'serve'], { cwd: ROOT, logFile: join(work, 'rackboot.log') });
    await rb.waitForOutput(/rackboot serving/, 30_000);
  });

  after(async () => {
    await rb?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('the attacker lists MACs but gets no tokens, cannot change a role, forge callbacks or displace the real boot', async () => {
    // the real machines boot first: their scripts carry their tokens
    const victimScript = await call(VICTIM.ip, `/ipxe?mac=${VICTIM.mac.replace(/:/g, '-')}`);
    assert.equal(victimScript.status, 200);
    const victim = bootUrls(victimScript.body);
    const menuScript = await call(MENU_VICTIM.ip, `/ipxe?mac=${MENU_VICTIM.mac}`);
    const menuToken = /\/menu\/([^/\s]+)/.exec(menuScript.body)?.[1];
    assert.ok(menuToken, menuScript.body);
    const installer = bootUrls((await call(INSTALLER.ip, `/ipxe?mac=${INSTALLER.mac}`)).body);
    const live = machineRow(VICTIM.name);

    // 1. the open machine list: MACs yes, tokens no
    const list = await call(ATTACKER, '/api/v1/machines');
    assert.equal(list.status, 200);
    assert.ok(list.body.includes(VICTIM.mac));
    for (const secret of [victim.token, menuToken, installer.token, live.configToken!]) assert.ok(!list.body.includes(secret), 'no token in the list');

    // 2. /ipxe for the victim's MAC from the attacker (also pretending to be relayed by a proxy)
    const asked = await call(ATTACKER, `/ipxe?mac=${VICTIM.mac}`);
    const relayed = await call(ATTACKER, `/ipxe?mac=${VICTIM.mac}`, { headers: { 'x-forwarded-for': VICTIM.ip, forwarded: `for=${VICTIM.ip}` } });
    for (const reply of [asked, relayed]) {
      assert.equal(reply.status, 200);
      assert.doesNotMatch(reply.body, /\/boot\/|\/callback\/|cloud-config|\/menu\//, 'a script with no secrets');
    }
    assert.deepEqual(machineRow(VICTIM.name), live, 'the live tokens were neither replaced nor revoked');

    // 3. with tokens it might have sniffed: menu choice, callbacks, cloud-config, kernel, install script
    const menu = await call(ATTACKER, `/menu/${menuToken}/production-central-install`);
    assert.equal(menu.status, 403, menu.body);
    assert.equal(machineRow(MENU_VICTIM.name).role, null, 'the role did not change');
    for (const event of ['failed', 'installed', 'ready']) {
      const forged = await call(ATTACKER, victim.callback, { method: 'POST', json: { event, message: 'forged' } });
      assert.equal(forged.status, 403, forged.body);
      assert.equal((JSON.parse(forged.body) as { code: string }).code, 'RACKBOOT_ERR_TOKEN');
    }
    assert.equal(machineRow(VICTIM.name).state, live.state, 'no forged state');
    assert.equal((await call(ATTACKER, victim.config)).status, 403);
    assert.equal((await call(ATTACKER, victim.kernel)).status, 403);
    assert.equal((await call(ATTACKER, `/install/${installer.token}`)).status, 403, 'the install script (CA key, join secrets) is not served');

    // 4. the flood: /ipxe for the victim's MAC and forged callbacks, while the real machine boots
    const rowsBefore = eventCount();
    const rssBefore = rssKiB(rb.pid);
    const legit: number[] = [];
    let attacking = true;
    const probe = (async () => {
      for (let i = 0; attacking && i < 500; i++) {
        const t0 = performance.now();
        const reply = await call(VICTIM.ip, '/healthz');
        legit.push(performance.now() - t0);
        assert.equal(reply.status, 200);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const attack = await flood(FLOOD_REQUESTS, FLOOD_PARALLEL, (i) =>
      i % 2 === 0 ? call(ATTACKER, `/ipxe?mac=${VICTIM.mac}`) : call(ATTACKER, victim.callback, { method: 'POST', json: { event: 'installed' } }),
    );
    attacking = false;
    await probe;
    const rssAfter = rssKiB(rb.pid);
    const rowsWritten = eventCount() - rowsBefore;
    assert.equal(attack.sent, FLOOD_REQUESTS, 'the flood finished within its deadline');
    assert.deepEqual([...attack.statuses.keys()].sort(), [200, 403], 'scripts without secrets and refused callbacks only');
    assert.ok(rowsWritten <= 3, `the flood wrote ${rowsWritten} event rows (at most one per machine per minute)`);
    assert.deepEqual(machineRow(VICTIM.name), live, 'still the same tokens and state after the flood');

    // 5. the real machine still boots on its tokens
    assert.equal((await call(VICTIM.ip, victim.kernel)).status, 200);
    assert.equal((await call(VICTIM.ip, victim.initrd)).status, 200);
    const config = await call(VICTIM.ip, victim.config);
    assert.equal(config.status, 200, config.body);
    assert.match(config.body, /^#cloud-config\n/);
    assert.equal((await call(VICTIM.ip, victim.callback, { method: 'POST', json: { event: 'booted' } })).status, 200);
    assert.equal((await call(VICTIM.ip, victim.callback, { method: 'POST', json: { event: 'ready' } })).status, 200);
    assert.equal(machineRow(VICTIM.name).state, 'ready');
    assert.equal((await call(MENU_VICTIM.ip, `/menu/${menuToken}/dev-memory`)).status, 200, 'the menu machine still chooses');
    assert.equal(machineRow(MENU_VICTIM.name).role, 'dev');

    const metrics = (await call(ATTACKER, '/metrics')).body;
    const refused = (route: string) => Number(new RegExp(`^rackboot_boot_token_refusals_total\\{route="${route}",reason="wrong-address"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(refused('ipxe') >= FLOOD_REQUESTS / 2 && refused('callback') >= FLOOD_REQUESTS / 2, metrics);

    const sorted = [...legit].sort((a, b) => a - b);
    const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]?.toFixed(1);
    console.log(
      `attacks-tokens: ${attack.sent} attack requests (${FLOOD_PARALLEL} parallel) in ${attack.ms} ms, statuses ${JSON.stringify(Object.fromEntries(attack.statuses))}; ` +
        `event rows written ${rowsWritten} (token-refused rows in total ${refusalRows()}); server RSS ${Math.round(rssBefore / 1024)} -> ${Math.round(rssAfter / 1024)} MiB; ` +
        `legitimate /healthz during the attack: ${legit.length} requests, p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
    );
  });
});
