/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time by function,
 * and by area (rackboot's own modules by directory, each npm package, node internals, GC, idle).
 *
 *   node --import tsx bench/lib/cpuprofile.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { markdownTable } from './stats.js';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly idleMs: number;
  readonly byArea: ReadonlyArray<{ area: string; ms: number }>;
  readonly byFunction: ReadonlyArray<{ fn: string; ms: number }>;
  /** Inclusive time of rackboot's own entry points (functions under server/), by function. */
  readonly inclusive: ReadonlyArray<{ fn: string; ms: number }>;
}

function areaOf(url: string, fn: string): string {
  if (fn === '(idle)') return '(idle)';
  if (fn === '(garbage collector)') return '(gc)';
  if (fn === '(program)') return '(program: native, not JS)';
  if (url === '') return `(native ${fn || 'anonymous'})`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`;
  const own = /\/(server|bench|test)\/(.+)$/.exec(url);
  if (own?.[1] && own[2]) return `${own[1]}/${own[2].split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (id !== undefined) self.set(id, (self.get(id) ?? 0) + dt / 1000);
  }
  const area = new Map<string, number>();
  const fns = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, t] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += t;
    if (functionName === '(idle)') idle += t;
    const a = areaOf(url, functionName);
    area.set(a, (area.get(a) ?? 0) + t);
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|server|bench)\//, '$1/')}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
    // inclusive time of the outermost rackboot frames on the stack (one per distinct function)
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (!frame || !/\/server\//.test(frame.url)) continue;
      const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/server\//, 'server/')}:${frame.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + t);
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalMs: total,
    idleMs: idle,
    byArea: sorted(area).map(([a, ms]) => ({ area: a, ms })),
    byFunction: sorted(fns).map(([fn, ms]) => ({ fn, ms })),
    inclusive: sorted(inclusive).map(([fn, ms]) => ({ fn, ms })),
  };
}

export function formatProfile(summary: ProfileSummary, top = 25): string {
  const busy = summary.totalMs - summary.idleMs;
  const pct = (v: number) => `${((v / busy) * 100).toFixed(1)}%`;
  return [
    `profile: ${(summary.totalMs / 1000).toFixed(2)} s sampled, ${(busy / 1000).toFixed(2)} s busy`,
    '',
    'Self time by area (share of busy time):',
    '',
    markdownTable(['area', 'ms', 'share'], summary.byArea.filter((a) => a.area !== '(idle)').slice(0, top).map((a) => [a.area, a.ms.toFixed(0), pct(a.ms)])),
    '',
    'Self time by function:',
    '',
    markdownTable(['function', 'ms', 'share'], summary.byFunction.filter((f) => !f.fn.startsWith('(idle)')).slice(0, top).map((f) => [f.fn, f.ms.toFixed(0), pct(f.ms)])),
    '',
    'Inclusive time of rackboot functions:',
    '',
    markdownTable(['function', 'ms', 'share'], summary.inclusive.slice(0, top).map((f) => [f.fn, f.ms.toFixed(0), pct(f.ms)])),
  ].join('\n');
}

if (import.meta.filename === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    process.stdout.write(`# ${file}\n\n${formatProfile(summarizeProfile(profile), Number(values.top))}\n\n`);
  }
}
