import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BOOTP_REQUEST, DhcpMessageType, DhcpOption, HTYPE_ETHERNET } from '../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../server/protocol/dhcp/decode.js';
import { chaddrFromMac, type DhcpPacket } from '../../server/protocol/dhcp/packet.js';

const fixtureDir = fileURLToPath(new URL('../fixtures/dhcp/', import.meta.url));

/**
 * Parses the annotated hex format of test/fixtures/dhcp: `#` starts a comment, bytes are hex pairs,
 * `XX*N` repeats a byte N times, and "text" stands for its ASCII bytes.
 */
export function parseHexFixture(text: string): Buffer {
  const bytes: number[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*$/, '');
    const tokens = line.match(/"[^"]*"|\S+/g) ?? [];
    for (const token of tokens) {
      if (token.startsWith('"')) {
        bytes.push(...Buffer.from(token.slice(1, -1), 'latin1'));
        continue;
      }
      const m = /^([0-9a-fA-F]{2})(?:\*(\d+))?$/.exec(token);
      if (!m?.[1]) throw new Error(`bad fixture token ${JSON.stringify(token)}`);
      const count = m[2] === undefined ? 1 : Number(m[2]);
      for (let i = 0; i < count; i += 1) bytes.push(parseInt(m[1], 16));
    }
  }
  return Buffer.from(bytes);
}

export function loadHexFixture(name: string): Buffer {
  return parseHexFixture(readFileSync(`${fixtureDir}${name}`, 'utf8'));
}

/** Decodes a fixture that must be valid. */
export function fixturePacket(name: string): DhcpPacket {
  const result = decodeDhcp(loadHexFixture(name));
  if (!result.ok) throw new Error(`fixture ${name} does not decode: ${result.error}`);
  return result.packet;
}

export interface RequestShape {
  readonly mac?: string;
  readonly type?: number;
  readonly xid?: number;
  readonly flags?: number;
  readonly ciaddr?: string;
  readonly giaddr?: string;
  readonly hops?: number;
  readonly options?: ReadonlyArray<readonly [number, Buffer]>;
}

/** A client request with option 53 first and the given extra options, for decision tests. */
export function requestPacket(shape: RequestShape = {}): DhcpPacket {
  const mac = shape.mac ?? '52:54:00:99:00:01';
  const options = new Map<number, Buffer>([[DhcpOption.MessageType, Buffer.of(shape.type ?? DhcpMessageType.Discover)]]);
  for (const [code, value] of shape.options ?? []) options.set(code, value);
  return {
    op: BOOTP_REQUEST,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: shape.hops ?? 0,
    xid: shape.xid ?? 0x12345678,
    secs: 0,
    flags: shape.flags ?? 0,
    ciaddr: shape.ciaddr ?? '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: shape.giaddr ?? '0.0.0.0',
    chaddr: chaddrFromMac(mac),
    mac,
    sname: '',
    file: '',
    options,
  };
}
