import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TftpOption } from '../../../../server/protocol/tftp/codec.js';
import { negotiateOptions, optionsRecord } from '../../../../server/protocol/tftp/options.js';

const limits = { maxBlockSize: 1468, maxWindowSize: 32 };

function opts(...pairs: Array<[string, string]>): TftpOption[] {
  return pairs.map(([name, value]) => ({ name, value }));
}

interface Row {
  readonly name: string;
  readonly request: TftpOption[];
  readonly blksize: number;
  readonly windowsize: number;
  readonly timeoutS: number | null;
  readonly oack: TftpOption[];
}

// File size 1000 throughout.
const table: Row[] = [
  { name: 'no options: no OACK, straight to DATA 1', request: [], blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'tsize probe', request: opts(['tsize', '0']), blksize: 512, windowsize: 1, timeoutS: null, oack: opts(['tsize', '1000']) },
  { name: 'tsize with a non-zero value still gets the real size', request: opts(['tsize', '5']), blksize: 512, windowsize: 1, timeoutS: null, oack: opts(['tsize', '1000']) },
  { name: 'iPXE: blksize 1432 + tsize', request: opts(['blksize', '1432'], ['tsize', '0']), blksize: 1432, windowsize: 1, timeoutS: null, oack: opts(['blksize', '1432'], ['tsize', '1000']) },
  {
    name: 'EDK II: blksize 1468, tsize, windowsize 4',
    request: opts(['blksize', '1468'], ['tsize', '0'], ['windowsize', '4']),
    blksize: 1468,
    windowsize: 4,
    timeoutS: null,
    oack: opts(['blksize', '1468'], ['tsize', '1000'], ['windowsize', '4']),
  },
  { name: 'blksize 8 (minimum)', request: opts(['blksize', '8']), blksize: 8, windowsize: 1, timeoutS: null, oack: opts(['blksize', '8']) },
  { name: 'blksize 65464 capped to the max', request: opts(['blksize', '65464']), blksize: 1468, windowsize: 1, timeoutS: null, oack: opts(['blksize', '1468']) },
  { name: 'blksize 70000 is invalid: ignored', request: opts(['blksize', '70000']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'blksize 7 is invalid: ignored', request: opts(['blksize', '7']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'blksize not a number: ignored', request: opts(['blksize', '1e3']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'blksize with a sign: ignored', request: opts(['blksize', '+512']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'timeout 1 echoed', request: opts(['timeout', '1']), blksize: 512, windowsize: 1, timeoutS: 1, oack: opts(['timeout', '1']) },
  { name: 'timeout 255 echoed', request: opts(['timeout', '255']), blksize: 512, windowsize: 1, timeoutS: 255, oack: opts(['timeout', '255']) },
  { name: 'timeout 0 ignored', request: opts(['timeout', '0']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'timeout 256 ignored', request: opts(['timeout', '256']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'windowsize 1', request: opts(['windowsize', '1']), blksize: 512, windowsize: 1, timeoutS: null, oack: opts(['windowsize', '1']) },
  { name: 'windowsize 64 capped to 32', request: opts(['windowsize', '64']), blksize: 512, windowsize: 32, timeoutS: null, oack: opts(['windowsize', '32']) },
  { name: 'windowsize 0 ignored', request: opts(['windowsize', '0']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'windowsize 65536 ignored', request: opts(['windowsize', '65536']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  { name: 'unknown options only: no OACK', request: opts(['multicast', ''], ['rollover', '1'], ['utimeout', '500']), blksize: 512, windowsize: 1, timeoutS: null, oack: [] },
  {
    name: 'names are case-insensitive and echoed as spelled',
    request: opts(['BLKSIZE', '1024'], ['TSize', '0']),
    blksize: 1024,
    windowsize: 1,
    timeoutS: null,
    oack: opts(['BLKSIZE', '1024'], ['TSize', '1000']),
  },
  { name: 'a repeated option: the first one wins', request: opts(['blksize', '1024'], ['blksize', '600']), blksize: 1024, windowsize: 1, timeoutS: null, oack: opts(['blksize', '1024']) },
  {
    name: 'curl: tsize, blksize, timeout in its order',
    request: opts(['tsize', '0'], ['blksize', '1468'], ['timeout', '6']),
    blksize: 1468,
    windowsize: 1,
    timeoutS: 6,
    oack: opts(['tsize', '1000'], ['blksize', '1468'], ['timeout', '6']),
  },
];

describe('tftp option negotiation (file of 1000 bytes, max blksize 1468, max window 32)', () => {
  for (const row of table) {
    it(row.name, () => {
      assert.deepEqual(negotiateOptions(row.request, 1000, limits), {
        blksize: row.blksize,
        windowsize: row.windowsize,
        timeoutS: row.timeoutS,
        oack: row.oack,
      });
    });
  }

  it('honours a smaller configured blksize cap (VXLAN MTU 1450 -> 1418)', () => {
    assert.equal(negotiateOptions(opts(['blksize', '1468']), 1, { maxBlockSize: 1418, maxWindowSize: 4 }).blksize, 1418);
  });

  it('reports tsize 0 for an empty file', () => {
    assert.deepEqual(negotiateOptions(opts(['tsize', '0']), 0, limits).oack, opts(['tsize', '0']));
  });
});

describe('tftp options record', () => {
  it('lower-cases names, keeps the first value and treats __proto__ as a plain key', () => {
    const record = optionsRecord(opts(['BlkSize', '1'], ['blksize', '2'], ['__proto__', 'x']));
    assert.equal(record.blksize, '1');
    assert.equal(Object.getPrototypeOf(record), Object.prototype);
    assert.deepEqual(Object.keys(record), ['blksize', '__proto__']);
  });
});
