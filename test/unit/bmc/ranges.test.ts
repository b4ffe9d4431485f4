import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BmcAuthError, BmcTimeoutError, type BmcConnector, type BmcSession } from '../../../server/bmc/port.js';
import { protocolConnector, protocolFor, protocolOfSession, rangeFor, redfishAbsent, redfishEndpointFor, type BmcRange } from '../../../server/bmc/ranges.js';

const ranges: BmcRange[] = [
  { range: '10.1.0.0/16', protocol: 'auto' },
  { range: '10.1.2.0/24', protocol: 'redfish', scheme: 'http', port: 8000 },
  { range: '10.1.2.9', protocol: 'ipmi' },
  { range: '10.2.0.0/24', protocol: 'redfish', caFile: '/etc/rackboot/bmc-ca.pem' },
];

describe('BMC ranges', () => {
  it('an exact address wins, then the narrowest block; none: the fallback (ipmi)', () => {
    assert.equal(rangeFor(ranges, '10.1.2.9')?.protocol, 'ipmi');
    assert.equal(rangeFor(ranges, '10.1.2.10')?.range, '10.1.2.0/24');
    assert.equal(protocolFor(ranges, '10.1.3.1'), 'auto');
    assert.equal(protocolFor(ranges, '192.168.0.1'), 'ipmi');
    assert.equal(protocolFor([], '192.168.0.1', 'redfish'), 'redfish');
  });

  it('the Redfish endpoint: HTTPS 443 unless the range says otherwise; the IPMI port of the target is not used', () => {
    assert.deepEqual(redfishEndpointFor(ranges, { address: '10.1.2.10', port: 623 }), { address: '10.1.2.10', port: 8000, scheme: 'http' });
    assert.deepEqual(redfishEndpointFor(ranges, { address: '10.2.0.5', port: 623 }), { address: '10.2.0.5', port: 443, scheme: 'https', caFile: '/etc/rackboot/bmc-ca.pem' });
    assert.deepEqual(redfishEndpointFor([{ range: '10.3.0.1', protocol: 'redfish', scheme: 'http' }], { address: '10.3.0.1', port: 623 }).port, 80);
  });

  it('session summaries name their protocol', () => {
    assert.deepEqual(['redfish https session', 'rmcp+ suite 17', 'ipmi-1.5 md5', null].map(protocolOfSession), ['redfish', 'ipmi', 'ipmi', null]);
  });
});

describe('one connector for both protocols', () => {
  const session = (label: string) => ({ label }) as unknown as BmcSession;
  const recorder = () => {
    const calls: string[] = [];
    const make =
      (name: string, outcome: 'ok' | Error): BmcConnector =>
      async (target) => {
        calls.push(`${name} ${target.address}`);
        if (outcome !== 'ok') throw outcome;
        return session(name);
      };
    return { calls, make };
  };
  const absent = new BmcTimeoutError('cannot connect: ECONNREFUSED', '10.1.0.1', { detail: { redfishAbsent: true } });

  it('redfish and ipmi ranges use only their protocol', async () => {
    const { calls, make } = recorder();
    const connect = protocolConnector({ ipmi: make('ipmi', 'ok'), redfish: make('redfish', 'ok'), protocolFor: (a) => protocolFor(ranges, a) });
    assert.deepEqual(await connect({ address: '10.1.2.10', port: 623 }, { username: 'u', password: 'p' }), session('redfish'));
    assert.deepEqual(await connect({ address: '10.1.2.9', port: 623 }, { username: 'u', password: 'p' }), session('ipmi'));
    assert.deepEqual(calls, ['redfish 10.1.2.10', 'ipmi 10.1.2.9']);
  });

  it('auto: Redfish first; IPMI only when no Redfish service answers, with both errors when IPMI fails too', async () => {
    const ok = recorder();
    const auto = protocolConnector({ ipmi: ok.make('ipmi', 'ok'), redfish: ok.make('redfish', absent), protocolFor: () => 'auto' });
    assert.deepEqual(await auto({ address: '10.1.0.1', port: 623 }, { username: 'u', password: 'p' }), session('ipmi'));
    assert.deepEqual(ok.calls, ['redfish 10.1.0.1', 'ipmi 10.1.0.1']);

    const both = recorder();
    const failing = protocolConnector({ ipmi: both.make('ipmi', new BmcTimeoutError('no answer', '10.1.0.1')), redfish: both.make('redfish', absent), protocolFor: () => 'auto' });
    await assert.rejects(failing({ address: '10.1.0.1', port: 623 }, { username: 'u', password: 'p' }), { message: 'Redfish: cannot connect: ECONNREFUSED; IPMI: no answer' });

    const auth = recorder();
    const refused = protocolConnector({ ipmi: auth.make('ipmi', 'ok'), redfish: auth.make('redfish', new BmcAuthError('login refused', '10.1.0.1')), protocolFor: () => 'auto' });
    await assert.rejects(refused({ address: '10.1.0.1', port: 623 }, { username: 'u', password: 'p' }), BmcAuthError);
    assert.deepEqual(auth.calls, ['redfish 10.1.0.1'], 'no IPMI attempt after Redfish refused the password');
    assert.equal(redfishAbsent(absent), true);
    assert.equal(redfishAbsent(new Error('x')), false);
  });
});
