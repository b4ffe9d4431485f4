/**
 * Sends N DHCPDECLINEs from random MACs (locally administered 02:..), each declining a pool
 * address in turn, to a DHCP server, then exits. Run it inside a test network namespace:
 *   node --import tsx test/helpers/dhcp-decline-sender.ts '{"to":"10.95.0.1","serverId":"10.95.0.1","count":60,"first":"10.95.0.100","size":50}'
 * stdout: {"sent":n,"failed":n,"ms":n}
 */
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { formatIpv4, parseIpv4 } from '../../server/core/ipv4.js';
import { DhcpMessageType } from '../../server/protocol/dhcp/constants.js';
import { encodeDhcp } from '../../server/protocol/dhcp/encode.js';
import { ipv4Value } from '../../server/protocol/dhcp/options.js';
import { requestPacket } from './dhcp-packets.js';

const args = JSON.parse(process.argv[2] ?? '{}') as { to: string; serverId: string; count: number; first: string; size: number };
const count = Math.min(args.count, 10_000);
const first = parseIpv4(args.first);
if (first === null) throw new Error(`bad first address ${args.first}`);
const socket = createSocket('udp4');
await new Promise<void>((resolve) => socket.bind(0, resolve));
let failed = 0;
const started = Date.now();
for (let i = 0; i < count && Date.now() - started < 30_000; i++) {
  const mac = `02:${[...randomBytes(5)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  const ip = formatIpv4(first + (i % args.size));
  const packet = requestPacket({ mac, xid: i + 1, type: DhcpMessageType.Decline, options: [[54, ipv4Value(args.serverId)], [50, ipv4Value(ip)]] });
  await new Promise<void>((resolve) => socket.send(encodeDhcp(packet), 67, args.to, (err) => {
    if (err) failed += 1;
    resolve();
  }));
}
await new Promise((r) => setTimeout(r, 200));
socket.close();
process.stdout.write(`${JSON.stringify({ sent: count, failed, ms: Date.now() - started })}\n`);
