/**
 * rackboot's Redfish client against the Redfish emulator (DMTF's public-rackmount1 mockup) over
 * HTTPS on loopback, through the same workflows IPMI uses: discover (UUID, serial, model, host MACs,
 * the Manager's address) -> the inventory -> ip-plan; power with a one-time PXE boot override read
 * back; the quirk variants (no PermanentMACAddress, 412 on a stale ETag, 202 + task monitor, session
 * limit -> basic auth); TLS trust by fingerprint (a changed certificate refused) and by CA file.
 * Needs openssl (for a throwaway certificate); skips saying so when it is absent.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { discoverBmc, recordDiscovery, type DiscoveredBmc } from '../../server/bmc/discover.js';
import { runIpPlan } from '../../server/bmc/ip-plan.js';
import type { BmcConnector } from '../../server/bmc/port.js';
import { powerOne } from '../../server/bmc/power.js';
import { protocolConnector } from '../../server/bmc/ranges.js';
import { RedfishClient } from '../../server/bmc/redfish/client.js';
import { redfishConnector } from '../../server/bmc/redfish/connector.js';
import { FileFingerprintStore, MemoryFingerprintStore } from '../../server/bmc/redfish/trust.js';
import { findExecutable } from '../../server/lab/prereqs.js';
import { BmcStore } from '../../server/store/bmc-store.js';
import { makeTestCertificate, RedfishEmulator, type RedfishEmulatorOptions } from '../helpers/redfish-emulator.js';
import { testProvisioner } from '../helpers/provisioner.js';

const openssl = findExecutable('openssl');
const skip = openssl ? false : 'openssl is not installed (needed for the test certificate)';
const CREDENTIALS = { username: 'root', password: 'redfish-secret-9' };
const HOST = '127.0.0.1';

describe('Redfish client against the emulator over HTTPS', { skip }, () => {
  let dir = '';
  let cert: ReturnType<typeof makeTestCertificate>;
  let other: ReturnType<typeof makeTestCertificate>;
  const running: RedfishEmulator[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rackboot-redfish-'));
    cert = makeTestCertificate(dir, HOST, 'bmc');
    other = makeTestCertificate(dir, HOST, 'replaced');
  });
  after(async () => {
    await Promise.all(running.map((e) => e.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  const emulator = async (options: Partial<RedfishEmulatorOptions> = {}) => {
    const e = await RedfishEmulator.start({ ...CREDENTIALS, tls: { key: cert.key, cert: cert.cert }, host: HOST, ...options });
    running.push(e);
    return e;
  };
  const connector = (e: RedfishEmulator, extra: { caFile?: string; fingerprints?: MemoryFingerprintStore } = {}): BmcConnector =>
    redfishConnector({
      endpointFor: (t) => ({ address: t.address, port: e.port, scheme: 'https', ...(extra.caFile ? { caFile: extra.caFile } : {}) }),
      fingerprints: extra.fingerprints ?? new MemoryFingerprintStore(),
      timeoutMs: 5000,
      taskPollMs: 5,
      taskTimeoutMs: 5000,
    });
  const target = { label: 'web483', machineId: null, bmc: { address: HOST, port: 623 }, username: CREDENTIALS.username };
  const powerDeps = (connect: BmcConnector) => ({ connect, credentials: () => CREDENTIALS, sleep: async () => {}, pollMs: 1 });

  test('discover: UUID, serial, model, host MACs (PermanentMACAddress), the Manager; the session is deleted', async () => {
    const e = await emulator();
    const result = await discoverBmc(connector(e), { address: HOST, port: 623 }, CREDENTIALS);
    assert.equal(result.ok, true, JSON.stringify(result));
    const found = result as DiscoveredBmc;
    assert.equal(found.guid, '38947555-7742-3448-3784-823347823834');
    assert.equal(found.serialNumber, '437XR1138R2');
    assert.equal(found.device.detail?.model, '3500');
    assert.equal(found.device.detail?.manufacturer, 'Contoso');
    assert.equal(found.device.firmwareRevision, '1.45.455b66-rev4');
    assert.equal(found.device.protocolVersion, '1.15.0');
    // 12446A3B8890 reports a changed MACAddress: the burned-in one is the host's identity.
    assert.deepEqual(found.hostMacs.map((h) => [h.mac, h.source, h.label]), [
      ['12:44:6a:3b:04:11', 'redfish', '12446A3B0411'],
      ['12:44:6a:3b:88:90', 'redfish', '12446A3B8890'],
    ]);
    assert.deepEqual(found.lan, { channel: null, ip: '192.168.0.10', mac: '23:11:8a:33:cf:ea' });
    assert.ok(found.warnings.some((w) => /no Manager interface has 127\.0\.0\.1/.test(w)));
    assert.equal(found.session.summary, 'redfish https session');
    assert.deepEqual([e.sessionsCreated, e.sessionsDeleted, e.sessions.size], [1, 1, 0]);
    assert.ok(e.log.filter((l) => l.path !== '/redfish/v1/' && l.method !== 'POST').every((l) => l.auth === 'token'), 'every request after login used the session token');
  });

  test('the discovered record goes through the inventory and ip-plan like an IPMI one', async () => {
    const e = await emulator();
    const result = await discoverBmc(connector(e), { address: HOST, port: 623 }, CREDENTIALS);
    const t = testProvisioner();
    const bmcs = new BmcStore(t.db);
    recordDiscovery(bmcs, result, CREDENTIALS.username, 1);
    const record = bmcs.byAddress(HOST);
    assert.equal(record?.session, 'redfish https session');
    assert.deepEqual(record?.hostMacs.map((h) => h.mac), ['12:44:6a:3b:04:11', '12:44:6a:3b:88:90']);
    const run = runIpPlan({ bmcs, inventory: t.provisioner }, { kind: 'slot', hostSubnet: '10.99.0.0/24', base: '10.99.0.10', step: 1 }, { apply: true, now: 2 });
    assert.equal(run.applied, true, JSON.stringify(run.plan));
    const machine = t.store.listMachines()[0];
    assert.deepEqual(machine?.macs, ['12:44:6a:3b:04:11', '12:44:6a:3b:88:90']);
    assert.equal(machine?.uuid, '38947555-7742-3448-3784-823347823834');
    assert.equal(bmcs.byAddress(HOST)?.machineId, machine?.id);
  });

  test('power on --pxe: one-time PXE override (UEFI) with If-Match, read back, then Reset On', async () => {
    const e = await emulator({ powerState: 'Off' });
    const outcome = await powerOne(powerDeps(connector(e)), target, { action: 'on', pxe: true, efi: true, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(outcome.ok, true, outcome.message);
    assert.deepEqual([outcome.before, outcome.after, outcome.step], ['off', 'on', 'on']);
    assert.deepEqual(outcome.bootDevice?.readBack && { device: outcome.bootDevice.readBack.device, efi: outcome.bootDevice.readBack.efi, persistent: outcome.bootDevice.readBack.persistent, valid: outcome.bootDevice.readBack.valid }, { device: 'pxe', efi: true, persistent: false, valid: true });
    assert.deepEqual(e.resets, ['On']);
    const patch = e.log.find((l) => l.method === 'PATCH');
    assert.ok(patch?.ifMatch, 'the PATCH carried If-Match');
    assert.equal(patch?.status, 204);
    assert.equal(e.sessions.size, 0);
  });

  test('off, and cycle picks ForceRestart when the system offers no PowerCycle; a legacy-less system says why', async () => {
    const e = await emulator({ powerState: 'On' });
    const off = await powerOne(powerDeps(connector(e)), target, { action: 'off', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(off.ok, true, off.message);
    const cycled = await powerOne(powerDeps(connector(e)), target, { action: 'cycle', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(cycled.step, 'on');
    const again = await powerOne(powerDeps(connector(e)), target, { action: 'cycle', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(again.ok, true, again.message);
    assert.deepEqual(e.resets, ['ForceOff', 'On', 'ForceRestart']);

    const picky = await emulator({ resetTypes: ['ForceOn', 'ForceOff', 'PowerCycle'], uefiOnly: true, powerState: 'On' });
    const cycle = await powerOne(powerDeps(connector(picky)), target, { action: 'cycle', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(cycle.ok, true, cycle.message);
    assert.deepEqual(picky.resets, ['PowerCycle']);
    const legacy = await powerOne(powerDeps(connector(picky)), target, { action: 'on', pxe: true, efi: false, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(legacy.ok, false);
    assert.match(legacy.message, /HTTP 400: The value 'Legacy' for the property BootSourceOverrideMode is not in the list of acceptable values\. \(Base\.1\.15\.PropertyValueNotInList\)/);
  });

  test('reset types from @Redfish.ActionInfo (bmcweb): On/ForceOff/GracefulRestart only, so cycle is GracefulRestart', async () => {
    const e = await emulator({ actionInfo: true, resetTypes: ['On', 'ForceOff', 'GracefulRestart', 'GracefulShutdown'], powerState: 'On' });
    const cycle = await powerOne(powerDeps(connector(e)), target, { action: 'cycle', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(cycle.ok, true, cycle.message);
    const off = await powerOne(powerDeps(connector(e)), target, { action: 'off', pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(off.ok, true, off.message);
    assert.deepEqual(e.resets, ['GracefulRestart', 'ForceOff']);
    assert.ok(e.log.some((l) => l.path === '/redfish/v1/Systems/437XR1138R2/ResetActionInfo' && l.status === 200));
  });

  test('412 on a stale ETag: re-read and PATCH once more', async () => {
    const e = await emulator({ staleEtagOnce: true });
    const outcome = await powerOne(powerDeps(connector(e)), target, { action: 'on', pxe: true, efi: true, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(outcome.ok, true, outcome.message);
    const patches = e.log.filter((l) => l.method === 'PATCH');
    assert.deepEqual(patches.map((p) => p.status), [412, 204]);
    assert.notEqual(patches[0]?.ifMatch, patches[1]?.ifMatch);
  });

  test('a read-only BootSourceOverrideMode that already is the wanted mode: written again without it; otherwise the message', async () => {
    const e = await emulator({ modeReadOnly: true });
    const uefi = await powerOne(powerDeps(connector(e)), target, { action: 'on', pxe: true, efi: true, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(uefi.ok, true, uefi.message);
    assert.deepEqual(e.log.filter((l) => l.method === 'PATCH').map((p) => p.status), [400, 204]);
    const legacy = await powerOne(powerDeps(connector(await emulator({ modeReadOnly: true }))), target, { action: 'on', pxe: true, efi: false, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(legacy.ok, false);
    assert.match(legacy.message, /HTTP 400: Unable to modify the attribute because it is read-only and depends on other attributes\. \(Emulator\.1\.0\.ReadOnlyDependent\)/);
  });

  test('202 + task monitor: followed to the end for PATCH and Reset', async () => {
    const e = await emulator({ asyncTaskPolls: 3 });
    const outcome = await powerOne(powerDeps(connector(e)), target, { action: 'on', pxe: true, efi: true, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(outcome.ok, true, outcome.message);
    const monitorPolls = e.log.filter((l) => l.path.startsWith('/redfish/v1/TaskService/TaskMonitors/'));
    assert.deepEqual(monitorPolls.map((l) => l.status), [202, 202, 202, 200, 202, 202, 202, 200]);
    assert.deepEqual(e.resets, ['On']);
  });

  test('a task that ends in Exception fails the action with its messages; nothing is powered', async () => {
    const e = await emulator({ asyncTaskPolls: 1, taskFails: 'The job could not be scheduled: the controller is busy.' });
    const outcome = await powerOne(powerDeps(connector(e)), target, { action: 'on', pxe: true, efi: true, pollMs: 1, verifyTimeoutMs: 100 });
    assert.equal(outcome.ok, false);
    assert.match(outcome.message, /PATCH \/redfish\/v1\/Systems\/437XR1138R2 Boot: task Exception: The job could not be scheduled: the controller is busy\. \(Emulator\.1\.0\.TaskFailed\)/);
    assert.deepEqual(e.resets, []);
    assert.equal(e.sessions.size, 0);
  });

  test('session limit reached: basic auth, said in the session notes; no session left behind', async () => {
    const e = await emulator({ maxSessions: 0 });
    const result = await discoverBmc(connector(e), { address: HOST, port: 623 }, CREDENTIALS);
    assert.equal(result.ok, true, JSON.stringify(result));
    const found = result as DiscoveredBmc;
    assert.equal(found.session.summary, 'redfish https basic auth');
    assert.ok(found.warnings.some((w) => /session limit reached: using basic auth/.test(w)));
    assert.ok(e.log.filter((l) => l.method === 'GET' && l.path !== '/redfish/v1/').every((l) => l.auth === 'basic'));
    assert.equal(e.sessionsCreated, 0);
  });

  test('no PermanentMACAddress: MACAddress is used, with a warning', async () => {
    const e = await emulator({ noPermanentMac: true });
    const found = (await discoverBmc(connector(e), { address: HOST, port: 623 }, CREDENTIALS)) as DiscoveredBmc;
    assert.deepEqual(found.hostMacs.map((h) => h.mac), ['12:44:6a:3b:04:11', 'aa:bb:cc:dd:ee:00']);
    assert.ok(found.warnings.some((w) => /12446A3B8890: no PermanentMACAddress, used MACAddress/.test(w)));
  });

  test('a wrong password is an auth error with the service message', async () => {
    const e = await emulator();
    const result = await discoverBmc(connector(e), { address: HOST, port: 623 }, { username: 'root', password: 'wrong' });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.error.kind, 'auth');
    assert.match(!result.ok ? result.error.message : '', /login refused \(HTTP 401\): While accessing/);
  });

  test('TOFU: the fingerprint is recorded at first contact; a changed certificate is refused before the password is sent', async () => {
    const store = new FileFingerprintStore(join(dir, 'trust.json'));
    const first = await emulator();
    const port = first.port;
    const connect = (e: RedfishEmulator) =>
      redfishConnector({ endpointFor: (t) => ({ address: t.address, port: e.port, scheme: 'https' }), fingerprints: store, timeoutMs: 5000 });
    assert.equal((await discoverBmc(connect(first), { address: HOST, port: 623 }, CREDENTIALS)).ok, true);
    const recorded = store.get(`${HOST}:${port}`);
    assert.match(recorded ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal((await discoverBmc(connect(first), { address: HOST, port: 623 }, CREDENTIALS)).ok, true, 'the same certificate is trusted again');
    await first.close();
    running.splice(running.indexOf(first), 1);

    const impostor = await emulator({ tls: { key: other.key, cert: other.cert }, port });
    const refused = await discoverBmc(connect(impostor), { address: HOST, port: 623 }, CREDENTIALS);
    assert.equal(refused.ok, false);
    assert.match(!refused.ok ? refused.error.message : '', new RegExp(`certificate of 127\\.0\\.0\\.1:${port} changed: recorded SHA-256 ${recorded}, presented [0-9A-F:]+; refused`));
    assert.equal(impostor.log.length, 0, 'not one request reached the impostor');
    assert.equal(store.get(`${HOST}:${port}`), recorded, 'the recorded fingerprint is kept');
  });

  test('CA file: the signed certificate is trusted, another is refused', async () => {
    const e = await emulator();
    assert.equal((await discoverBmc(connector(e, { caFile: cert.certFile }), { address: HOST, port: 623 }, CREDENTIALS)).ok, true);
    const wrong = await discoverBmc(connector(e, { caFile: other.certFile }), { address: HOST, port: 623 }, CREDENTIALS);
    assert.equal(wrong.ok, false);
    assert.match(!wrong.ok ? wrong.error.message : '', /TLS certificate refused/);
    assert.equal(e.log.filter((l) => l.method === 'POST').length, 1, 'the refused connection sent nothing');
  });

  test('a port that accepts but never speaks TLS is "no Redfish here" within the timeout; a missing CA file is a trust error', async () => {
    const held: Socket[] = [];
    const silent = createServer((socket) => void held.push(socket)).listen(0, HOST);
    await new Promise((resolve) => silent.once('listening', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const connect = redfishConnector({ endpointFor: (t) => ({ address: t.address, port, scheme: 'https' }), fingerprints: new MemoryFingerprintStore(), timeoutMs: 300 });
      const result = await discoverBmc(connect, { address: HOST, port: 623 }, CREDENTIALS);
      assert.equal(result.ok, false);
      assert.deepEqual(!result.ok && [result.error.kind, result.error.detail], ['timeout', { redfishAbsent: true }]);
      assert.match(!result.ok ? result.error.message : '', /no TLS handshake with 127\.0\.0\.1:\d+ within 300 ms/);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
    const e = await emulator();
    const missing = await discoverBmc(connector(e, { caFile: join(dir, 'no-such-ca.pem') }), { address: HOST, port: 623 }, CREDENTIALS);
    assert.match(!missing.ok ? missing.error.message : '', /CA file .*no-such-ca\.pem: ENOENT/);
    assert.equal(e.log.length, 0);
  });

  test('HTTP for labs; bounded response size; nothing listening is "no Redfish here", which auto hands to IPMI', async () => {
    const plain = await emulator({ tls: undefined });
    const http = redfishConnector({ endpointFor: (t) => ({ address: t.address, port: plain.port, scheme: 'http' }), timeoutMs: 5000 });
    const found = await discoverBmc(http, { address: HOST, port: 623 }, CREDENTIALS);
    assert.equal(found.ok && found.session.summary, 'redfish http session');

    const e = await emulator();
    await assert.rejects(RedfishClient.open({ address: HOST, port: e.port, scheme: 'https' }, CREDENTIALS, { fingerprints: new MemoryFingerprintStore(), maxResponseBytes: 512 }), /response larger than 512 bytes/);

    const free = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, HOST, () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const nothing = redfishConnector({ endpointFor: (t) => ({ address: t.address, port: free, scheme: 'https' }), fingerprints: new MemoryFingerprintStore(), timeoutMs: 2000 });
    const ipmiCalls: string[] = [];
    const fakeIpmi: BmcConnector = async (t) => {
      ipmiCalls.push(t.address);
      throw new Error('IPMI stand-in: no BMC either');
    };
    const auto = protocolConnector({ ipmi: fakeIpmi, redfish: nothing, protocolFor: () => 'auto' });
    const result = await discoverBmc(auto, { address: HOST, port: 623 }, CREDENTIALS);
    assert.deepEqual(ipmiCalls, [HOST]);
    assert.match(!result.ok ? result.error.message : '', /^Redfish: cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED; IPMI: IPMI stand-in/);

    // A refused password is not "no Redfish": auto does not try IPMI after it.
    const authAuto = protocolConnector({ ipmi: fakeIpmi, redfish: connector(e), protocolFor: () => 'auto' });
    const refused = await discoverBmc(authAuto, { address: HOST, port: 623 }, { username: 'root', password: 'nope' });
    assert.equal(!refused.ok && refused.error.kind, 'auth');
    assert.deepEqual(ipmiCalls, [HOST]);
  });
});
