import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeFieldValue, encodeFru, fruHostMacs, parseFru } from '../../../../server/protocol/ipmi/fru.js';

/** An 8-bit ASCII type/length field. */
const text = (s: string) => [0xc0 | s.length, ...Buffer.from(s, 'latin1')];

/** Pads an area to a multiple of 8 with its zero checksum as the last byte, and sets its length byte. */
function area(body: number[]): number[] {
  const length = Math.ceil((body.length + 1) / 8) * 8;
  const bytes = [...body, ...new Array<number>(length - body.length).fill(0)];
  bytes[1] = length / 8;
  bytes[length - 1] = (0x100 - (bytes.slice(0, length - 1).reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return bytes;
}

// Hand-built per the FRU spec: header, chassis, board (6-bit ASCII, BCD plus and binary fields), product.
const chassis = area([0x01, 0, 0x17, ...text('CP'), ...text('CS'), ...text('MAC0=52:54:00:99:00:01'), 0xc1]);
const board = area([
  0x01, 0, 0x19, 0x10, 0x20, 0x00, // version, length, English, manufactured 0x002010 minutes after 1996
  ...text('Acme'),
  0x83, 0xa1, 0x38, 0x46, // 6-bit packed ASCII "ABC1"
  0x43, 0x12, 0xb3, 0x4a, // BCD plus "12-34 "
  0x02, 0xde, 0xad, // binary
  0xc0, // empty FRU file ID
  ...text('MAC0=52:54:00:99:00:01'),
  ...text('eth1: 525400990002'),
  ...text('BMC MAC=52:54:00:aa:00:01'),
  ...text('asset=42'),
  0xc1,
]);
const product = area([0x01, 0, 0x19, ...text('Acme'), ...text('Box'), ...text('P-1'), ...text('v2'), ...text('S9'), 0xc0, 0xc0, ...text('MAC2=52-54-00-99-00-03'), 0xc1]);

function image(parts: { chassis?: number[]; board?: number[]; product?: number[] }): Buffer {
  const header = [0x01, 0x00, 0, 0, 0, 0x00, 0x00, 0];
  const body: number[] = [];
  let offset = 8;
  (['chassis', 'board', 'product'] as const).forEach((name, i) => {
    const bytes = parts[name];
    if (!bytes) return;
    header[2 + i] = offset / 8;
    body.push(...bytes);
    offset += bytes.length;
  });
  header[7] = (0x100 - (header.slice(0, 7).reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return Buffer.from([...header, ...body, 0xff, 0xff]);
}

describe('FRU parser', () => {
  it('parses the common header, chassis, board and product areas and every field encoding', () => {
    const fru = parseFru(image({ chassis, board, product }));
    assert.deepEqual(fru.warnings, []);
    assert.equal(fru.chassis?.type, 0x17);
    assert.equal(fru.chassis?.serialNumber, 'CS');
    assert.equal(fru.board?.manufacturedMinutes, 0x2010);
    assert.equal(fru.board?.manufacturer, 'Acme');
    assert.equal(fru.board?.productName, 'ABC1', '6-bit packed ASCII');
    assert.equal(fru.board?.serialNumber, '12-34', 'BCD plus');
    assert.equal(fru.board?.partNumber, 'dead', 'binary shown as hex');
    assert.equal(fru.board?.fruFileId, '');
    assert.deepEqual(fru.board?.extras, ['MAC0=52:54:00:99:00:01', 'eth1: 525400990002', 'BMC MAC=52:54:00:aa:00:01', 'asset=42']);
    assert.deepEqual(
      [fru.product?.manufacturer, fru.product?.productName, fru.product?.partNumber, fru.product?.version, fru.product?.serialNumber, fru.product?.assetTag],
      ['Acme', 'Box', 'P-1', 'v2', 'S9', ''],
    );
    assert.deepEqual(fru.product?.extras, ['MAC2=52-54-00-99-00-03']);
  });

  it('finds host MACs in custom fields: board first, any notation, not the BMC\'s, no duplicates', () => {
    assert.deepEqual(fruHostMacs(parseFru(image({ chassis, board, product }))), [
      { mac: '52:54:00:99:00:01', label: 'MAC0', area: 'board' },
      { mac: '52:54:00:99:00:02', label: 'eth1', area: 'board' },
      { mac: '52:54:00:99:00:03', label: 'MAC2', area: 'product' },
    ]);
  });

  it('keeps going when one area is damaged, and says so', () => {
    const badChecksum = [...board];
    badChecksum[board.length - 1] = ((badChecksum[board.length - 1] as number) + 1) & 0xff;
    const fru = parseFru(image({ board: badChecksum, product }));
    assert.deepEqual(fru.warnings, ['board info area: checksum mismatch']);
    assert.equal(fru.board?.checksumOk, false);
    assert.equal(fru.board?.manufacturer, 'Acme');

    const noEnd = area([0x01, 0, 0x19, ...text('Acme'), ...text('Box')]); // no C1 marker
    const truncated = parseFru(image({ board, product: noEnd }));
    assert.equal(truncated.product, null);
    assert.match(truncated.warnings[0] ?? '', /product info area/);
    assert.equal(truncated.board?.manufacturer, 'Acme');
  });

  it('refuses a bad common header', () => {
    const bytes = image({ board });
    bytes[7] = ((bytes[7] as number) + 1) & 0xff;
    assert.throws(() => parseFru(bytes), /common header checksum/);
    assert.throws(() => parseFru(Buffer.from([0x02, 0, 0, 0, 0, 0, 0, 0xfe])), /format version/);
    assert.throws(() => parseFru(Buffer.from([0x01])), /no common header/);
  });

  it('decodes the type/length encodings', () => {
    assert.equal(decodeFieldValue(0xc3, Buffer.from('abc')), 'abc');
    assert.equal(decodeFieldValue(0x83, Buffer.from([0xa1, 0x38, 0x46])), 'ABC1');
    assert.equal(decodeFieldValue(0x42, Buffer.from([0x98, 0x7c])), '987.');
    assert.equal(decodeFieldValue(0x02, Buffer.from([0x00, 0xff])), '00ff');
  });
});

describe('FRU encoder (virtual BMCs)', () => {
  it('round-trips through the parser, padding one-byte fields that would read as C1', () => {
    const encoded = encodeFru({
      board: { manufacturer: 'Rackboot Lab', productName: 'Blade', serialNumber: 'x', extras: ['MAC0=52:54:00:99:00:11', 'MAC1=52:54:00:99:01:11'] },
      product: { manufacturer: 'Rackboot', productName: 'vblade' },
      chassis: { serialNumber: 'C1' },
    });
    const fru = parseFru(encoded);
    assert.deepEqual(fru.warnings, []);
    assert.equal(fru.board?.serialNumber, 'x ');
    assert.deepEqual(fruHostMacs(fru).map((m) => m.mac), ['52:54:00:99:00:11', '52:54:00:99:01:11']);
    assert.equal(fru.product?.productName, 'vblade');
    assert.equal(fru.chassis?.serialNumber, 'C1');
    assert.throws(() => encodeFru({ board: { extras: ['x'.repeat(64)] } }), /longer than 63 bytes/);
  });
});
