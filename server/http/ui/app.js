/* global document, window, EventSource, requestAnimationFrame, Element */
/**
 * rackboot's dashboard: the machines table with counts by state, a machine's timeline, the
 * operator's actions, live over Server-Sent Events. Plain ES modules, no build step.
 */
import { api, ApiError, getToken, ref, setToken } from './api.js';
import { ago, clock, fullTime, h } from './dom.js';
import { machineFilter, NO_ROLE } from './filter.js';
import { labelChips, lifecycleBlock } from './lifecycle.js';

const STATE_ORDER = ['failed', 'stuck', 'installing', 'powering-on', 'dhcp', 'firmware-loaded', 'ipxe', 'booting', 'configured', 'booted', 'installed', 'ready', 'registered', 'discovered'];

const state = {
  /** @type {Map<number, any>} */ machines: new Map(),
  discovered: [],
  /** the cursor of the next page of discovered clients; null: none */
  discoveredNext: /** @type {string | null} */ (null),
  bmcs: [],
  plan: /** @type {any} */ (null),
  overview: { roles: [], bootModes: ['install', 'memory'], power: { configured: false, reason: null } },
  selected: /** @type {number | null} */ (null),
  /** the row j/k and the arrows move, Enter opens */
  cursor: /** @type {number | null} */ (null),
  timeline: [],
  timelineFor: /** @type {number | null} */ (null),
  stateFilter: /** @type {string | null} */ (null),
  roleFilter: /** @type {string | null} */ (null),
  labelFilter: '',
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

let countsKey = '';
function renderCounts() {
  const counts = new Map();
  for (const m of state.machines.values()) counts.set(m.state, (counts.get(m.state) ?? 0) + 1);
  const key = `${state.stateFilter}|${state.machines.size}|${[...counts].join(',')}`;
  if (key === countsKey) return;
  countsKey = key;
  const chips = [
    h('button', { type: 'button', class: `chip total${state.stateFilter === null ? ' active' : ''}`, 'aria-pressed': String(state.stateFilter === null), onclick: () => setFilter(null) }, h('b', null, state.machines.size), ' machines'),
  ];
  for (const s of STATE_ORDER) {
    const n = counts.get(s) ?? 0;
    if (n === 0 && s !== 'failed' && s !== 'stuck') continue;
    chips.push(
      h(
        'button',
        { type: 'button', class: `chip state-${s}${n === 0 ? ' zero' : ''}${state.stateFilter === s ? ' active' : ''}`, 'aria-pressed': String(state.stateFilter === s), title: `show only ${s} machines`, data: { state: s }, onclick: () => setFilter(state.stateFilter === s ? null : s) },
        h('b', null, n),
        ` ${s}`,
      ),
    );
  }
  $('counts').replaceChildren(...chips);
}

function setFilter(s) {
  state.stateFilter = s;
  listChanged();
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

/** One row, two lines at most: every row has the same height, so the list can be virtualised. */
function machineRow(m) {
  const problem = (m.state === 'failed' || m.state === 'stuck') && m.problem ? m.problem : null;
  const last = m.lastEvent;
  const more = m.macs.length > 1 ? h('span', { class: 'muted', title: m.macs.join(', ') }, ` +${m.macs.length - 1}`) : null;
  return h(
    'tr',
    {
      class: [`m row-${m.state}`, state.selected === m.id ? 'selected' : '', state.cursor === m.id ? 'cursor' : '', state.flash.has(m.id) ? 'flash' : ''].join(' ').trim(),
      id: `machine-${m.id}`,
      tabindex: state.cursor === m.id ? 0 : -1,
      'aria-selected': String(state.selected === m.id),
      data: { id: m.id, name: m.name, state: m.state },
      onclick: () => {
        state.cursor = m.id;
        select(m.id);
      },
    },
    // the IP under the name shows only on narrow screens, where the IP column does not
    h('td', { class: 'name', title: m.name }, m.name, h('div', { class: 'sub mono small muted' }, m.ip ?? '')),
    h('td', { class: 'mono small col-macs' }, m.macs[0] ?? '', more),
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
}

/** id -> the row built for that machine object; a row is rebuilt only when what it shows changed. */
const rowCache = new Map();

function cachedRow(m) {
  const key = `${state.selected === m.id}|${state.flash.has(m.id)}|${state.cursor === m.id}`;
  const cached = rowCache.get(m.id);
  if (cached && cached.machine === m && cached.key === key) return cached.row;
  const row = machineRow(m);
  rowCache.set(m.id, { machine: m, key, row });
  return row;
}

// ---------- the machine list: sorted and filtered once per change, drawn only where it is visible ----------

const byName = new Intl.Collator('en', { numeric: true });
/** Rows drawn beyond the visible ones, above and below, so a scroll step shows no gap. */
const OVERSCAN = 8;
/** Until a row is measured: the CSS gives every row this height (two lines). */
let rowHeight = 50;

const list = {
  /** every machine, by name; rebuilt when a machine comes, goes or is renamed */
  sorted: /** @type {any[] | null} */ (null),
  /** the machines the filters let through, in order */
  shown: /** @type {any[]} */ ([]),
  /** the filters or a machine changed: `shown` is computed again on the next render */
  dirty: true,
  filterError: /** @type {string | null} */ (null),
};

/** A machine was added, removed or renamed: the order is computed again. */
function orderChanged() {
  list.sorted = null;
  listChanged();
}

function listChanged() {
  list.dirty = true;
  scheduleRender();
}

function refreshShown() {
  if (list.sorted === null) list.sorted = [...state.machines.values()].sort((a, b) => byName.compare(a.name, b.name));
  else list.sorted = list.sorted.map((m) => state.machines.get(m.id)).filter(Boolean);
  const filter = machineFilter({ state: state.stateFilter, role: state.roleFilter, labels: state.labelFilter, search: state.search });
  list.filterError = filter.ok ? null : filter.error;
  list.shown = filter.ok ? list.sorted.filter(filter.test) : list.sorted;
  list.dirty = false;
  for (const id of rowCache.keys()) if (!state.machines.has(id)) rowCache.delete(id);
  if (state.cursor !== null && !list.shown.some((m) => m.id === state.cursor)) state.cursor = null;
}

function spacer(kind) {
  return h('tr', { class: `spacer spacer-${kind}`, 'aria-hidden': 'true' }, h('td', { colspan: 8 }));
}
const spacers = { top: null, bottom: null };

/** The rows inside the scrolled window of the list (and OVERSCAN more each side). */
function visibleRange() {
  const scroller = $('machines-scroll');
  const head = $('machines').tHead.offsetHeight;
  const first = Math.max(0, Math.floor((scroller.scrollTop - head) / rowHeight) - OVERSCAN);
  const count = Math.ceil(scroller.clientHeight / rowHeight) + 2 * OVERSCAN;
  return { first, last: Math.min(list.shown.length, first + count) };
}

function renderMachines() {
  if (list.dirty) refreshShown();
  const { first, last } = visibleRange();
  const rows = list.shown.slice(first, last).map(cachedRow);
  rows.forEach((row, i) => {
    row.setAttribute('aria-rowindex', String(first + i + 2));
  });
  spacers.top ??= spacer('top');
  spacers.bottom ??= spacer('bottom');
  spacers.top.firstChild.style.height = `${first * rowHeight}px`;
  spacers.bottom.firstChild.style.height = `${(list.shown.length - last) * rowHeight}px`;
  spacers.top.hidden = first === 0;
  spacers.bottom.hidden = last === list.shown.length;
  // move or replace only the rows that differ: one event touches one row, a scroll step a few
  const body = $('machines').tBodies[0];
  const focused = document.activeElement?.closest?.('#machines tbody tr[data-id]') ?? null;
  const wanted = [spacers.top, ...rows, spacers.bottom];
  const keep = new Set(wanted);
  wanted.forEach((row, i) => {
    const at = body.children[i];
    if (at === row) return;
    if (at && !keep.has(at)) body.replaceChild(row, at);
    else body.insertBefore(row, at ?? null);
  });
  while (body.children.length > wanted.length) body.lastElementChild.remove();
  // a rebuilt row (selected, flashed, changed) takes the focus over from the one it replaced; the
  // focused row is the cursor's (focusin), unless the cursor has just moved on: then it goes there
  if (focused && !focused.isConnected) document.getElementById(`machine-${state.cursor}`)?.focus({ preventScroll: true });
  // the roving tab stop: the cursor's row, else the first one in view
  const inView = Math.floor(($('machines-scroll').scrollTop - $('machines').tHead.offsetHeight) / rowHeight) - first + 1;
  const stop = rows.some((row) => row.id === `machine-${state.cursor}`) ? `machine-${state.cursor}` : rows[Math.min(rows.length - 1, Math.max(0, inView))]?.id;
  for (const row of rows) {
    const tabIndex = row.id === stop ? 0 : -1;
    if (row.tabIndex !== tabIndex) row.tabIndex = tabIndex;
  }
  // the mean of the drawn rows (the CSS gives them one height; the mean keeps a stray one from moving the list)
  const measured = rows.length > 0 ? (rows.at(-1).getBoundingClientRect().bottom - rows[0].getBoundingClientRect().top) / rows.length : 0;
  if (measured && Math.abs(measured - rowHeight) > 0.05) {
    rowHeight = measured;
    scheduleRender();
  }
  $('machines').setAttribute('aria-rowcount', String(list.shown.length + 1));
  $('empty').hidden = state.machines.size > 0;
  refreshTimes();
  const filters = [state.stateFilter && `state ${state.stateFilter}`, state.roleFilter && `role ${state.roleFilter === NO_ROLE ? 'none' : state.roleFilter}`, state.labelFilter.trim() && `labels ${state.labelFilter.trim()}`, state.search.trim() && `"${state.search.trim()}"`].filter(Boolean);
  const note = list.filterError ?? (filters.length > 0 ? `${list.shown.length} of ${state.machines.size} shown (${filters.join(', ')})` : '');
  if ($('filter-note').textContent !== note) $('filter-note').textContent = note;
  $('filter-note').classList.toggle('error', list.filterError !== null);
  $('label-filter').setAttribute('aria-invalid', String(list.filterError !== null));
}

/** "12 s ago" in the rows moves on in place: the rows themselves are not rebuilt for it. */
function refreshTimes() {
  for (const el of $('machines').querySelectorAll('.when[data-at]')) {
    const text = ago(Number(el.dataset.at));
    if (el.textContent !== text) el.textContent = text;
  }
}

function renderRoleFilter() {
  const select = $('role-filter');
  const value = state.roleFilter ?? '';
  select.replaceChildren(h('option', { value: '' }, 'any role'), h('option', { value: NO_ROLE }, 'no role (menu)'), ...state.overview.roles.map((r) => h('option', { value: r }, r)));
  select.value = value;
}

// ---------- keyboard: j/k or the arrows move, Enter opens, / searches, Esc closes ----------

function moveCursor(delta) {
  if (list.dirty) refreshShown();
  if (list.shown.length === 0) return;
  const at = state.cursor === null ? -1 : list.shown.findIndex((m) => m.id === state.cursor);
  const index = at === -1 ? (delta > 0 ? 0 : list.shown.length - 1) : Math.min(list.shown.length - 1, Math.max(0, at + delta));
  state.cursor = list.shown[index].id;
  scrollToIndex(index);
  renderMachines();
  revealCursor();
  focusCursor();
  // with the panel open it follows the cursor
  if (state.selected !== null && state.selected !== state.cursor) select(state.cursor);
}

/** Corrects the estimate of scrollToIndex with where the drawn row really is. */
function revealCursor() {
  const row = document.getElementById(`machine-${state.cursor}`);
  if (!row) return;
  const scroller = $('machines-scroll');
  const view = scroller.getBoundingClientRect();
  const top = view.top + $('machines').tHead.offsetHeight;
  const box = row.getBoundingClientRect();
  const shift = box.top < top ? box.top - top : box.bottom > view.top + scroller.clientHeight ? box.bottom - (view.top + scroller.clientHeight) : 0;
  if (Math.abs(shift) < 1) return;
  scroller.scrollTop += shift;
  renderMachines();
}

/** Scrolls the list just enough that row `index` is inside it, below the sticky header. */
function scrollToIndex(index) {
  const scroller = $('machines-scroll');
  const head = $('machines').tHead.offsetHeight;
  const top = head + index * rowHeight;
  if (top - head < scroller.scrollTop) scroller.scrollTop = top - head;
  else if (top + rowHeight > scroller.scrollTop + scroller.clientHeight) scroller.scrollTop = top + rowHeight - scroller.clientHeight;
}

function focusCursor() {
  const row = state.cursor === null ? null : document.getElementById(`machine-${state.cursor}`);
  row?.focus({ preventScroll: true });
}

const typing = (target) => target instanceof Element && (target.closest('input, select, textarea, dialog') !== null || target.isContentEditable);
/** Keys that belong to the list only when the focus is on it (or nowhere): Enter on a button stays the button's. */
const onList = (target) => !(target instanceof Element) || target === document.body || target.closest('#machines-scroll') !== null;

function onKey(e) {
  if (e.defaultPrevented || e.altKey || e.ctrlKey || e.metaKey || document.querySelector('dialog[open]')) return;
  if (e.key === 'Escape') {
    if (state.selected !== null) {
      select(state.selected);
      focusCursor();
    } else if (e.target === $('search') || e.target === $('label-filter')) {
      // leave the box and keep its text (a search field would clear itself)
      e.preventDefault();
      e.target.blur();
      focusCursor();
    }
    return;
  }
  if (typing(e.target)) return;
  if (e.key === '/') {
    e.preventDefault();
    $('search').focus();
    $('search').select();
    return;
  }
  if (!onList(e.target)) return;
  const page = Math.max(1, Math.floor($('machines-scroll').clientHeight / rowHeight) - 1);
  const moves = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
  if (Object.hasOwn(moves, e.key)) {
    e.preventDefault();
    const delta = moves[e.key];
    moveCursor(Number.isFinite(delta) ? delta : delta > 0 ? list.shown.length : -list.shown.length);
  } else if (e.key === 'Enter' && state.cursor !== null) {
    e.preventDefault();
    if (state.selected !== state.cursor) select(state.cursor);
  }
}

// ---------- the Discovered table: newest first, a page at a time ----------

/** Discovered clients per "Load more"; the table stops at MAX_DISCOVERED rows. */
const DISCOVERED_PAGE = 100;
const MAX_DISCOVERED = 2000;

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
  const capped = state.discovered.length >= MAX_DISCOVERED;
  $('discovered-more').hidden = state.discoveredNext === null || capped;
  $('discovered-note').textContent =
    state.discovered.length === 0 ? '' : `${state.discovered.length} shown, newest first${capped && state.discoveredNext !== null ? ` (the table stops at ${MAX_DISCOVERED}; GET /api/v1/discovered pages through the rest)` : state.discoveredNext === null ? '' : ', more below'}`;
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
  orderChanged();
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

/** A machine as the API returned it: the list re-sorts only when one is new or renamed. */
function putMachine(machine) {
  const before = state.machines.get(machine.id);
  state.machines.set(machine.id, machine);
  if (!before || before.name !== machine.name) orderChanged();
  else listChanged();
}

function applyMachine(machine) {
  if (!machine) return;
  putMachine(machine);
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
        h('td', { class: 'small' }, b.protocol ?? '–'),
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

const discoveredPath = (limit, after) => `/discovered?limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`;
/** Bumped by every load: an answer to an older one is dropped. */
let discoveredLoad = 0;

/** Reloads as many discovered clients as the table shows (at least a page), following `next`. */
async function loadDiscovered() {
  const load = ++discoveredLoad;
  const wanted = Math.min(MAX_DISCOVERED, Math.max(DISCOVERED_PAGE, state.discovered.length));
  try {
    const found = [];
    let next = null;
    for (let pages = 0; pages < Math.ceil(MAX_DISCOVERED / DISCOVERED_PAGE); pages++) {
      const page = await api('GET', discoveredPath(Math.min(1000, wanted - found.length), next));
      found.push(...page.discovered);
      next = page.next ?? null;
      if (next === null || found.length >= wanted) break;
    }
    if (load !== discoveredLoad) return;
    state.discovered = found;
    state.discoveredNext = next;
    renderDiscovered();
  } catch (error) {
    toast(`discovered machines: ${error.message}`, 'error');
  }
}

async function loadMoreDiscovered() {
  if (state.discoveredNext === null) return;
  const load = ++discoveredLoad;
  try {
    const page = await api('GET', discoveredPath(DISCOVERED_PAGE, state.discoveredNext));
    if (load !== discoveredLoad) return;
    const known = new Set(state.discovered.map((d) => d.mac));
    state.discovered = [...state.discovered, ...page.discovered.filter((d) => !known.has(d.mac))].slice(0, MAX_DISCOVERED);
    state.discoveredNext = page.next ?? null;
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
    putMachine(machine);
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

/** /machines comes in pages (`next`); the dashboard reads at most this many of them. */
const MAX_MACHINE_PAGES = 20;

/** Every machine, page after page; the first page's event id, so the stream replays what changed meanwhile. */
async function fetchMachines() {
  const first = await api('GET', '/machines');
  const machines = [...first.machines];
  let next = first.next ?? null;
  for (let pages = 1; next !== null && pages < MAX_MACHINE_PAGES; pages++) {
    const page = await api('GET', `/machines?after=${encodeURIComponent(next)}`);
    machines.push(...page.machines);
    next = page.next ?? null;
  }
  if (next !== null) toast(`the dashboard shows the first ${machines.length} machines; the CLI lists them all`, 'error');
  return { machines, latestEventId: first.latestEventId };
}

async function load() {
  try {
    const [overview, fetched] = await Promise.all([api('GET', '/overview'), fetchMachines()]);
    state.overview = overview;
    state.machines = new Map(fetched.machines.map((m) => [m.id, m]));
    renderRoleFilter();
    orderChanged();
    connect(fetched.latestEventId);
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
    listChanged();
  });
  $('role-filter').addEventListener('change', (e) => {
    state.roleFilter = e.target.value || null;
    listChanged();
  });
  $('label-filter').addEventListener('input', (e) => {
    state.labelFilter = e.target.value;
    listChanged();
  });
  $('discovered-more').addEventListener('click', () => void loadMoreDiscovered());
  // Tab into the list: the focused row becomes the cursor. A mouse press focuses the row too: then
  // the row is not redrawn before the click, or the click would land on a replaced row and be lost.
  let pressing = false;
  $('machines').tBodies[0].addEventListener('pointerdown', () => {
    pressing = true;
  });
  window.addEventListener('pointerup', () => setTimeout(() => (pressing = false)), true);
  $('machines').tBodies[0].addEventListener('focusin', (e) => {
    const id = Number(e.target.closest?.('tr[data-id]')?.dataset.id);
    if (Number.isInteger(id) && id !== state.cursor) {
      state.cursor = id;
      if (!pressing) scheduleRender();
    }
  });
  // scrolling draws the rows that came into view, nothing else
  let windowQueued = false;
  const drawWindow = () => {
    if (windowQueued) return;
    windowQueued = true;
    requestAnimationFrame(() => {
      windowQueued = false;
      renderMachines();
    });
  };
  $('machines-scroll').addEventListener('scroll', drawWindow, { passive: true });
  window.addEventListener('resize', drawWindow);
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
  document.addEventListener('keydown', onKey);
  // relative times ("3 min ago") move on
  setInterval(scheduleRender, 15_000);
  renderTokenButton();
  void load();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
window.rackboot = state;
