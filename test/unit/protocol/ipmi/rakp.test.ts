import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CIPHER_SUITES,
  additionalKey,
  deriveSessionKeys,
  md5AuthCode,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4CheckValue,
  sessionIntegrityKey,
  type RakpExchange,
} from '../../../../server/protocol/ipmi/crypto.js';
import {
  decodeOpenSessionRequest,
  decodeOpenSessionResponse,
  decodeRakp1,
  decodeRakp2,
  decodeRakp4,
  encodeOpenSessionRequest,
  encodeOpenSessionResponse,
  encodeRakp1,
  encodeRakp2,
  encodeRakp3,
  encodeRakp4,
} from '../../../../server/protocol/ipmi/rakp.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

const exchange: RakpExchange = {
  consoleSessionId: 0xa1a2a3a4,
  bmcSessionId: 0x02000100,
  consoleRandom: hex('000102030405060708090a0b0c0d0e0f'),
  bmcRandom: hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'),
  bmcGuid: hex('0123456789abcdef0123456789abcdef'),
  role: 0x14, // administrator + name-only lookup
  username: Buffer.from('admin'),
};
const password = 'password';
// Kuid is the password zero-padded to 20 bytes.
const kuid = Buffer.concat([Buffer.from(password), Buffer.alloc(20 - password.length)]);

/** The RAKP inputs laid out by hand (IPMI v2.0 §13.31-13.32), independent of the code under test. */
const le32 = (v: number) => Buffer.from([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
const rakp2Input = Buffer.concat([
  le32(exchange.consoleSessionId),
  le32(exchange.bmcSessionId),
  exchange.consoleRandom,
  exchange.bmcRandom,
  exchange.bmcGuid,
  Buffer.from([0x14, 5]),
  Buffer.from('admin'),
]);
const rakp3Input = Buffer.concat([exchange.bmcRandom, le32(exchange.consoleSessionId), Buffer.from([0x14, 5]), Buffer.from('admin')]);
const sikInput = Buffer.concat([exchange.consoleRandom, exchange.bmcRandom, Buffer.from([0x14, 5]), Buffer.from('admin')]);
const rakp4Input = Buffer.concat([exchange.consoleRandom, le32(exchange.bmcSessionId), exchange.bmcGuid]);

for (const [id, hash, icvLength] of [
  [3, 'sha1', 12],
  [17, 'sha256', 16],
] as const) {
  describe(`cipher suite ${id}: RAKP auth codes and session keys (HMAC-${hash.toUpperCase()})`, () => {
    const suite = CIPHER_SUITES[id];

    it('RAKP 2 auth code = HMAC_Kuid(SIDm | SIDc | Rm | Rc | GUIDc | ROLEm | ULENm | UNAMEm)', () => {
      assert.deepEqual(rakp2AuthCode(suite, kuid, exchange), createHmac(hash, kuid).update(rakp2Input).digest());
      assert.equal(rakp2AuthCode(suite, kuid, exchange).length, suite.authCodeLength);
    });

    it('RAKP 3 auth code = HMAC_Kuid(Rc | SIDm | ROLEm | ULENm | UNAMEm)', () => {
      assert.deepEqual(rakp3AuthCode(suite, kuid, exchange), createHmac(hash, kuid).update(rakp3Input).digest());
    });

    it('SIK = HMAC_KG(Rm | Rc | ROLEm | ULENm | UNAMEm); K1, K2 = HMAC_SIK(20 x 01 / 02)', () => {
      const sik = createHmac(hash, kuid).update(sikInput).digest();
      assert.deepEqual(sessionIntegrityKey(suite, kuid, exchange), sik);
      const k1 = createHmac(hash, sik).update(Buffer.alloc(20, 0x01)).digest();
      const k2 = createHmac(hash, sik).update(Buffer.alloc(20, 0x02)).digest();
      assert.deepEqual(additionalKey(suite, sik, 1), k1);
      assert.deepEqual(additionalKey(suite, sik, 2), k2);
      const keys = deriveSessionKeys(suite, kuid, exchange);
      assert.deepEqual([keys.sik, keys.k1, keys.k2], [sik, k1, k2]);
    });

    it(`RAKP 4 check value = HMAC_SIK(Rm | SIDc | GUIDc), first ${icvLength} bytes`, () => {
      const sik = createHmac(hash, kuid).update(sikInput).digest();
      assert.deepEqual(rakp4CheckValue(suite, sik, exchange), createHmac(hash, sik).update(rakp4Input).digest().subarray(0, icvLength));
    });

    it('a BMC key KG changes the SIK but not the RAKP 2/3 auth codes', () => {
      const kg = Buffer.alloc(20, 0x5a);
      assert.notDeepEqual(sessionIntegrityKey(suite, kg, exchange), sessionIntegrityKey(suite, kuid, exchange));
      assert.deepEqual(sessionIntegrityKey(suite, kg, exchange), createHmac(hash, kg).update(sikInput).digest());
    });

    it('a wrong password gives a different RAKP 2 auth code (how rackboot detects it)', () => {
      assert.notDeepEqual(rakp2AuthCode(suite, passwordKey('wrong'), exchange), rakp2AuthCode(suite, kuid, exchange));
    });
  });
}

describe('passwords and IPMI 1.5 MD5 auth codes', () => {
  it('pads passwords with zeros and refuses long ones', () => {
    assert.deepEqual(passwordKey('pw'), Buffer.concat([Buffer.from('pw'), Buffer.alloc(18)]));
    assert.equal(passwordKey('pw', 16).length, 16);
    assert.throws(() => passwordKey('x'.repeat(21)), /at most 20 bytes/);
  });

  it('MD5(password | session ID | message | sequence | password)', () => {
    const pw16 = passwordKey('secret', 16);
    const message = hex('20 18 c8 81 08 3b 04 38');
    const expected = createHash('md5').update(pw16).update(le32(0x11223344)).update(message).update(le32(5)).update(pw16).digest();
    assert.deepEqual(md5AuthCode(pw16, 0x11223344, message, 5), expected);
  });
});

describe('Open Session and RAKP message bytes', () => {
  it('Open Session Request for suite 3 and 17', () => {
    const suite3 = encodeOpenSessionRequest({ tag: 0x07, privilege: 4, consoleSessionId: 0xa1a2a3a4, suite: CIPHER_SUITES[3] });
    assert.deepEqual(suite3, hex('07 04 0000 a4a3a2a1  00000008 01000000  01000008 01000000  02000008 01000000'));
    const suite17 = encodeOpenSessionRequest({ tag: 0x08, privilege: 3, consoleSessionId: 1, suite: CIPHER_SUITES[17] });
    assert.deepEqual(suite17, hex('08 03 0000 01000000  00000008 03000000  01000008 04000000  02000008 01000000'));
    assert.deepEqual(decodeOpenSessionRequest(suite17), {
      tag: 8,
      privilege: 3,
      consoleSessionId: 1,
      authenticationAlgorithm: 3,
      integrityAlgorithm: 4,
      confidentialityAlgorithm: 1,
    });
  });

  it('Open Session Response: success and an error status', () => {
    const ok = encodeOpenSessionResponse({
      tag: 7,
      status: 0,
      privilege: 4,
      consoleSessionId: 0xa1a2a3a4,
      bmcSessionId: 0x02000100,
      authenticationAlgorithm: 1,
      integrityAlgorithm: 1,
      confidentialityAlgorithm: 1,
    });
    assert.deepEqual(ok, hex('07 00 04 00 a4a3a2a1 00010002  00000008 01000000  01000008 01000000  02000008 01000000'));
    assert.equal(decodeOpenSessionResponse(ok).bmcSessionId, 0x02000100);
    const refused = decodeOpenSessionResponse(hex('07 04 00 00 a4a3a2a1'));
    assert.equal(refused.status, 4);
    assert.equal(refused.authenticationAlgorithm, null);
  });

  it('RAKP 1 carries SIDc, Rm, the role and the user name', () => {
    const rakp1 = encodeRakp1({ tag: 9, bmcSessionId: 0x02000100, consoleRandom: exchange.consoleRandom, role: 0x14, username: Buffer.from('admin') });
    assert.deepEqual(rakp1, Buffer.concat([hex('09 000000 00010002'), exchange.consoleRandom, hex('14 0000 05'), Buffer.from('admin')]));
    assert.deepEqual(Buffer.from(decodeRakp1(rakp1).username), Buffer.from('admin'));
  });

  it('RAKP 2/3/4 round trips', () => {
    const authCode = rakp2AuthCode(CIPHER_SUITES[3], kuid, exchange);
    const rakp2 = decodeRakp2(
      encodeRakp2({ tag: 9, status: 0, consoleSessionId: exchange.consoleSessionId, bmcRandom: Buffer.from(exchange.bmcRandom), bmcGuid: Buffer.from(exchange.bmcGuid), authCode }),
    );
    assert.deepEqual(rakp2.authCode, authCode);
    assert.deepEqual(rakp2.bmcGuid, Buffer.from(exchange.bmcGuid));
    assert.equal(decodeRakp2(hex('09 0d 0000 a4a3a2a1')).status, 0x0d);
    assert.deepEqual(encodeRakp3({ tag: 1, status: 0, bmcSessionId: 0x02000100, authCode: hex('aabb') }), hex('01 00 0000 00010002 aabb'));
    const rakp4 = decodeRakp4(encodeRakp4({ tag: 1, status: 0, consoleSessionId: 5, integrityCheckValue: Buffer.alloc(12, 3) }));
    assert.deepEqual(rakp4.integrityCheckValue, Buffer.alloc(12, 3));
  });
});
