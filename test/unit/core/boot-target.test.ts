import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BOOT_RULES, chooseBootTarget, type BootTargetSettings } from '../../../server/core/boot-target.js';
import type { ClientInfo } from '../../../server/core/client-info.js';

const settings: BootTargetSettings = {
  httpBaseUrl: 'http://10.98.0.1:8080/',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiIa32: 'ipxe-ia32.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: false,
  chainWindowMs: 60_000,
};
const chainedLongAgo = { ipxeChainedAt: null, now: 1_000_000 };
const chainedJustNow = { ipxeChainedAt: 990_000, now: 1_000_000 };

function client(overrides: Partial<ClientInfo>): ClientInfo {
  return {
    mac: '52:54:00:99:00:01', arch: null, archName: 'unknown', firmware: 'unknown', isPxeClient: false,
    isHttpClient: false, isIpxe: false, ipxeHasHttp: false, uuid: null, vendorClass: null, userClass: null,
    hostnameHint: null, ...overrides,
  };
}
const biosPxe = client({ arch: 0, archName: 'x86 BIOS', firmware: 'bios', isPxeClient: true });
const biosIpxe = { ...biosPxe, isIpxe: true, ipxeHasHttp: true };
const efiIpxe = client({ arch: 7, archName: 'x64 UEFI', firmware: 'uefi', isPxeClient: true, isIpxe: true, ipxeHasHttp: true });

describe('chooseBootTarget: the ordered table', () => {
  it('the table order is the documented order', () => {
    assert.deepEqual(BOOT_RULES.map((r) => r.name), [
      'ipxe-chain', 'ipxe-script', 'ipxe-without-http', 'http-boot', 'http-boot-unsupported', 'pxe',
      'pxe-unsupported', 'plain-dhcp',
    ]);
  });

  it('iPXE with HTTP -> boot script URL (trailing slash of the base tolerated)', () => {
    assert.deepEqual(chooseBootTarget(biosIpxe, settings, chainedLongAgo),
      { kind: 'http', url: 'http://10.98.0.1:8080/boot.ipxe', chainsIpxe: false, rule: 'ipxe-script' });
  });

  it('chainloadEmbeddedIpxe: ROM iPXE gets rackboot\'s build over TFTP once, then the script', () => {
    const chaining = { ...settings, chainloadEmbeddedIpxe: true };
    assert.deepEqual(chooseBootTarget(biosIpxe, chaining, chainedLongAgo),
      { kind: 'tftp', file: 'undionly.kpxe', chainsIpxe: true, rule: 'ipxe-chain' });
    assert.equal(chooseBootTarget(biosIpxe, chaining, chainedJustNow).rule, 'ipxe-script');
    assert.deepEqual(chooseBootTarget(efiIpxe, chaining, chainedLongAgo),
      { kind: 'tftp', file: 'snponly.efi', chainsIpxe: true, rule: 'ipxe-chain' });
  });

  it('the chain window expires: a machine chained long ago is chained again', () => {
    const chaining = { ...settings, chainloadEmbeddedIpxe: true };
    assert.equal(chooseBootTarget(biosIpxe, chaining, { ipxeChainedAt: 900_000, now: 1_000_000 }).rule, 'ipxe-chain');
    assert.equal(chooseBootTarget(biosIpxe, chaining, { ipxeChainedAt: 940_001, now: 1_000_000 }).rule, 'ipxe-script');
  });

  it('iPXE without HTTP -> rackboot\'s iPXE, and never again within the window', () => {
    const noHttp = { ...biosIpxe, ipxeHasHttp: false };
    assert.equal(chooseBootTarget(noHttp, settings, chainedLongAgo).rule, 'ipxe-chain');
    const again = chooseBootTarget(noHttp, settings, chainedJustNow);
    assert.equal(again.kind, 'none');
    assert.equal(again.rule, 'ipxe-without-http');
  });

  it('iPXE without HTTP on a platform with no build -> none, with the reason', () => {
    const target = chooseBootTarget(client({ arch: 10, archName: 'ARM32 UEFI', isIpxe: true }), settings, chainedLongAgo);
    assert.equal(target.kind, 'none');
    assert.match(target.kind === 'none' ? target.reason : '', /no iPXE build for that platform/);
  });

  it('PXE clients by architecture', () => {
    const cases: Array<[number, string]> = [[0, 'undionly.kpxe'], [6, 'ipxe-ia32.efi'], [7, 'snponly.efi'],
      [9, 'snponly.efi'], [11, 'ipxe-arm64.efi']];
    for (const [arch, file] of cases) {
      assert.deepEqual(chooseBootTarget(client({ arch, isPxeClient: true }), settings, chainedLongAgo),
        { kind: 'tftp', file, chainsIpxe: true, rule: 'pxe' }, `arch ${arch}`);
    }
  });

  it('PXE ia32 without an ia32 build configured -> none', () => {
    const { efiIa32: _omit, ...files } = settings.bootFiles;
    const target = chooseBootTarget(client({ arch: 6, archName: 'x86 UEFI', isPxeClient: true }), { ...settings, bootFiles: files }, chainedLongAgo);
    assert.equal(target.rule, 'pxe-unsupported');
  });

  it('PXE client of unknown architecture -> none with reason', () => {
    const target = chooseBootTarget(client({ arch: 999, archName: 'unknown (999)', isPxeClient: true }), settings, chainedLongAgo);
    assert.deepEqual(target, { kind: 'none', reason: 'no boot file for PXE client architecture unknown (999)', rule: 'pxe-unsupported' });
  });

  it('UEFI HTTP boot -> URL of the EFI build', () => {
    assert.deepEqual(chooseBootTarget(client({ arch: 16, isHttpClient: true }), settings, chainedLongAgo),
      { kind: 'http', url: 'http://10.98.0.1:8080/ipxe/snponly.efi', chainsIpxe: true, rule: 'http-boot' });
    assert.equal(chooseBootTarget(client({ arch: 19, isHttpClient: true }), settings, chainedLongAgo).kind, 'http');
    assert.equal(chooseBootTarget(client({ arch: 18, isHttpClient: true }), settings, chainedLongAgo).rule, 'http-boot-unsupported');
  });

  it('plain DHCP client -> no boot information', () => {
    assert.deepEqual(chooseBootTarget(client({}), settings, chainedLongAgo),
      { kind: 'none', reason: 'not a network-boot client', rule: 'plain-dhcp' });
  });
});
