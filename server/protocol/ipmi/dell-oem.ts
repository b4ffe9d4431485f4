/**
 * Dell iDRAC 6-8 (11G-13G) embedded NIC MACs: Get System Info Parameters (App 59h), OEM parameter
 * 0xDA. The first request `[00, DA, 00, 00, 00, 00]` answers with the table length; then the table
 * is read in 8-byte records with `[00, DA, 00, 00, offset, 8]`:
 *   byte 0  bits 3:0 blade slot, bits 5:4 MAC type (0 Ethernet, 1 iSCSI), bits 7:6 status (0 enabled)
 *   byte 1  bits 4:0 NIC number
 *   bytes 2-7 MAC
 */
import { DELL_LOM_MAC_PARAMETER } from './constants.js';
import { formatMac, getSystemInfoParameters } from './commands.js';
import { need } from './decode-error.js';
import type { IpmiRequest } from './message.js';

export const DELL_MAC_RECORD_LENGTH = 8;
/** At most 8 LOMs (ipmitool's MAX_LOM); bounds the number of requests. */
export const DELL_MAX_RECORDS = 8;

export type DellMacType = 'ethernet' | 'iscsi' | 'reserved';
export type DellNicStatus = 'enabled' | 'disabled' | 'playing-dead' | 'reserved';

export interface DellMacRecord {
  readonly nic: number;
  readonly bladeSlot: number;
  readonly type: DellMacType;
  readonly status: DellNicStatus;
  readonly mac: string;
}

export function dellMacTableLengthRequest(): IpmiRequest {
  return getSystemInfoParameters(DELL_LOM_MAC_PARAMETER, 0, 0, [0x00, 0x00]);
}

export function dellMacRecordRequest(index: number): IpmiRequest {
  return getSystemInfoParameters(DELL_LOM_MAC_PARAMETER, 0, 0, [index * DELL_MAC_RECORD_LENGTH, DELL_MAC_RECORD_LENGTH]);
}

/** `data` is the parameter data after the revision byte. */
export function decodeDellMacTableLength(data: Uint8Array): number {
  need(data, 1, 'Dell LOM MAC table length');
  return data[0] as number;
}

export function decodeDellMacRecord(record: Uint8Array): DellMacRecord {
  need(record, DELL_MAC_RECORD_LENGTH, 'Dell LOM MAC record');
  const flags = record[0] as number;
  const typeBits = (flags >> 4) & 0x03;
  const statusBits = (flags >> 6) & 0x03;
  return {
    bladeSlot: flags & 0x0f,
    type: typeBits === 0 ? 'ethernet' : typeBits === 1 ? 'iscsi' : 'reserved',
    status: (['enabled', 'disabled', 'playing-dead', 'reserved'] as const)[statusBits] as DellNicStatus,
    nic: (record[1] as number) & 0x1f,
    mac: formatMac(record.subarray(2, 8)),
  };
}

/** Decodes a whole table (concatenated records), e.g. from a capture. */
export function decodeDellMacTable(table: Uint8Array): DellMacRecord[] {
  const records: DellMacRecord[] = [];
  for (let at = 0; at + DELL_MAC_RECORD_LENGTH <= table.length && records.length < DELL_MAX_RECORDS; at += DELL_MAC_RECORD_LENGTH) {
    records.push(decodeDellMacRecord(table.subarray(at, at + DELL_MAC_RECORD_LENGTH)));
  }
  return records;
}

/** Ethernet LOMs that are not disabled: the host NICs that can PXE boot. */
export function dellHostMacs(records: readonly DellMacRecord[]): DellMacRecord[] {
  return records.filter((r) => r.type === 'ethernet' && r.status !== 'disabled' && r.mac !== '00:00:00:00:00:00');
}
