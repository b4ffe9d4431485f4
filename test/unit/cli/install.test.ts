/** rackboot assets import|list, reprovision and install-script, run as an operator would. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rackboot } from '../../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'rb-cli-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const config = join(dir, 'rb.yaml');
writeFileSync(
  config,
  `dataDir: ${dir}/data
boot: { assetsDir: ${dir}/assets }
dhcp: { subnets: [{ cidr: 10.99.0.0/24, gateway: 10.99.0.1, dns: [10.99.0.1] }] }
install:
  os: { version: 1.0.0, image: disk.img.gz }
  roles: { dev: { minimums: { memoryMb: 256, diskMb: 64 } } }
`,
);

test('assets import and list; install-script renders the pinned image; reprovision flags the disk', () => {
  const src = join(dir, 'src', 'flatcar', '1.0.0');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, 'disk.img.gz'), 'image');
  writeFileSync(join(src, 'SHA256SUMS'), `${createHash('sha256').update('image').digest('hex')}  disk.img.gz\n`);
  const imported = rackboot(['--config', config, 'assets', 'import', join(dir, 'src')]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.equal(imported.stdout, 'imported flatcar/1.0.0: 2 files, 0.1 KiB\n');
  const list = rackboot(['--config', config, 'assets', 'list', '--json']);
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ kind: string; version: string; files: number }>).map((v) => [v.kind, v.version, v.files]), [['flatcar', '1.0.0', 2]]);
  const broken = rackboot(['--config', config, 'assets', 'import', join(dir, 'nowhere')]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /does not exist/);

  assert.equal(rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:31', '--ip', '10.99.0.31', '--name', 'n1', '--role', 'dev']).code, 0);
  const script = rackboot(['--config', config, 'install-script', 'n1', '--dry-run']);
  assert.equal(script.code, 0, script.stderr);
  assert.match(script.stdout, /^IMAGE_URL='http:\/\/127\.0\.0\.1:8080\/assets\/flatcar\/1\.0\.0\/disk\.img\.gz'$/m);
  assert.match(script.stdout, /^IMAGE_COMPRESSION='gz'$/m);
  assert.match(script.stdout, /^DRY_RUN=1$/m);
  assert.match(script.stdout, /^ALLOW_WIPE=0$/m);
  const again = rackboot(['--config', config, 'reprovision', 'n1', '--yes']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'n1: registered; its next PXE boot installs dev, overwriting its disk\n');
  assert.match(rackboot(['--config', config, 'install-script', 'n1']).stdout, /^ALLOW_WIPE=1$/m);
  assert.equal(rackboot(['--config', config, 'reprovision', 'nope']).code, 1);
});

test('reprovision asks on a terminal and needs --yes when not on one; a "no" changes nothing', () => {
  assert.equal(rackboot(['--config', config, 'machines', 'add', '--mac', '52:54:00:99:00:32', '--name', 'n2', '--role', 'dev']).code, 0);
  const state = () => (JSON.parse(rackboot(['--config', config, 'machines', 'list', '--json']).stdout) as Array<{ name: string; state: string }>).find((m) => m.name === 'n2');
  const events = () => (JSON.parse(rackboot(['--config', config, 'events', 'n2', '--json']).stdout) as unknown[]).length;
  const before = events();

  const piped = rackboot(['--config', config, 'reprovision', 'n2']);
  assert.equal(piped.code, 2);
  assert.match(piped.stderr, /Not a terminal: add --yes to confirm/);
  assert.equal(events(), before);

  // on a terminal (script(1) gives it a pty): "n" cancels, "y" goes ahead
  const onTty = (answer: string) => {
    const cli = [process.execPath, '--import', 'tsx', join(import.meta.dirname, '..', '..', '..', 'server', 'cli', 'index.ts'), '--config', config, 'reprovision', 'n2'];
    const command = cli.map((a) => `'${a}'`).join(' ');
    return spawnSync('script', ['-qec', command, '/dev/null'], { input: `${answer}\n`, encoding: 'utf8', timeout: 60_000 });
  };
  const no = onTty('n');
  assert.match(no.stdout, /Reprovision n2\? .* \[y\/N\]/);
  assert.match(no.stdout, /not confirmed: nothing changed/);
  assert.notEqual(no.status, 0);
  assert.equal(events(), before);
  const yes = onTty('y');
  assert.equal(yes.status, 0, yes.stdout);
  assert.match(yes.stdout, /n2: registered; its next PXE boot installs dev/);
  assert.equal(state()?.state, 'registered');
  assert.equal(events(), before + 1);
});
