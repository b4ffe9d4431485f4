/**
 * The dashboard's list filters (server/http/ui/filter.js, a browser module without DOM use) run in
 * Node: MACs in every form, UUIDs with and without dashes, AND of words, role and label selectors.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';

interface Term {
  key: string;
  value: string | null;
}
interface FilterModule {
  macHex(word: string): string | null;
  parseLabelSelector(text: string): { ok: true; terms: Term[] } | { ok: false; error: string };
  machineFilter(filters: { state?: string | null; role?: string | null; labels?: string; search?: string }): { ok: true; test: (m: object) => boolean } | { ok: false; error: string };
  NO_ROLE: string;
}

// a computed specifier: the module is plain JavaScript for the browser, typed here by FilterModule
const filterPath = join(import.meta.dirname, '..', '..', '..', '..', 'server', 'http', 'ui', 'filter.js');
const ui = (await import(pathToFileURL(filterPath).href)) as FilterModule;

const machines = [
  { name: 'rack1-node01', macs: ['52:54:00:10:00:01'], ip: '10.99.0.11', bmcAddress: '10.1.0.11', role: 'production-central', state: 'ready', uuid: '4C4C4544-0042-3510-8051-B4C04F4E3232', labels: { rack: 'r12', row: '3' } },
  { name: 'rack1-node02', macs: ['52:54:00:10:00:02', 'aa:bb:cc:dd:ee:ff'], ip: '10.99.0.12', bmcAddress: null, role: 'production-worker', state: 'installing', uuid: null, labels: { rack: 'r13' } },
  { name: 'rack2-node03', macs: ['52:54:00:10:00:03'], ip: null, bmcAddress: null, role: null, state: 'failed', uuid: null },
];

function names(filters: Parameters<FilterModule['machineFilter']>[0]): string[] {
  const filter = ui.machineFilter(filters);
  assert.ok(filter.ok, 'the filter is valid');
  return machines.filter(filter.test).map((m) => m.name);
}

describe('dashboard list filters', () => {
  test('a MAC is found in colon, dash, dotted Cisco and bare form, in any case, whole or in part', () => {
    for (const form of ['52:54:00:10:00:03', '52-54-00-10-00-03', '5254.0010.0003', '525400100003', '52-54-00-10-00-03'.toUpperCase(), '5254.0010.0003'.toUpperCase(), '00-10-00-03', '0010.0003']) {
      assert.deepEqual(names({ search: form }), ['rack2-node03'], form);
    }
    assert.deepEqual(names({ search: 'AA-BB-CC' }), ['rack1-node02'], 'a second MAC counts too');
    assert.deepEqual(names({ search: '52-54-00' }), ['rack1-node01', 'rack1-node02', 'rack2-node03']);
  });

  test('an IP is an address, not a MAC fragment; the UUID matches with or without dashes in any case', () => {
    assert.equal(ui.macHex('10.99'), null);
    assert.equal(ui.macHex('5254.00'), '525400');
    assert.deepEqual(names({ search: '10.99.0.12' }), ['rack1-node02']);
    assert.deepEqual(names({ search: '10.1.0.11' }), ['rack1-node01'], 'the BMC address');
    assert.deepEqual(names({ search: '4c4c4544-0042-3510-8051-b4c04f4e3232' }), ['rack1-node01']);
    assert.deepEqual(names({ search: '4C4C454400423510' }), ['rack1-node01']);
  });

  test('every word must match (AND), in any field', () => {
    assert.deepEqual(names({ search: 'rack1 worker' }), ['rack1-node02']);
    assert.deepEqual(names({ search: 'failed rack2' }), ['rack2-node03']);
    assert.deepEqual(names({ search: 'rack1 failed' }), []);
    assert.deepEqual(names({ search: '  ' }), ['rack1-node01', 'rack1-node02', 'rack2-node03']);
  });

  test('state and role filters, with "no role" for machines without one', () => {
    assert.deepEqual(names({ state: 'installing' }), ['rack1-node02']);
    assert.deepEqual(names({ role: 'production-central' }), ['rack1-node01']);
    assert.deepEqual(names({ role: ui.NO_ROLE }), ['rack2-node03']);
    assert.deepEqual(names({ role: 'production-worker', state: 'ready' }), []);
  });

  test('labels: key=value terms all hold, a bare key means set; machines without labels match only an empty selector', () => {
    assert.deepEqual(names({ labels: 'rack=r12' }), ['rack1-node01']);
    assert.deepEqual(names({ labels: 'rack=r12,row=3' }), ['rack1-node01']);
    assert.deepEqual(names({ labels: 'rack=r12 row=4' }), []);
    assert.deepEqual(names({ labels: 'rack' }), ['rack1-node01', 'rack1-node02']);
    assert.deepEqual(names({ labels: '' }), ['rack1-node01', 'rack1-node02', 'rack2-node03']);
    assert.deepEqual(names({ search: 'rack=r13' }), ['rack1-node02'], 'the search finds labels too');
    for (const bad of ['=r12', 'rack=', 'a=b=c']) {
      const parsed = ui.parseLabelSelector(bad);
      assert.ok(!parsed.ok && /key=value/.test(parsed.error), bad);
    }
  });
});
