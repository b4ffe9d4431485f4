import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { architectureInfo, CLIENT_ARCHITECTURES, clientInfo } from '../../../server/core/client-info.js';
import { fixturePacket, requestPacket } from '../../helpers/dhcp-packets.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('clientInfo from captured-style packets', () => {
  it('SeaBIOS iPXE ROM: BIOS, PXE, iPXE with HTTP, UUID', () => {
    assert.deepEqual(clientInfo(fixturePacket('seabios-ipxe-discover.hex')), {
      mac: '52:54:00:99:00:01',
      arch: 0,
      archName: 'x86 BIOS',
      firmware: 'bios',
      isPxeClient: true,
      isHttpClient: false,
      isIpxe: true,
      ipxeHasHttp: true,
      uuid: '4e1c2d8a-6f5b-3c4a-9d2e-1f0a3b4c5d6e', // option 97 bytes 8a2d1c4e 5b6f 4a3c ..., first three fields little-endian
      vendorClass: 'PXEClient:Arch:00000:UNDI:002001',
      userClass: 'iPXE',
      hostnameHint: null,
    });
  });

  it('OVMF native PXE: x64 UEFI, not iPXE', () => {
    const info = clientInfo(fixturePacket('ovmf-x64-discover.hex'));
    assert.equal(info.arch, 7);
    assert.equal(info.archName, 'x64 UEFI');
    assert.equal(info.firmware, 'uefi');
    assert.equal(info.isPxeClient, true);
    assert.equal(info.isIpxe, false);
    assert.equal(info.ipxeHasHttp, false);
    assert.equal(info.uuid, '44454c4c-1000-804d-8031-b2c04f395032'); // option 97 bytes 4c4c4544 0010 4d80 ...
  });

  it('iPXE under EFI: uefi + iPXE, no option 97', () => {
    const info = clientInfo(fixturePacket('ipxe-efi-discover.hex'));
    assert.equal(info.firmware, 'uefi');
    assert.equal(info.isIpxe, true);
    assert.equal(info.ipxeHasHttp, true);
    assert.equal(info.uuid, null);
  });

  it('dhclient: no boot identity at all', () => {
    const info = clientInfo(fixturePacket('dhclient-discover.hex'));
    assert.deepEqual(
      [info.arch, info.firmware, info.isPxeClient, info.isHttpClient, info.isIpxe, info.vendorClass, info.hostnameHint],
      [null, 'unknown', false, false, false, null, 'host4'],
    );
    assert.equal(info.archName, 'unknown');
  });

  it('InfiniBand: mac is null', () => {
    assert.equal(clientInfo(fixturePacket('infiniband-discover.hex')).mac, null);
  });
});

describe('clientInfo rules', () => {
  it('falls back to the Arch field of option 60 when 93 is missing', () => {
    const info = clientInfo(requestPacket({ options: [[60, text('PXEClient:Arch:00007:UNDI:003016')]] }));
    assert.equal(info.arch, 7);
    assert.equal(info.firmware, 'uefi');
  });

  it('option 93 wins over option 60', () => {
    const info = clientInfo(requestPacket({ options: [[60, text('PXEClient:Arch:00000:UNDI:002001')], [93, hex('000b')]] }));
    assert.equal(info.arch, 11);
    assert.equal(info.archName, 'ARM64 UEFI');
  });

  it('UEFI HTTP boot client', () => {
    const info = clientInfo(requestPacket({ options: [[60, text('HTTPClient:Arch:00016:UNDI:003001')], [93, hex('0010')]] }));
    assert.equal(info.isHttpClient, true);
    assert.equal(info.isPxeClient, false);
    assert.equal(info.archName, 'x64 UEFI HTTP');
  });

  it('iPXE detected from 175 alone; without 175.19 it has no HTTP', () => {
    const info = clientInfo(requestPacket({ options: [[175, hex('150101 eb03010000')]] }));
    assert.equal(info.isIpxe, true);
    assert.equal(info.ipxeHasHttp, false);
  });

  it('option 97 is read as the SMBIOS UUID dmidecode, the BMC and iPXE ${uuid} print: its first three fields are little-endian on the wire', () => {
    // dmidecode: 4c4c4544-0010-4d80-8031-b2c04f395032; iPXE sends it as type 0 + the EFI GUID bytes (uuid_mangle)
    const wire = hex('00 44454c4c 1000 804d 8031 b2c04f395032');
    assert.equal(clientInfo(requestPacket({ options: [[97, wire]] })).uuid, '4c4c4544-0010-4d80-8031-b2c04f395032');
    const qemu = hex('00 78563412 3412 7856 9abc def012345678'); // qemu -uuid 12345678-1234-5678-9abc-def012345678
    assert.equal(clientInfo(requestPacket({ options: [[97, qemu]] })).uuid, '12345678-1234-5678-9abc-def012345678');
  });

  it('an all-zero or all-ones option 97 is no UUID', () => {
    assert.equal(clientInfo(requestPacket({ options: [[97, Buffer.alloc(17)]] })).uuid, null);
    assert.equal(clientInfo(requestPacket({ options: [[97, Buffer.concat([Buffer.of(0), Buffer.alloc(16, 0xff)])]] })).uuid, null);
  });

  it('RFC 3004 user classes are joined', () => {
    const info = clientInfo(requestPacket({ options: [[77, Buffer.concat([Buffer.of(4), text('iPXE'), Buffer.of(3), text('lab')])]] }));
    assert.equal(info.userClass, 'iPXE,lab');
    assert.equal(info.isIpxe, true);
  });
});

describe('architecture table (IANA processor architecture types)', () => {
  const expectations: Array<[number, string, string, string | null]> = [
    [0, 'x86 BIOS', 'bios', 'bios'],
    [6, 'x86 UEFI', 'uefi', 'efiIa32'],
    [7, 'x64 UEFI', 'uefi', 'efiX64'],
    [9, 'EBC (x64 UEFI)', 'uefi', 'efiX64'],
    [10, 'ARM32 UEFI', 'uefi', null],
    [11, 'ARM64 UEFI', 'uefi', 'efiArm64'],
    [15, 'x86 UEFI HTTP', 'uefi', 'efiIa32'],
    [16, 'x64 UEFI HTTP', 'uefi', 'efiX64'],
    [18, 'ARM32 UEFI HTTP', 'uefi', null],
    [19, 'ARM64 UEFI HTTP', 'uefi', 'efiArm64'],
    [27, 'RISC-V 64 UEFI', 'uefi', null],
    [22, 'ARM64 U-Boot', 'unknown', null],
  ];
  for (const [code, name, firmware, platform] of expectations) {
    it(`${code} = ${name}`, () => {
      const info = architectureInfo(code);
      assert.deepEqual([info.name, info.firmware, info.platform], [name, firmware, platform]);
    });
  }

  it('covers 0..41 and flags HTTP-boot types', () => {
    for (let code = 0; code <= 41; code += 1) assert.ok(CLIENT_ARCHITECTURES.has(code), `arch ${code}`);
    assert.deepEqual([...CLIENT_ARCHITECTURES].filter(([, a]) => a.httpBoot).map(([c]) => c),
      [15, 16, 17, 18, 19, 20, 26, 28, 30, 38, 40]);
  });

  it('unknown codes are named, not fatal', () => {
    assert.equal(architectureInfo(999).name, 'unknown (999)');
    assert.equal(architectureInfo(999).platform, null);
  });
});
