import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bootDeviceForSelector,
  decodeBootFlags,
  encodeBootFlags,
  getBootFlags,
  setBootFlagValidClearing,
  setBootFlags,
  setBootInfoAcknowledge,
  setBootSetInProgress,
  type BootDevice,
} from '../../../../server/protocol/ipmi/boot-options.js';
import * as cmd from '../../../../server/protocol/ipmi/commands.js';
import {
  describeCompletionCode,
  describeRmcpPlusStatus,
  isCipherSuiteRefusal,
  isCredentialRefusal,
} from '../../../../server/protocol/ipmi/completion-codes.js';
import {
  decodeDellMacRecord,
  decodeDellMacTable,
  dellHostMacs,
  dellMacRecordRequest,
  dellMacTableLengthRequest,
} from '../../../../server/protocol/ipmi/dell-oem.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const bytes = (r: { netFn: number; cmd: number; data: Uint8Array }) => `${r.netFn.toString(16)}/${r.cmd.toString(16)}: ${Buffer.from(r.data).toString('hex')}`;

describe('boot options, parameter 5 (boot flags)', () => {
  // IPMI v2.0 table 28-14; the same bytes as ipmitool `chassis bootdev` and Ironic's raw commands.
  const devices: ReadonlyArray<[BootDevice, number]> = [
    ['pxe', 0x04],
    ['disk', 0x08],
    ['disk-safe', 0x0c],
    ['diag', 0x10],
    ['cdrom', 0x14],
    ['bios-setup', 0x18],
    ['floppy', 0x3c],
  ];
  const modes: ReadonlyArray<[string, boolean, boolean, number]> = [
    ['next boot, legacy BIOS', false, false, 0x80],
    ['next boot, EFI', false, true, 0xa0],
    ['persistent, legacy BIOS', true, false, 0xc0],
    ['persistent, EFI', true, true, 0xe0],
  ];
  for (const [mode, persistent, efi, d1] of modes) {
    for (const [device, d2] of devices) {
      it(`${device}, ${mode}: 05 ${d1.toString(16)} ${d2.toString(16).padStart(2, '0')} 00 00 00`, () => {
        const request = setBootFlags({ device, valid: true, persistent, efi });
        assert.equal(request.netFn, 0x00);
        assert.equal(request.cmd, 0x08);
        assert.deepEqual(Buffer.from(request.data), Buffer.from([0x05, d1, d2, 0x00, 0x00, 0x00]));
        // Get System Boot Options answers version, parameter, then the same five bytes.
        const read = decodeBootFlags(Buffer.concat([Buffer.from([0x01, 0x05]), encodeBootFlags({ device, valid: true, persistent, efi })]));
        assert.deepEqual({ device: read.device, valid: read.valid, persistent: read.persistent, efi: read.efi }, { device, valid: true, persistent, efi });
      });
    }
  }

  it('Ironic and vendor docs byte strings', () => {
    assert.deepEqual(Buffer.from(setBootFlags({ device: 'pxe', valid: true, persistent: false, efi: true }).data), hex('05 a0 04 00 00 00'));
    assert.deepEqual(Buffer.from(setBootFlags({ device: 'disk', valid: true, persistent: true, efi: true }).data), hex('05 e0 08 00 00 00'));
  });

  it('set in progress, valid-bit clearing (param 3 = 08), boot info ack, get', () => {
    assert.equal(bytes(setBootSetInProgress('inProgress')), '0/8: 0001');
    assert.equal(bytes(setBootSetInProgress('complete')), '0/8: 0000');
    assert.equal(bytes(setBootFlagValidClearing()), '0/8: 0308');
    assert.equal(bytes(setBootInfoAcknowledge()), '0/8: 040101');
    assert.equal(bytes(getBootFlags()), '0/9: 050000');
  });

  it('decodes what ipmi_sim answers (flags byte 0) and a locked parameter', () => {
    const read = decodeBootFlags(hex('01 05 00 04 00 00 00'));
    assert.deepEqual([read.device, read.valid, read.efi, read.parameterLocked], ['pxe', false, false, false]);
    assert.equal(decodeBootFlags(hex('01 85 80 08 00 00 00')).parameterLocked, true);
    assert.equal(bootDeviceForSelector(0x28), undefined, 'a reserved selector has no name');
    assert.throws(() => decodeBootFlags(hex('01 05')), /need at least/);
  });
});

describe('session commands', () => {
  it('Get Channel Authentication Capabilities request and response', () => {
    assert.equal(bytes(cmd.getChannelAuthCapabilities(4)), '6/38: 8e04');
    assert.equal(bytes(cmd.getChannelAuthCapabilities(4, false)), '6/38: 0e04');
    // ipmi_sim: channel 1, v2.0 data + none/md2/md5/password, per-message auth on, 2.0 + 1.5
    const caps = cmd.decodeChannelAuthCapabilities(hex('01 97 04 03 000000 00'));
    assert.equal(caps.supportsIpmi20, true);
    assert.equal(caps.authTypes.md5, true);
    assert.equal(caps.authTypes.password, true);
    assert.equal(caps.nonNullUsernames, true);
    // An IPMI 1.5-only BMC: no extended data bit.
    const old = cmd.decodeChannelAuthCapabilities(hex('01 14 04 00 000000 00'));
    assert.equal(old.supportsIpmi20, false);
    assert.equal(old.supportsIpmi15, true);
    assert.equal(old.authTypes.md5, true);
  });

  it('Get Session Challenge, Activate Session, Set Session Privilege, Close Session', () => {
    const challenge = cmd.getSessionChallenge(2, 'admin');
    assert.equal(bytes(challenge), `6/39: 02${Buffer.from('admin').toString('hex')}${'00'.repeat(11)}`);
    assert.deepEqual(cmd.decodeSessionChallenge(Buffer.concat([hex('44332211'), Buffer.alloc(16, 7)])).temporarySessionId, 0x11223344);
    const activate = cmd.activateSession(2, 4, Buffer.alloc(16, 7), 0x01020304);
    assert.equal(bytes(activate), `6/3a: 0204${'07'.repeat(16)}04030201`);
    assert.deepEqual(cmd.decodeActivateSession(hex('02 88776655 0a000000 04')), { authType: 2, sessionId: 0x55667788, initialInboundSequence: 10, maxPrivilege: 4 });
    assert.equal(bytes(cmd.setSessionPrivilege(4)), '6/3b: 04');
    assert.equal(bytes(cmd.closeSession(0x02000100)), '6/3c: 00010002');
    assert.throws(() => cmd.username16('x'.repeat(17)), /at most 16 bytes/);
  });
});

describe('identity, LAN, FRU and chassis commands', () => {
  it('Get Device ID (ipmi_sim: firmware 9.08, IPMI 2.0, IANA 4753, product 0x0f02)', () => {
    const id = cmd.decodeDeviceId(hex('00 03 09 08 02 9f 911200 020f'));
    assert.deepEqual(
      [id.deviceId, id.deviceRevision, id.firmwareRevision, id.ipmiVersion, id.manufacturerId, id.productId, id.deviceAvailable],
      [0, 3, '9.08', '2.0', 4753, 0x0f02, true],
    );
    assert.equal(cmd.decodeDeviceId(hex('20 81 82 43 51 bf a20200 0001')).ipmiVersion, '1.5');
    assert.equal(cmd.decodeDeviceId(hex('20 81 82 43 51 bf a20200 0001')).manufacturerId, 674);
    assert.equal(cmd.decodeDeviceId(hex('20 81 82 43 51 bf a20200 0001')).deviceAvailable, false);
  });

  it('Get System GUID keeps the bytes as sent', () => {
    assert.deepEqual(cmd.decodeSystemGuid(hex('0123456789abcdef0123456789abcdef')), hex('0123456789abcdef0123456789abcdef'));
  });

  it('Get Channel Info and LAN parameters 3 (IP) and 5 (MAC)', () => {
    assert.equal(bytes(cmd.getChannelInfo(0x0e)), '6/42: 0e');
    assert.deepEqual(cmd.decodeChannelInfo(hex('01 04 01 81 f21b00 0000')), { channel: 1, medium: 4, protocol: 1, sessionSupport: 0x81, vendorId: 7154 });
    assert.equal(bytes(cmd.getLanConfigParameters(1, 3)), 'c/2: 01030000');
    assert.equal(bytes(cmd.getLanConfigParameters(1, 5)), 'c/2: 01050000');
    assert.equal(cmd.decodeLanIpAddress(hex('11 0a01000b')), '10.1.0.11');
    assert.equal(cmd.decodeLanMacAddress(hex('11 525400aa0011')), '52:54:00:aa:00:11');
  });

  it('FRU area info and reads (word access counts in words)', () => {
    assert.equal(bytes(cmd.getFruInventoryAreaInfo(0)), 'a/10: 00');
    assert.deepEqual(cmd.decodeFruInventoryAreaInfo(hex('0001 00')), { size: 256, accessByWords: false });
    assert.equal(bytes(cmd.readFruData(0, 0x0120, 32)), 'a/11: 00200120');
    assert.deepEqual(cmd.decodeReadFruData(hex('03 aabbcc')), hex('aabbcc'));
    assert.deepEqual(cmd.decodeReadFruData(hex('02 aabbccdd'), 2), hex('aabbccdd'));
    assert.throws(() => cmd.decodeReadFruData(hex('05 aabb')), /says 5 bytes/);
  });

  it('chassis status and control', () => {
    assert.equal(cmd.decodeChassisStatus(hex('01 00 00')).powerOn, true);
    assert.equal(cmd.decodeChassisStatus(hex('40 00 00 00')).powerOn, false);
    assert.equal(cmd.decodeChassisStatus(hex('40 00 00 00')).restorePolicy, 2);
    const actions: ReadonlyArray<[cmd.ChassisAction, string]> = [
      ['off', '00'],
      ['on', '01'],
      ['cycle', '02'],
      ['reset', '03'],
      ['soft', '05'],
    ];
    for (const [action, byte] of actions) assert.equal(bytes(cmd.chassisControl(action)), `0/2: ${byte}`);
  });
});

describe('Dell OEM LOM MACs (Get System Info Parameters 0xDA)', () => {
  it('requests the table length, then 8-byte records by offset', () => {
    assert.equal(bytes(dellMacTableLengthRequest()), '6/59: 00da00000000');
    assert.equal(bytes(dellMacRecordRequest(0)), '6/59: 00da00000008');
    assert.equal(bytes(dellMacRecordRequest(2)), '6/59: 00da00001008');
  });

  it('decodes records: flags (slot, type, status), NIC number, MAC', () => {
    const table = hex('00 00 525400990001  00 01 525400990002  40 02 525400990003  10 03 525400990004');
    const records = decodeDellMacTable(table);
    assert.deepEqual(
      records.map((r) => [r.nic, r.type, r.status, r.mac]),
      [
        [0, 'ethernet', 'enabled', '52:54:00:99:00:01'],
        [1, 'ethernet', 'enabled', '52:54:00:99:00:02'],
        [2, 'ethernet', 'disabled', '52:54:00:99:00:03'],
        [3, 'iscsi', 'enabled', '52:54:00:99:00:04'],
      ],
    );
    assert.deepEqual(dellHostMacs(records).map((r) => r.mac), ['52:54:00:99:00:01', '52:54:00:99:00:02']);
    assert.equal(decodeDellMacRecord(hex('05 00 525400990001')).bladeSlot, 5);
    assert.throws(() => decodeDellMacRecord(hex('00 00 5254')), /need at least 8/);
  });
});

describe('completion codes and RMCP+ statuses', () => {
  it('maps codes to clear text, command-specific ones by family', () => {
    assert.equal(describeCompletionCode(0xc1), 'invalid command (not supported by this BMC)');
    assert.equal(describeCompletionCode(0xd4), 'insufficient privilege level');
    assert.equal(describeCompletionCode(0x80, 'parameter'), 'parameter not supported');
    assert.equal(describeCompletionCode(0x81, 'getSessionChallenge'), 'invalid user name');
    assert.equal(describeCompletionCode(0x85), 'command-specific completion code');
    assert.equal(describeCompletionCode(0x10), 'device-specific (OEM) completion code');
  });

  it('tells cipher-suite refusals from credential refusals', () => {
    assert.equal(describeRmcpPlusStatus(0x0d), 'unauthorized name');
    assert.ok(isCipherSuiteRefusal(0x04) && isCipherSuiteRefusal(0x11));
    assert.ok(!isCipherSuiteRefusal(0x0d));
    assert.ok(isCredentialRefusal(0x0d) && isCredentialRefusal(0x0f));
    assert.ok(!isCredentialRefusal(0x01));
  });
});
