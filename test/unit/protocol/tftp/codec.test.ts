import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeDataHeader,
  encodeError,
  encodeOack,
  encodeRequest,
  type TftpPacket,
} from '../../../../server/protocol/tftp/codec.js';

/** Builds bytes from hex words and quoted ASCII, e.g. bytes('0001', 'a.bin\0'). */
function bytes(...parts: string[]): Buffer {
  return Buffer.concat(parts.map((p) => (/^[0-9a-f]+$/i.test(p) ? Buffer.from(p, 'hex') : Buffer.from(p, 'latin1'))));
}

function decoded(buf: Buffer): TftpPacket {
  const result = decodePacket(buf);
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.packet;
}

describe('tftp codec: exact bytes', () => {
  it('encodes an RRQ with options the way an iPXE client sends it', () => {
    const rrq = encodeRequest('rrq', 'undionly.kpxe', 'octet', [
      { name: 'blksize', value: '1432' },
      { name: 'tsize', value: '0' },
    ]);
    assert.deepEqual(rrq, bytes('0001', 'undionly.kpxe\0octet\0blksize\x001432\0tsize\x000\0'));
  });

  it('encodes a WRQ', () => {
    assert.deepEqual(encodeRequest('wrq', 'x', 'octet'), bytes('0002', 'x\0octet\0'));
  });

  it('encodes an OACK', () => {
    const oack = encodeOack([
      { name: 'blksize', value: '1468' },
      { name: 'tsize', value: '1000' },
      { name: 'windowsize', value: '4' },
    ]);
    assert.deepEqual(oack, bytes('0006', 'blksize\x001468\0tsize\x001000\0windowsize\x004\0'));
  });

  it('encodes DATA with a 16-bit block number that rolls over to 0', () => {
    assert.deepEqual(encodeData(1, Buffer.from('hi')), bytes('00030001', 'hi'));
    assert.deepEqual(encodeDataHeader(65535), bytes('0003ffff'));
    assert.deepEqual(encodeDataHeader(65536), bytes('00030000'));
    assert.deepEqual(encodeDataHeader(65537), bytes('00030001'));
    assert.deepEqual(encodeData(7, Buffer.alloc(0)), bytes('00030007'));
  });

  it('encodes ACK and ERROR', () => {
    assert.deepEqual(encodeAck(0), bytes('00040000'));
    assert.deepEqual(encodeAck(65535), bytes('0004ffff'));
    assert.deepEqual(encodeError(1, 'File not found'), bytes('00050001', 'File not found\0'));
    assert.deepEqual(encodeError(5, ''), bytes('00050005', '\0'));
  });
});

describe('tftp codec: decoding', () => {
  it('decodes an Intel-style tsize probe RRQ and the ERROR 8 that aborts it', () => {
    assert.deepEqual(decoded(bytes('0001', 'pxelinux.0\0octet\0tsize\x000\0')), {
      op: 'rrq',
      filename: 'pxelinux.0',
      mode: 'octet',
      options: [{ name: 'tsize', value: '0' }],
    });
    assert.deepEqual(decoded(bytes('00050008', 'User aborted the transfer\0')), {
      op: 'error',
      code: 8,
      message: 'User aborted the transfer',
    });
  });

  it('keeps option names as spelled and their order', () => {
    const packet = decoded(bytes('0001', 'a\0OCTET\0BLKSIZE\x00512\0TSize\x000\0'));
    assert.equal(packet.op, 'rrq');
    if (packet.op !== 'rrq') return;
    assert.equal(packet.mode, 'OCTET');
    assert.deepEqual(packet.options, [
      { name: 'BLKSIZE', value: '512' },
      { name: 'TSize', value: '0' },
    ]);
  });

  it('tolerates NUL padding and drops an incomplete trailing option', () => {
    const padded = decoded(bytes('0001', 'a\0octet\0\0\0\0\0'));
    assert.deepEqual(padded.op === 'rrq' && padded.options, []);
    const dangling = decoded(bytes('0001', 'a\0octet\0blksize\x001024\0tsize\0'));
    assert.deepEqual(dangling.op === 'rrq' && dangling.options, [{ name: 'blksize', value: '1024' }]);
    const unterminated = decoded(bytes('0001', 'a\0octet\0blksize\x001024'));
    assert.deepEqual(unterminated.op === 'rrq' && unterminated.options, []);
  });

  it('decodes DATA, ACK (padded too), ERROR without a terminator, OACK', () => {
    assert.deepEqual(decoded(bytes('00030002', 'xyz')), { op: 'data', block: 2, data: Buffer.from('xyz') });
    assert.deepEqual(decoded(bytes('00030002')), { op: 'data', block: 2, data: Buffer.alloc(0) });
    assert.deepEqual(decoded(bytes('0004ffff')), { op: 'ack', block: 65535 });
    assert.deepEqual(decoded(bytes('0004000100000000')), { op: 'ack', block: 1 });
    assert.deepEqual(decoded(bytes('00050000', 'oops')), { op: 'error', code: 0, message: 'oops' });
    assert.deepEqual(decoded(bytes('0006', 'tsize\x0042\0')), { op: 'oack', options: [{ name: 'tsize', value: '42' }] });
  });

  it('keeps every byte of a filename (latin1), leaving policy to the path rules', () => {
    const packet = decoded(Buffer.concat([bytes('0001'), Buffer.from([0x41, 0xe9, 0xff, 0]), bytes('octet\0')]));
    assert.equal(packet.op === 'rrq' && packet.filename, 'A\u00e9\u00ff');
  });

  const malformed: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', bytes('00')],
    ['opcode 0', bytes('0000', 'a\0octet\0')],
    ['opcode 7', bytes('0007')],
    ['opcode 0xffff', bytes('ffff0001')],
    ['RRQ without any NUL', bytes('0001', 'file')],
    ['RRQ without mode', bytes('0001', 'file\0')],
    ['RRQ with unterminated mode', bytes('0001', 'file\0octet')],
    ['RRQ with empty mode', bytes('0001', 'file\0\0')],
    ['WRQ without mode', bytes('0002', 'file\0')],
    ['DATA without block', bytes('000300')],
    ['ACK without block', bytes('0004')],
    ['ACK with half a block', bytes('000400')],
    ['ERROR without code', bytes('000500')],
  ];
  for (const [name, buf] of malformed) {
    it(`rejects a malformed packet: ${name}`, () => {
      const result = decodePacket(buf);
      assert.equal(result.ok, false);
      assert.equal(typeof (result.ok ? '' : result.reason), 'string');
    });
  }

  it('round-trips every packet kind', () => {
    const packets: TftpPacket[] = [
      { op: 'rrq', filename: 'boot/x64/ipxe.efi', mode: 'octet', options: [{ name: 'windowsize', value: '4' }] },
      { op: 'wrq', filename: 'x', mode: 'netascii', options: [] },
      { op: 'data', block: 65535, data: Buffer.alloc(512, 7) },
      { op: 'ack', block: 12 },
      { op: 'error', code: 2, message: 'Access violation' },
      { op: 'oack', options: [{ name: 'timeout', value: '3' }] },
    ];
    for (const packet of packets) {
      let buf: Buffer;
      switch (packet.op) {
        case 'rrq':
        case 'wrq':
          buf = encodeRequest(packet.op, packet.filename, packet.mode, packet.options);
          break;
        case 'data':
          buf = encodeData(packet.block, packet.data);
          break;
        case 'ack':
          buf = encodeAck(packet.block);
          break;
        case 'error':
          buf = encodeError(packet.code, packet.message);
          break;
        case 'oack':
          buf = encodeOack(packet.options);
          break;
      }
      assert.deepEqual(decoded(buf), packet);
    }
  });
});
