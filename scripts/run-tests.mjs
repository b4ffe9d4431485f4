#!/usr/bin/env node
// Runs every test/**/*.test.ts with Node's own test runner (through tsx).
// --unit runs only test/unit; --quick also skips the slow load tests tagged SLOW (test/helpers/slow.ts);
// the real-client suites in test/real skip themselves when not root or
// when QEMU/namespaces are unavailable, and say so.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const unitOnly = args.includes('--unit') || quick;
const filters = args.filter((a) => !a.startsWith('--'));
const roots = unitOnly ? ['test/unit'] : ['test/unit', 'test/real'];

function collect(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(collect(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

let files = roots.flatMap(collect);
if (filters.length > 0) files = files.filter((f) => filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const env = quick ? { ...process.env, RACKBOOT_SKIP_SLOW: '1' } : process.env;
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
