/**
 * Sends N fuzz datagrams (test/helpers/dhcp-fuzz.ts) to a DHCP server at a bounded rate, then exits.
 *   node --import tsx test/helpers/dhcp-fuzz-sender.ts '{"to":"10.96.0.1","port":67,"count":20000,"seed":1,"perSecond":10000}'
 */
import { createSocket } from 'node:dgram';
import { fuzzPacket, prng, seedPackets } from './dhcp-fuzz.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { to: string; port: number; count: number; seed: number; perSecond: number };
const count = Math.min(args.count, 100_000);
const socket = createSocket('udp4');
await new Promise<void>((resolve) => socket.bind(0, resolve));
const rand = prng(args.seed);
const seeds = seedPackets();
const burst = 100;
const pauseMs = Math.max(1, Math.round((burst * 1000) / args.perSecond));
let sent = 0;
let failed = 0;
const started = Date.now();
while (sent < count && Date.now() - started < 60_000) {
  for (let i = 0; i < burst && sent < count; i++, sent++) {
    socket.send(fuzzPacket(rand, seeds), args.port, args.to, (err) => {
      if (err) failed += 1;
    });
  }
  await new Promise((r) => setTimeout(r, pauseMs));
}
await new Promise((r) => setTimeout(r, 200));
socket.close();
process.stdout.write(`${JSON.stringify({ sent, failed, ms: Date.now() - started })}\n`);
