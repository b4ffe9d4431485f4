/**
 * The simulated machines' DHCP: packets shaped like a NIC's PXE ROM (Intel-style BIOS UNDI, or
 * OVMF's UEFI PXE) and like iPXE, built with rackboot's own codecs, sent as broadcasts from one
 * UDP socket on port 68 and matched to their machine by xid and chaddr.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import {
  BOOTP_REQUEST,
  BROADCAST_FLAG,
  DhcpMessageType,
  DhcpOption,
  HTYPE_ETHERNET,
  IpxeSubOption,
  LIMITED_BROADCAST,
  ZERO_IP,
} from '../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../server/protocol/dhcp/encode.js';
import { bootfileName, ipv4Value, messageType, serverId, textValue, uint16Value } from '../../server/protocol/dhcp/options.js';
import { chaddrFromMac, type DhcpPacket } from '../../server/protocol/dhcp/packet.js';
import { encodeSubOptions } from '../../server/protocol/dhcp/pxe-options.js';
import { swapUuidFields } from '../../server/core/uuid-match.js';
import type { SimFirmware, SimMachine } from './plan.js';

export type DhcpStage = 'firmware' | 'ipxe';

/** Option 55 of an Intel PXE ROM (BIOS) and of OVMF; iPXE's own list. */
const PRL_BIOS_ROM = [1, 2, 3, 4, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135];
const PRL_OVMF = [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];
const PRL_IPXE = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203];

/** Option 97 as firmware sends it: type 0, then the SMBIOS byte order (first three fields little-endian). */
function uuidBytes(uuid: string): Buffer {
  return Buffer.concat([Buffer.of(0), swapUuidFields(Buffer.from(uuid.replaceAll('-', ''), 'hex'))]);
}

/** iPXE's option 175: version, bus id and the features a stock undionly.kpxe / snponly.efi reports. */
function ipxeEncapsulated(firmware: SimFirmware): Buffer {
  const one = Buffer.of(1);
  const features: Array<[number, Buffer]> = [
    [IpxeSubOption.Version, Buffer.of(1, 21, 1)],
    [IpxeSubOption.FeaturePxeExt, Buffer.of(2)],
    [IpxeSubOption.FeatureIscsi, one],
    [IpxeSubOption.FeatureAoe, one],
    [IpxeSubOption.FeatureHttp, one],
    [IpxeSubOption.FeatureHttps, one],
    [IpxeSubOption.FeatureTftp, one],
    [IpxeSubOption.FeatureDns, one],
    [IpxeSubOption.FeatureMenu, one],
  ];
  if (firmware === 'bios') features.push([IpxeSubOption.FeatureBzImage, one], [IpxeSubOption.FeaturePxe, one], [IpxeSubOption.FeatureMultiboot, one]);
  else features.push([IpxeSubOption.FeatureEfi, one]);
  features.push([IpxeSubOption.BusId, Buffer.of(1, 0x80, 0x86, 0x10, 0x0e)]);
  return encodeSubOptions(features);
}

export interface RequestFields {
  readonly machine: SimMachine;
  readonly stage: DhcpStage;
  readonly type: number;
  readonly xid: number;
  readonly secs: number;
  readonly requestedIp?: string;
  readonly serverId?: string;
}

/** One client message, options in the order the real client sends them. */
export function clientPacket(f: RequestFields): DhcpPacket {
  const { machine, stage } = f;
  const bios = machine.firmware === 'bios';
  const options = new Map<number, Buffer>();
  options.set(DhcpOption.MessageType, Buffer.of(f.type));
  if (f.requestedIp !== undefined) options.set(DhcpOption.RequestedIp, ipv4Value(f.requestedIp));
  if (f.serverId !== undefined) options.set(DhcpOption.ServerId, ipv4Value(f.serverId));
  if (stage === 'firmware') {
    options.set(DhcpOption.MaxMessageSize, uint16Value(bios ? 1260 : 1472));
    options.set(DhcpOption.ParameterList, Buffer.from(bios ? PRL_BIOS_ROM : PRL_OVMF));
    options.set(DhcpOption.ClientMachineId, uuidBytes(machine.uuid));
    options.set(DhcpOption.ClientNetworkInterface, bios ? Buffer.of(1, 2, 1) : Buffer.of(1, 3, 0));
    options.set(DhcpOption.ClientArchitecture, uint16Value(bios ? 0 : 7));
    options.set(DhcpOption.VendorClass, textValue(bios ? 'PXEClient:Arch:00000:UNDI:002001' : 'PXEClient:Arch:00007:UNDI:003000'));
  } else {
    options.set(DhcpOption.MaxMessageSize, uint16Value(1472));
    options.set(DhcpOption.ClientArchitecture, uint16Value(bios ? 0 : 7));
    options.set(DhcpOption.ClientNetworkInterface, bios ? Buffer.of(1, 2, 1) : Buffer.of(1, 3, 10));
    options.set(DhcpOption.VendorClass, textValue(bios ? 'PXEClient:Arch:00000:UNDI:002001' : 'PXEClient:Arch:00007:UNDI:003016'));
    options.set(DhcpOption.UserClass, textValue('iPXE'));
    options.set(DhcpOption.ParameterList, Buffer.from(PRL_IPXE));
    options.set(DhcpOption.IpxeEncapsulated, ipxeEncapsulated(machine.firmware));
    options.set(DhcpOption.ClientId, Buffer.concat([Buffer.of(HTYPE_ETHERNET), chaddrFromMac(machine.mac).subarray(0, 6)]));
    options.set(DhcpOption.ClientMachineId, uuidBytes(machine.uuid));
  }
  return {
    op: BOOTP_REQUEST,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: 0,
    xid: f.xid,
    secs: f.secs,
    flags: BROADCAST_FLAG,
    ciaddr: ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: ZERO_IP,
    chaddr: chaddrFromMac(machine.mac),
    mac: machine.mac,
    sname: '',
    file: '',
    options,
  };
}

export interface DhcpAnswer {
  readonly yiaddr: string;
  readonly siaddr: string;
  readonly serverId: string | null;
  /** The `file` field, else option 67. */
  readonly bootFile: string;
}

export class DhcpTimeout extends Error {
  override readonly name = 'DhcpTimeout';
}
export class DhcpNak extends Error {
  override readonly name = 'DhcpNak';
}

interface Waiter {
  readonly mac: string;
  readonly want: number;
  resolve(packet: DhcpPacket): void;
}

export interface DhcpCounters {
  sent: number;
  retransmits: number;
  received: number;
  unmatched: number;
}

/** The one socket every simulated machine's DHCP goes through. */
export class DhcpClient {
  readonly counters: DhcpCounters = { sent: 0, retransmits: 0, received: 0, unmatched: 0 };
  private readonly waiters = new Map<number, Waiter>();

  private constructor(
    private readonly socket: Socket,
    private readonly serverPort: number,
  ) {
    socket.on('message', (msg) => this.onMessage(msg));
  }

  static async open(serverPort: number): Promise<DhcpClient> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '0.0.0.0', port: 68 }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    socket.setBroadcast(true);
    try {
      socket.setRecvBufferSize(4 * 1024 * 1024);
    } catch {
      // capped by net.core.rmem_max; the default still works at a lower rate
    }
    socket.on('error', () => {});
    return new DhcpClient(socket, serverPort);
  }

  close(): void {
    this.socket.close();
  }

  private onMessage(msg: Buffer): void {
    this.counters.received += 1;
    const decoded = decodeDhcp(msg);
    if (!decoded.ok) return;
    const packet = decoded.packet;
    const waiter = this.waiters.get(packet.xid);
    const type = messageType(packet);
    if (!waiter || waiter.mac !== packet.mac || (type !== waiter.want && type !== DhcpMessageType.Nak)) {
      this.counters.unmatched += 1;
      return;
    }
    this.waiters.delete(packet.xid);
    waiter.resolve(packet);
  }

  private send(packet: DhcpPacket): void {
    this.counters.sent += 1;
    this.socket.send(encodeDhcp(packet), this.serverPort, LIMITED_BROADCAST);
  }

  /**
   * Sends `build(secs)` and waits for a reply of type `want`, retransmitting after each timeout in
   * `timeouts` (with the usual +-1 s jitter of RFC 2131 §4.1 scaled down for short timeouts).
   */
  async exchange(mac: string, xid: number, want: number, timeouts: readonly number[], build: (secs: number) => DhcpPacket, startedAt: number): Promise<DhcpPacket> {
    for (let attempt = 0; attempt < timeouts.length; attempt += 1) {
      const base = timeouts[attempt] ?? 4000;
      const jitter = Math.min(1000, base / 4);
      const wait = base + randomInt(-Math.floor(jitter), Math.floor(jitter) + 1);
      if (attempt > 0) this.counters.retransmits += 1;
      const reply = await new Promise<DhcpPacket | null>((resolve) => {
        const timer = setTimeout(() => {
          if (this.waiters.get(xid)?.mac === mac) this.waiters.delete(xid);
          resolve(null);
        }, wait);
        this.waiters.set(xid, {
          mac,
          want,
          resolve: (packet) => {
            clearTimeout(timer);
            resolve(packet);
          },
        });
        this.send(build(Math.min(0xffff, Math.floor((performance.now() - startedAt) / 1000))));
      });
      if (reply !== null) return reply;
    }
    throw new DhcpTimeout(`no ${want === DhcpMessageType.Offer ? 'OFFER' : 'ACK'} after ${timeouts.length} tries`);
  }

  /** DISCOVER -> OFFER -> REQUEST -> ACK for one machine; what the ACK said. */
  async dora(machine: SimMachine, stage: DhcpStage, timeouts: readonly number[]): Promise<DhcpAnswer> {
    const startedAt = performance.now();
    const xid = randomInt(1, 0xffffffff);
    const offer = await this.exchange(machine.mac, xid, DhcpMessageType.Offer, timeouts, (secs) =>
      clientPacket({ machine, stage, type: DhcpMessageType.Discover, xid, secs }), startedAt);
    const server = serverId(offer);
    if (server === null) throw new Error('OFFER without a server identifier');
    const ack = await this.exchange(machine.mac, xid, DhcpMessageType.Ack, timeouts, (secs) =>
      clientPacket({ machine, stage, type: DhcpMessageType.Request, xid, secs, requestedIp: offer.yiaddr, serverId: server }), startedAt);
    if (messageType(ack) === DhcpMessageType.Nak) throw new DhcpNak('NAK');
    return { yiaddr: ack.yiaddr, siaddr: ack.siaddr, serverId: serverId(ack), bootFile: ack.file !== '' ? ack.file : (bootfileName(ack) ?? '') };
  }

  /** Sends DISCOVERs every `everyMs` until an OFFER comes back; resolves with the number sent. */
  async probe(machine: SimMachine, everyMs: number, giveUpMs: number): Promise<number> {
    const xid = randomInt(1, 0xffffffff);
    const tries = Math.max(1, Math.ceil(giveUpMs / everyMs));
    const started = performance.now();
    await this.exchange(machine.mac, xid, DhcpMessageType.Offer, new Array<number>(tries).fill(everyMs), (secs) =>
      clientPacket({ machine, stage: 'firmware', type: DhcpMessageType.Discover, xid, secs }), started);
    return Math.round((performance.now() - started) / everyMs) + 1;
  }
}
