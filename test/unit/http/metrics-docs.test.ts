/**
 * The alert examples of the docs are correct PromQL for the metrics' real types (issue 16: an alert
 * applied increase() to a gauge). Every `expr:` and every inline expression that names a rackboot
 * metric is checked against the TYPE lines of a real /metrics scrape.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { EventFeed } from '../../../server/http/events-stream.js';
import { metricsRoutes } from '../../../server/http/metrics.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const COUNTER_FUNCTIONS = ['increase', 'rate', 'irate', 'resets'];
const GAUGE_FUNCTIONS = ['delta', 'idelta', 'deriv', 'predict_linear'];

async function metricTypes(): Promise<Map<string, string>> {
  const app = Fastify();
  const feed = { subscribe: () => () => {} } as unknown as EventFeed;
  await metricsRoutes(app, { inventory: { listMachines: () => [], machineById: () => null, listEvents: () => [] }, feed, defaultMetrics: false, sources: {} });
  try {
    const text = (await app.inject('/metrics')).body;
    return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]));
  } finally {
    await app.close();
  }
}

function typeOf(types: Map<string, string>, name: string): string | undefined {
  const direct = types.get(name);
  if (direct !== undefined) return direct;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const parent = types.get(base);
  return parent === 'histogram' || parent === 'summary' ? 'counter' : undefined;
}

/** PromQL expressions of the docs: `expr:` lines and inline code that names a rackboot metric and compares or calls. */
function expressions(): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const file of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) {
    const text = readFileSync(join(ROOT, 'docs', file), 'utf8');
    for (const m of text.matchAll(/^\s*expr:\s*(.+)$/gm)) out.push({ where: file, expr: (m[1] as string).trim() });
    for (const m of text.matchAll(/`([^`\n]*rackboot_[a-z_]+[^`\n]*(?:[<>=]=?|\()[^`\n]*)`/g)) out.push({ where: file, expr: m[1] as string });
  }
  return out;
}

test('every alert expression in the docs uses counter functions on counters only, and names real metrics', async () => {
  const types = await metricTypes();
  const found = expressions();
  assert.ok(found.length >= 5, `found the alert examples (${found.length})`);
  const wrong: string[] = [];
  for (const { where, expr } of found) {
    for (const m of expr.matchAll(/\b([a-z_]+)\(\s*(rackboot_[a-z_]+)/g)) {
      const [fn, metric] = [m[1] as string, m[2] as string];
      const type = typeOf(types, metric);
      if (type === undefined) wrong.push(`${where}: ${metric} is not a metric (${expr})`);
      else if (COUNTER_FUNCTIONS.includes(fn) && type !== 'counter') wrong.push(`${where}: ${fn}() on the ${type} ${metric} (${expr})`);
      else if (GAUGE_FUNCTIONS.includes(fn) && type !== 'gauge') wrong.push(`${where}: ${fn}() on the ${type} ${metric} (${expr})`);
    }
    for (const m of expr.matchAll(/\b(rackboot_[a-z_]+)/g)) if (typeOf(types, m[1] as string) === undefined) wrong.push(`${where}: ${m[1]} is not a metric (${expr})`);
  }
  assert.deepEqual(wrong, []);
});
