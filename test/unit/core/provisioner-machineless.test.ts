import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Catalog } from '../../../server/catalog/catalog.js';
import { MachinelessEvents } from '../../../server/core/machineless-events.js';
import { Provisioner } from '../../../server/core/provisioner.js';
import { catalogDirs } from '../../../server/paths.js';
import { openDatabase } from '../../../server/store/db.js';
import { SqliteStore } from '../../../server/store/sqlite-store.js';
import { TEST_SETTINGS } from '../../helpers/provisioner.js';

function withCounter(immediatePerInterval = 10) {
  const loaded = Catalog.load(catalogDirs());
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const store = new SqliteStore(openDatabase(':memory:'));
  const clock = { t: 1_700_000_000_000, now() { return this.t; } };
  const machineless = new MachinelessEvents({ maxKeys: 100, immediatePerInterval }, clock.t);
  let n = 0;
  const provisioner = new Provisioner({ store, renderer: loaded.catalog, settings: TEST_SETTINGS, clock, newToken: () => `token${++n}`, machineless });
  return { provisioner, store, clock, machineless };
}

test('4,000 unknown-MAC /ipxe requests and 4,000 bad tokens write a bounded number of events', () => {
  const { provisioner, store, clock } = withCounter();
  for (let i = 0; i < 4000; i++) {
    const mac = `52:54:00:${(i >> 16) & 255}:${(i >> 8) & 255}:${i & 255}`.replace(/:(\d+)/g, (_, d: string) => `:${Number(d).toString(16).padStart(2, '0')}`);
    assert.ok(provisioner.machineScript({ mac, clientIp: '10.99.0.66' }).ok, 'the unknown machine still gets its script');
    assert.equal(provisioner.callback(`forged${i}`, { event: 'installed' }, '10.99.0.66').ok, false);
  }
  const before = store.listEvents({}).length;
  assert.ok(before <= 10, `${before} rows before the flush`);
  clock.t += 60_000;
  const summaries = provisioner.flushMachinelessEvents();
  assert.deepEqual(summaries.map((e) => e.type).sort(), ['discovered', 'token-refused']);
  const all = store.listEvents({});
  assert.ok(all.length <= 12, `${all.length} rows for 8,000 requests`);
  const discovered = summaries.find((e) => e.type === 'discovered');
  const written = all.filter((e) => e.type === 'discovered' && e.data?.aggregated !== true).length;
  assert.equal(Number(discovered?.data?.total) + written, 4000, 'every request is accounted for: a row or a count');
});

test('a machine\'s own events are never counted away', () => {
  const { provisioner, store } = withCounter(0);
  const machine = provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:99:00:01'], ip: '10.99.0.11', role: 'dev', bootMode: 'memory' });
  for (let i = 0; i < 50; i++) provisioner.machineScript({ mac: '52:54:00:99:00:01', clientIp: '10.99.0.11' });
  assert.equal(store.listEvents({ machineId: machine.id }).length, 51);
  // a machine-less type this counter does not own (another DHCP server) is still a row
  provisioner.dhcpServerSeen({ serverId: '10.99.0.2', source: '10.99.0.2', via: 'reply', messageType: 'OFFER', yiaddr: '10.99.0.50', mac: null });
  assert.equal(store.listEvents({}).filter((e) => e.type === 'dhcp-rogue-server').length, 1);
});

test('while the disk is low, unknown sources write nothing at all', () => {
  const { provisioner, store, clock, machineless } = withCounter();
  machineless.setShedding(true);
  for (let i = 0; i < 100; i++) provisioner.callback(`forged${i}`, { event: 'ready' }, `10.99.0.${i}`);
  clock.t += 60_000;
  assert.deepEqual(provisioner.flushMachinelessEvents(), []);
  assert.equal(store.listEvents({}).length, 0);
  assert.ok(machineless.stats.shed >= 1);
});
