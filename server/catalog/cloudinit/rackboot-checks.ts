/**
 * Checks rackboot adds (§1.4 "Gaps our validator should add"): things Flatcar accepts at validation
 * time but applies wrongly or not at all on a bare-metal machine.
 */
import { Rank } from './findings.js';
import type { RankedFinding } from './findings.js';
import { goQuote } from './go-format.js';
import { CLOUD_CONFIG, findField } from './schema.js';
import type { SchemaType } from './schema.js';
import { deref, isMergeKey } from './yaml-decode.js';
import { NULL } from './yaml-nodes.js';
import type { YMap, YNode } from './yaml-nodes.js';
const UNIT_TYPES = new Set([
  'service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'slice', 'scope',
  'network', 'netdev', 'link',
]);

const INITIAL_CLUSTER_ITEM = /^[^=,\s]+=[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s,]+$/;

export function rackbootChecks(root: YNode | undefined, text: string): RankedFinding[] {
  const findings: RankedFinding[] = [];
  const add = (kind: 'error' | 'warning', line: number, message: string) => findings.push({ kind, line, message, rank: Rank.Rackboot });

  // substitution variables are replaced textually before parsing (initialize/env.go)
  text.split('\n').forEach((line, index) => {
    const seen = new Set<string>();
    for (const m of line.matchAll(/(?<!\\)\$(?:public|private)_ipv[46]/g)) {
      const variable = m[0];
      if (seen.has(variable)) continue;
      seen.add(variable);
      add('error', index + 1, `${variable} becomes an empty string on bare metal (cloud-config-url has no metadata): render the address`);
    }
  });
  if (root === undefined) return findings;

  const visiting = new Set<YNode>();
  const walk = (node: YNode, type: SchemaType, path: string) => {
    const target = deref(node);
    if (visiting.has(target)) return;
    visiting.add(target);
    try {
      if (type.kind === 'slice' && target.kind === 'seq') {
        target.items.forEach((item, i) => walk(item, type.elem, `${path}[${i}]`));
      } else if (type.kind === 'struct' && target.kind === 'map') {
        const values = new Map<string, YNode>();
        for (const { key, value, keyNode } of effectivePairs(target)) {
          let field = findField(type, key);
          if (!field && key.includes('-')) {
            field = findField(type, key.replace(/-/g, '_'));
            if (field) add('error', keyNode.line, `key "${key}" is ignored by Flatcar >= 3975.2.0 (only "${field.key}" is read)`);
          }
          if (!field) continue;
          values.set(field.key, value);
          walk(value, field.type, path ? `${path}.${field.key}` : field.key);
        }
        structChecks(type, path, target, values, add);
      }
    } finally {
      visiting.delete(target);
    }
  };
  walk(root, CLOUD_CONFIG, '');
  return findings;
}

function structChecks(
  type: Extract<SchemaType, { kind: 'struct' }>,
  path: string,
  node: YMap,
  values: Map<string, YNode>,
  add: (kind: 'error' | 'warning', line: number, message: string) => void,
): void {
  const text = (key: string): string | undefined => {
    const value = values.get(key);
    const target = value === undefined ? undefined : deref(value);
    return target?.kind === 'scalar' && target.tag !== NULL ? target.value : undefined;
  };
  const lineOf = (key: string) => (values.get(key) ? deref(values.get(key) as YNode).line : node.line);
  switch (type.goType) {
    case 'config.CloudConfig': {
      const hosts = text('manage_etc_hosts');
      if (hosts !== undefined && hosts !== '' && hosts !== 'localhost') {
        add('error', lineOf('manage_etc_hosts'), `manage_etc_hosts ${goQuote(hosts)} makes coreos-cloudinit fail ("Invalid option to manage_etc_hosts"): only "localhost" is supported`);
      }
      break;
    }
    case 'config.Unit': {
      const name = text('name');
      if (!name) {
        add('error', node.line, `${path} has no name: coreos-cloudinit skips it`);
        break;
      }
      const dot = name.lastIndexOf('.');
      if (dot < 0 || !UNIT_TYPES.has(name.slice(dot + 1))) {
        add('error', lineOf('name'), `unit name ${goQuote(name)} does not end in a unit type (.service, .socket, .timer, .mount, .network, ...)`);
      }
      break;
    }
    case 'config.UnitDropIn':
      if (!text('name') || !text('content')) add('error', node.line, `${path} needs both a name and a content: coreos-cloudinit skips it`);
      break;
    case 'config.User':
      if (!text('name')) add('error', node.line, `${path} has no name`);
      break;
    case 'config.File': {
      const path_ = text('path');
      if (!path_) add('error', node.line, `${path} has no path`);
      else if (!path_.startsWith('/')) add('error', lineOf('path'), `write_files path ${goQuote(path_)} is not absolute`);
      break;
    }
    case 'config.Etcd2': {
      const cluster = text('initial_cluster');
      if (cluster && !cluster.split(',').every((item) => INITIAL_CLUSTER_ITEM.test(item.trim()))) {
        add('warning', lineOf('initial_cluster'), `initial_cluster ${goQuote(cluster)} is not name=url[,name=url...]`);
      }
      break;
    }
    default:
      break;
  }
}

/** The pairs a map really has: its own keys, then keys from `<<` sources it does not set itself. */
function effectivePairs(node: YMap, seen = new Set<YMap>()): Array<{ key: string; value: YNode; keyNode: YNode }> {
  if (seen.has(node)) return [];
  seen.add(node);
  const own: Array<{ key: string; value: YNode; keyNode: YNode }> = [];
  const merged: Array<{ key: string; value: YNode; keyNode: YNode }> = [];
  for (const { key, value } of node.pairs) {
    if (isMergeKey(key)) {
      const source = deref(value);
      const sources = source.kind === 'seq' ? source.items.map(deref) : [source];
      for (const s of sources) if (s.kind === 'map') merged.push(...effectivePairs(s, seen));
      continue;
    }
    const k = deref(key);
    if (k.kind === 'scalar' && k.tag !== NULL) own.push({ key: k.value, value, keyNode: key });
  }
  const names = new Set(own.map((p) => p.key));
  for (const pair of merged) {
    if (names.has(pair.key)) continue;
    names.add(pair.key);
    own.push(pair);
  }
  return own;
}
