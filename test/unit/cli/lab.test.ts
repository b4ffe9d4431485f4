import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { registerLabCommands } from '../../../server/cli/lab.js';

function lab(args: string[]) {
  let out = '';
  let err = '';
  let code = 0;
  const program = new Command().exitOverride();
  registerLabCommands(program, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s), isTTY: false },
    setExitCode: (c) => (code = c),
    isRoot: () => false,
  });
  return program.parseAsync(args, { from: 'user' }).then(() => ({ out, err, code }));
}

test('lab without root: exit 2, as text or, with --json, as the JSON error every command prints', async () => {
  const text = await lab(['lab', 'down']);
  assert.equal(text.code, 2);
  assert.match(text.err, /^rackboot lab: needs root/);
  const json = await lab(['lab', 'up', '--nodes', '2', '--json']);
  assert.equal(json.code, 2);
  assert.equal(json.out, '');
  const parsed = JSON.parse(json.err) as { error: { code: string; message: string }; exitCode: number };
  assert.deepEqual([parsed.error.code, parsed.exitCode], ['RACKBOOT_ERR_USAGE', 2]);
  assert.match(parsed.error.message, /needs root/);
});
