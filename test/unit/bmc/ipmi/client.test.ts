import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { IpmiClient, type IpmiClientOptions } from '../../../../server/bmc/ipmi/client.js';
import { inAddressRanges, ipmiConnector } from '../../../../server/bmc/ipmi/connector.js';
import { IpmiAuthError, IpmiCommandError, IpmiTimeoutError, IpmiUnsupportedError } from '../../../../server/bmc/ipmi/errors.js';
import { encodeFru } from '../../../../server/protocol/ipmi/fru.js';
import { FAKE_GUID, FakeRmcpBmc, type FakeRmcpBmcOptions } from './fake-rmcp-bmc.js';

const running: FakeRmcpBmc[] = [];
after(async () => {
  await Promise.all(running.map((b) => b.stop()));
});

async function bmc(options: FakeRmcpBmcOptions = {}): Promise<FakeRmcpBmc> {
  const b = await FakeRmcpBmc.start(options);
  running.push(b);
  return b;
}

const fast: IpmiClientOptions = { timeoutMs: 100, attempts: 3 };

function open(b: FakeRmcpBmc, password = 'password', options: IpmiClientOptions = {}, username = 'admin') {
  return IpmiClient.open({ address: '127.0.0.1', port: b.port }, { username, password }, { ...fast, ...options });
}

describe('IPMI client: RMCP+ sessions', () => {
  it('uses cipher suite 17 when offered, runs commands encrypted, and closes the session', async () => {
    const b = await bmc();
    const client = await open(b);
    assert.deepEqual(client.session, { protocol: 'rmcp+', cipherSuite: 17, privilege: 4, notes: [] });
    assert.deepEqual(Buffer.from(await client.systemGuid()), FAKE_GUID);
    assert.equal((await client.deviceId()).manufacturerId, 674);
    assert.deepEqual(await client.lanAddress(), { channel: 1, ip: '10.1.0.11', mac: '52:54:00:aa:00:11' });
    assert.equal(await client.powerState(), 'off');
    await client.chassisControl('on');
    assert.equal(await client.powerState(), 'on');
    await client.close();
    await client.close();
    assert.equal(b.log.closes, 1, 'Close Session once, however often close() is called');
    const sessionSeqs = b.log.commands.filter((c) => c.sessionSeq > 0).map((c) => c.sessionSeq);
    assert.deepEqual(sessionSeqs, sessionSeqs.map((_, i) => i + 1), 'session sequence numbers start at 1 and count up');
  });

  it('falls back to suite 3 when the BMC refuses 17 (as ipmi_sim does)', async () => {
    const b = await bmc({ suites: [3] });
    const client = await open(b);
    assert.equal(client.session.cipherSuite, 3);
    assert.match(client.session.notes[0] ?? '', /cipher suite 17 refused: invalid authentication algorithm/);
    assert.deepEqual(b.log.proposals, [17, 3]);
    assert.equal(await client.powerState(), 'off');
    await client.close();
  });

  it('refuses a BMC that offers neither 17 nor 3, and one that answers with weaker algorithms', async () => {
    await assert.rejects(open(await bmc({ suites: [] })), (e: unknown) => e instanceof IpmiUnsupportedError && /never uses suite 0/.test(e.message));
    await assert.rejects(open(await bmc({ downgrade: true })), (e: unknown) => e instanceof IpmiUnsupportedError && /refusing/.test(e.message));
  });

  it('a wrong password is an IpmiAuthError at RAKP 2, fast, and the BMC is told to drop the half-open session', async () => {
    const b = await bmc();
    const started = Date.now();
    await assert.rejects(open(b, 'wrong'), (e: unknown) => e instanceof IpmiAuthError && /wrong password for user admin/.test(e.message));
    assert.ok(Date.now() - started < 100, `${Date.now() - started} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(b.log.abandoned, 1);
  });

  it('sends nothing derived from the password before the BMC proves it (RAKP 2 verified before any RAKP 3 auth code)', async () => {
    const impostor = await bmc({ forgeRakp2: true });
    await assert.rejects(open(impostor), (e: unknown) => e instanceof IpmiAuthError && /RAKP 2 auth code does not match/.test(e.message));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(impostor.log.rakp3.map((r) => r.authCodeLength), [0], 'the abandon carries no auth code');
    assert.notEqual(impostor.log.rakp3[0]?.status, 0);
    const genuine = await bmc();
    const client = await open(genuine);
    assert.deepEqual(genuine.log.rakp3.map((r) => [r.status, r.authCodeLength > 0]), [[0, true]], 'a BMC that proved the password gets RAKP 3');
    await client.close();
  });

  it('proposes only cipher suites 17 and 3, and the config accepts no other', async () => {
    const b = await bmc({ suites: [] });
    await assert.rejects(open(b), IpmiUnsupportedError);
    assert.deepEqual(b.log.proposals, [17, 3]);
    await assert.rejects(open(await bmc(), 'password', { cipherSuites: [0 as 17] }), (e: unknown) => e instanceof IpmiUnsupportedError && /use 17 or 3/.test(e.message));
  });

  it('an unknown user is an IpmiAuthError (RAKP 2 status "unauthorized name")', async () => {
    await assert.rejects(open(await bmc(), 'password', {}, 'nobody'), (e: unknown) => e instanceof IpmiAuthError && /unauthorized name/.test(e.message));
  });

  it('a silent BMC is an IpmiTimeoutError after the bounded tries', async () => {
    const b = await bmc({ silent: true });
    const started = Date.now();
    await assert.rejects(open(b), (e: unknown) => e instanceof IpmiTimeoutError && /3 tries of 100 ms/.test(e.message));
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280 && elapsed < 1000, `${elapsed} ms`);
    assert.equal(b.log.datagrams, 3);
  });

  it('retransmits keep the request sequence number and take a new session sequence number', async () => {
    const b = await bmc({ dropFirst: 1 });
    const client = await open(b, 'password', { timeoutMs: 50 });
    await client.deviceId();
    await client.close();
    const tries = b.log.commands.filter((c) => c.cmd === '6/1');
    assert.equal(tries.length, 2);
    assert.deepEqual(tries.map((t) => t.dropped), [true, false]);
    assert.equal(tries[0]?.rqSeq, tries[1]?.rqSeq);
    assert.ok((tries[1]?.sessionSeq ?? 0) > (tries[0]?.sessionSeq ?? 0));
  });

  it('turns completion codes into IpmiCommandError with the code', async () => {
    const client = await open(await bmc());
    await assert.rejects(client.dellHostMacs(), (e: unknown) => e instanceof IpmiCommandError && e.completionCode === 0xc1 && /invalid command/.test(e.message));
    await client.close();
  });
});

describe('IPMI client: IPMI 1.5', () => {
  const allow: IpmiClientOptions = { allowIpmi15: true };

  it('is off by default: a BMC claiming "1.5, MD5 only" gets nothing derived from the password, and the error says how to allow it', async () => {
    const b = await bmc({ ipmi20: false });
    await assert.rejects(open(b), (e: unknown) =>
      e instanceof IpmiUnsupportedError && /IPMI 1\.5 is off/.test(e.message) && /ipmi\.allowIpmi15/.test(e.message) && /offers md5/.test(e.message));
    assert.equal(b.log.md5AuthCodes, 0);
    assert.equal(b.log.commands.filter((c) => c.cmd === '6/39' || c.cmd === '6/3a').length, 0, 'no Get Session Challenge / Activate Session');
  });

  it('the connector allows it only for the configured addresses and CIDR blocks', async () => {
    const b = await bmc({ ipmi20: false });
    const target = { address: '127.0.0.1', port: b.port };
    const credentials = { username: 'admin', password: 'password' };
    await assert.rejects(ipmiConnector({ ...fast, allowIpmi15For: ['10.0.0.0/8', '127.0.0.2'] })(target, credentials), IpmiUnsupportedError);
    assert.equal(b.log.md5AuthCodes, 0);
    const session = await ipmiConnector({ ...fast, allowIpmi15For: ['127.0.0.0/30'] })(target, credentials);
    assert.equal(session.session.summary, 'ipmi-1.5 md5');
    await session.close();
    assert.ok(inAddressRanges(['127.0.0.1'], '127.0.0.1'));
    assert.ok(!inAddressRanges(['127.0.0.0/31'], '127.0.0.2'));
  });

  it('uses MD5 sessions when the BMC has no IPMI 2.0 (allowed)', async () => {
    const b = await bmc({ ipmi20: false });
    const client = await open(b, 'password', allow);
    assert.equal(client.session.protocol, 'ipmi-1.5');
    assert.deepEqual(Buffer.from(await client.systemGuid()), FAKE_GUID);
    await client.close();
    assert.equal(b.log.closes, 1);
  });

  it('asks again without the v2.0 bit when an old BMC rejects it', async () => {
    const client = await open(await bmc({ ipmi20: false, rejectV20Bit: true }), 'password', allow);
    assert.equal(client.session.protocol, 'ipmi-1.5');
    await client.close();
  });

  it('never uses none or straight-password authentication', async () => {
    await assert.rejects(open(await bmc({ ipmi20: false, authTypes: ['none', 'password'] }), 'password', allow), (e: unknown) => e instanceof IpmiUnsupportedError && /offers none, password/.test(e.message));
  });

  it('a wrong 1.5 password (the BMC goes silent) is an auth error, not a timeout', async () => {
    await assert.rejects(open(await bmc({ ipmi20: false }), 'wrong', allow), (e: unknown) => e instanceof IpmiAuthError && /Activate Session/.test(e.message));
    await assert.rejects(open(await bmc({ ipmi20: false }), 'password', allow, 'nobody'), (e: unknown) => e instanceof IpmiAuthError && /invalid user name/.test(e.message));
  });
});

describe('IPMI client: FRU, boot options, one session per BMC', () => {
  it('reads the FRU in chunks, shrinking them on CC CAh', async () => {
    const fru = encodeFru({ board: { manufacturer: 'Lab', extras: ['MAC0=52:54:00:99:00:01', 'MAC1=52:54:00:99:00:02'] }, product: { productName: 'vblade' } });
    const b = await bmc({ fru, fruMaxChunk: 10 });
    const client = await open(b);
    const parsed = await client.readFru();
    assert.deepEqual(parsed?.board?.extras, ['MAC0=52:54:00:99:00:01', 'MAC1=52:54:00:99:00:02']);
    assert.equal(parsed?.product?.productName, 'vblade');
    await client.close();
    assert.equal(await (async () => {
      const none = await open(await bmc());
      const result = await none.readFru();
      await none.close();
      return result;
    })(), null, 'no FRU device: null');
  });

  it('sets the boot device even when the BMC lacks "set in progress", and reads it back', async () => {
    const b = await bmc({ noSetInProgress: true });
    const client = await open(b);
    await client.setBootDevice({ device: 'pxe', persistent: false, efi: true });
    const read = await client.getBootDevice();
    assert.deepEqual([read.device, read.valid, read.efi, read.persistent], ['pxe', true, true, false]);
    await client.close();
    // set in progress (refused, so no "set complete" either), valid-bit clearing, boot info ack, the flags
    assert.equal(b.log.commands.filter((c) => c.cmd === '0/8').length, 4);
  });

  it('the connector lets one session per BMC exist at a time', async () => {
    const b = await bmc();
    const connect = ipmiConnector(fast);
    const first = await connect({ address: '127.0.0.1', port: b.port }, { username: 'admin', password: 'password' });
    let secondOpened = false;
    const second = connect({ address: '127.0.0.1', port: b.port }, { username: 'admin', password: 'password' }).then((s) => {
      secondOpened = true;
      return s;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(secondOpened, false);
    await first.close();
    const s2 = await second;
    assert.equal(b.log.closes, 1);
    await s2.close();
    assert.equal(b.log.closes, 2);
  });
});
