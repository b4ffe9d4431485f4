import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';

test('store: retention, unknown-source events, write rate and disk floors have bounded defaults', () => {
  const { config, errors } = parseConfig('{}', 'test.yaml', '/tmp');
  assert.deepEqual(errors, []);
  assert.deepEqual(config?.store, {
    retention: { eventsDays: 90, keepPerMachine: 200, discoveredDays: 30, discoveredMax: 10_000, intervalSeconds: 60, batch: 500 },
    unknownEvents: { flushSeconds: 60, maxSources: 1000, immediatePerInterval: 10 },
    writeRate: { perSecond: 10, burst: 60, maxSources: 10_000 },
    disk: { minFreeBytes: 512 * 1024 * 1024, minFreePercent: 5, checkSeconds: 10 },
  });
});

test('store: unbounded values are refused', () => {
  const { errors } = parseConfig('store: {retention: {eventsDays: 0}, writeRate: {maxSources: 0}, disk: {minFreePercent: 100}}', 'test.yaml', '/tmp');
  assert.equal(errors.length, 3, errors.join('\n'));
});
