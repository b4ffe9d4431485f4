import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDhcp } from '../../../../server/protocol/dhcp/decode.js';
import { DhcpEncodeError, encodeDhcp } from '../../../../server/protocol/dhcp/encode.js';
import { replyHeader, type DhcpPacket } from '../../../../server/protocol/dhcp/packet.js';
import { fixturePacket, loadHexFixture } from '../../../helpers/dhcp-packets.js';

function reply(options: Array<[number, Buffer]>, fields: Partial<DhcpPacket> = {}): DhcpPacket {
  return { ...replyHeader(fixturePacket('dhclient-discover.hex')), ...fields, options: new Map(options) };
}

describe('encodeDhcp', () => {
  it('re-encodes every valid fixture to something that decodes back to the same packet', () => {
    for (const name of ['seabios-ipxe-discover.hex', 'ovmf-x64-discover.hex', 'ipxe-efi-discover.hex',
      'dhclient-discover.hex', 'pad-bytes-discover.hex', 'split-option-discover.hex', 'infiniband-discover.hex']) {
      const original = fixturePacket(name);
      const again = decodeDhcp(encodeDhcp(original));
      assert.ok(again.ok, name);
      assert.deepEqual(again.packet, original, name);
    }
  });

  it('reproduces a fixture byte for byte when it has no pads and is already 300+ bytes', () => {
    const bytes = loadHexFixture('seabios-ipxe-discover.hex');
    assert.deepEqual(encodeDhcp(fixturePacket('seabios-ipxe-discover.hex')), bytes);
  });

  it('writes options in the given order, ends with 255 and pads with zeros to 300 bytes', () => {
    const out = encodeDhcp(reply([[53, Buffer.of(5)], [1, Buffer.from([255, 255, 255, 0])]]));
    assert.equal(out.length, 300);
    assert.deepEqual(out.subarray(236, 240), Buffer.from('63825363', 'hex'));
    assert.deepEqual(out.subarray(240, 250), Buffer.from('350105 0104ffffff00 ff'.replace(/ /g, ''), 'hex'));
    assert.ok(out.subarray(250).every((b) => b === 0));
  });

  it('splits a value longer than 255 bytes into consecutive instances (RFC 3396)', () => {
    const value = Buffer.alloc(600, 7);
    const out = encodeDhcp(reply([[53, Buffer.of(2)], [43, value]]));
    const opts = out.subarray(240);
    assert.deepEqual(opts.subarray(3, 5), Buffer.of(43, 255));
    assert.deepEqual(opts.subarray(3 + 257, 3 + 259), Buffer.of(43, 255));
    assert.deepEqual(opts.subarray(3 + 514, 3 + 516), Buffer.of(43, 90));
    assert.equal(opts[3 + 516 + 90], 255);
    const back = decodeDhcp(out);
    assert.ok(back.ok);
    assert.deepEqual(back.packet.options.get(43), value);
  });

  it('always NUL-terminates sname and file, and refuses names that leave no room for the NUL', () => {
    const out = encodeDhcp(reply([], { sname: 's'.repeat(63), file: 'f'.repeat(127) }));
    assert.equal(out[44 + 63], 0);
    assert.equal(out[108 + 127], 0);
    assert.throws(() => encodeDhcp(reply([], { file: 'f'.repeat(128) })), DhcpEncodeError);
    assert.throws(() => encodeDhcp(reply([], { sname: 's'.repeat(64) })), DhcpEncodeError);
    assert.throws(() => encodeDhcp(reply([], { file: 'caf\u00e9\u20ac' })), /latin1/);
  });

  it('honours maxSize: refuses a reply that does not fit, with a clear error', () => {
    const big = reply([[53, Buffer.of(2)], [43, Buffer.alloc(400)]]);
    assert.throws(() => encodeDhcp(big, { maxSize: 548 }), /message of 648 bytes exceeds the receiver's maximum of 548/);
    assert.equal(encodeDhcp(big, { maxSize: 1444 }).length, 648);
  });

  it('refuses pad, end and overload as option codes', () => {
    for (const code of [0, 52, 255]) {
      assert.throws(() => encodeDhcp(reply([[code, Buffer.of(1)]])), DhcpEncodeError);
    }
  });

  it('refuses a header address that is not a dotted quad', () => {
    for (const bad of ['256.1.1.1', '1.2.3', '1..2.3', '1.2.3.4.5', '1.2.3.a', '', '1.2.3.1000']) {
      assert.throws(() => encodeDhcp(reply([], { yiaddr: bad })), DhcpEncodeError, bad);
    }
    const out = encodeDhcp(reply([], { yiaddr: '10.0.255.7' }));
    assert.deepEqual(out.subarray(16, 20), Buffer.of(10, 0, 255, 7));
  });

  it('encodes a zero-length option as code + length 0', () => {
    const out = encodeDhcp(reply([[80, Buffer.alloc(0)]]));
    assert.deepEqual(out.subarray(240, 243), Buffer.of(80, 0, 255));
  });
});
