/** The inventory file codecs (CSV, YAML): round trips, and every bad row named by its line. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeInventory, encodeInventory, formatOfFile, rowOf, type InventoryFormat } from '../../../server/core/inventory-file.js';
import type { Machine } from '../../../server/core/types.js';

function machine(id: number, over: Partial<Machine> = {}): Machine {
  return {
    id,
    name: `blade-${String(id).padStart(2, '0')}`,
    uuid: null,
    bmcAddress: null,
    ip: `10.99.0.${10 + id}`,
    role: null,
    bootMode: 'install',
    state: 'ready',
    stateChangedAt: 1,
    macs: [`52:54:00:00:00:${String(id).padStart(2, '0')}`],
    bootToken: 'secret',
    configToken: null,
    ipxeChainedAt: null,
    createdAt: 1,
    labels: {},
    ...over,
  };
}

const INVENTORY = [
  machine(2, { role: 'dev', bootMode: 'memory', labels: { rack: 'r12', 'site.example/row': 'b' } }),
  machine(1, { macs: ['52:54:00:00:00:01', '52:54:00:00:01:01'], uuid: '4c4c4544-0042-3510-8052-b4c04f4e3232', bmcAddress: '10.1.0.11' }),
  machine(3, { ip: null }),
];

for (const format of ['csv', 'yaml'] as InventoryFormat[]) {
  test(`${format}: export then import gives back every operator field, sorted by name, and no secret`, () => {
    const text = encodeInventory(INVENTORY, format);
    assert.doesNotMatch(text, /secret/);
    const decoded = decodeInventory(text, format);
    assert.deepEqual(decoded.errors, []);
    assert.deepEqual(
      decoded.rows.map((r) => r.row),
      [...INVENTORY].sort((a, b) => a.name.localeCompare(b.name)).map(rowOf),
    );
    // the second encode of the decoded rows is the same text (stable for git diffs)
    const again = encodeInventory(decoded.rows.map((r, i) => machine(i + 1, { ...r.row })), format);
    assert.equal(again, text);
  });
}

test('csv: a header, MACs separated by spaces, labels as key=value pairs, quoted fields', () => {
  const text = encodeInventory(INVENTORY, 'csv');
  const lines = text.trimEnd().split('\n');
  assert.equal(lines[0], 'name,macs,ip,role,boot_mode,uuid,bmc_address,labels');
  assert.equal(lines[1], 'blade-01,52:54:00:00:00:01 52:54:00:00:01:01,10.99.0.11,,install,4c4c4544-0042-3510-8052-b4c04f4e3232,10.1.0.11,');
  assert.equal(lines[2], 'blade-02,52:54:00:00:00:02,10.99.0.12,dev,memory,,,rack=r12 site.example/row=b');
  const quoted = decodeInventory('name,macs\r\n"blade-09","52-54-00-00-00-09, 5254.0000.0a09"\r\n', 'csv');
  assert.deepEqual(quoted.errors, []);
  assert.deepEqual(quoted.rows[0]?.row.macs, ['52:54:00:00:00:09', '52:54:00:00:0a:09']);
});

test('csv: every bad row is listed with its line; good rows are still decoded', () => {
  const text = [
    'name,macs,ip,role,boot_mode,uuid,bmc_address,labels',
    'blade-01,52:54:00:00:00:01,10.99.0.11,,,,,',
    'Bad_Name,zz,10.99.0.300,nope,fast,not-a-uuid,10.1.0,rack=R1',
    'blade-03,52:54:00:00:00:03,10.99.0.13',
    '',
    'blade-04,,10.99.0.14,,,,,',
  ].join('\n');
  const decoded = decodeInventory(text, 'csv');
  assert.deepEqual(decoded.rows.map((r) => [r.line, r.row.name]), [[2, 'blade-01']]);
  assert.deepEqual(decoded.errors.map((e) => e.line), [3, 4, 6]);
  const line3 = decoded.errors[0]?.message ?? '';
  for (const part of [/name "Bad_Name"/, /MAC "zz"/, /ip "10\.99\.0\.300"/, /role "nope"/, /boot mode "fast"/, /uuid "not-a-uuid"/, /BMC address "10\.1\.0"/, /label rack value "R1"/]) assert.match(line3, part);
  assert.match(decoded.errors[1]?.message ?? '', /3 fields, the header has 8/);
  assert.match(decoded.errors[2]?.message ?? '', /at least one MAC/);
});

test('csv: an unknown column, a missing one, an unclosed quote are whole-file errors', () => {
  assert.match(decodeInventory('name,macs,colour\n', 'csv').errors[0]?.message ?? '', /unknown column "colour"/);
  assert.match(decodeInventory('name,ip\n', 'csv').errors[0]?.message ?? '', /missing column macs/);
  assert.match(decodeInventory('name,macs\n"blade-01,52:54:00:00:00:01\n', 'csv').errors[0]?.message ?? '', /not closed/);
  assert.equal(decodeInventory('', 'csv').errors.length, 1);
});

test('yaml: bad rows are listed with the line their mapping starts on', () => {
  const text = [
    'machines:',
    '  - name: blade-01',
    '    macs: ["52:54:00:00:00:01"]',
    '  - name: blade-02',
    '    macs: ["52:54:00:00:00:02"]',
    '    colour: red',
    '  - just a string',
    '  - name: blade-04',
    '    macs: "52:54:00:00:00:04"',
    '    labels: {rack: r1}',
  ].join('\n');
  const decoded = decodeInventory(text, 'yaml');
  assert.deepEqual(decoded.rows.map((r) => [r.line, r.row.name, r.row.labels]), [[2, 'blade-01', {}], [8, 'blade-04', { rack: 'r1' }]]);
  assert.deepEqual(decoded.errors.map((e) => [e.line, e.message]), [[4, 'unknown field colour'], [7, 'each machine is a mapping (name:, macs:, ...)']]);
  assert.match(decodeInventory('machines: {a: 1}', 'yaml').errors[0]?.message ?? '', /a list under "machines:"/);
  assert.equal(decodeInventory('machines: [\n', 'yaml').errors.length > 0, true);
});

test('the format follows the file name', () => {
  assert.equal(formatOfFile('x.CSV'), 'csv');
  assert.equal(formatOfFile('inv.yml'), 'yaml');
  assert.equal(formatOfFile('inv.yaml'), 'yaml');
  assert.equal(formatOfFile('inv.txt'), null);
});
