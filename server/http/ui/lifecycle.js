/**
 * The detail panel's lifecycle part: a machine's labels, and edit / replace board (RMA) / delete,
 * each behind the confirm dialog. Kept apart from app.js: app.js only places labelChips() in the
 * facts and lifecycleBlock() under the actions.
 */
import { api, ref } from './api.js';
import { h } from './dom.js';

/** `rack=r12` chips; a dash when there are none. */
export function labelChips(labels) {
  const pairs = Object.entries(labels ?? {});
  if (pairs.length === 0) return '–';
  return h('span', { class: 'labels' }, ...pairs.map(([k, v]) => h('span', { class: 'label-chip mono', data: { key: k } }, `${k}=${v}`)));
}

const words = (text) => text.trim().split(/[\s,]+/).filter(Boolean);

function parseLabels(text) {
  const labels = {};
  for (const pair of words(text)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`label ${pair}: expected key=value`);
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return labels;
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * @param {() => any} current the machine as it is now
 * @param {{ confirm: (message: string, label: string) => Promise<boolean>, run: (what: string, work: () => Promise<any>) => Promise<any>, changed: (machine: any) => void, deleted: (machine: any) => void }} hooks
 */
export function lifecycleBlock(current, hooks) {
  const field = (name, label, placeholder) => h('label', null, label, ' ', h('input', { name, spellcheck: 'false', placeholder, autocomplete: 'off' }));
  const form = h(
    'div',
    { class: 'lifecycle-form' },
    field('name', 'Name', 'node-01'),
    field('macs', 'MACs', '52:54:00:12:34:56 (space-separated)'),
    field('ip', 'IP', 'none'),
    field('bmcAddress', 'BMC', 'none'),
    field('labels', 'Labels', 'rack=r12 zone=a'),
  );
  const input = (name) => form.querySelector(`[name="${name}"]`);
  const fill = () => {
    const m = current();
    input('name').value = m.name;
    input('macs').value = m.macs.join(' ');
    input('ip').value = m.ip ?? '';
    input('bmcAddress').value = m.bmcAddress ?? '';
    input('labels').value = Object.entries(m.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(' ');
  };
  const details = h('details', { class: 'lifecycle', ontoggle: () => details.open && fill() }, h('summary', null, 'Edit, replace board, delete'), form);

  const save = async () => {
    const m = current();
    let wanted;
    try {
      wanted = { name: input('name').value.trim(), macs: words(input('macs').value), ip: input('ip').value.trim() || null, bmcAddress: input('bmcAddress').value.trim() || null, labels: parseLabels(input('labels').value) };
    } catch (error) {
      await hooks.run(`${m.name}: edit`, () => Promise.reject(error));
      return;
    }
    const patch = Object.fromEntries(Object.entries(wanted).filter(([k, v]) => !same(v, k === 'labels' ? (m.labels ?? {}) : m[k])));
    if (Object.keys(patch).length === 0) return;
    const what = Object.entries(patch).map(([k, v]) => `${k} → ${v === null ? 'none' : typeof v === 'object' && !Array.isArray(v) ? Object.entries(v).map(([a, b]) => `${a}=${b}`).join(' ') || 'none' : String(v)}`).join(', ');
    if (!(await hooks.confirm(`Change ${m.name}: ${what}?`, 'Save'))) return;
    const machine = await hooks.run(`${m.name}: edited`, () => api('PATCH', `/machines/${ref(m)}`, patch));
    if (machine) {
      details.open = false;
      hooks.changed(machine);
    }
  };

  const replace = async () => {
    const m = current();
    const macs = words(input('macs').value);
    const bmcAddress = input('bmcAddress').value.trim() || null;
    if (!(await hooks.confirm(`Replace ${m.name}'s board? It keeps its name, IP (${m.ip ?? 'none'}), role and labels; its MACs become ${macs.join(', ')} and BMC ${bmcAddress ?? 'none'}; its install state is reset and the next PXE boot installs again.`, 'Replace board'))) return;
    const machine = await hooks.run(`${m.name}: board replaced`, () => api('POST', `/machines/${ref(m)}/replace`, { macs, bmcAddress }));
    if (machine) {
      details.open = false;
      hooks.changed(machine);
    }
  };

  const remove = async () => {
    const m = current();
    if (!(await hooks.confirm(`Delete ${m.name} (${m.macs.join(', ')} → ${m.ip ?? 'no IP'}) from the inventory? Its events stay.`, 'Delete'))) return;
    const result = await hooks.run(`${m.name}: deleted`, () => api('DELETE', `/machines/${ref(m)}`));
    if (result) hooks.deleted(m);
  };

  form.append(
    h(
      'div',
      { class: 'action-row' },
      h('button', { type: 'button', onclick: save, data: { action: 'edit' } }, 'Save changes'),
      h('button', { type: 'button', onclick: replace, data: { action: 'replace' }, title: 'RMA: a new board with the MACs and BMC above keeps this name and IP' }, 'Replace board'),
      h('button', { type: 'button', class: 'danger', onclick: remove, data: { action: 'delete' } }, 'Delete'),
    ),
  );
  return details;
}
