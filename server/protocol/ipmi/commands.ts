/**
 * Request encoders and response-data decoders for the commands rackboot sends. Response decoders
 * take the data after the completion code; the caller has already turned a non-zero completion
 * code into an error.
 */
import {
  AppCmd,
  ChassisCmd,
  CURRENT_CHANNEL,
  NetFn,
  StorageCmd,
  TransportCmd,
} from './constants.js';
import { uint32le } from './crypto.js';
import { IpmiDecodeError, need } from './decode-error.js';
import type { IpmiRequest } from './message.js';

function request(netFn: number, cmd: number, data: readonly number[] | Uint8Array = []): IpmiRequest {
  return { netFn, cmd, data: Buffer.from(data) };
}

// ---- Sessions ----

export interface ChannelAuthCapabilities {
  readonly channel: number;
  readonly authTypes: { readonly none: boolean; readonly md2: boolean; readonly md5: boolean; readonly password: boolean; readonly oem: boolean };
  /** The response carries the IPMI v2.0 extended data (byte 2 bit 7). */
  readonly extendedData: boolean;
  readonly supportsIpmi20: boolean;
  readonly supportsIpmi15: boolean;
  readonly perMessageAuthDisabled: boolean;
  readonly userLevelAuthDisabled: boolean;
  readonly nonNullUsernames: boolean;
  readonly nullUsernames: boolean;
  readonly anonymousLogin: boolean;
  readonly oemId: number;
}

/** Get Channel Authentication Capabilities (App 38h): `[0x8E, priv]` asks for the v2.0 extended data. */
export function getChannelAuthCapabilities(privilege: number, withIpmi20Data = true): IpmiRequest {
  return request(NetFn.app, AppCmd.getChannelAuthCapabilities, [(withIpmi20Data ? 0x80 : 0x00) | CURRENT_CHANNEL, privilege & 0x0f]);
}

export function decodeChannelAuthCapabilities(d: Uint8Array): ChannelAuthCapabilities {
  need(d, 8, 'Get Channel Authentication Capabilities');
  const types = d[1] as number;
  const status = d[2] as number;
  const extendedData = (types & 0x80) !== 0;
  const ext = d[3] as number;
  return {
    channel: d[0] as number,
    authTypes: { none: (types & 0x01) !== 0, md2: (types & 0x02) !== 0, md5: (types & 0x04) !== 0, password: (types & 0x10) !== 0, oem: (types & 0x20) !== 0 },
    extendedData,
    supportsIpmi20: extendedData && (ext & 0x02) !== 0,
    // Without the extended data a BMC speaks only 1.5.
    supportsIpmi15: !extendedData || (ext & 0x01) !== 0,
    perMessageAuthDisabled: (status & 0x10) !== 0,
    userLevelAuthDisabled: (status & 0x08) !== 0,
    nonNullUsernames: (status & 0x04) !== 0,
    nullUsernames: (status & 0x02) !== 0,
    anonymousLogin: (status & 0x01) !== 0,
    oemId: (d[4] as number) | ((d[5] as number) << 8) | ((d[6] as number) << 16),
  };
}

/** User names travel as 16 bytes, NUL-padded. */
export function username16(username: string): Buffer {
  const raw = Buffer.from(username, 'utf8');
  if (raw.length > 16) throw new RangeError(`IPMI user names are at most 16 bytes; ${JSON.stringify(username)} has ${raw.length}`);
  const out = Buffer.alloc(16);
  raw.copy(out);
  return out;
}

export function getSessionChallenge(authType: number, username: string): IpmiRequest {
  return request(NetFn.app, AppCmd.getSessionChallenge, Buffer.concat([Buffer.from([authType]), username16(username)]));
}

export function decodeSessionChallenge(d: Uint8Array): { temporarySessionId: number; challenge: Buffer } {
  need(d, 20, 'Get Session Challenge');
  const b = Buffer.from(d);
  return { temporarySessionId: b.readUInt32LE(0), challenge: b.subarray(4, 20) };
}

export function activateSession(authType: number, privilege: number, challenge: Uint8Array, initialOutboundSequence: number): IpmiRequest {
  if (challenge.length !== 16) throw new RangeError('the session challenge is 16 bytes');
  return request(NetFn.app, AppCmd.activateSession, Buffer.concat([Buffer.from([authType, privilege]), challenge, uint32le(initialOutboundSequence)]));
}

export function decodeActivateSession(d: Uint8Array): { authType: number; sessionId: number; initialInboundSequence: number; maxPrivilege: number } {
  need(d, 10, 'Activate Session');
  const b = Buffer.from(d);
  return { authType: (b[0] as number) & 0x0f, sessionId: b.readUInt32LE(1), initialInboundSequence: b.readUInt32LE(5), maxPrivilege: (b[9] as number) & 0x0f };
}

export function setSessionPrivilege(privilege: number): IpmiRequest {
  return request(NetFn.app, AppCmd.setSessionPrivilege, [privilege & 0x0f]);
}

export function decodeSetSessionPrivilege(d: Uint8Array): number {
  need(d, 1, 'Set Session Privilege Level');
  return (d[0] as number) & 0x0f;
}

export function closeSession(sessionId: number): IpmiRequest {
  return request(NetFn.app, AppCmd.closeSession, uint32le(sessionId));
}

// ---- Identity ----

export interface DeviceId {
  readonly deviceId: number;
  readonly deviceRevision: number;
  readonly deviceAvailable: boolean;
  readonly providesDeviceSdrs: boolean;
  /** e.g. "9.08" (the minor revision is BCD). */
  readonly firmwareRevision: string;
  /** e.g. "2.0". */
  readonly ipmiVersion: string;
  readonly additionalDeviceSupport: number;
  /** IANA enterprise number (20 bits). */
  readonly manufacturerId: number;
  readonly productId: number;
}

export function getDeviceId(): IpmiRequest {
  return request(NetFn.app, AppCmd.getDeviceId);
}

export function decodeDeviceId(d: Uint8Array): DeviceId {
  need(d, 11, 'Get Device ID');
  const b = (i: number) => d[i] as number;
  const minor = b(3);
  return {
    deviceId: b(0),
    deviceRevision: b(1) & 0x0f,
    providesDeviceSdrs: (b(1) & 0x80) !== 0,
    deviceAvailable: (b(2) & 0x80) === 0,
    firmwareRevision: `${b(2) & 0x7f}.${(minor >> 4).toString(16)}${(minor & 0x0f).toString(16)}`,
    ipmiVersion: `${b(4) & 0x0f}.${b(4) >> 4}`,
    additionalDeviceSupport: b(5),
    manufacturerId: (b(6) | (b(7) << 8) | (b(8) << 16)) & 0x0fffff,
    productId: b(9) | (b(10) << 8),
  };
}

export function getSystemGuid(): IpmiRequest {
  return request(NetFn.app, AppCmd.getSystemGuid);
}

/** The 16 GUID bytes exactly as sent; their byte order varies by BMC (see core/uuid-match.ts). */
export function decodeSystemGuid(d: Uint8Array): Buffer {
  need(d, 16, 'Get System GUID');
  return Buffer.from(d.subarray(0, 16));
}

// ---- Channels and LAN configuration ----

export interface ChannelInfo {
  readonly channel: number;
  /** 0x04 = 802.3 LAN. */
  readonly medium: number;
  readonly protocol: number;
  readonly sessionSupport: number;
  readonly vendorId: number;
}

export function getChannelInfo(channel: number): IpmiRequest {
  return request(NetFn.app, AppCmd.getChannelInfo, [channel & 0x0f]);
}

export function decodeChannelInfo(d: Uint8Array): ChannelInfo {
  need(d, 7, 'Get Channel Info');
  const b = (i: number) => d[i] as number;
  return { channel: b(0) & 0x0f, medium: b(1) & 0x7f, protocol: b(2) & 0x1f, sessionSupport: b(3), vendorId: b(4) | (b(5) << 8) | (b(6) << 16) };
}

export function getLanConfigParameters(channel: number, parameter: number, setSelector = 0, blockSelector = 0): IpmiRequest {
  return request(NetFn.transport, TransportCmd.getLanConfigParameters, [channel & 0x0f, parameter, setSelector, blockSelector]);
}

/** Strips the parameter revision byte and checks the length of the parameter data. */
export function decodeLanParameter(d: Uint8Array, length: number, what: string): Buffer {
  need(d, 1 + length, what);
  return Buffer.from(d.subarray(1, 1 + length));
}

export function decodeLanIpAddress(d: Uint8Array): string {
  return [...decodeLanParameter(d, 4, 'LAN parameter 3 (IP address)')].join('.');
}

export function decodeLanMacAddress(d: Uint8Array): string {
  return formatMac(decodeLanParameter(d, 6, 'LAN parameter 5 (MAC address)'));
}

export function formatMac(bytes: Uint8Array): string {
  if (bytes.length !== 6) throw new IpmiDecodeError(`a MAC address is 6 bytes, not ${bytes.length}`);
  return [...bytes].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---- FRU ----

export function getFruInventoryAreaInfo(fruId: number): IpmiRequest {
  return request(NetFn.storage, StorageCmd.getFruInventoryAreaInfo, [fruId]);
}

export function decodeFruInventoryAreaInfo(d: Uint8Array): { size: number; accessByWords: boolean } {
  need(d, 3, 'Get FRU Inventory Area Info');
  return { size: (d[0] as number) | ((d[1] as number) << 8), accessByWords: ((d[2] as number) & 0x01) !== 0 };
}

export function readFruData(fruId: number, offset: number, count: number): IpmiRequest {
  return request(NetFn.storage, StorageCmd.readFruData, [fruId, offset & 0xff, (offset >> 8) & 0xff, count]);
}

/** `unitBytes` is 2 for FRU devices accessed by words: the count is then in words. */
export function decodeReadFruData(d: Uint8Array, unitBytes: 1 | 2 = 1): Buffer {
  need(d, 1, 'Read FRU Data');
  const count = (d[0] as number) * unitBytes;
  if (d.length - 1 < count) throw new IpmiDecodeError(`Read FRU Data says ${count} bytes but carries ${d.length - 1}`);
  return Buffer.from(d.subarray(1, 1 + count));
}

// ---- System info parameters (Dell LOM MACs) ----

/**
 * Get System Info Parameters (App 59h): `[00, param, set, block]`. Dell's parameter 0xDA takes two
 * more bytes, offset and length, to page through its MAC table.
 */
export function getSystemInfoParameters(parameter: number, setSelector = 0, blockSelector = 0, extra: readonly number[] = []): IpmiRequest {
  return request(NetFn.app, AppCmd.getSystemInfoParameters, [0x00, parameter, setSelector, blockSelector, ...extra]);
}

export function decodeSystemInfoParameters(d: Uint8Array): { revision: number; data: Buffer } {
  need(d, 1, 'Get System Info Parameters');
  return { revision: d[0] as number, data: Buffer.from(d.subarray(1)) };
}

// ---- Chassis ----

export interface ChassisStatus {
  readonly powerOn: boolean;
  readonly powerOverload: boolean;
  readonly interlock: boolean;
  readonly powerFault: boolean;
  readonly powerControlFault: boolean;
  /** 0 stay off, 1 restore previous, 2 always on, 3 unknown. */
  readonly restorePolicy: number;
  readonly lastPowerEvent: number;
  readonly miscChassisState: number;
}

export function getChassisStatus(): IpmiRequest {
  return request(NetFn.chassis, ChassisCmd.getStatus);
}

export function decodeChassisStatus(d: Uint8Array): ChassisStatus {
  need(d, 3, 'Get Chassis Status');
  const s = d[0] as number;
  return {
    powerOn: (s & 0x01) !== 0,
    powerOverload: (s & 0x02) !== 0,
    interlock: (s & 0x04) !== 0,
    powerFault: (s & 0x08) !== 0,
    powerControlFault: (s & 0x10) !== 0,
    restorePolicy: (s >> 5) & 0x03,
    lastPowerEvent: d[1] as number,
    miscChassisState: d[2] as number,
  };
}

export const CHASSIS_CONTROL = { off: 0x00, on: 0x01, cycle: 0x02, reset: 0x03, diag: 0x04, soft: 0x05 } as const;
export type ChassisAction = keyof typeof CHASSIS_CONTROL;

export function chassisControl(action: ChassisAction): IpmiRequest {
  return request(NetFn.chassis, ChassisCmd.control, [CHASSIS_CONTROL[action]]);
}
