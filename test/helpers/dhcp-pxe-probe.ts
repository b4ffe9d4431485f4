/**
 * A scripted PXE client for the proxyDHCP test, run inside a client namespace (root): what UEFI
 * firmware does against a site DHCP server plus rackboot in proxy mode (DHCP-40..42).
 *   1. broadcast a PXE DISCOVER (arch from argv) with the broadcast flag, collect OFFERs for 2 s;
 *   2. REQUEST the address from the OFFER that has one (the site server), wait for its ACK;
 *   3. put the address on the interface, REQUEST the boot file from the proxy on port 4011
 *      (unicast, 43.71 boot item) and wait for its ACK.
 * Prints one JSON line with every reply decoded. Bounded: each wait has a deadline.
 *   node --import tsx test/helpers/dhcp-pxe-probe.ts '{"mac":"52:54:..","arch":7,"ifname":"eth0","prefix":24,"bootServer":true}'
 */
import { execFileSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { BOOTP_REQUEST, DhcpMessageType as T, DhcpOption } from '../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType, serverId, uint16Value } from '../../server/protocol/dhcp/options.js';
import { chaddrFromMac, type DhcpPacket } from '../../server/protocol/dhcp/packet.js';

interface Args { mac: string; arch: number; ifname: string; prefix: number; bootServer: boolean }
const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const archText = String(args.arch).padStart(5, '0');
const uuid = Buffer.from('00' + '4c4c4544001094808031b2c04f395032', 'hex');

function packet(type: number, xid: number, extra: Array<[number, Buffer]>, ciaddr = '0.0.0.0', flags = 0x8000): DhcpPacket {
  return {
    op: BOOTP_REQUEST, htype: 1, hlen: 6, hops: 0, xid, secs: 4, flags, ciaddr, yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: chaddrFromMac(args.mac), mac: args.mac, sname: '', file: '',
    options: new Map<number, Buffer>([
      [DhcpOption.MessageType, Buffer.of(type)],
      [DhcpOption.MaxMessageSize, uint16Value(1472)],
      [DhcpOption.ParameterList, Buffer.of(1, 3, 6, 43, 54, 60, 66, 67, 97)],
      ...extra,
      [DhcpOption.ClientMachineId, uuid],
      [DhcpOption.ClientNetworkInterface, Buffer.of(1, 3, 0)],
      [DhcpOption.ClientArchitecture, uint16Value(args.arch)],
      [DhcpOption.VendorClass, Buffer.from(`PXEClient:Arch:${archText}:UNDI:003000`)],
    ]),
  };
}

function summary(p: DhcpPacket, from: string) {
  return {
    from, type: messageType(p), xid: p.xid, yiaddr: p.yiaddr, ciaddr: p.ciaddr, siaddr: p.siaddr, sname: p.sname, file: p.file, flags: p.flags,
    serverId: serverId(p), vendorClass: p.options.get(60)?.toString('latin1') ?? null,
    option43: p.options.get(43)?.toString('hex') ?? null, option97: p.options.get(97)?.toString('hex') ?? null,
    options: [...p.options.keys()],
  };
}
type Reply = ReturnType<typeof summary>;

function collect(socket: Socket, xid: number, ms: number, enough: (r: Reply[]) => boolean): Promise<Reply[]> {
  return new Promise((resolve) => {
    const got: Reply[] = [];
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }): void => {
      const d = decodeDhcp(msg);
      if (!d.ok || d.packet.op !== 2 || d.packet.xid !== xid) return;
      got.push(summary(d.packet, `${rinfo.address}:${rinfo.port}`));
      if (enough(got)) done();
    };
    const timer = setTimeout(() => done(), ms);
    const done = (): void => {
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve(got);
    };
    socket.on('message', onMessage);
  });
}

const client = createSocket({ type: 'udp4', reuseAddr: true });
await new Promise<void>((resolve) => client.bind(68, '0.0.0.0', resolve));
client.setBroadcast(true);
const result: { offers: Reply[]; ack: Reply | null; bootAck: Reply | null; error?: string } = { offers: [], ack: null, bootAck: null };
try {
  const xid = 0x50580000 + (process.pid & 0xffff);
  client.send(encodeDhcp(packet(T.Discover, xid, [])), 67, '255.255.255.255');
  result.offers = await collect(client, xid, 2000, (r) => r.length >= 2);
  const site = result.offers.find((o) => o.yiaddr !== '0.0.0.0' && o.type === T.Offer);
  if (site && site.serverId) {
    client.send(encodeDhcp(packet(T.Request, xid, [[DhcpOption.ServerId, ipv4Value(site.serverId)], [DhcpOption.RequestedIp, ipv4Value(site.yiaddr)]])), 67, '255.255.255.255');
    result.ack = (await collect(client, xid, 3000, (r) => r.some((x) => x.type === T.Ack)))[0] ?? null;
  }
  const proxy = result.offers.find((o) => o.yiaddr === '0.0.0.0' && o.vendorClass === 'PXEClient');
  if (args.bootServer && result.ack && proxy) {
    const ip = result.ack.yiaddr;
    execFileSync('ip', ['addr', 'add', `${ip}/${args.prefix}`, 'dev', args.ifname]);
    const boot = createSocket('udp4');
    await new Promise<void>((resolve) => boot.bind(0, ip, resolve));
    const bootXid = xid + 1;
    const item = Buffer.of(71, 4, 0, 0, 0, 0, 255);
    boot.send(encodeDhcp(packet(T.Request, bootXid, [[DhcpOption.VendorEncapsulated, item]], ip, 0)), 4011, proxy.siaddr);
    result.bootAck = (await collect(boot, bootXid, 3000, (r) => r.length >= 1))[0] ?? null;
    boot.close();
  }
} catch (err) {
  result.error = (err as Error).message;
}
client.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
