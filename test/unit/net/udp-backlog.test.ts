/** The kernel receive-queue reading behind DHCP load shedding (/proc/net/udp). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { receiveQueueBytes, startBacklogSampler } from '../../../server/net/udp-backlog.js';

const SAMPLE = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  120: 00000000:0043 00000000:0000 07 00000000:00030000 00:00000000 00000000     0        0 81234 2 0000000000000000 17
  121: 0100007F:0043 00000000:0000 07 00000000:00000C00 00:00000000 00000000     0        0 81235 2 0000000000000000 0
  305: 00000000:0FAB 00000000:0000 07 00000000:00000400 00:00000000 00000000     0        0 81236 2 0000000000000000 0
  400: 00000000:0045 00000000:0000 07 00000000:00100000 00:00000000 00000000     0        0 81237 2 0000000000000000 0
garbage line
`;

describe('receiveQueueBytes', () => {
  it('sums rx_queue of the sockets on the given ports only', () => {
    assert.equal(receiveQueueBytes(SAMPLE, new Set([67])), 0x30000 + 0xc00);
    assert.equal(receiveQueueBytes(SAMPLE, new Set([67, 4011])), 0x30000 + 0xc00 + 0x400);
    assert.equal(receiveQueueBytes(SAMPLE, new Set([68])), 0);
    assert.equal(receiveQueueBytes('', new Set([67])), 0);
  });

  it('the sampler turns bytes into packets and reports 0 once the file cannot be read', async () => {
    let text = SAMPLE;
    const sampler = startBacklogSampler([67], 5, () => {
      if (text === '') throw new Error('no /proc');
      return text;
    });
    try {
      const deadline = Date.now() + 3000;
      while (sampler.packets === 0) {
        assert.ok(Date.now() < deadline, 'sampled');
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(sampler.packets, Math.floor((0x30000 + 0xc00) / 1024));
      text = '';
      while (sampler.packets !== 0) {
        assert.ok(Date.now() < deadline, 'reset');
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      sampler.stop();
    }
  });
});
