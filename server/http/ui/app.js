/* global document, window, EventSource, requestAnimationFrame */
/**
 * rackboot's dashboard: the machines table with counts by state, a machine's timeline, the
 * operator's actions, live over Server-Sent Events. Plain ES modules, no build step.
 */
import { api, ApiError, getToken, ref, setToken } from './api.js';
import { ago, clock, fullTime, h } from './dom.js';
import { labelChips, lifecycleBlock } from './lifecycle.js';

const STATE_ORDER = ['failed', 'stuck', 'installing', 'powering-on', 'dhcp', 'firmware-loaded', 'ipxe', 'booting', 'configured', 'booted', 'installed', 'ready', 'registered', 'discovered'];

const state = {
  /** @type {Map<number, any>} */ machines: new Map(),
  discovered: [],
  bmcs: [],
  plan: /** @type {any} */ (null),
  overview: { roles: [], bootModes: ['install', 'memory'], power: { configured: false, reason: null } },
  selected: /** @type {number | null} */ (null),
  timeline: [],
  timelineFor: /** @type {number | null} */ (null),
  stateFilter: /** @type {string | null} */ (null),
  search: '',
  flash: new Set(),
};

const $ = (id) => document.getElementById(id);

// ---------- rendering ----------

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderCounts();
    renderMachines();
    renderDetail();
  });
}

function stateBadge(s) {
  return h('span', { class: `badge state-${s}` }, s);
}

function renderCounts() {
  const counts = new Map();
  for (const m of state.machines.values()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  const chips = [
    h('button', { type: 'button', class: `chip total${state.stateFilter === null ? ' active' : ''}`, onclick: () => setFilter(null) }, h('b', null, state.machines.size), ' machines'),
  ];
  for (const s of STATE_ORDER) {
    const n = counts.get(s) ?? 0;
    if (n === 0 && s !== 'failed' && s !== 'stuck') continue;
    chips.push(
      h(
        'button',
        { type: 'button', class: `chip state-${s}${n === 0 ? ' zero' : ''}${state.stateFilter === s ? ' active' : ''}`, title: `show only ${s} machines`, data: { state: s }, onclick: () => setFilter(state.stateFilter === s ? null : s) },
        h('b', null, n),
        ` ${s}`,
      ),
    );
  }
  $('counts').replaceChildren(...chips);
}

function setFilter(s) {
  state.stateFilter = s;
  scheduleRender();
}

/** Every word of the search must match some field; MACs also match as 52-54-00-… and 525400…. */
function matches(m) {
  if (state.stateFilter !== null && m.state !== state.stateFilter) return false;
  const words = state.search.trim().toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const macForms = m.macs.flatMap((mac) => [mac, mac.replace(/:/g, '-'), mac.replace(/:/g, '')]);
  const fields = [m.name, m.ip, m.bmcAddress, m.role, m.state, ...macForms].filter((v) => typeof v === 'string').map((v) => v.toLowerCase());
  return words.every((word) => fields.some((field) => field.includes(word)));
}

function progressCell(m) {
  if (m.state === 'installed' || m.state === 'ready') {
    return h('div', { class: 'progress done', title: m.state === 'ready' ? 'installed and up' : 'installed' }, h('div', { class: 'bar', style: { width: '100%' } }), h('span', null, 'done'));
  }
  if (m.state !== 'installing') return '';
  const p = m.progress;
  const label = p?.step ? `step ${p.step}` : p?.percent != null ? `${Math.round(p.percent)}%` : 'installing';
  const bar = p?.percent != null ? h('div', { class: 'bar', style: { width: `${p.percent}%` } }) : h('div', { class: 'bar indeterminate' });
  return h(
    'div',
    { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': p?.percent ?? undefined, title: p ? `${p.message} (${ago(p.at)})` : 'installing' },
    bar,
    h('span', null, label),
  );
}

function machineRow(m) {
  const problem = (m.state === 'failed' || m.state === 'stuck') && m.problem ? m.problem : null;
  const last = m.lastEvent;
  const row = h(
    'tr',
    {
      class: [`row-${m.state}`, state.selected === m.id ? 'selected' : '', state.flash.has(m.id) ? 'flash' : ''].join(' ').trim(),
      tabindex: 0,
      data: { id: m.id, name: m.name, state: m.state },
      onclick: () => select(m.id),
      onkeydown: (e) => {
        if (e.key === 'Enter') select(m.id);
      },
    },
    h('td', { class: 'name' }, m.name),
    h('td', { class: 'mono small col-macs' }, ...m.macs.flatMap((mac, i) => (i === 0 ? [mac] : [h('br'), mac]))),
    h('td', { class: 'mono small col-bmc' }, m.bmcAddress ?? h('span', { class: 'muted' }, '–')),
    h('td', { class: 'mono col-ip' }, m.ip ?? h('span', { class: 'muted' }, '–')),
    h('td', { class: 'col-role' }, m.role ? [m.role, h('span', { class: 'muted small' }, ` ${m.bootMode === 'memory' ? 'memory' : 'install'}`)] : h('span', { class: 'muted' }, 'menu')),
    h('td', { class: 'state' }, stateBadge(m.state), problem ? h('div', { class: 'reason', title: problem.message }, problem.message) : null),
    h(
      'td',
      { class: 'last' },
      last
        ? [h('span', { class: 'evtype' }, last.type), ' ', h('span', { class: 'msg', title: last.message }, last.message), h('div', { class: 'when', title: fullTime(last.at), data: { at: last.at } }, ago(last.at))]
        : h('span', { class: 'muted' }, '–'),
    ),
    h('td', { class: 'install' }, progressCell(m)),
  );
  return row;
}

/** id -> the row built for that machine object; a row is rebuilt only when what it shows changed. */
const rowCache = new Map();

function cachedRow(m) {
  const key = `${state.selected === m.id}|${state.flash.has(m.id)}`;
  const cached = rowCache.get(m.id);
  if (cached && cached.machine === m && cached.key === key) return cached.row;
  const row = machineRow(m);
  rowCache.set(m.id, { machine: m, key, row });
  return row;
}

function renderMachines() {
  const all = [...state.machines.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  const shown = all.filter(matches);
  for (const id of rowCache.keys()) if (!state.machines.has(id)) rowCache.delete(id);
  // move or replace only the rows that differ: 500 machines and one event touch one row
  const body = $('machines').tBodies[0];
  const rows = shown.map(cachedRow);
  const keep = new Set(rows);
  rows.forEach((row, i) => {
    const at = body.children[i];
    if (at === row) return;
    if (at && !keep.has(at)) body.replaceChild(row, at);
    else body.insertBefore(row, at ?? null);
  });
  while (body.children.length > shown.length) body.lastElementChild.remove();
  $('empty').hidden = all.length > 0;
  const filters = [state.stateFilter && `state ${state.stateFilter}`, state.search.trim() && `"${state.search.trim()}"`].filter(Boolean);
  refreshTimes();
  $('filter-note').textContent = filters.length > 0 ? `${shown.length} of ${all.length} shown (${filters.join(', ')})` : '';
}

/** "12 s ago" in the rows moves on in place: the rows themselves are not rebuilt for it. */
function refreshTimes() {
  for (const el of $('machines').querySelectorAll('.when[data-at]')) {
    const text = ago(Number(el.dataset.at));
    if (el.textContent !== text) el.textContent = text;
  }
}

function renderDiscovered() {
  const rows = state.discovered.map((d) =>
    h(
      'tr',
      { data: { mac: d.mac } },
      h('td', { class: 'mono' }, d.mac),
      h('td', null, [d.facts.firmware, d.facts.archName].filter(Boolean).join(', ') || '–'),
      h('td', { class: 'mono small' }, d.facts.uuid ?? '–'),
      h('td', { title: fullTime(d.lastSeen) }, ago(d.lastSeen)),
      h('td', null, d.sightings),
      h('td', null, h('button', { type: 'button', class: 'small', onclick: () => openAdopt(d) }, 'Adopt…')),
    ),
  );
  $('discovered').tBodies[0].replaceChildren(...rows);
  $('discovered-empty').hidden = state.discovered.length > 0;
  $('discovered').hidden = state.discovered.length === 0;
}

// ---------- the detail panel: facts, actions, timeline ----------

/** Set by a click: once the panel is drawn, bring it on screen (below the table on narrow screens). */
let revealDetail = false;

function select(id) {
  state.selected = state.selected === id ? null : id;
  revealDetail = state.selected !== null;
  scheduleRender();
  if (state.selected !== null) void loadTimeline(state.selected);
}

async function loadTimeline(id) {
  const m = state.machines.get(id);
  if (!m) return;
  state.timelineFor = id;
  state.timeline = [];
  try {
    const { events } = await api('GET', `/machines/${ref(m)}/events?limit=10000`);
    if (state.timelineFor !== id) return;
    const seen = new Set(state.timeline.map((e) => e.id));
    state.timeline = [...events.filter((e) => !seen.has(e.id)), ...state.timeline].sort((a, b) => a.id - b.id);
    renderDetail(true);
  } catch (error) {
    toast(`timeline of ${m.name}: ${error.message}`, 'error');
  }
}

function actionButton(label, onclick, options = {}) {
  return h('button', { type: 'button', class: options.class ?? '', disabled: options.disabled, title: options.title, onclick, data: options.data ?? {} }, label);
}

/** Keeps what the operator is typing: the action controls are built once per selected machine. */
let actionsFor = null;

function renderDetail(scrollToEnd = false) {
  const panel = $('detail');
  const m = state.selected === null ? null : state.machines.get(state.selected);
  $('layout').classList.toggle('with-detail', Boolean(m));
  if (!m) {
    panel.hidden = true;
    panel.replaceChildren();
    actionsFor = null;
    return;
  }
  panel.hidden = false;
  if (actionsFor?.id !== m.id || actionsFor.powerReason !== m.power.reason || actionsFor.roles !== state.overview.roles) {
    actionsFor = { id: m.id, powerReason: m.power.reason, roles: state.overview.roles, element: actionsBlock(m, actionsFor?.id === m.id ? actionsFor.element : null) };
    panel.replaceChildren(
      h('div', { class: 'detail-head' }),
      h('div', { class: 'detail-status' }),
      actionsFor.element,
      h('h3', { class: 'timeline-head' }),
      h('ol', { class: 'timeline', 'aria-label': `timeline of ${m.name}` }),
    );
    scrollToEnd = true;
  }
  const problem = (m.state === 'failed' || m.state === 'stuck') && m.problem ? m.problem : null;
  panel.querySelector('.detail-head').replaceChildren(
    h('h2', null, m.name),
    stateBadge(m.state),
    h('button', { type: 'button', class: 'ghost close', title: 'close', 'aria-label': 'close', onclick: () => select(m.id) }, '×'),
  );
  panel.querySelector('.detail-status').replaceChildren(
    problem ? h('div', { class: `problem problem-${m.state}` }, h('b', null, m.state === 'failed' ? 'Failed: ' : 'Stuck: '), problem.message, h('span', { class: 'muted' }, ` (${ago(problem.at)})`)) : '',
    m.state === 'installing' ? h('div', { class: 'detail-progress' }, progressCell(m)) : '',
    h(
      'dl',
      { class: 'facts' },
      h('dt', null, 'MACs'), h('dd', { class: 'mono' }, m.macs.join(', ')),
      h('dt', null, 'IP'), h('dd', { class: 'mono' }, m.ip ?? '–'),
      h('dt', null, 'BMC'), h('dd', { class: 'mono' }, m.bmcAddress ?? '–'),
      h('dt', null, 'UUID'), h('dd', { class: 'mono small' }, m.uuid ?? '–'),
      h('dt', null, 'Role'), h('dd', null, m.role ? `${m.role} (${m.bootMode})` : 'none: boots the menu'),
      h('dt', null, 'Labels'), h('dd', { class: 'detail-labels' }, labelChips(m.labels)),
      h('dt', null, 'State'), h('dd', null, stateBadge(m.state), ' ', h('span', { class: 'muted', title: fullTime(m.stateChangedAt) }, `since ${ago(m.stateChangedAt)}`)),
    ),
  );

  const events = state.timelineFor === m.id ? state.timeline : [];
  panel.querySelector('.timeline-head').replaceChildren('Timeline ', h('span', { class: 'muted small' }, `${events.length} events, live`));
  const list = panel.querySelector('.timeline');
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const shown = list.children.length;
  if (shown > events.length || (shown > 0 && Number(list.children[shown - 1].dataset.id) !== events[shown - 1]?.id)) list.replaceChildren();
  for (const e of events.slice(list.children.length)) {
    list.append(
      h(
        'li',
        { class: `ev ev-${e.type}`, data: { id: e.id, type: e.type } },
        h('time', { title: fullTime(e.at) }, clock(e.at)),
        h('span', { class: 'evtype' }, e.type),
        h('span', { class: e.type === 'progress' || e.type === 'installing' ? 'msg log' : 'msg' }, e.message),
      ),
    );
  }
  if (scrollToEnd || atEnd) list.scrollTop = list.scrollHeight;
  if (revealDetail) {
    revealDetail = false;
    const box = panel.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight - 80) panel.scrollIntoView({ block: 'start' });
  }
}

/** Role, reprovision and power controls; `previous` carries over the operator's choices. */
function actionsBlock(m, previous) {
  const current = () => state.machines.get(m.id) ?? m;
  const was = (name) => previous?.querySelector(`[name="${name}"]`);
  const roleSelect = h('select', { 'aria-label': 'role', name: 'role' }, h('option', { value: '' }, 'none (boot menu)'), ...state.overview.roles.map((r) => h('option', { value: r, selected: m.role === r }, r)));
  const modeSelect = h('select', { 'aria-label': 'boot mode', name: 'bootMode' }, h('option', { value: 'install', selected: m.bootMode !== 'memory' }, 'install to disk'), h('option', { value: 'memory', selected: m.bootMode === 'memory' }, 'in memory'));
  const pxe = h('input', { type: 'checkbox', checked: true, name: 'pxe' });
  if (previous) {
    roleSelect.value = was('role')?.value ?? roleSelect.value;
    modeSelect.value = was('bootMode')?.value ?? modeSelect.value;
    pxe.checked = was('pxe')?.checked ?? true;
  }
  const powerOff = !m.power.available;
  const powerTitle = powerOff ? m.power.reason : undefined;
  return h(
    'div',
    { class: 'actions' },
    h('h3', null, 'Actions'),
    h('div', { class: 'action-row' }, roleSelect, modeSelect, actionButton('Assign role', () => assignRole(current(), roleSelect.value || null, modeSelect.value), { data: { action: 'assign' } })),
    h(
      'div',
      { class: 'action-row' },
      actionButton('Reprovision', () => reprovision(current()), {
        data: { action: 'reprovision' },
        title: 'back to registered: the next PXE boot installs the role again instead of booting the disk',
      }),
    ),
    h(
      'div',
      { class: 'action-row power', title: powerTitle },
      actionButton('Power on', () => power(current(), 'on', pxe.checked), { disabled: powerOff, title: powerTitle, data: { action: 'power-on' } }),
      actionButton('Power off', () => power(current(), 'off', false), { disabled: powerOff, title: powerTitle, data: { action: 'power-off' } }),
      actionButton('Power cycle', () => power(current(), 'cycle', pxe.checked), { disabled: powerOff, title: powerTitle, data: { action: 'power-cycle' } }),
      h('label', { class: 'inline', title: 'set the next boot to the network (read back) before powering on' }, pxe, ' PXE next boot'),
    ),
    powerOff ? h('p', { class: 'muted small power-note' }, m.power.reason) : null,
    lifecycleBlock(current, { confirm: confirmAction, run, changed: applyMachine, deleted: forgetMachine }),
  );
}

function forgetMachine(m) {
  state.machines.delete(m.id);
  if (state.selected === m.id) state.selected = null;
  scheduleRender();
}

// ---------- actions ----------

async function run(what, work) {
  try {
    const result = await work();
    toast(what, 'ok');
    return result;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      toast(`${what}: ${error.message}`, 'error');
      openTokenDialog();
    } else toast(`${what} failed: ${error.message}`, 'error');
    return null;
  }
}

function applyMachine(machine) {
  if (!machine) return;
  state.machines.set(machine.id, machine);
  scheduleRender();
}

async function assignRole(m, role, bootMode) {
  applyMachine(await run(`${m.name}: role ${role ?? 'cleared'}`, () => api('PUT', `/machines/${ref(m)}/role`, { role, bootMode })));
}

/** Asks in the confirm dialog; resolves true only when the operator pressed the action's button. */
function confirmAction(message, actionLabel) {
  const dialog = $('confirm-dialog');
  $('confirm-message').textContent = message;
  $('confirm-ok').textContent = actionLabel;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }));
}

async function reprovision(m) {
  if (!(await confirmAction(`Reprovision ${m.name}? Its next PXE boot installs ${m.role ?? '(the boot menu)'} again and may overwrite its disk.`, 'Reprovision'))) return;
  applyMachine(await run(`${m.name}: reprovision`, () => api('POST', `/machines/${ref(m)}/reprovision`)));
}

async function power(m, action, pxe) {
  if (action !== 'on' && !(await confirmAction(`Power ${action} ${m.name}? ${action === 'off' ? 'It stops at once, without a shutdown.' : 'It restarts at once, without a shutdown.'}`, `Power ${action}`))) return;
  const result = await run(`${m.name}: power ${action}${pxe && action !== 'off' ? ' (PXE)' : ''}`, () => api('POST', `/machines/${ref(m)}/power`, { action, pxe }));
  if (result) applyMachine(result.machine);
}

// ---------- adopt / add ----------

function openAdopt(discovered) {
  const dialog = $('adopt-dialog');
  const form = $('adopt-form');
  form.reset();
  const roles = form.elements.namedItem('role');
  roles.replaceChildren(h('option', { value: '' }, 'none (boot menu)'), ...state.overview.roles.map((r) => h('option', { value: r }, r)));
  const mac = form.elements.namedItem('mac');
  mac.value = discovered?.mac ?? '';
  mac.readOnly = Boolean(discovered);
  form.elements.namedItem('name').value = discovered ? `node-${discovered.mac.replace(/:/g, '').slice(-6)}` : '';
  form.elements.namedItem('uuid').value = discovered?.facts?.uuid ?? '';
  $('adopt-title').textContent = discovered ? `Adopt ${discovered.mac}` : 'Add a machine';
  $('adopt-error').hidden = true;
  dialog.showModal();
}

async function submitAdopt(event) {
  event.preventDefault();
  const form = $('adopt-form');
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = { name: value('name'), macs: [value('mac')], ip: value('ip') || null, role: value('role') || null, bootMode: value('bootMode') };
  if (value('bmcAddress')) body.bmcAddress = value('bmcAddress');
  if (value('uuid')) body.uuid = value('uuid');
  try {
    const machine = await api('POST', '/machines', body);
    applyMachine(machine);
    $('adopt-dialog').close();
    toast(`${machine.name} registered`, 'ok');
    void loadDiscovered();
  } catch (error) {
    const message = error instanceof ApiError && error.status === 401 ? `${error.message}. Set the API token first.` : error.message;
    $('adopt-error').textContent = message;
    $('adopt-error').hidden = false;
  }
}

// ---------- token ----------

function openTokenDialog() {
  const dialog = $('token-dialog');
  if (dialog.open) return;
  $('token-input').value = getToken();
  dialog.showModal();
}

function renderTokenButton() {
  const has = getToken() !== '';
  $('token-button').textContent = has ? 'API token ✓' : 'Set API token';
  $('token-button').classList.toggle('warn', !has);
  $('token-button').title = has ? 'actions are sent with the saved API token' : 'actions need the API token';
}

// ---------- toasts ----------

function toast(text, kind) {
  const item = h('div', { class: `toast ${kind}` }, text);
  $('toasts').append(item);
  setTimeout(() => item.remove(), kind === 'error' ? 8000 : 3500);
}

// ---------- data and the live stream ----------

// ---------- BMCs and the static-IP plan ----------

function planRow(c) {
  const name = c.name ?? '–';
  const address = c.action === 'update' ? (c.ipFrom === c.ipTo ? c.ipTo : `${c.ipFrom ?? '(none)'} → ${c.ipTo}`) : (c.ip ?? '–');
  const why = c.action === 'conflict' ? c.reasons.join('; ') : c.action === 'skip' ? c.reason : c.action === 'add' ? `MACs ${c.macs.join(', ')}` : c.action === 'update' && c.link ? 'link to its BMC' : '';
  return h(
    'tr',
    { class: `plan-${c.action}` },
    h('td', null, h('span', { class: `badge plan-${c.action}` }, c.action)),
    h('td', { class: 'mono' }, c.bmc),
    h('td', null, name),
    h('td', { class: 'mono' }, address),
    h('td', { class: 'small' }, why),
  );
}

function renderIpmi() {
  $('bmcs').tBodies[0].replaceChildren(
    ...state.bmcs.map((b) =>
      h(
        'tr',
        { class: b.lastError ? 'problem' : '' },
        h('td', { class: 'mono' }, b.address),
        h('td', { class: 'mono small' }, b.guid ?? '–'),
        h('td', { class: 'mono small' }, b.hostMacs.map((m) => m.mac ?? m).join(', ') || '–'),
        h('td', { class: 'small' }, b.session ?? '–'),
        h('td', { title: b.lastSeen ? fullTime(b.lastSeen) : '' }, b.lastSeen ? ago(b.lastSeen) : 'never'),
        h('td', { class: 'small' }, b.lastError ? `${b.lastErrorKind ?? 'error'}: ${b.lastError}` : ''),
      ),
    ),
  );
  $('bmcs-empty').hidden = state.bmcs.length > 0;
  $('bmcs').hidden = state.bmcs.length === 0;
  const plan = state.plan?.plan;
  const changes = plan ? plan.changes.filter((c) => c.action !== 'unchanged') : [];
  $('plan').tBodies[0].replaceChildren(...changes.map(planRow));
  $('plan').hidden = changes.length === 0;
  const note = $('plan-note');
  note.hidden = changes.length > 0;
  note.textContent = !state.plan ? '' : !plan ? state.plan.reason : 'Every discovered machine already has the address the rule gives it.';
  $('plan-summary').textContent = plan
    ? Object.entries(plan.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')
    : '';
  const apply = $('plan-apply');
  apply.disabled = !plan || !plan.applicable || changes.every((c) => c.action === 'skip');
  apply.title = !plan ? state.plan?.reason ?? '' : plan.applicable ? 'commit every change in one transaction' : 'resolve the conflicts first: nothing is applied while any remain';
}

async function loadIpmi() {
  try {
    const [bmcs, plan] = await Promise.all([api('GET', '/bmcs'), api('GET', '/ip-plan')]);
    state.bmcs = bmcs.bmcs;
    state.plan = plan;
    renderIpmi();
  } catch (error) {
    toast(`BMCs and IP plan: ${error.message}`, 'error');
  }
}

async function applyPlan() {
  if (!(await confirmAction('Apply the static-IP plan? Every change is committed in one transaction.', 'Apply plan'))) return;
  const result = await run('static-IP plan applied', () => api('POST', '/ip-plan/apply'));
  if (result) void loadIpmi();
}

async function loadDiscovered() {
  try {
    state.discovered = (await api('GET', '/discovered')).discovered;
    renderDiscovered();
  } catch (error) {
    toast(`discovered machines: ${error.message}`, 'error');
  }
}

let discoveredTimer = null;
function refreshDiscoveredSoon() {
  clearTimeout(discoveredTimer);
  discoveredTimer = setTimeout(() => void loadDiscovered(), 300);
}

const flashTimers = new Map();
function flash(id) {
  state.flash.add(id);
  clearTimeout(flashTimers.get(id));
  flashTimers.set(
    id,
    setTimeout(() => {
      state.flash.delete(id);
      scheduleRender();
    }, 1500),
  );
}

function onEvent(event, machine) {
  if (machine) {
    state.machines.set(machine.id, machine);
    flash(machine.id);
  }
  if (event.machineId === null || event.type === 'discovered' || event.type === 'registered') refreshDiscoveredSoon();
  if (event.machineId !== null && event.machineId === state.timelineFor && !state.timeline.some((e) => e.id === event.id)) state.timeline.push(event);
  scheduleRender();
}

let source = null;
function setLive(mode, text) {
  const live = $('live');
  live.dataset.state = mode;
  live.textContent = text;
}

function connect(after) {
  source?.close();
  source = new EventSource(`/api/v1/events/stream?after=${after}`);
  source.addEventListener('open', () => setLive('live', 'live'));
  source.addEventListener('error', () => setLive('down', 'reconnecting…'));
  source.addEventListener('event', (message) => {
    const { event, machine } = JSON.parse(message.data);
    onEvent(event, machine);
  });
  source.addEventListener('reset', () => void load());
}

async function load() {
  try {
    const [overview, list] = await Promise.all([api('GET', '/overview'), api('GET', '/machines')]);
    state.overview = overview;
    state.machines = new Map(list.machines.map((m) => [m.id, m]));
    scheduleRender();
    connect(list.latestEventId);
    if (state.selected !== null) void loadTimeline(state.selected);
  } catch (error) {
    setLive('down', 'offline');
    toast(`cannot load the inventory: ${error.message}`, 'error');
    setTimeout(() => void load(), 3000);
  }
  void loadDiscovered();
  void loadIpmi();
}

function init() {
  $('search').addEventListener('input', (e) => {
    state.search = e.target.value;
    scheduleRender();
  });
  $('token-button').addEventListener('click', openTokenDialog);
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('token-input').value.trim());
    $('token-dialog').close();
    renderTokenButton();
  });
  $('token-clear').addEventListener('click', () => {
    setToken('');
    $('token-dialog').close();
    renderTokenButton();
  });
  $('token-cancel').addEventListener('click', () => $('token-dialog').close());
  $('add-button').addEventListener('click', () => openAdopt(null));
  $('plan-apply').addEventListener('click', () => void applyPlan());
  $('adopt-form').addEventListener('submit', (e) => void submitAdopt(e));
  $('adopt-cancel').addEventListener('click', () => $('adopt-dialog').close());
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && state.selected !== null && !document.querySelector('dialog[open]')) select(state.selected);
  });
  // relative times ("3 min ago") move on
  setInterval(scheduleRender, 15_000);
  renderTokenButton();
  void load();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
window.rackboot = state;
