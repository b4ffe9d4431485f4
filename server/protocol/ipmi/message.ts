/**
 * The IPMI LAN message inside a session wrapper (IPMI v2.0 §13.8):
 *   request:  rsAddr | netFn<<2 | rsLUN | chk1 | rqAddr | rqSeq<<2 | rqLUN | cmd | data | chk2
 *   response: rqAddr | netFn<<2 | rqLUN | chk1 | rsAddr | rqSeq<<2 | rsLUN | cmd | cc | data | chk2
 * Both checksums are two's-complement: the covered bytes plus the checksum sum to 0 mod 256.
 */
import { BMC_SLAVE_ADDRESS, REMOTE_CONSOLE_SWID } from './constants.js';
import { IpmiDecodeError } from './decode-error.js';

export interface IpmiRequest {
  readonly netFn: number;
  readonly cmd: number;
  readonly data: Uint8Array;
}

export interface IpmiRequestFrame extends IpmiRequest {
  /** 6-bit request sequence number; a retransmit reuses it so the BMC can spot duplicates. */
  readonly rqSeq: number;
  readonly rsAddr?: number;
  readonly rqAddr?: number;
  readonly rsLun?: number;
  readonly rqLun?: number;
}

export interface IpmiResponseFrame {
  readonly rqAddr: number;
  /** The response NetFn (request NetFn + 1). */
  readonly netFn: number;
  readonly rqLun: number;
  readonly rsAddr: number;
  readonly rqSeq: number;
  readonly rsLun: number;
  readonly cmd: number;
  readonly completionCode: number;
  readonly data: Buffer;
}

export function ipmiChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + (bytes[i] as number)) & 0xff;
  return (0x100 - sum) & 0xff;
}

export function encodeRequestMessage(frame: IpmiRequestFrame): Buffer {
  const rsAddr = frame.rsAddr ?? BMC_SLAVE_ADDRESS;
  const rqAddr = frame.rqAddr ?? REMOTE_CONSOLE_SWID;
  const out = Buffer.alloc(7 + frame.data.length);
  out[0] = rsAddr;
  out[1] = ((frame.netFn & 0x3f) << 2) | ((frame.rsLun ?? 0) & 0x03);
  out[2] = ipmiChecksum(out, 0, 2);
  out[3] = rqAddr;
  out[4] = ((frame.rqSeq & 0x3f) << 2) | ((frame.rqLun ?? 0) & 0x03);
  out[5] = frame.cmd;
  Buffer.from(frame.data).copy(out, 6);
  out[out.length - 1] = ipmiChecksum(out, 3, out.length - 1);
  return out;
}

export function decodeResponseMessage(bytes: Uint8Array): IpmiResponseFrame {
  if (bytes.length < 8) throw new IpmiDecodeError(`IPMI response message of ${bytes.length} bytes (minimum 8)`);
  if (ipmiChecksum(bytes, 0, 3) !== 0) throw new IpmiDecodeError('IPMI response header checksum mismatch');
  if (ipmiChecksum(bytes, 3, bytes.length) !== 0) throw new IpmiDecodeError('IPMI response data checksum mismatch');
  const b = (i: number) => bytes[i] as number;
  return {
    rqAddr: b(0),
    netFn: b(1) >> 2,
    rqLun: b(1) & 0x03,
    rsAddr: b(3),
    rqSeq: b(4) >> 2,
    rsLun: b(4) & 0x03,
    cmd: b(5),
    completionCode: b(6),
    data: Buffer.from(bytes.subarray(7, bytes.length - 1)),
  };
}

/** BMC side, for test doubles: decodes what encodeRequestMessage produced. */
export function decodeRequestMessage(bytes: Uint8Array): Required<IpmiRequestFrame> {
  if (bytes.length < 7) throw new IpmiDecodeError(`IPMI request message of ${bytes.length} bytes (minimum 7)`);
  if (ipmiChecksum(bytes, 0, 3) !== 0 || ipmiChecksum(bytes, 3, bytes.length) !== 0) {
    throw new IpmiDecodeError('IPMI request checksum mismatch');
  }
  const b = (i: number) => bytes[i] as number;
  return {
    rsAddr: b(0),
    netFn: b(1) >> 2,
    rsLun: b(1) & 0x03,
    rqAddr: b(3),
    rqSeq: b(4) >> 2,
    rqLun: b(4) & 0x03,
    cmd: b(5),
    data: Buffer.from(bytes.subarray(6, bytes.length - 1)),
  };
}

/** BMC side, for test doubles. */
export function encodeResponseMessage(request: Required<IpmiRequestFrame>, completionCode: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + data.length);
  out[0] = request.rqAddr;
  out[1] = (((request.netFn | 1) & 0x3f) << 2) | request.rqLun;
  out[2] = ipmiChecksum(out, 0, 2);
  out[3] = request.rsAddr;
  out[4] = ((request.rqSeq & 0x3f) << 2) | request.rsLun;
  out[5] = request.cmd;
  out[6] = completionCode;
  Buffer.from(data).copy(out, 7);
  out[out.length - 1] = ipmiChecksum(out, 3, out.length - 1);
  return out;
}
