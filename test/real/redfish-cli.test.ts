/**
 * The operator's path over Redfish, through the rackboot CLI (the built dist/ CLI for discover and
 * bmcs, the source CLI for the rest): a config whose BMC range says `protocol: redfish`, discover
 * against the Redfish emulator over HTTPS on loopback (fingerprint recorded in the data directory,
 * password only from the environment and never printed), bmcs with its PROTOCOL column, ip-plan
 * --apply, power on --pxe. The emulator runs in this process, so the CLI runs asynchronously.
 * Needs openssl; skips saying so when it is absent.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findExecutable } from '../../server/lab/prereqs.js';
import { makeTestCertificate, RedfishEmulator } from '../helpers/redfish-emulator.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PASSWORD = 'cli-redfish-secret-4';
const skip = findExecutable('openssl') ? false : 'openssl is not installed (needed for the test certificate)';

function run(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: ROOT, env: { ...process.env, ...env }, timeout: 180_000, maxBuffer: 8 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('rackboot discover / bmcs / ip-plan / power over Redfish', { skip }, () => {
  let dir = '';
  let config = '';
  let emulator: RedfishEmulator;
  const env = { RACKBOOT_IPMI_PASSWORD: PASSWORD, RACKBOOT_IPMI_USER: 'root' };
  const source = (args: readonly string[]) => run(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'cli', 'index.ts'), '--config', config, ...args], env);
  const built = (args: readonly string[]) => run(process.execPath, [join(ROOT, 'dist', 'server', 'cli', 'index.js'), '--config', config, ...args], env);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rackboot-redfish-cli-'));
    const cert = makeTestCertificate(dir, '127.0.0.1');
    emulator = await RedfishEmulator.start({ username: 'root', password: PASSWORD, tls: { key: cert.key, cert: cert.cert }, host: '127.0.0.1', powerState: 'Off' });
    config = join(dir, 'rackboot.yaml');
    writeFileSync(
      config,
      `dataDir: ${join(dir, 'var')}
ipmi:
  ranges:
    - { range: 127.0.0.1, protocol: redfish, port: ${emulator.port} }
  redfish: { timeoutMs: 5000 }
`,
    );
    const build = await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
    assert.equal(build.code, 0, `npm run build failed:\n${build.stdout}${build.stderr}`);
  });
  after(async () => {
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('discover (built CLI): Redfish identity in the table; fingerprint recorded; the password nowhere in the output', async () => {
    const result = await built(['discover', '--bmc', '127.0.0.1']);
    assert.equal(result.code, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /127\.0\.0\.1\s+ok\s+38947555-7742-3448-3784-823347823834\s+23:11:8a:33:cf:ea\s+12:44:6a:3b:04:11 \(Redfish\), 12:44:6a:3b:88:90 \(Redfish\)\s+Contoso\s+redfish\s+redfish https session/);
    const trust = JSON.parse(readFileSync(join(dir, 'var', 'redfish-fingerprints.json'), 'utf8')) as Record<string, string>;
    assert.match(trust[`127.0.0.1:${emulator.port}`] ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal(emulator.sessions.size, 0, 'the session was deleted');

    const json = await built(['discover', '--bmc', '127.0.0.1', '--json']);
    assert.equal(json.code, 0);
    assert.ok(!json.stdout.includes(PASSWORD) && !json.stderr.includes(PASSWORD));
    const bmcs = await built(['bmcs']);
    assert.match(bmcs.stdout, /BMC\s+PROTOCOL\s+GUID/);
    assert.match(bmcs.stdout, /127\.0\.0\.1\s+redfish\s+38947555-7742-3448-3784-823347823834/);
    const listed = await built(['bmcs', '--json']);
    assert.ok(!listed.stdout.includes(PASSWORD));
    assert.deepEqual((JSON.parse(listed.stdout) as Array<{ protocol: string; session: string }>).map((b) => [b.protocol, b.session]), [['redfish', 'redfish https session']]);
  });

  test('ip-plan --apply then power on --pxe --efi: the machine is created and powered on through Redfish', async () => {
    const plan = await source(['ip-plan', '--apply', '--rule', 'slot', '--host-subnet', '10.99.0.0/24', '--base', '10.99.0.20']);
    assert.equal(plan.code, 0, plan.stderr + plan.stdout);
    assert.match(plan.stdout, /add\s+127\.0\.0\.1\s+node-10-99-0-20\s+10\.99\.0\.20\s+MACs 12:44:6a:3b:04:11, 12:44:6a:3b:88:90/);
    const power = await source(['power', 'on', 'node-10-99-0-20', '--pxe', '--efi']);
    assert.equal(power.code, 0, power.stderr + power.stdout);
    assert.match(power.stdout, /node-10-99-0-20\s+127\.0\.0\.1\s+off\s+on\s+boot device PXE \(read back\), on -> power is on/);
    assert.deepEqual(emulator.resets, ['On']);
    assert.ok(existsSync(join(dir, 'var', 'rackboot.db')));
  });
});
