import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, errorBody, httpStatus, RackbootError } from '../../server/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|js)$/.test(name) ? [path] : [];
  });
}

test('every error code the server uses is in the registry (no code bypasses it)', () => {
  const used = new Map<string, string>();
  for (const file of sources(join(ROOT, 'server'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/RACKBOOT_ERR_[A-Z_]+/g)) used.set(match[0], file);
  }
  assert.ok(used.size >= 5, 'the scan found the codes in use');
  const unknown = [...used].filter(([code]) => !(code in ERROR_CODES)).map(([code, file]) => `${code} in ${file}`);
  assert.deepEqual(unknown, []);
});

test('every registered code has an HTTP status and a summary, and errors carry both', () => {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.ok(entry.status >= 400 && entry.status < 600, code);
    assert.ok(entry.summary.length > 0, code);
  }
  const error = new RackbootError('RACKBOOT_ERR_NO_BMC', 'blade-1 has no known BMC');
  assert.equal(error.status, 409);
  assert.equal(httpStatus('RACKBOOT_ERR_AUTH'), 401);
  assert.deepEqual(errorBody('RACKBOOT_ERR_TOKEN', 'expired'), { error: 'expired', code: 'RACKBOOT_ERR_TOKEN' });
});
