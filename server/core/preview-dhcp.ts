/**
 * `rackboot preview`: the DHCP answer a machine would get, from a DISCOVER shaped like its firmware's.
 * Runs the pure decision only; nothing is written or sent.
 */
import { clientInfo } from './client-info.js';
import { decideDhcp, type DhcpSettings } from './dhcp-decision.js';
import type { Machine } from './types.js';
import { BOOTP_REQUEST, DhcpMessageType, DhcpOption, HTYPE_ETHERNET, IpxeSubOption } from '../protocol/dhcp/constants.js';
import { chaddrFromMac, type DhcpPacket } from '../protocol/dhcp/packet.js';

export type PreviewFirmware = 'bios' | 'uefi' | 'ipxe';

export function previewDhcp(machine: Machine, firmware: PreviewFirmware, settings: DhcpSettings, now = Date.now()): string {
  const mac = machine.macs[0];
  if (!mac) return 'no reply: the machine has no MAC address';
  const decision = decideDhcp({
    packet: discoverFrom(mac, firmware),
    client: clientInfo(discoverFrom(mac, firmware)),
    machine: { id: machine.id, name: machine.name, ip: machine.ip, ipxeChainedAt: machine.ipxeChainedAt },
    lease: null,
    settings,
    now,
  });
  if (decision.kind === 'ignore') return `no reply: ${decision.reason}`;
  const reply = decision.packet;
  const boot = reply.file === '' ? 'no boot file' : reply.file.startsWith('http') ? `boot ${reply.file}` : `TFTP ${reply.siaddr}:${reply.file}`;
  return `OFFER ${reply.yiaddr}, ${boot}`;
}

function discoverFrom(mac: string, firmware: PreviewFirmware): DhcpPacket {
  const arch = firmware === 'uefi' ? 7 : 0;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, Buffer.of(DhcpMessageType.Discover)],
    [DhcpOption.ParameterList, Buffer.of(1, 3, 6, 12, 15, 66, 67)],
    [DhcpOption.VendorClass, Buffer.from(`PXEClient:Arch:0000${arch}:UNDI:002001`)],
    [DhcpOption.ClientArchitecture, Buffer.of(0, arch)],
  ]);
  if (firmware === 'ipxe') {
    options.set(DhcpOption.UserClass, Buffer.from('iPXE'));
    options.set(DhcpOption.IpxeEncapsulated, Buffer.of(IpxeSubOption.FeatureHttp, 1, 1));
  }
  return {
    op: BOOTP_REQUEST,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: 0,
    xid: 1,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: chaddrFromMac(mac),
    mac,
    sname: '',
    file: '',
    options,
  };
}
