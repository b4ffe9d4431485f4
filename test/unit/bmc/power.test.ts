import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpmiAuthError, IpmiTimeoutError } from '../../../server/bmc/ipmi/errors.js';
import { checkBootReadBack, powerMachines, powerOne, type PowerDeps, type PowerOptions, type PowerTarget } from '../../../server/bmc/power.js';
import { FakeBmc, fakeConnector } from './fake-bmc.js';

const target = (address: string, label = `m-${address}`): PowerTarget => ({ label, machineId: 1, bmc: { address, port: 623 }, username: 'admin' });

function deps(bmcs: Record<string, FakeBmc | Error>): PowerDeps & { slept: number[] } {
  const slept: number[] = [];
  return {
    connect: fakeConnector(bmcs).connect,
    credentials: () => ({ username: 'admin', password: 'pw' }),
    sleep: async (ms) => void slept.push(ms),
    slept,
  };
}

async function run(bmc: FakeBmc, options: PowerOptions) {
  return powerOne(deps({ [bmc.address]: bmc }), target(bmc.address), { pollMs: 100, verifyTimeoutMs: 1000, ...options });
}

describe('power workflows', () => {
  it('status reads the power state and changes nothing', async () => {
    const bmc = new FakeBmc('a', { power: 'on' });
    const outcome = await run(bmc, { action: 'status' });
    assert.deepEqual([outcome.ok, outcome.before, outcome.after, outcome.step], [true, 'on', 'on', 'none']);
    assert.deepEqual(bmc.calls, ['powerState', 'close']);
  });

  it('on --pxe: sets PXE, reads it back, then powers on and sees the power come on', async () => {
    const bmc = new FakeBmc('a', { power: 'off', powerDelayPolls: 2 });
    const outcome = await run(bmc, { action: 'on', pxe: true, efi: true });
    assert.equal(outcome.ok, true, outcome.message);
    assert.deepEqual(bmc.calls.slice(0, 4), ['powerState', 'setBootDevice:pxe,efi', 'getBootDevice', 'chassisControl:on']);
    assert.equal(outcome.after, 'on');
    assert.equal(outcome.step, 'on');
    assert.deepEqual(outcome.bootDevice?.readBack, { device: 'pxe', valid: true, persistent: false, efi: true, raw: '0004000000' });
    assert.equal(bmc.calls.at(-1), 'close');
  });

  it('never powers on when the boot device does not read back as PXE', async () => {
    const bmc = new FakeBmc('a', { power: 'off', stuckBootDevice: 'disk' });
    const outcome = await run(bmc, { action: 'on', pxe: true });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.error?.kind, 'verify');
    assert.match(outcome.message, /reports boot device disk .*not pxe; power left off/);
    assert.ok(!bmc.calls.some((c) => c.startsWith('chassisControl')));
  });

  it('accepts a BMC that keeps the device but forgets the flags (ipmi_sim), with a warning', async () => {
    const bmc = new FakeBmc('a', { power: 'off', forgetsBootFlags: true });
    const outcome = await run(bmc, { action: 'on', pxe: true, efi: true });
    assert.equal(outcome.ok, true);
    assert.match(outcome.bootDevice?.warnings[0] ?? '', /does not report the boot flags/);
  });

  it('compares EFI and persistence when the BMC reports them', () => {
    const read = { device: 'pxe' as const, valid: true, persistent: true, efi: false, raw: '0000000000', detail: 'selector 0x4' };
    const result = checkBootReadBack({ device: 'pxe', efi: true, persistent: false }, read);
    assert.deepEqual(result.problems, ['the BMC reports legacy BIOS boot, not EFI']);
    assert.deepEqual(result.warnings, ['the BMC reports persistent boot flags']);
  });

  it('on when already on does nothing; with --pxe it says the next boot will PXE', async () => {
    const bmc = new FakeBmc('a', { power: 'on' });
    const outcome = await run(bmc, { action: 'on', pxe: true });
    assert.equal(outcome.ok, true);
    assert.equal(outcome.step, 'none');
    assert.match(outcome.message, /already on; the next boot will PXE boot \(use cycle to reboot now\)/);
    assert.ok(!bmc.calls.some((c) => c.startsWith('chassisControl')));
  });

  it('cycle is a reboot: power on when off, power cycle when on', async () => {
    const off = new FakeBmc('a', { power: 'off' });
    assert.equal((await run(off, { action: 'cycle', pxe: true })).step, 'on');
    assert.ok(off.calls.includes('chassisControl:on'));
    const on = new FakeBmc('b', { power: 'on' });
    const outcome = await run(on, { action: 'cycle' });
    assert.deepEqual([outcome.ok, outcome.step, outcome.after], [true, 'cycle', 'on']);
    assert.ok(on.calls.includes('chassisControl:cycle'));
  });

  it('off --soft: ACPI first, hard off when the OS ignores it', async () => {
    const polite = new FakeBmc('a', { power: 'on' });
    assert.equal((await run(polite, { action: 'off', soft: true, softTimeoutMs: 500 })).step, 'soft-off');
    const stubborn = new FakeBmc('b', { power: 'on', ignoresSoftOff: true });
    const outcome = await run(stubborn, { action: 'off', soft: true, softTimeoutMs: 500 });
    assert.deepEqual([outcome.ok, outcome.step, outcome.after], [true, 'soft-then-hard-off', 'off']);
    assert.deepEqual(
      stubborn.calls.filter((c) => c.startsWith('chassisControl')),
      ['chassisControl:soft', 'chassisControl:off'],
    );
  });

  it('fails (verify) when the power never reaches the requested state, within the bound', async () => {
    const bmc = new FakeBmc('a', { power: 'off', deadPowerControl: true });
    const d = deps({ a: bmc });
    const outcome = await powerOne(d, target('a'), { action: 'on', pollMs: 100, verifyTimeoutMs: 1000 });
    assert.equal(outcome.ok, false);
    assert.match(outcome.message, /power is still off 1 s after on/);
    assert.equal(d.slept.length, 10);
  });

  it('reports session errors per machine and closes every session it opened', async () => {
    const timeoutMidway = new FakeBmc('b', { power: 'on', failOn: { chassisControl: new IpmiTimeoutError('no answer to Chassis Control', 'b') } });
    const outcomes = await powerMachines(
      deps({ a: new IpmiAuthError('wrong password for user admin', 'a'), b: timeoutMidway, c: new FakeBmc('c', { power: 'on' }) }),
      [target('a'), target('b'), target('c')],
      { action: 'off', pollMs: 10, verifyTimeoutMs: 100, concurrency: 2 },
    );
    assert.deepEqual(
      outcomes.map((o) => [o.address, o.ok, o.error?.kind ?? null]),
      [
        ['a', false, 'auth'],
        ['b', false, 'timeout'],
        ['c', true, null],
      ],
    );
    assert.equal(timeoutMidway.closed, 1);
  });
});
