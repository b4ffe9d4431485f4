/**
 * Debian's `ignition-validate` (package `ignition`) as the test oracle: a config is valid when it
 * exits 0 and prints nothing (its warnings, e.g. unused keys, count as findings for rackboot too).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from '../../server/lab/prereqs.js';

export const IGNITION_VALIDATE = findExecutable('ignition-validate');

/** Why tests that need ignition-validate skip, or false when it is installed. */
export const SKIP_IGNITION_VALIDATE: string | false = IGNITION_VALIDATE
  ? false
  : 'ignition-validate is not installed (Debian package `ignition`): the agreement with the real validator is not checked';

export interface ValidateResult {
  readonly valid: boolean;
  readonly output: string;
}

export function ignitionValidate(text: string): ValidateResult {
  if (!IGNITION_VALIDATE) throw new Error('ignition-validate is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'rackboot-ignition-'));
  try {
    const path = join(dir, 'config.ign');
    writeFileSync(path, text);
    const result = spawnSync(IGNITION_VALIDATE, [path], { encoding: 'utf8', timeout: 30_000 });
    const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
    return { valid: result.status === 0 && output === '', output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
