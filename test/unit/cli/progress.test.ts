import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { registerIpmiCommands } from '../../../server/cli/bmc.js';
import { startProgress } from '../../../server/cli/progress.js';
import { openDatabase } from '../../../server/store/db.js';
import { BUILT_CLI, rackbootAsync } from '../../helpers/cli.js';
import { FakeBmc, fakeConnector } from '../bmc/fake-bmc.js';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('progress on a stream that is not a terminal', () => {
  it('prints a line per 10% however many updates come, and a last line with the summary', () => {
    const out = new Capture(false);
    const c = clock();
    const p = startProgress('scan', 1000, { stream: out, env: {}, now: c.now });
    for (let i = 1; i <= 1000; i++) {
      c.advance(1);
      p.update(i, `10.1.0.${i % 250}`);
    }
    p.finish('1000 done');
    const printed = lines(out.text);
    assert.ok(printed.length >= 10 && printed.length <= 11, printed.join('\n'));
    assert.deepEqual(printed.slice(0, -1).map((l) => /^scan: (\d+)%/.exec(l)?.[1]), ['0', '10', '20', '30', '40', '50', '60', '70', '80', '90'].slice(-(printed.length - 1)));
    assert.match(printed.at(-1) ?? '', /^scan: 1000 done \(1\.0 s\)$/);
    assert.ok(!out.text.includes('\r') && !out.text.includes('\x1b'), 'no terminal control characters in a log');
  });

  it('repeats a line every 5 s while the percentage stands still', () => {
    const out = new Capture(false);
    const c = clock();
    const p = startProgress('import', 100, { stream: out, env: {}, now: c.now });
    p.update(1);
    for (let s = 0; s < 30; s++) {
      c.advance(1000);
      p.update(1);
    }
    // the first line, then one per 5 s of the 30 s
    assert.equal(lines(out.text).length, 1 + 6);
  });

  it('prints nothing with --json, so stderr holds only the JSON error', () => {
    const out = new Capture(false);
    const p = startProgress('scan', 10, { stream: out, env: {}, json: true });
    for (let i = 0; i <= 10; i++) p.update(i);
    p.log('a step');
    p.finish();
    assert.equal(out.text, '');
  });

  it('shows bytes as sizes', () => {
    const out = new Capture(false);
    const p = startProgress('assets import', 300 * 1024 * 1024, { stream: out, env: {}, unit: 'bytes' });
    p.update(150 * 1024 * 1024, 'flatcar/1.0/image.bin');
    assert.match(out.text, /^assets import: 50% \(150\.0 MiB\/300\.0 MiB\) flatcar\/1\.0\/image\.bin$/m);
  });
});

describe('progress on a terminal', () => {
  it('redraws one bar in place at most every 100 ms, coloured unless NO_COLOR', () => {
    for (const env of [{}, { NO_COLOR: '1' }]) {
      const out = new Capture(true);
      const c = clock();
      const p = startProgress('power cycle', 500, { stream: out, env, now: c.now });
      for (let i = 1; i <= 500; i++) {
        c.advance(2);
        p.update(i);
      }
      p.finish();
      const draws = out.text.split('\r\x1b[K').length - 1;
      // 1000 ms of updates: one draw per 100 ms, the 100% draw, and the clearing before the last line
      assert.ok(draws >= 3 && draws <= 13, `${draws} draws`);
      assert.equal(lines(out.text).length, 1, 'one line in the end');
      assert.match(out.text, /power cycle: done, 500\/500/);
      assert.equal(out.text.includes('\x1b[32m'), !('NO_COLOR' in env));
    }
  });

  it('TERM=dumb gets lines, not a bar; log lines go above the bar', () => {
    const dumb = new Capture(true);
    const p = startProgress('lab up', 4, { stream: dumb, env: { TERM: 'dumb' } });
    p.update(1);
    assert.ok(!dumb.text.includes('\r'));

    const tty = new Capture(true);
    const q = startProgress('lab up', 4, { stream: tty, env: { NO_COLOR: '1' } });
    q.update(1, 'namespace');
    q.log('blade b1: BMC 10.98.1.11');
    assert.ok(tty.text.includes('\r\x1b[Kblade b1: BMC 10.98.1.11\n\r\x1b[Klab up ['), JSON.stringify(tty.text));
  });
});

describe('rackboot discover reports its progress', () => {
  const run = async (args: string[], tty: boolean) => {
    const out = new Capture(false);
    const err = new Capture(tty);
    const bmcs: Record<string, FakeBmc> = { '10.1.0.11': new FakeBmc('10.1.0.11', {}) };
    const db = openDatabase(':memory:');
    const program = new Command().exitOverride();
    registerIpmiCommands(program, {
      openDatabase: () => ({ db, close: () => {} }),
      connect: () => fakeConnector(bmcs).connect,
      env: { RACKBOOT_IPMI_PASSWORD: 'pw' },
      stdout: out,
      stderr: err,
      setExitCode: () => undefined,
    });
    await program.parseAsync(['discover', '--bmc', '10.1.0.0/24', ...args], { from: 'user' });
    db.close();
    return { out: out.text, err: err.text };
  };

  it('as at most one line per 10% (plus one per 5 s) when stderr is a log, not per BMC', async () => {
    const { out, err } = await run([], false);
    const printed = lines(err);
    assert.ok(printed.length >= 2 && printed.length <= 11 + 2, printed.join('\n'));
    assert.ok(printed.slice(0, -1).every((l) => /^discover: \d+% \(\d+\/254\) \d+ found, \d+ failed; last 10\.1\.0\.\d+ /.test(l)), printed.join('\n'));
    assert.match(printed.at(-1) ?? '', /^discover: 1 of 254 BMCs answered/);
    assert.match(out, /1 of 254 BMCs answered/);
  });

  it('not at all with --json on a non-terminal: stdout is the JSON, stderr empty', async () => {
    const { out, err } = await run(['--json'], false);
    assert.equal(err, '');
    assert.equal((JSON.parse(out) as unknown[]).length, 254);
  });
});

describe('rackboot assets import reports its progress on stderr', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-progress-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'rackboot.yaml');
  writeFileSync(config, 'dataDir: data\n');
  const source = join(dir, 'mirror', 'flatcar', '1.0.0');
  mkdirSync(source, { recursive: true });
  const image = Buffer.alloc(3 * 1024 * 1024, 7);
  writeFileSync(join(source, 'image.bin'), image);
  writeFileSync(join(source, 'SHA256SUMS'), `${createHash('sha256').update(image).digest('hex')}  image.bin\n`);

  it('as bounded lines when stderr is not a terminal; stdout keeps the result', async () => {
    const result = await rackbootAsync(['--config', config, 'assets', 'import', join(dir, 'mirror')]);
    assert.equal(result.code, 0, result.stderr);
    const printed = lines(result.stderr);
    assert.ok(printed.length >= 2 && printed.length <= 12, printed.join('\n'));
    assert.ok(printed.slice(0, -1).every((l) => /^assets import: \d+% \([\d.]+ [KM]?i?B\/3\.0 MiB\)/.test(l)), printed.join('\n'));
    assert.match(printed.at(-1) ?? '', /^assets import: 1 version\(s\) checked/);
    assert.match(result.stdout, /^imported flatcar\/1\.0\.0: 2 files/m);
  });

  it('not at all with --json (the built CLI too): stdout is the JSON', { skip: existsSync(BUILT_CLI) ? false : 'dist/ is not built: run `npm run build` first' }, async () => {
    const result = await rackbootAsync(['--config', config, 'assets', 'import', join(dir, 'mirror'), '--json'], { built: true });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.deepEqual((JSON.parse(result.stdout) as Array<{ status: string }>).map((v) => v.status), ['unchanged']);
  });
});
