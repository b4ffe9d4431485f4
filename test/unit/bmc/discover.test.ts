import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { discoverBmc, discoverBmcs, expandTargets, mapBounded, recordDiscovery, type DiscoveredBmc } from '../../../server/bmc/discover.js';
import { IpmiAuthError, IpmiCommandError, IpmiProtocolError, IpmiTimeoutError } from '../../../server/bmc/ipmi/errors.js';
import { parseFru, encodeFru } from '../../../server/protocol/ipmi/fru.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { FakeBmc, fakeConnector } from './fake-bmc.js';

const creds = { username: 'admin', password: 'pw' };
const fruWith = (...extras: string[]) => parseFru(encodeFru({ board: { manufacturer: 'Lab', extras } }));

describe('expandTargets', () => {
  it('expands CIDR blocks (without network and broadcast), ranges, short ranges and lists; keeps order; drops duplicates', () => {
    assert.deepEqual(expandTargets(['10.1.0.0/30']).addresses, ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(expandTargets(['10.1.0.9/32', '10.1.0.8/31']).addresses, ['10.1.0.9', '10.1.0.8']);
    assert.deepEqual(expandTargets(['10.1.0.254-10.1.1.1']).addresses, ['10.1.0.254', '10.1.0.255', '10.1.1.0', '10.1.1.1']);
    assert.deepEqual(expandTargets(['10.1.0.10-12,10.1.0.11', '10.1.0.5']).addresses, ['10.1.0.10', '10.1.0.11', '10.1.0.12', '10.1.0.5']);
    assert.equal(expandTargets(['10.1.0.0/24']).addresses.length, 254);
  });

  it('reports every bad target and oversized scans', () => {
    assert.deepEqual(expandTargets(['10.1.0.300', '10.1.0.0/33', '10.1.0.9-3', 'bmc-1']).errors, [
      '10.1.0.300: not an IPv4 address, range or CIDR block',
      '10.1.0.0/33: not a CIDR block',
      '10.1.0.9-3: the range ends before it starts',
      'bmc-1: not an IPv4 address, range or CIDR block',
    ]);
    assert.match(expandTargets(['10.0.0.0/8']).errors[0] ?? '', /more than 65536/);
    assert.match(expandTargets(['10.1.0.0/24', '10.2.0.0/24'], 300).errors[0] ?? '', /more than 300 addresses in total/);
  });
});

describe('mapBounded', () => {
  it('never runs more than the limit at once and keeps the input order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapBounded([5, 1, 4, 2, 3, 0, 2, 1], 3, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running -= 1;
      return n * 10;
    });
    assert.equal(peak, 3);
    assert.deepEqual(results, [50, 10, 40, 20, 30, 0, 20, 10]);
    assert.deepEqual(await mapBounded([], 4, async () => 1), []);
  });
});

describe('discoverBmc', () => {
  it('collects GUID, LAN address and host MACs from FRU custom fields, and closes the session', async () => {
    const bmc = new FakeBmc('10.1.0.11', { fru: fruWith('MAC0=52:54:00:99:00:01', 'MAC1=52:54:00:99:00:02') });
    const result = (await discoverBmc(fakeConnector({ '10.1.0.11': bmc }).connect, { address: '10.1.0.11', port: 623 }, creds)) as DiscoveredBmc;
    assert.equal(result.ok, true);
    assert.equal(result.guid, '00112233-4455-6677-8899-aabbccddeeff');
    assert.deepEqual(result.lan, { channel: 1, ip: '10.1.0.11', mac: '52:54:00:aa:00:01' });
    assert.deepEqual(result.hostMacs, [
      { mac: '52:54:00:99:00:01', source: 'fru', label: 'MAC0' },
      { mac: '52:54:00:99:00:02', source: 'fru', label: 'MAC1' },
    ]);
    assert.ok(!bmc.calls.includes('dellHostMacs'), 'the OEM query is only a fallback');
    assert.equal(bmc.closed, 1);
  });

  it('falls back to the Dell OEM query when the FRU has no MAC, or no FRU at all', async () => {
    const dellMacs = [{ mac: '52:54:00:99:00:05', source: 'dell-oem' as const, label: 'NIC0' }];
    for (const fru of [fruWith('asset=7'), null, new IpmiCommandError('FRU failed', 'x', 0xcb, 0x0a, 0x10), new IpmiProtocolError('FRU data: bad header', 'x')]) {
      const bmc = new FakeBmc('10.1.0.12', { fru, dellMacs });
      const result = (await discoverBmc(fakeConnector({ '10.1.0.12': bmc }).connect, { address: '10.1.0.12', port: 623 }, creds)) as DiscoveredBmc;
      assert.deepEqual(result.hostMacs, dellMacs);
    }
  });

  it('succeeds without host MACs when neither source has them, with a warning', async () => {
    const bmc = new FakeBmc('10.1.0.13', { fru: null });
    const result = (await discoverBmc(fakeConnector({ '10.1.0.13': bmc }).connect, { address: '10.1.0.13', port: 623 }, creds)) as DiscoveredBmc;
    assert.equal(result.ok, true);
    assert.deepEqual(result.hostMacs, []);
    assert.match(result.warnings.join('\n'), /no host MACs: no MAC fields in the FRU, and the Dell OEM query failed .*0xc1/);
  });

  it('reports a GUID the BMC does not support as a warning, a placeholder GUID as none', async () => {
    const noGuid = new FakeBmc('a', { failOn: { systemGuid: new IpmiCommandError('Get System GUID failed', 'a', 0xc1, 6, 0x37) }, fru: fruWith('MAC0=52:54:00:99:00:01') });
    const r1 = (await discoverBmc(fakeConnector({ a: noGuid }).connect, { address: 'a', port: 623 }, creds)) as DiscoveredBmc;
    assert.equal(r1.guid, null);
    assert.match(r1.warnings[0] ?? '', /system GUID/);
    const zero = new FakeBmc('b', { guid: new Uint8Array(16), fru: fruWith('MAC0=52:54:00:99:00:01') });
    assert.equal(((await discoverBmc(fakeConnector({ b: zero }).connect, { address: 'b', port: 623 }, creds)) as DiscoveredBmc).guid, null);
  });

  it('turns session and transport errors into failed results, closing what was opened', async () => {
    const auth = await discoverBmc(fakeConnector({ a: new IpmiAuthError('wrong password', 'a') }).connect, { address: 'a', port: 623 }, creds);
    assert.deepEqual(auth.ok ? null : auth.error, { kind: 'auth', message: 'wrong password' });
    const midway = new FakeBmc('b', { failOn: { deviceId: new IpmiTimeoutError('no answer to Get Device ID', 'b') } });
    const timeout = await discoverBmc(fakeConnector({ b: midway }).connect, { address: 'b', port: 623 }, creds);
    assert.equal(timeout.ok ? null : timeout.error.kind, 'timeout');
    assert.equal(midway.closed, 1);
  });
});

describe('discoverBmcs', () => {
  it('bounds concurrency, reports progress and keeps the address order', async () => {
    const bmcs: Record<string, FakeBmc> = {};
    const addresses = expandTargets(['10.1.0.1-40']).addresses;
    for (const a of addresses) bmcs[a] = new FakeBmc(a, { fru: fruWith(`MAC0=52:54:00:99:00:${a.split('.')[3]?.padStart(2, '0')}`) });
    const { connect, stats } = fakeConnector(bmcs);
    const progress: number[] = [];
    const results = await discoverBmcs({ connect, onResult: (_r, done) => progress.push(done) }, { addresses, port: 623, credentials: creds, concurrency: 4 });
    assert.equal(stats.maxInFlight, 4);
    assert.deepEqual(results.map((r) => r.address), addresses);
    assert.deepEqual(progress, addresses.map((_, i) => i + 1));
    assert.ok(Object.values(bmcs).every((b) => b.closed === 1));
  });
});

describe('recordDiscovery', () => {
  it('stores BMCs that answered, failures of known or answering BMCs, and links a machine by host MAC', async () => {
    const db = openDatabase(':memory:');
    const bmcs = new BmcStore(db);
    const inventory = new SqliteStore(db);
    const machine = inventory.addMachine({ name: 'm1', macs: ['52:54:00:99:00:01'], ip: null, role: null }, 1);
    const ok = await discoverBmc(fakeConnector({ a: new FakeBmc('a', { fru: fruWith('MAC0=52:54:00:99:00:01') }) }).connect, { address: 'a', port: 623 }, creds);
    recordDiscovery(bmcs, ok, 'admin', 1000);
    const row = bmcs.byAddress('a');
    assert.equal(row?.machineId, machine.id);
    assert.equal(inventory.machineById(machine.id)?.bmcAddress, 'a');
    assert.deepEqual(row?.hostMacs, [{ mac: '52:54:00:99:00:01', source: 'fru', label: 'MAC0' }]);
    assert.equal(row?.session, 'rmcp+ suite 17');

    recordDiscovery(bmcs, { ok: false, address: 'dead', port: 623, durationMs: 4000, error: { kind: 'timeout', message: 'no answer' } }, 'admin', 2000);
    assert.equal(bmcs.byAddress('dead'), null, 'silence at an unknown address leaves no row');
    recordDiscovery(bmcs, { ok: false, address: 'locked', port: 623, durationMs: 5, error: { kind: 'auth', message: 'wrong password' } }, 'admin', 2000);
    assert.equal(bmcs.byAddress('locked')?.lastErrorKind, 'auth');
    recordDiscovery(bmcs, { ok: false, address: 'a', port: 623, durationMs: 4000, error: { kind: 'timeout', message: 'no answer' } }, 'admin', 3000);
    assert.deepEqual([bmcs.byAddress('a')?.lastError, bmcs.byAddress('a')?.lastSeen, bmcs.byAddress('a')?.lastAttempt], ['no answer', 1000, 3000]);
    recordDiscovery(bmcs, ok, 'admin', 4000);
    assert.equal(bmcs.byAddress('a')?.lastError, null, 'a later success clears the error');

    // A machine registered with its SMBIOS UUID (first fields swapped) is found by the BMC's GUID.
    const bySmbios = inventory.addMachine({ name: 'm2', macs: ['52:54:00:99:00:77'], ip: null, role: null, uuid: '33221100-5544-7766-8899-aabbccddeeff' }, 1);
    const guidOnly = await discoverBmc(fakeConnector({ g: new FakeBmc('g', { fru: null }) }).connect, { address: 'g', port: 623 }, creds);
    recordDiscovery(bmcs, guidOnly, 'admin', 5000);
    assert.equal(bmcs.byAddress('g')?.machineId, bySmbios.id);
    db.close();
  });
});
