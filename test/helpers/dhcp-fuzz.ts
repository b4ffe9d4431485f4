/**
 * Deterministic packet mutator for fuzz tests: realistic DHCP packets with bytes flipped, options
 * truncated, lengths lied about, overload switched on, headers garbled, plus random datagrams.
 */
import { encodeDhcp } from '../../server/protocol/dhcp/encode.js';
import { fixturePacket, loadHexFixture } from './dhcp-packets.js';

/** xorshift32: the same seed gives the same packets, so a failure can be replayed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const SEEDS = [
  'seabios-ipxe-discover.hex', 'ovmf-x64-discover.hex', 'ipxe-efi-discover.hex', 'dhclient-discover.hex',
  'bios-pxe-discover.hex', 'ovmf-x64-request-4011.hex', 'pad-bytes-discover.hex', 'split-option-discover.hex',
  'overload-discover.hex', 'infiniband-discover.hex',
];

export function seedPackets(): Buffer[] {
  const out = SEEDS.map((name) => loadHexFixture(name));
  // Replies too (op 2), so the rogue path is fuzzed as well.
  out.push(encodeDhcp({ ...fixturePacket('dhclient-discover.hex'), op: 2 }));
  return out;
}

/** The n-th fuzz datagram: a mutation of a seed, or (1 in 8) random bytes of random length. */
export function fuzzPacket(rand: () => number, seeds: readonly Buffer[]): Buffer {
  const int = (n: number): number => Math.floor(rand() * n);
  if (int(8) === 0) {
    const out = Buffer.alloc(int(1500));
    for (let i = 0; i < out.length; i++) out[i] = int(256);
    return out;
  }
  let buf = Buffer.from(seeds[int(seeds.length)] as Buffer);
  const mutations = 1 + int(6);
  for (let m = 0; m < mutations; m++) {
    switch (int(9)) {
      case 0: // flip random bytes anywhere
        for (let k = int(8) + 1; k > 0; k--) buf[int(buf.length)] = int(256);
        break;
      case 1: // flip bytes in the options area
        for (let k = int(8) + 1; k > 0; k--) buf[240 + int(Math.max(1, buf.length - 240))] = int(256);
        break;
      case 2: // truncate
        buf = buf.subarray(0, int(buf.length + 1));
        break;
      case 3: // append garbage
        buf = Buffer.concat([buf, Buffer.from(Array.from({ length: int(300) }, () => int(256)))]);
        break;
      case 4: { // an option claiming more bytes than remain
        const at = 240 + int(Math.max(1, buf.length - 241));
        if (at + 1 < buf.length) buf[at + 1] = 200 + int(56);
        break;
      }
      case 5: // option 52 overload with any value, right after the cookie
        buf = Buffer.concat([buf.subarray(0, 240), Buffer.of(52, 1, int(256)), buf.subarray(240)]);
        break;
      case 6: // header fields: op, htype, hlen, hops
        buf[int(4)] = int(256);
        break;
      case 7: // message type 53 anything, or the magic cookie broken
        if (int(2) === 0) buf = Buffer.concat([buf.subarray(0, 240), Buffer.of(53, 1, int(256)), buf.subarray(240)]);
        else if (buf.length > 239) buf[236 + int(4)] = int(256);
        break;
      default: // giaddr / ciaddr / flags random
        if (buf.length >= 28) buf.writeUInt32BE(int(0x100000000), 12 + 4 * int(4));
        break;
    }
  }
  return buf;
}
