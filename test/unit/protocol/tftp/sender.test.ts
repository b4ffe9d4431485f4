import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TftpSender } from '../../../../server/protocol/tftp/sender.js';

const data = (first: number, last: number) => ({ kind: 'data', first, last }) as const;

describe('tftp sender: block count and end of file', () => {
  const cases: Array<[number, number, number]> = [
    // size, blksize, expected last block
    [0, 512, 1],
    [1, 512, 1],
    [511, 512, 1],
    [512, 512, 2], // exact multiple: a final empty block
    [513, 512, 2],
    [1024, 512, 3],
    [33_553_920, 512, 65536], // 65535 full blocks + the empty one, numbered 0 on the wire
  ];
  for (const [size, blksize, last] of cases) {
    it(`${size} bytes at blksize ${blksize} -> ${last} blocks`, () => {
      const sender = new TftpSender({ size, blksize, windowsize: 1, oack: false });
      assert.equal(sender.lastBlock, last);
      const bounds = sender.blockBounds(last);
      assert.equal(bounds.end, size);
      assert.ok(bounds.end - bounds.start < blksize, 'the last block is short');
    });
  }
});

describe('tftp sender: payload bytes of a block range', () => {
  it('adds up the block bounds, short last block included', () => {
    for (const [size, blksize] of [[0, 512], [512, 512], [5000, 512], [5000, 1468], [1_000_003, 8]] as const) {
      const sender = new TftpSender({ size, blksize, windowsize: 1, oack: false });
      for (const [first, last] of [[1, 1], [1, sender.lastBlock], [sender.lastBlock, sender.lastBlock], [2, Math.min(5, sender.lastBlock)]] as const) {
        let expected = 0;
        for (let block = first; block <= last; block += 1) {
          const { start, end } = sender.blockBounds(block);
          expected += end - start;
        }
        assert.equal(sender.payloadBytes(first, last), expected, `size ${size} blksize ${blksize} blocks ${first}..${last}`);
      }
      assert.equal(sender.payloadBytes(1, sender.lastBlock), size);
      assert.equal(sender.payloadBytes(3, 2), 0);
    }
  });
});

describe('tftp sender: lock-step (windowsize 1)', () => {
  it('sends DATA 1 at once without an OACK and completes on the last ACK', () => {
    const sender = new TftpSender({ size: 1000, blksize: 512, windowsize: 1, oack: false });
    assert.deepEqual(sender.start(), data(1, 1));
    assert.deepEqual(sender.onAck(1), data(2, 2));
    assert.equal(sender.bytesAcked, 512);
    assert.deepEqual(sender.onAck(2), { kind: 'complete' });
    assert.equal(sender.bytesAcked, 1000);
    assert.equal(sender.isComplete, true);
  });

  it('ignores duplicate and stale ACKs (no Sorcerer\'s Apprentice)', () => {
    const sender = new TftpSender({ size: 5000, blksize: 512, windowsize: 1, oack: false });
    sender.start();
    assert.deepEqual(sender.onAck(1), data(2, 2));
    assert.deepEqual(sender.onAck(1), { kind: 'ignore', reason: 'duplicate' });
    assert.deepEqual(sender.onAck(0), { kind: 'ignore', reason: 'stale' });
    assert.deepEqual(sender.onAck(9), { kind: 'ignore', reason: 'stale' }, 'ACK for a block never sent');
    assert.deepEqual(sender.onTimeout(), data(2, 2), 'a timeout resends the unacked block');
    assert.deepEqual(sender.onAck(2), data(3, 3));
  });
});

describe('tftp sender: OACK first', () => {
  it('waits for ACK 0, resends the OACK on timeout, ignores other ACKs', () => {
    const sender = new TftpSender({ size: 100, blksize: 512, windowsize: 1, oack: true });
    assert.deepEqual(sender.start(), { kind: 'oack' });
    assert.equal(sender.awaitingOackAck, true);
    assert.deepEqual(sender.onAck(1), { kind: 'ignore', reason: 'stale' });
    assert.deepEqual(sender.onTimeout(), { kind: 'oack' });
    assert.deepEqual(sender.onAck(0), data(1, 1));
    assert.equal(sender.awaitingOackAck, false);
    assert.deepEqual(sender.onAck(0), { kind: 'ignore', reason: 'duplicate' }, 'a repeated ACK 0 is a duplicate');
    assert.deepEqual(sender.onAck(1), { kind: 'complete' });
  });
});

describe('tftp sender: windows (RFC 7440)', () => {
  it('slides a window of 4 on the ACK of its last block', () => {
    const sender = new TftpSender({ size: 10 * 512 + 3, blksize: 512, windowsize: 4, oack: true });
    assert.deepEqual(sender.start(), { kind: 'oack' });
    assert.deepEqual(sender.onAck(0), data(1, 4));
    assert.deepEqual(sender.onAck(4), data(5, 8));
    assert.deepEqual(sender.onAck(8), data(9, 11));
    assert.deepEqual(sender.onAck(11), { kind: 'complete' });
  });

  it('restarts the window after a partial ACK (the client saw a gap)', () => {
    const sender = new TftpSender({ size: 20 * 512, blksize: 512, windowsize: 4, oack: false });
    assert.deepEqual(sender.start(), data(1, 4));
    assert.deepEqual(sender.onAck(2), data(3, 6), 'blocks 3 and 4 again, then new ones');
    assert.deepEqual(sender.onAck(2), { kind: 'ignore', reason: 'duplicate' });
    assert.deepEqual(sender.onAck(1), { kind: 'ignore', reason: 'stale' });
    assert.deepEqual(sender.onTimeout(), data(3, 6), 'a timeout resends the whole unacked window');
    assert.deepEqual(sender.onAck(6), data(7, 10));
  });
});

describe('tftp sender: block-number rollover 65535 -> 0', () => {
  it('maps 16-bit ACKs across the wrap, lock-step', () => {
    const size = 65536 * 512 + 100; // last block 65537, sent as 1
    const sender = new TftpSender({ size, blksize: 512, windowsize: 1, oack: false });
    sender.start();
    for (let block = 1; block <= 65534; block += 1) sender.onAck(block);
    assert.deepEqual(sender.onAck(65535), data(65536, 65536));
    assert.deepEqual(sender.onAck(65535), { kind: 'ignore', reason: 'duplicate' });
    assert.deepEqual(sender.onAck(0), data(65537, 65537), 'wire ACK 0 is block 65536');
    assert.deepEqual(sender.onAck(0), { kind: 'ignore', reason: 'duplicate' });
    assert.deepEqual(sender.onAck(1), { kind: 'complete' });
    assert.equal(sender.bytesAcked, size);
  });

  it('maps a window that straddles the wrap', () => {
    const sender = new TftpSender({ size: 70000 * 8, blksize: 8, windowsize: 8, oack: false });
    let plan = sender.start();
    while (plan.kind === 'data' && plan.last < 65532) plan = sender.onAck(plan.last & 0xffff) as typeof plan;
    assert.deepEqual(plan, data(65529, 65536));
    assert.deepEqual(sender.onAck(65534), data(65535, 65542), 'partial ACK just before the wrap');
    assert.deepEqual(sender.onAck(3), data(65540, 65547), 'wire 3 is block 65539');
    assert.deepEqual(sender.onAck(65535), { kind: 'ignore', reason: 'stale' }, 'an old ACK from before the wrap');
  });
});

describe('tftp sender: argument checks', () => {
  it('refuses nonsense configurations', () => {
    assert.throws(() => new TftpSender({ size: 1, blksize: 0, windowsize: 1, oack: false }), RangeError);
    assert.throws(() => new TftpSender({ size: 1, blksize: 512, windowsize: 0, oack: false }), RangeError);
    assert.throws(() => new TftpSender({ size: 1, blksize: 512, windowsize: 40000, oack: false }), RangeError);
  });
});
