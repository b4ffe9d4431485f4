import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diskState } from '../../../server/core/disk-space.js';

const MiB = 1024 * 1024;

test('low below the byte floor or the percentage floor, with the reason', () => {
  const space = (freeMiB: number, totalMiB = 10_000) => ({ bsize: 4096, blocks: (totalMiB * MiB) / 4096, bavail: (freeMiB * MiB) / 4096 });
  const floors = { minFreeBytes: 512 * MiB, minFreePercent: 5 };
  assert.equal(diskState(space(1000), floors, '/var/lib/rackboot').low, false);
  const bytes = diskState(space(100, 1_000_000), floors, '/var/lib/rackboot');
  assert.equal(bytes.low, true);
  assert.match(bytes.reason, /^data directory \/var\/lib\/rackboot is low on space: 100\.0 MiB free, below the floor of 512\.0 MiB/);
  const percent = diskState(space(3000, 100_000), floors, '/d');
  assert.equal(percent.low, true);
  assert.match(percent.reason, /: 3\.0% free, below the floor of 5%$/);
  assert.equal(percent.freeBytes, 3000 * MiB);
  assert.equal(diskState(space(0), { minFreeBytes: 0, minFreePercent: 0 }, '/d').low, false, '0 turns the floors off');
});
