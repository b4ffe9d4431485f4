import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodePacket } from '../../../../server/protocol/tftp/codec.js';
import { DataPacketsCache, FramedContent, ViewedContent, type DataPackets } from '../../../../server/protocol/tftp/data-packets.js';
import { TftpSender } from '../../../../server/protocol/tftp/sender.js';

/** Block n's payload, independently of data-packets.ts: the sender's own arithmetic. */
function expectedPayload(content: Buffer, blksize: number, block: number): Buffer {
  const { start, end } = new TftpSender({ size: content.length, blksize, windowsize: 1, oack: false }).blockBounds(block);
  return content.subarray(start, end);
}

function assertPacket(sent: Buffer | readonly Buffer[], content: Buffer, blksize: number, block: number): void {
  const packet = Buffer.isBuffer(sent) ? sent : Buffer.concat(sent);
  assert.equal(packet[0], 0);
  assert.equal(packet[1], 3, 'opcode DATA');
  assert.equal(packet.readUInt16BE(2), block & 0xffff, `wire block number of ${block}`);
  assert.deepEqual(packet.subarray(4), expectedPayload(content, blksize, block), `payload of block ${block}`);
  const decoded = decodePacket(packet);
  assert.ok(decoded.ok && decoded.packet.op === 'data', 'the codec reads it as DATA');
}

describe('tftp framed content: every packet is header + payload', () => {
  const cases: Array<[number, number]> = [
    // size, blksize
    [0, 512],
    [1, 512],
    [511, 512],
    [512, 512], // exact multiple: a final empty packet
    [513, 512],
    [5000, 1468],
    [1024 * 1468, 1468], // exactly one fill chunk of full blocks, then the empty one
    [1025 * 1468 + 7, 1468], // crosses a fill boundary
  ];
  for (const [size, blksize] of cases) {
    it(`${size} bytes at blksize ${blksize}`, () => {
      const content = randomBytes(size);
      const framed = new FramedContent(content, blksize);
      const sender = new TftpSender({ size, blksize, windowsize: 1, oack: false });
      assert.equal(framed.blocks, sender.lastBlock);
      let total = 0;
      for (let block = 1; block <= framed.blocks; block += 1) {
        const packet = framed.packet(block);
        assertPacket(packet, content, blksize, block);
        total += packet.length - 4;
      }
      assert.equal(total, size, 'payloads add up to the file');
      assert.ok(framed.packet(framed.blocks).length - 4 < blksize, 'the last packet is short');
    });
  }

  it('numbers blocks past 65535 modulo 2^16 (rollover to 0)', () => {
    const blksize = 8;
    const content = randomBytes(70_000 * blksize + 3);
    const framed = new FramedContent(content, blksize);
    for (const block of [65535, 65536, 65537, 70_000, framed.blocks]) assertPacket(framed.packet(block), content, blksize, block);
    assert.equal(framed.packet(65536).readUInt16BE(2), 0);
    assert.equal(framed.packet(65537).readUInt16BE(2), 1);
  });

  it('fills on demand in any order, and bytes handed out never change afterwards', () => {
    const blksize = 100;
    const content = randomBytes(5000 * blksize + 50);
    const framed = new FramedContent(content, blksize);
    const late = framed.packet(4000); // jumps ahead: everything before it is framed too
    const lateCopy = Buffer.from(late);
    const early = framed.packet(2);
    const earlyCopy = Buffer.from(early);
    for (let block = 1; block <= framed.blocks; block += 1) assertPacket(framed.packet(block), content, blksize, block);
    assert.deepEqual(late, lateCopy);
    assert.deepEqual(early, earlyCopy);
  });

  it('refuses block numbers outside the file and a bad blksize', () => {
    const framed = new FramedContent(randomBytes(1000), 512);
    assert.throws(() => framed.packet(0), RangeError);
    assert.throws(() => framed.packet(3), RangeError);
    assert.throws(() => framed.packet(1.5), RangeError);
    assert.throws(() => new FramedContent(Buffer.alloc(1), 0), RangeError);
  });
});

describe('tftp data packets cache', () => {
  it('shares one image per content and blksize', () => {
    const cache = new DataPacketsCache();
    const content = randomBytes(3000);
    assert.equal(cache.get(content, 512), cache.get(content, 512));
    assert.notEqual(cache.get(content, 512), cache.get(content, 1468));
    assert.notEqual(cache.get(content, 512), cache.get(Buffer.from(content), 512), 'keyed by buffer identity, not by bytes');
  });

  it('keeps at most perContent blksizes per content, dropping the least recently used', () => {
    const cache = new DataPacketsCache(1 << 20, 2);
    const content = randomBytes(3000);
    const a = cache.get(content, 512);
    const b = cache.get(content, 1024);
    assert.equal(cache.get(content, 512), a); // 512 is now the most recent
    cache.get(content, 1468); // evicts 1024
    assert.equal(cache.get(content, 512), a);
    assert.notEqual(cache.get(content, 1024), b, '1024 was dropped and is framed anew');
    // The dropped image still works for a transfer that holds it.
    assertPacket(b.packet(2), content, 1024, 2);
  });

  it('sends content over maxFramedBytes as header + payload views: nothing copied, same bytes', () => {
    const cache = new DataPacketsCache(1000);
    const small = randomBytes(1000);
    const large = randomBytes(70_000 * 8 + 3);
    assert.ok(cache.get(small, 512) instanceof FramedContent, 'up to the limit: framed');
    const viewed = cache.get(large, 8);
    assert.ok(viewed instanceof ViewedContent, 'over the limit: views');
    assertAllPackets(viewed, large, 8);
    const [header, payload] = viewed.packet(70_000) as Buffer[];
    assert.equal(payload?.buffer, large.buffer, 'the payload is a view of the file');
    assert.equal(header?.length, 4);
    assert.throws(() => viewed.packet(0), RangeError);
    assert.throws(() => viewed.packet(viewed.blocks + 1), RangeError);
  });
});

function assertAllPackets(packets: DataPackets, content: Buffer, blksize: number): void {
  assert.equal(packets.blocks, Math.floor(content.length / blksize) + 1);
  for (let block = 1; block <= packets.blocks; block += 1) assertPacket(packets.packet(block), content, blksize, block);
}
