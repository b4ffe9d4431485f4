/** Numbers from RFC 951/2131/2132/3004/3046/3396/4578 and iPXE's include/ipxe/dhcp.h. */

export const BOOTP_REQUEST = 1;
export const BOOTP_REPLY = 2;
export const HTYPE_ETHERNET = 1;

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
/** PXE boot-server (BINL) port, used by proxy mode. */
export const PXE_SERVER_PORT = 4011;

export const BROADCAST_FLAG = 0x8000;
export const LIMITED_BROADCAST = '255.255.255.255';
export const ZERO_IP = '0.0.0.0';

/** Fixed BOOTP header (236 bytes) plus the 4-byte magic cookie. */
export const HEADER_LENGTH = 236;
export const OPTIONS_OFFSET = 240;
export const MAGIC_COOKIE = 0x63825363;
/** BOOTP-era stacks drop anything shorter (dnsmasq MIN_PACKETSZ). */
export const MIN_PACKET_LENGTH = 300;
/** RFC 2132 §9.10: option 57 never goes below 576. */
export const MIN_MAX_MESSAGE_SIZE = 576;
/** Option 57 counts the IP and UDP headers (RFC 2132 §9.10, as ISC dhcpd reads it). */
export const IP_UDP_HEADER_LENGTH = 28;
export const MAX_HOPS = 16;

export const SNAME_OFFSET = 44;
export const SNAME_LENGTH = 64;
export const FILE_OFFSET = 108;
export const FILE_LENGTH = 128;
export const CHADDR_OFFSET = 28;
export const CHADDR_LENGTH = 16;

export const DhcpMessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type DhcpMessageTypeCode = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

const messageTypeNames: Readonly<Record<number, string>> = {
  1: 'DISCOVER', 2: 'OFFER', 3: 'REQUEST', 4: 'DECLINE', 5: 'ACK', 6: 'NAK', 7: 'RELEASE', 8: 'INFORM',
};

export function messageTypeName(type: number | null): string {
  if (type === null) return 'BOOTP';
  return messageTypeNames[type] ?? `type-${type}`;
}

export const DhcpOption = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServers: 6,
  HostName: 12,
  DomainName: 15,
  InterfaceMtu: 26,
  BroadcastAddress: 28,
  NtpServers: 42,
  VendorEncapsulated: 43,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  TftpServerName: 66,
  BootfileName: 67,
  UserClass: 77,
  RelayAgentInfo: 82,
  ClientArchitecture: 93,
  ClientNetworkInterface: 94,
  ClientMachineId: 97,
  DomainSearch: 119,
  IpxeEncapsulated: 175,
  End: 255,
} as const;

/** Option 52 values: which header fields carry more options. */
export const Overload = { File: 1, Sname: 2, Both: 3 } as const;

/** Sub-options of iPXE's encapsulated option 175. 0x10-0x4f are feature flags. */
export const IpxeSubOption = {
  Priority: 0x01,
  FeaturePxeExt: 0x10,
  FeatureIscsi: 0x11,
  FeatureAoe: 0x12,
  FeatureHttp: 0x13,
  FeatureHttps: 0x14,
  FeatureTftp: 0x15,
  FeatureFtp: 0x16,
  FeatureDns: 0x17,
  FeatureBzImage: 0x18,
  FeatureMultiboot: 0x19,
  FeatureSlam: 0x1a,
  FeatureSrp: 0x1b,
  FeatureNbi: 0x20,
  FeaturePxe: 0x21,
  FeatureElf: 0x22,
  FeatureComboot: 0x23,
  FeatureEfi: 0x24,
  FeatureFcoe: 0x25,
  FeatureVlan: 0x26,
  FeatureMenu: 0x27,
  FeatureSdi: 0x28,
  FeatureNfs: 0x29,
  /** Set by the server: do not wait for ProxyDHCP offers (lab-notes gotcha 2). */
  NoPxeDhcp: 0xb0,
  BusId: 0xb1,
  Version: 0xeb,
} as const;

/** PXE vendor options (inside option 43). */
export const PxeSubOption = {
  DiscoveryControl: 6,
  BootServers: 8,
  BootMenu: 9,
  MenuPrompt: 10,
  BootItem: 71,
} as const;
