import {
  BOOTP_REQUEST, BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, DhcpOption, FILE_LENGTH,
  LIMITED_BROADCAST, MAX_HOPS, messageTypeName,
} from '../protocol/dhcp/constants.js';
import {
  ipv4ListValue, ipv4Value, messageType, parameterRequestList, replyMaxSize, requestedIp, serverId, textValue,
  uint32Value, uint8Value,
} from '../protocol/dhcp/options.js';
import { replyHeader, type DhcpPacket } from '../protocol/dhcp/packet.js';
import { ipxeNoProxyDhcpValue } from '../protocol/dhcp/pxe-options.js';
import { chooseBootTarget, type BootTarget, type BootTargetSettings } from './boot-target.js';
import type { ClientInfo } from './client-info.js';
import { cidrBroadcast, cidrContains, cidrNetmask, isUnspecifiedIpv4, parseCidr, type Cidr } from './ipv4.js';
import type { Endpoint, MacAddress, NewEvent } from './types.js';

export interface DhcpSubnet {
  readonly cidr: string;
  readonly gateway?: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  readonly leaseSeconds: number;
}

export interface DhcpSettings extends BootTargetSettings {
  /** Our address on the provisioning network: option 54, siaddr, and how the local subnet is found. */
  readonly serverAddress: string;
  readonly subnets: readonly DhcpSubnet[];
}

export interface DhcpMachine {
  readonly id: number;
  readonly name: string;
  /** The static reservation. */
  readonly ip: string | null;
  readonly ipxeChainedAt: number | null;
}

export interface DhcpLeaseRecord {
  readonly ip: string;
  readonly expiresAt: number;
}

export interface DhcpDecisionInput {
  readonly packet: DhcpPacket;
  readonly client: ClientInfo;
  /** The machine that owns the request's MAC, or null when unknown. */
  readonly machine: DhcpMachine | null;
  readonly lease: DhcpLeaseRecord | null;
  readonly settings: DhcpSettings;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** What the caller writes, in the same transaction as its reads, before sending the reply. */
export interface DhcpEffects {
  readonly lease?: { readonly mac: MacAddress; readonly ip: string; readonly machineId: number; readonly expiresAt: number };
  readonly releaseLease?: boolean;
  /** Loop-break state: 'set' ipxeChainedAt = now, or 'clear' it. */
  readonly chain?: 'set' | 'clear';
  readonly events: readonly NewEvent[];
  /** An unknown MAC asked; the caller records it. */
  readonly discovered?: ClientInfo;
}

export type DhcpDecision =
  | {
    readonly kind: 'reply';
    readonly packet: DhcpPacket;
    readonly destination: Endpoint;
    /** Largest payload the client accepts (option 57). */
    readonly maxSize: number;
    readonly effects: DhcpEffects;
  }
  | { readonly kind: 'ignore'; readonly reason: string; readonly effects: DhcpEffects };

type RequestState = 'selecting' | 'init-reboot' | 'renewing';
type EffectsInput = Omit<DhcpEffects, 'events'> & { readonly events?: readonly NewEvent[] };

interface Context {
  readonly input: DhcpDecisionInput;
  readonly machine: DhcpMachine;
  readonly mac: MacAddress;
  readonly subnet: DhcpSubnet;
  readonly cidr: Cidr;
}

/**
 * Answers one request for the static-reservation server: known machines get their reserved IP,
 * unknown MACs are reported as discovered and get no reply. RFC 2131 §4.3 decides which message
 * gets which answer (requirements DHCP-02..14 of the protocols reference).
 */
export function decideDhcp(input: DhcpDecisionInput): DhcpDecision {
  const { packet, client, machine, settings } = input;
  if (packet.op !== BOOTP_REQUEST) return ignore(`op ${packet.op} is not a BOOTREQUEST`);
  if (packet.hops > MAX_HOPS) return ignore(`relayed through ${packet.hops} hops (limit ${MAX_HOPS})`);
  const type = messageType(packet);
  if (type === null) return ignore('plain BOOTP (no option 53) is not served');
  if (client.mac === null) {
    return ignore(`hardware type ${packet.htype} with address length ${packet.hlen} is not Ethernet`);
  }
  if (machine === null) {
    const clientSends = type === DhcpMessageType.Discover || type === DhcpMessageType.Request
      || type === DhcpMessageType.Inform;
    return ignore(`unknown MAC ${client.mac} (${messageTypeName(type)})`, clientSends ? { discovered: client } : {});
  }

  const subnet = requestSubnet(packet, settings);
  if (subnet === null) {
    const where = isUnspecifiedIpv4(packet.giaddr)
      ? `server address ${settings.serverAddress}` : `relay address ${packet.giaddr}`;
    return ignore(`${where} is in no configured subnet, so the client's network is unknown`);
  }
  const ctx: Context = { input, machine, mac: client.mac, subnet: subnet.subnet, cidr: subnet.cidr };

  switch (type) {
    case DhcpMessageType.Discover: return onDiscover(ctx);
    case DhcpMessageType.Request: return onRequest(ctx);
    case DhcpMessageType.Decline: return onDecline(ctx);
    case DhcpMessageType.Release: return onRelease(ctx);
    case DhcpMessageType.Inform: return onInform(ctx);
    default: return ignore(`${messageTypeName(type)} is not a client message`);
  }
}

function onDiscover(ctx: Context): DhcpDecision {
  const problem = reservationProblem(ctx);
  if (problem !== null) return problem;
  const target = bootTargetFor(ctx);
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Offer, target), {});
}

function onRequest(ctx: Context): DhcpDecision {
  const { packet, settings } = ctx.input;
  const selected = serverId(packet);
  const requested = requestedIp(packet);
  let state: RequestState;
  let claimed: string;
  if (selected !== null) {
    if (selected !== settings.serverAddress) return ignore(`client selected server ${selected}`);
    state = 'selecting';
    claimed = requested ?? packet.ciaddr;
  } else if (!isUnspecifiedIpv4(packet.ciaddr)) {
    state = 'renewing';
    claimed = packet.ciaddr;
  } else if (requested !== null) {
    state = 'init-reboot';
    claimed = requested;
  } else {
    return ignore('REQUEST without server id, requested address or ciaddr');
  }

  const problem = reservationProblem(ctx);
  if (problem !== null) return problem;
  const ip = ctx.machine.ip ?? '';
  if (claimed !== ip) return nak(ctx, claimed, state);

  const target = bootTargetFor(ctx);
  const { machine, input, mac } = ctx;
  const renewal = state === 'renewing';
  const { client } = input;
  // Only firmware and iPXE mean "the machine is network-booting"; an OS's DHCP must not look like one.
  const networkBoot = client.isPxeClient || client.isHttpClient || client.isIpxe;
  const event: NewEvent = {
    machineId: machine.id,
    mac,
    type: networkBoot ? 'dhcp' : 'dhcp-os',
    message: `${renewal ? 'renewed' : 'leased'} ${ip} to ${machine.name} (${client.archName}, ${describeTarget(target)})`,
    data: {
      ip, state, arch: client.arch, firmware: client.firmware, bootTarget: target,
      previousLeaseIp: input.lease?.ip ?? null,
    },
  };
  const chain = chainEffect(ctx, target);
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Ack, target), {
    lease: { mac, ip, machineId: machine.id, expiresAt: input.now + ctx.subnet.leaseSeconds * 1000 },
    ...(chain ? { chain } : {}),
    events: [event],
  });
}

function onDecline(ctx: Context): DhcpDecision {
  const { packet, settings } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) return ignore(`DECLINE addressed to server ${selected}`);
  const declined = requestedIp(packet) ?? ctx.machine.ip;
  return ignore('DECLINE recorded', {
    releaseLease: true,
    events: [{
      machineId: ctx.machine.id, mac: ctx.mac, type: 'dhcp-declined',
      message: `${ctx.machine.name} declined ${declined ?? 'its address'}: another host on the network uses it`,
      data: { ip: declined },
    }],
  });
}

function onRelease(ctx: Context): DhcpDecision {
  const { packet, settings } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) return ignore(`RELEASE addressed to server ${selected}`);
  return ignore('RELEASE recorded', {
    releaseLease: true,
    events: [{
      machineId: ctx.machine.id, mac: ctx.mac, type: 'dhcp-release',
      message: `${ctx.machine.name} released ${packet.ciaddr}`, data: { ip: packet.ciaddr },
    }],
  });
}

function onInform(ctx: Context): DhcpDecision {
  const { packet } = ctx.input;
  if (!cidrContains(ctx.cidr, packet.ciaddr)) {
    return ignore(`INFORM from ${packet.ciaddr}, outside ${ctx.subnet.cidr}`);
  }
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(DhcpMessageType.Ack)],
    [DhcpOption.ServerId, ipv4Value(ctx.input.settings.serverAddress)],
  ]);
  addNetworkOptions(options, ctx);
  addClientEchoes(options, ctx);
  return reply(ctx, { ...replyHeader(packet), ciaddr: packet.ciaddr, options: withRelayInfoLast(options, packet) }, {});
}

/** A reservation the server cannot hand out on the request's network: ignore, and tell the operator. */
function reservationProblem(ctx: Context): DhcpDecision | null {
  const { machine } = ctx;
  let reason: string | null = null;
  if (machine.ip === null) reason = `${machine.name} has no reserved IP address`;
  else if (!cidrContains(ctx.cidr, machine.ip)) {
    reason = `reserved IP ${machine.ip} of ${machine.name} is outside ${ctx.subnet.cidr}, the subnet the request came from`;
  }
  if (reason === null) return null;
  return ignore(reason, {
    events: [{ machineId: machine.id, mac: ctx.mac, type: 'dhcp-ignored', message: reason, data: { ip: machine.ip } }],
  });
}

function bootTargetFor(ctx: Context): BootTarget {
  const { input } = ctx;
  return chooseBootTarget(input.client, input.settings, { ipxeChainedAt: ctx.machine.ipxeChainedAt, now: input.now });
}

function chainEffect(ctx: Context, target: BootTarget): 'set' | 'clear' | null {
  if (target.kind !== 'none' && target.chainsIpxe) return 'set';
  const handedScript = target.kind === 'http' && !target.chainsIpxe;
  if (handedScript && ctx.input.client.isIpxe && ctx.machine.ipxeChainedAt !== null) return 'clear';
  return null;
}

/** OFFER or ACK carrying the reservation, network options and boot information. */
function leaseReply(ctx: Context, type: number, target: BootTarget): DhcpPacket {
  const { packet, settings } = ctx.input;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(type)],
    [DhcpOption.ServerId, ipv4Value(settings.serverAddress)],
    [DhcpOption.LeaseTime, uint32Value(ctx.subnet.leaseSeconds)],
  ]);
  addNetworkOptions(options, ctx);
  addClientEchoes(options, ctx);
  if (ctx.input.client.isIpxe) options.set(DhcpOption.IpxeEncapsulated, ipxeNoProxyDhcpValue());

  const boot = bootFields(target, settings.serverAddress);
  const requested = new Set(parameterRequestList(packet));
  if (target.kind === 'tftp') {
    if (requested.has(DhcpOption.TftpServerName)) options.set(DhcpOption.TftpServerName, textValue(settings.serverAddress));
    if (requested.has(DhcpOption.BootfileName)) options.set(DhcpOption.BootfileName, textValue(target.file));
  } else if (target.kind === 'http') {
    // EDK II HTTP boot discards an offer without a boot URI; iPXE reads either place.
    options.set(DhcpOption.BootfileName, textValue(target.url));
  }
  return {
    ...replyHeader(packet),
    ciaddr: type === DhcpMessageType.Ack ? packet.ciaddr : '0.0.0.0',
    yiaddr: ctx.machine.ip ?? '0.0.0.0',
    siaddr: boot.siaddr,
    file: boot.file,
    options: withRelayInfoLast(options, packet),
  };
}

function addNetworkOptions(options: Map<number, Buffer>, ctx: Context): void {
  const { subnet, cidr, machine } = ctx;
  options.set(DhcpOption.SubnetMask, ipv4Value(cidrNetmask(cidr)));
  options.set(DhcpOption.BroadcastAddress, ipv4Value(cidrBroadcast(cidr)));
  if (subnet.gateway) options.set(DhcpOption.Router, ipv4Value(subnet.gateway));
  if (subnet.dns.length > 0) options.set(DhcpOption.DnsServers, ipv4ListValue(subnet.dns));
  if (subnet.domain) options.set(DhcpOption.DomainName, textValue(subnet.domain));
  options.set(DhcpOption.HostName, textValue(machine.name));
}

/**
 * 60 HTTPClient (EDK II HTTP boot drops an offer without it), 61 (RFC 6842), 97 (PXE).
 * No 60 "PXEClient" in a full-DHCP reply: with it and no option 43, EDK II classifies the offer
 * as "DhcpBinl" and then asks port 4011 for the boot file ("PXE-E16: No valid offer received",
 * seen with OVMF). Without it the offer is "DhcpOnly" and its `file`/siaddr are used directly, as
 * with dnsmasq's dhcp-boot. PXEClient belongs to proxy offers.
 */
function addClientEchoes(options: Map<number, Buffer>, ctx: Context): void {
  const { client, packet } = ctx.input;
  if (client.isHttpClient) options.set(DhcpOption.VendorClass, textValue('HTTPClient'));
  const clientId = packet.options.get(DhcpOption.ClientId);
  if (clientId) options.set(DhcpOption.ClientId, clientId);
  const machineId = packet.options.get(DhcpOption.ClientMachineId);
  if (machineId) options.set(DhcpOption.ClientMachineId, machineId);
}

function withRelayInfoLast(options: Map<number, Buffer>, request: DhcpPacket): Map<number, Buffer> {
  const relayInfo = request.options.get(DhcpOption.RelayAgentInfo);
  if (relayInfo) options.set(DhcpOption.RelayAgentInfo, relayInfo);
  return options;
}

function bootFields(target: BootTarget, serverAddress: string): { siaddr: string; file: string } {
  if (target.kind === 'none') return { siaddr: '0.0.0.0', file: '' };
  const name = target.kind === 'tftp' ? target.file : target.url;
  // The file field holds 127 bytes plus its NUL; a longer URL travels in option 67 only.
  return { siaddr: serverAddress, file: Buffer.byteLength(name, 'latin1') < FILE_LENGTH ? name : '' };
}

function nak(ctx: Context, claimed: string, state: RequestState): DhcpDecision {
  const { packet, settings } = ctx.input;
  const reason = cidrContains(ctx.cidr, claimed)
    ? `${claimed} is not reserved for this client` : `${claimed} is not on this network`;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(DhcpMessageType.Nak)],
    [DhcpOption.ServerId, ipv4Value(settings.serverAddress)],
    [DhcpOption.Message, textValue(reason)],
  ]);
  const clientId = packet.options.get(DhcpOption.ClientId);
  if (clientId) options.set(DhcpOption.ClientId, clientId);
  const header = replyHeader(packet);
  // RFC 2131 §4.3.2: a relayed NAK asks the relay to broadcast it.
  const flags = isUnspecifiedIpv4(packet.giaddr) ? header.flags : header.flags | BROADCAST_FLAG;
  return reply(ctx, { ...header, flags, options: withRelayInfoLast(options, packet) }, {
    events: [{
      machineId: ctx.machine.id, mac: ctx.mac, type: 'dhcp-nak',
      message: `refused ${claimed} to ${ctx.machine.name} (${state}): ${reason}`,
      data: { requested: claimed, reserved: ctx.machine.ip, state },
    }],
  });
}

/**
 * RFC 2131 §4.1: relay -> giaddr:67; NAK -> broadcast; ciaddr set -> ciaddr:68; otherwise broadcast,
 * because Node cannot unicast to an address the client has not configured yet (no ARP injection).
 */
export function replyDestination(request: DhcpPacket, replyType: number): Endpoint {
  if (!isUnspecifiedIpv4(request.giaddr)) return { address: request.giaddr, port: DHCP_SERVER_PORT };
  if (replyType !== DhcpMessageType.Nak && !isUnspecifiedIpv4(request.ciaddr)) {
    return { address: request.ciaddr, port: DHCP_CLIENT_PORT };
  }
  return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT };
}

/** The relay's subnet for relayed requests, else the subnet of our own address (DHCP-06). */
function requestSubnet(packet: DhcpPacket, settings: DhcpSettings): { subnet: DhcpSubnet; cidr: Cidr } | null {
  const anchor = isUnspecifiedIpv4(packet.giaddr) ? settings.serverAddress : packet.giaddr;
  for (const subnet of settings.subnets) {
    const cidr = parseCidr(subnet.cidr);
    if (cidr !== null && cidrContains(cidr, anchor)) return { subnet, cidr };
  }
  return null;
}

function describeTarget(target: BootTarget): string {
  if (target.kind === 'tftp') return `tftp ${target.file}`;
  if (target.kind === 'http') return target.url;
  return `no boot file: ${target.reason}`;
}

function reply(ctx: Context, packet: DhcpPacket, effects: EffectsInput): DhcpDecision {
  const type = messageType(packet) ?? 0;
  return {
    kind: 'reply',
    packet,
    destination: replyDestination(ctx.input.packet, type),
    maxSize: replyMaxSize(ctx.input.packet),
    effects: { ...effects, events: effects.events ?? [] },
  };
}

function ignore(reason: string, effects: EffectsInput = {}): DhcpDecision {
  return { kind: 'ignore', reason, effects: { ...effects, events: effects.events ?? [] } };
}
