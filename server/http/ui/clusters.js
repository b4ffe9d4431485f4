/* global document */
/**
 * The dashboard's etcd panel: each cluster's health from GET /api/v1/clusters (members, leader, who
 * is missing, cold start), refreshed every 15 s. Its own file and section, independent of the
 * machine list.
 */
import { api } from './api.js';
import { ago, h } from './dom.js';

const REFRESH_MS = 15_000;

function row(cluster) {
  const members = cluster.members.map((m) => h('span', { class: m.healthy ? 'member' : 'member down', title: `id ${m.id}, ${m.peerUrl}` }, m.name, m.name === cluster.leader ? ' ★' : ''));
  return h(
    'tr',
    { data: { state: cluster.state } },
    h('td', null, cluster.cluster),
    h('td', null, h('span', { class: `cluster-state ${cluster.state}` }, cluster.state)),
    h('td', null, cluster.leader ?? '—'),
    h('td', null, ...(members.length > 0 ? members : ['—'])),
    h('td', null, cluster.missing.length > 0 ? cluster.missing.join(', ') : '—'),
    h('td', { class: 'wide', title: cluster.message }, cluster.message, h('span', { class: 'muted' }, ` (${ago(cluster.checkedAt)})`)),
  );
}

async function refresh() {
  const body = document.querySelector('#clusters tbody');
  const empty = document.getElementById('clusters-empty');
  if (!body || !empty) return;
  try {
    const { clusters } = await api('GET', '/clusters');
    body.replaceChildren(...clusters.map(row));
    empty.hidden = clusters.length > 0;
  } catch (error) {
    empty.hidden = false;
    empty.textContent = `etcd health unavailable: ${error.message}`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

refresh();
