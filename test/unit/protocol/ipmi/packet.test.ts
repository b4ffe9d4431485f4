import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { CIPHER_SUITES, decryptPayload, encryptPayload, type SessionKeys } from '../../../../server/protocol/ipmi/crypto.js';
import { decodeRequestMessage, decodeResponseMessage, encodeRequestMessage, encodeResponseMessage, ipmiChecksum } from '../../../../server/protocol/ipmi/message.js';
import { decodePacket, encodeAsfPing, encodeV15Packet, encodeV20Packet, type IpmiPacket } from '../../../../server/protocol/ipmi/packet.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

function decoded(bytes: Buffer, keys?: SessionKeys): IpmiPacket {
  const r = decodePacket(bytes, keys);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.packet;
}

describe('IPMI message checksums and framing', () => {
  it('checksums are two\'s complement: covered bytes + checksum = 0 mod 256', () => {
    assert.equal(ipmiChecksum(Buffer.from([0x20, 0x18])), 0xc8);
    assert.equal(ipmiChecksum(Buffer.from([0x81, 0x04, 0x38, 0x8e, 0x04])), (0x100 - ((0x81 + 0x04 + 0x38 + 0x8e + 0x04) & 0xff)) & 0xff);
    assert.equal(ipmiChecksum(Buffer.alloc(0)), 0);
  });

  it('encodes Get Channel Authentication Capabilities exactly as ipmitool sends it', () => {
    const message = encodeRequestMessage({ netFn: 0x06, cmd: 0x38, rqSeq: 1, data: Buffer.from([0x8e, 0x04]) });
    // rsAddr 20, netFn 06<<2, chk, rqAddr 81, rqSeq 1<<2, cmd 38, data, chk
    assert.deepEqual(message, hex('20 18 c8 81 04 38 8e 04 b1'));
    const packet = encodeV15Packet({ authType: 0, sequence: 0, sessionId: 0, authCode: null, message });
    assert.deepEqual(packet, Buffer.concat([hex('06 00 ff 07'), hex('00 00000000 00000000'), Buffer.from([message.length]), message]));
  });

  it('round-trips request and response messages, and rejects a bad checksum', () => {
    const request = decodeRequestMessage(encodeRequestMessage({ netFn: 0x00, cmd: 0x01, rqSeq: 63, data: Buffer.alloc(0) }));
    assert.equal(request.rqSeq, 63);
    const response = encodeResponseMessage(request, 0x00, Buffer.from([0x01, 0x10, 0x40]));
    const frame = decodeResponseMessage(response);
    assert.deepEqual(
      { netFn: frame.netFn, cmd: frame.cmd, rqSeq: frame.rqSeq, cc: frame.completionCode, data: [...frame.data] },
      { netFn: 0x01, cmd: 0x01, rqSeq: 63, cc: 0, data: [0x01, 0x10, 0x40] },
    );
    const broken = Buffer.from(response);
    broken[7] = (broken[7] as number) ^ 0xff;
    assert.throws(() => decodeResponseMessage(broken), /checksum/);
  });
});

describe('IPMI 1.5 session wrapper', () => {
  it('carries a 16-byte auth code between the session ID and the length', () => {
    const message = Buffer.from([1, 2, 3]);
    const authCode = Buffer.alloc(16, 0xab);
    const packet = encodeV15Packet({ authType: 2, sequence: 0x01020304, sessionId: 0xa0b0c0d0, authCode, message });
    assert.deepEqual(packet, Buffer.concat([hex('06 00 ff 07'), hex('02 04030201 d0c0b0a0'), authCode, hex('03 010203')]));
    const p = decoded(packet);
    assert.equal(p.kind, 'v15');
    assert.ok(p.kind === 'v15' && p.sessionId === 0xa0b0c0d0 && p.sequence === 0x01020304 && p.authCode?.equals(authCode) && p.message.equals(message));
  });
});

describe('RMCP+ session wrapper', () => {
  const keys: SessionKeys = {
    suite: CIPHER_SUITES[3],
    sik: Buffer.alloc(20, 1),
    k1: Buffer.from('000102030405060708090a0b0c0d0e0f10111213', 'hex'),
    k2: Buffer.from('f0e0d0c0b0a090807060504030201000ffeeddcc', 'hex'),
  };
  const iv = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

  it('encodes a pre-session payload with no trailer', () => {
    const packet = encodeV20Packet({ payloadType: 0x10, sessionId: 0, sequence: 0, payload: Buffer.from([0xaa, 0xbb]) });
    assert.deepEqual(packet, hex('06 00 ff 07  06 10 00000000 00000000 0200 aabb'));
  });

  it('encrypts with AES-CBC-128 and authenticates with HMAC-SHA1-96 over header..next header', () => {
    const payload = hex('81 1c 63 20 04 01 00 9b 44');
    const packet = encodeV20Packet({ payloadType: 0x00, sessionId: 0x11223344, sequence: 7, payload, keys, iv });
    // Independent check: AES-CBC with K2[0..16] over payload + 01 02 .. n + n, whole blocks.
    const padLength = (16 - ((payload.length + 1) % 16)) % 16;
    const plain = Buffer.concat([payload, Buffer.from(Array.from({ length: padLength }, (_, i) => i + 1)), Buffer.from([padLength])]);
    const cipher = createCipheriv('aes-128-cbc', keys.k2.subarray(0, 16), iv).setAutoPadding(false);
    const body = Buffer.concat([iv, cipher.update(plain), cipher.final()]);
    const header = Buffer.concat([hex('06 c0 44332211 07000000'), Buffer.from([body.length & 0xff, body.length >> 8])]);
    const integrityPad = (4 - ((header.length + body.length + 2) % 4)) % 4;
    const covered = Buffer.concat([header, body, Buffer.alloc(integrityPad, 0xff), Buffer.from([integrityPad, 0x07])]);
    const authCode = createHmac('sha1', keys.k1).update(covered).digest().subarray(0, 12);
    assert.deepEqual(packet, Buffer.concat([hex('06 00 ff 07'), covered, authCode]));
    assert.equal(covered.length % 4, 0);

    const p = decoded(packet, keys);
    assert.ok(p.kind === 'v20' && p.encrypted && p.authenticated && p.sequence === 7 && p.sessionId === 0x11223344);
    assert.deepEqual(p.kind === 'v20' ? p.payload : null, payload);
  });

  it('uses HMAC-SHA256-128 (16 bytes) for suite 17', () => {
    const k17: SessionKeys = { ...keys, suite: CIPHER_SUITES[17], k1: Buffer.alloc(32, 7) };
    const packet = encodeV20Packet({ payloadType: 0x00, sessionId: 1, sequence: 1, payload: Buffer.from([1, 2, 3]), keys: k17, iv });
    const covered = packet.subarray(4, packet.length - 16);
    assert.deepEqual(packet.subarray(packet.length - 16), createHmac('sha256', k17.k1).update(covered).digest().subarray(0, 16));
    assert.equal(decoded(packet, k17).kind, 'v20');
  });

  it('rejects a tampered packet, a packet under other keys, and a secured packet without keys', () => {
    const packet = encodeV20Packet({ payloadType: 0x00, sessionId: 1, sequence: 1, payload: Buffer.from([9, 9]), keys, iv });
    const tampered = Buffer.from(packet);
    tampered[20] = (tampered[20] as number) ^ 1;
    assert.match((decodePacket(tampered, keys) as { reason: string }).reason, /auth code mismatch/);
    assert.match((decodePacket(packet, { ...keys, k1: Buffer.alloc(20) }) as { reason: string }).reason, /auth code mismatch/);
    assert.match((decodePacket(packet) as { reason: string }).reason, /outside an established session/);
  });
});

describe('AES-CBC-128 confidentiality pad', () => {
  const k2 = Buffer.alloc(20, 0x42);
  const iv = Buffer.alloc(16, 0x24);
  for (const length of [0, 1, 14, 15, 16, 17, 31, 32, 33]) {
    it(`round-trips a ${length}-byte payload with pad 1, 2, 3 ... n and the pad length`, () => {
      const payload = Buffer.from(Array.from({ length }, (_, i) => (i * 7) & 0xff));
      const encrypted = encryptPayload(k2, iv, payload);
      assert.equal((encrypted.length - 16) % 16, 0);
      assert.deepEqual(encrypted.subarray(0, 16), iv);
      const plain = createDecipheriv('aes-128-cbc', k2.subarray(0, 16), iv).setAutoPadding(false);
      const raw = Buffer.concat([plain.update(encrypted.subarray(16)), plain.final()]);
      const padLength = raw[raw.length - 1] as number;
      assert.equal(padLength, (16 - ((length + 1) % 16)) % 16);
      assert.deepEqual([...raw.subarray(length, length + padLength)], Array.from({ length: padLength }, (_, i) => i + 1));
      assert.deepEqual(decryptPayload(k2, encrypted), payload);
    });
  }

  it('rejects bad pad bytes', () => {
    const plain = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]), Buffer.from([12])]);
    const cipher = createCipheriv('aes-128-cbc', k2.subarray(0, 16), iv).setAutoPadding(false);
    const data = Buffer.concat([iv, cipher.update(plain), cipher.final()]);
    assert.throws(() => decryptPayload(k2, data), /pad/);
  });
});

describe('ASF presence ping', () => {
  it('is RMCP class 6 with the ASF IANA number 4542 and type 0x80', () => {
    assert.deepEqual(encodeAsfPing(5), hex('06 00 ff 06  000011be 80 05 00 00'));
  });

  it('decodes a pong that says IPMI is supported', () => {
    const pong = Buffer.concat([hex('06 00 ff 06 000011be 40 05 00 10'), hex('000011be 00000000 81 00 000000000000')]);
    const p = decoded(pong);
    assert.deepEqual(p, { kind: 'asf-pong', tag: 5, ipmiSupported: true });
  });
});
