import {
  BOOTP_REQUEST, BROADCAST_FLAG, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpMessageType, DhcpOption, FILE_LENGTH,
  LIMITED_BROADCAST, MAX_HOPS, messageTypeName, PXE_SERVER_PORT, PxeSubOption, ZERO_IP,
} from '../protocol/dhcp/constants.js';
import {
  ipv4ListValue, ipv4Value, messageType, parameterRequestList, replyMaxSize, requestedIp, serverId, textValue,
  uint32Value, uint8Value,
} from '../protocol/dhcp/options.js';
import { replyHeader, type DhcpPacket } from '../protocol/dhcp/packet.js';
import {
  clientArchitectures, decodeSubOptions, encodeSubOptions, ipxeNoProxyDhcpValue, pxeDiscoveryControlValue,
} from '../protocol/dhcp/pxe-options.js';
import { chooseBootTarget, type BootTarget, type BootTargetSettings, type ChainState } from './boot-target.js';
import type { ClientInfo } from './client-info.js';
import {
  cidrBroadcast, cidrContains, cidrNetmask, formatIpv4, isUnspecifiedIpv4, parseCidr, parseIpv4, type Cidr,
} from './ipv4.js';
import type { Endpoint, MacAddress, NewEvent } from './types.js';

/** An optional dynamic range for machines that are not in the inventory (discovery). */
export interface DhcpPool {
  readonly start: string;
  readonly end: string;
}

export interface DhcpSubnet {
  readonly cidr: string;
  readonly gateway?: string;
  readonly dns: readonly string[];
  readonly domain?: string;
  readonly leaseSeconds: number;
  /** Off unless configured: then unknown MACs on this subnet get an address from it. */
  readonly pool?: DhcpPool;
}

/** 'full': rackboot owns addressing. 'proxy': another server hands out addresses; rackboot adds boot information. */
export type DhcpMode = 'full' | 'proxy';

export interface DhcpSettings extends BootTargetSettings {
  /** Our address on the provisioning network: option 54, siaddr, and how the local subnet is found. */
  readonly serverAddress: string;
  readonly subnets: readonly DhcpSubnet[];
  /** Default 'full'. */
  readonly mode?: DhcpMode;
  /**
   * Other servers expected on the segment (active-active rackboot instances): not rogue, and a
   * REQUEST that selects one of them updates this instance's state as if it had answered.
   */
  readonly peers?: readonly string[];
  /** How long a DECLINEd address stays out of use. Default 10 minutes. */
  readonly declineMs?: number;
  /** The same for a DECLINE from a MAC not in the inventory (never longer than declineMs). Default 1 minute. */
  readonly declineUnknownMs?: number;
  /** At most this share of a pool (in %, at least one address) may be held by DECLINEs at once. Default 10. */
  readonly declineMaxPoolPercent?: number;
  /** How long a pool address is held for a client after an OFFER. Default 30 s. */
  readonly offerHoldMs?: number;
}

export const DEFAULT_DECLINE_MS = 600_000;
export const DEFAULT_DECLINE_UNKNOWN_MS = 60_000;
export const DEFAULT_DECLINE_MAX_POOL_PERCENT = 10;
export const DEFAULT_OFFER_HOLD_MS = 30_000;

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

/** What the pool may not hand to a client: read in the same transaction as the decision. */
export interface DhcpAddressBook {
  /** Active leases of other clients, reserved machine addresses and quarantined (declined) addresses. */
  unavailableFor(mac: MacAddress): ReadonlySet<string>;
  /** Addresses DECLINEs hold out of use right now, and who declined each (bounds the holds). */
  declinedAddresses?(): ReadonlyArray<{ readonly ip: string; readonly mac: MacAddress | null }>;
}

export interface DhcpDecisionInput {
  readonly packet: DhcpPacket;
  readonly client: ClientInfo;
  /** The machine that owns the request's MAC, or null when unknown. */
  readonly machine: DhcpMachine | null;
  /** This client's lease (by MAC), or null. */
  readonly lease: DhcpLeaseRecord | null;
  readonly settings: DhcpSettings;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The port the request arrived on (67, or 4011 for PXE boot-server requests in proxy mode). */
  readonly localPort?: number;
  /** Where the request came from: 4011 replies go back there. */
  readonly source?: Endpoint;
  /** Needed only when a subnet has a pool. */
  readonly addresses?: DhcpAddressBook;
}

/** What the caller writes, in the same transaction as its reads, before sending the reply. */
export interface DhcpEffects {
  readonly lease?: { readonly mac: MacAddress; readonly ip: string; readonly machineId: number | null; readonly expiresAt: number };
  readonly releaseLease?: boolean;
  /**
   * A client declined this address (someone else uses it): keep it out of the pool until `until`.
   * One hold per declining MAC: the caller drops any other address this MAC holds.
   */
  readonly decline?: { readonly ip: string; readonly until: number };
  /** Loop-break state: 'set' ipxeChainedAt = now, or 'clear' it. */
  readonly chain?: 'set' | 'clear';
  readonly events: readonly NewEvent[];
  /** An unknown MAC asked; the caller records it. */
  readonly discovered?: ClientInfo;
}

/** Why a request got no reply: stable codes for counters (`ignoredByReason`). */
export type DhcpIgnoreCode =
  | 'not-request' | 'too-many-hops' | 'bootp' | 'not-ethernet' | 'not-client-message' | 'unknown-mac'
  | 'no-subnet' | 'no-reservation' | 'other-server' | 'peer-selected' | 'not-ours' | 'malformed-request'
  | 'pool-exhausted' | 'declined' | 'released' | 'outside-subnet' | 'proxy-not-pxe' | 'proxy-not-discover'
  | 'no-boot-target' | 'decline-over-budget';

export type DhcpDecision =
  | {
    readonly kind: 'reply';
    readonly packet: DhcpPacket;
    readonly destination: Endpoint;
    /** Largest payload the client accepts (option 57). */
    readonly maxSize: number;
    readonly effects: DhcpEffects;
  }
  | { readonly kind: 'ignore'; readonly code: DhcpIgnoreCode; readonly reason: string; readonly effects: DhcpEffects };

type RequestState = 'selecting' | 'init-reboot' | 'renewing';
type EffectsInput = Omit<DhcpEffects, 'events'> & { readonly events?: readonly NewEvent[] };

interface SubnetMatch {
  readonly subnet: DhcpSubnet;
  readonly cidr: Cidr;
}

interface Context extends SubnetMatch {
  readonly input: DhcpDecisionInput;
  readonly mac: MacAddress;
}

interface MachineContext extends Context {
  readonly machine: DhcpMachine;
}

interface PoolContext extends Context {
  readonly pool: { readonly start: number; readonly end: number };
  readonly discovered: EffectsInput;
}

/**
 * Answers one request. Full mode: known machines get their reserved IP; unknown MACs are reported
 * as discovered and get no reply, unless their subnet has a pool. Proxy mode: PXE clients in the
 * inventory get boot information only. RFC 2131 §4.3 decides which message gets which answer
 * (requirements DHCP-02..16, 40..43 of the protocols reference). Deterministic: the same inputs give
 * the same bytes, so instances sharing an inventory answer alike (docs/dhcp.md, active-active).
 */
export function decideDhcp(input: DhcpDecisionInput): DhcpDecision {
  const { packet, client, machine, settings } = input;
  if (packet.op !== BOOTP_REQUEST) return ignore('not-request', `op ${packet.op} is not a BOOTREQUEST`);
  if (packet.hops > MAX_HOPS) return ignore('too-many-hops', `relayed through ${packet.hops} hops (limit ${MAX_HOPS})`);
  const type = messageType(packet);
  if (type === null) return ignore('bootp', 'plain BOOTP (no option 53) is not served');
  if (client.mac === null) {
    return ignore('not-ethernet', `hardware type ${packet.htype} with address length ${packet.hlen} is not Ethernet`);
  }
  if (settings.mode === 'proxy') return decideProxy(input, client.mac, type);

  const match = requestSubnet(packet, settings);
  if (machine === null) {
    const clientSends = type === DhcpMessageType.Discover || type === DhcpMessageType.Request
      || type === DhcpMessageType.Inform;
    const discovered: EffectsInput = clientSends ? { discovered: client } : {};
    const pool = match?.subnet.pool ? parsePool(match.subnet.pool) : null;
    if (match === null || pool === null) {
      return ignore('unknown-mac', `unknown MAC ${client.mac} (${messageTypeName(type)})`, discovered);
    }
    return decidePool({ input, mac: client.mac, ...match, pool, discovered }, type);
  }

  if (match === null) return noSubnet(input);
  const ctx: MachineContext = { input, machine, mac: client.mac, ...match };
  switch (type) {
    case DhcpMessageType.Discover: return onDiscover(ctx);
    case DhcpMessageType.Request: return onRequest(ctx);
    case DhcpMessageType.Decline: return onDecline(ctx);
    case DhcpMessageType.Release: return onRelease(ctx);
    case DhcpMessageType.Inform: return onInform(ctx, ctx.machine.name);
    default: return ignore('not-client-message', `${messageTypeName(type)} is not a client message`);
  }
}

function noSubnet(input: DhcpDecisionInput): DhcpDecision {
  const where = isUnspecifiedIpv4(input.packet.giaddr)
    ? `server address ${input.settings.serverAddress}` : `relay address ${input.packet.giaddr}`;
  return ignore('no-subnet', `${where} is in no configured subnet, so the client's network is unknown`);
}

// ---------------------------------------------------------------------------------------------
// Full mode, machines in the inventory (static reservations)

function onDiscover(ctx: MachineContext): DhcpDecision {
  const problem = reservationProblem(ctx);
  if (problem !== null) return problem;
  const target = bootTargetFor(ctx);
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Offer, ctx.machine.ip ?? ZERO_IP, target, ctx.machine.name), {});
}

/** Which of RFC 2131 §4.3.2's states a REQUEST is in, and the address it claims. */
function requestState(packet: DhcpPacket): { state: RequestState; claimed: string; selected: string | null } | null {
  const selected = serverId(packet);
  const requested = requestedIp(packet);
  if (selected !== null) return { state: 'selecting', claimed: requested ?? packet.ciaddr, selected };
  if (!isUnspecifiedIpv4(packet.ciaddr)) return { state: 'renewing', claimed: packet.ciaddr, selected };
  if (requested !== null) return { state: 'init-reboot', claimed: requested, selected };
  return null;
}

function onRequest(ctx: MachineContext): DhcpDecision {
  const { packet, settings } = ctx.input;
  const shape = requestState(packet);
  if (shape === null) return ignore('malformed-request', 'REQUEST without server id, requested address or ciaddr');
  const { state, claimed, selected } = shape;
  let peer: string | null = null;
  if (selected !== null && selected !== settings.serverAddress) {
    if (!(settings.peers ?? []).includes(selected)) return ignore('other-server', `client selected server ${selected}`);
    peer = selected;
  }

  const problem = reservationProblem(ctx);
  if (problem !== null) return problem;
  const ip = ctx.machine.ip ?? '';
  if (claimed !== ip) {
    if (peer !== null) return ignore('peer-selected', `client selected peer ${peer} for ${claimed}, which is not its reservation`);
    return nak(ctx, claimed, state);
  }

  const target = bootTargetFor(ctx);
  const { machine, input, mac } = ctx;
  const renewal = state === 'renewing';
  const { client } = input;
  // Only firmware and iPXE mean "the machine is network-booting"; an OS's DHCP must not look like one.
  const networkBoot = client.isPxeClient || client.isHttpClient || client.isIpxe;
  const via = peer === null ? '' : ` by peer ${peer}`;
  const event: NewEvent = {
    machineId: machine.id,
    mac,
    type: networkBoot ? 'dhcp' : 'dhcp-os',
    message: `${renewal ? 'renewed' : 'leased'} ${ip} to ${machine.name}${via} (${client.archName}, ${describeTarget(target)})`,
    data: {
      ip, state, arch: client.arch, firmware: client.firmware, bootTarget: target,
      previousLeaseIp: input.lease?.ip ?? null, ...(peer === null ? {} : { servedBy: peer }),
    },
  };
  const chain = chainEffect(ctx.input.client, machine.ipxeChainedAt, target);
  const effects: EffectsInput = {
    lease: { mac, ip, machineId: machine.id, expiresAt: input.now + ctx.subnet.leaseSeconds * 1000 },
    ...(chain ? { chain } : {}),
    events: [event],
  };
  // The peer answers; this instance records the same outcome so both inventories stay alike.
  if (peer !== null) return ignore('peer-selected', `client selected peer ${peer}; state recorded`, effects);
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Ack, ip, target, machine.name), effects);
}

function onDecline(ctx: MachineContext): DhcpDecision {
  const { packet, settings, now } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) {
    return ignore('other-server', `DECLINE addressed to server ${selected}`);
  }
  const declined = requestedIp(packet) ?? ctx.machine.ip;
  const until = now + (settings.declineMs ?? DEFAULT_DECLINE_MS);
  if (declined !== null) {
    const over = declineOverBudget(ctx, declined);
    if (over !== null) return ignore('decline-over-budget', `${ctx.machine.name}: ${over}`, { releaseLease: true });
  }
  return ignore('declined', 'DECLINE recorded', {
    releaseLease: true,
    ...(declined !== null && cidrContains(ctx.cidr, declined) ? { decline: { ip: declined, until } } : {}),
    events: [{
      machineId: ctx.machine.id, mac: ctx.mac, type: 'dhcp-declined',
      message: `${ctx.machine.name} declined ${declined ?? 'its address'}: another host on the network uses it`,
      data: { ip: declined, until },
    }],
  });
}

function onRelease(ctx: MachineContext): DhcpDecision {
  const { packet, settings } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) {
    return ignore('other-server', `RELEASE addressed to server ${selected}`);
  }
  return ignore('released', 'RELEASE recorded', {
    releaseLease: true,
    events: [{
      machineId: ctx.machine.id, mac: ctx.mac, type: 'dhcp-release',
      message: `${ctx.machine.name} released ${packet.ciaddr}`, data: { ip: packet.ciaddr },
    }],
  });
}

function onInform(ctx: Context, hostName: string | undefined): DhcpDecision {
  const { packet } = ctx.input;
  if (!cidrContains(ctx.cidr, packet.ciaddr)) {
    return ignore('outside-subnet', `INFORM from ${packet.ciaddr}, outside ${ctx.subnet.cidr}`);
  }
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(DhcpMessageType.Ack)],
    [DhcpOption.ServerId, ipv4Value(ctx.input.settings.serverAddress)],
  ]);
  addNetworkOptions(options, ctx, hostName);
  addClientEchoes(options, ctx.input);
  return reply(ctx, { ...replyHeader(packet), ciaddr: packet.ciaddr, options: withRelayInfoLast(options, packet) }, {});
}

/** A reservation the server cannot hand out on the request's network: ignore, and tell the operator. */
function reservationProblem(ctx: MachineContext): DhcpDecision | null {
  const { machine } = ctx;
  let reason: string | null = null;
  if (machine.ip === null) reason = `${machine.name} has no reserved IP address`;
  else if (!cidrContains(ctx.cidr, machine.ip)) {
    reason = `reserved IP ${machine.ip} of ${machine.name} is outside ${ctx.subnet.cidr}, the subnet the request came from`;
  }
  if (reason === null) return null;
  return ignore('no-reservation', reason, {
    events: [{ machineId: machine.id, mac: ctx.mac, type: 'dhcp-ignored', message: reason, data: { ip: machine.ip } }],
  });
}

function bootTargetFor(ctx: MachineContext): BootTarget {
  const { input } = ctx;
  return chooseBootTarget(input.client, input.settings, { ipxeChainedAt: ctx.machine.ipxeChainedAt, now: input.now });
}

function chainEffect(client: ClientInfo, ipxeChainedAt: number | null, target: BootTarget): 'set' | 'clear' | null {
  if (target.kind !== 'none' && target.chainsIpxe) return 'set';
  const handedScript = target.kind === 'http' && !target.chainsIpxe;
  if (handedScript && client.isIpxe && ipxeChainedAt !== null) return 'clear';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Full mode, the optional dynamic pool (unknown MACs, for discovery)

function decidePool(ctx: PoolContext, type: number): DhcpDecision {
  switch (type) {
    case DhcpMessageType.Discover: return poolDiscover(ctx);
    case DhcpMessageType.Request: return poolRequest(ctx);
    case DhcpMessageType.Decline: return poolDecline(ctx);
    case DhcpMessageType.Release: return poolRelease(ctx);
    case DhcpMessageType.Inform: {
      const d = onInform(ctx, undefined);
      return d.kind === 'reply' ? { ...d, effects: { ...d.effects, ...ctx.discovered } } : d;
    }
    default: return ignore('not-client-message', `${messageTypeName(type)} is not a client message`);
  }
}

function inPool(ctx: PoolContext, ip: string): boolean {
  const value = parseIpv4(ip);
  return value !== null && value >= ctx.pool.start && value <= ctx.pool.end;
}

function poolRange(ctx: PoolContext): string {
  return `${formatIpv4(ctx.pool.start)}-${formatIpv4(ctx.pool.end)}`;
}

/** The client's current pool address, else the one it asks for, else the lowest free one. */
function choosePoolAddress(ctx: PoolContext): string | null {
  const unavailable = ctx.input.addresses?.unavailableFor(ctx.mac) ?? new Set<string>();
  const usable = (ip: string | null | undefined): ip is string =>
    ip !== null && ip !== undefined && inPool(ctx, ip) && !unavailable.has(ip) && ip !== ctx.input.settings.serverAddress;
  const current = ctx.input.lease?.ip;
  if (usable(current)) return current;
  const requested = requestedIp(ctx.input.packet);
  if (usable(requested)) return requested;
  for (let value = ctx.pool.start; value <= ctx.pool.end; value += 1) {
    const ip = formatIpv4(value);
    if (usable(ip)) return ip;
  }
  return null;
}

function poolDiscover(ctx: PoolContext): DhcpDecision {
  const ip = choosePoolAddress(ctx);
  if (ip === null) {
    return ignore('pool-exhausted', `pool ${poolRange(ctx)} of ${ctx.subnet.cidr} is exhausted: no offer for ${ctx.mac}`, ctx.discovered);
  }
  const { input } = ctx;
  const hold = input.now + (input.settings.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS);
  const expiresAt = input.lease?.ip === ip ? Math.max(input.lease.expiresAt, hold) : hold;
  const target = poolBootTarget(ctx);
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Offer, ip, target), {
    ...ctx.discovered,
    lease: { mac: ctx.mac, ip, machineId: null, expiresAt },
  });
}

/** Unknown machines may PXE boot (to the "unknown machine" script); never into an iPXE chain loop. */
function poolBootTarget(ctx: PoolContext): BootTarget {
  const chain: ChainState = { ipxeChainedAt: ctx.input.now, now: ctx.input.now };
  return chooseBootTarget(ctx.input.client, ctx.input.settings, chain);
}

function poolRequest(ctx: PoolContext): DhcpDecision {
  const { input, mac } = ctx;
  const shape = requestState(input.packet);
  if (shape === null) return ignore('malformed-request', 'REQUEST without server id, requested address or ciaddr');
  const { state, claimed, selected } = shape;
  const lease = input.lease;
  if (selected !== null && selected !== input.settings.serverAddress) {
    // RFC 2131 §3.1: the client declined our offer; free a held address at once.
    const heldOnly = lease !== null && lease.expiresAt <= input.now + (input.settings.offerHoldMs ?? DEFAULT_OFFER_HOLD_MS);
    return ignore('other-server', `client selected server ${selected}`, heldOnly ? { releaseLease: true } : {});
  }
  let grant: boolean;
  if (state === 'selecting') {
    grant = lease?.ip === claimed || (inPool(ctx, claimed) && !(input.addresses?.unavailableFor(mac).has(claimed) ?? false));
  } else if (lease === null) {
    return ignore('not-ours', `${state} REQUEST for ${claimed} from ${mac}, which holds no lease here`);
  } else {
    grant = lease.ip === claimed;
  }
  if (!grant) return poolNak(ctx, claimed, state);
  const target = poolBootTarget(ctx);
  const networkBoot = input.client.isPxeClient || input.client.isHttpClient || input.client.isIpxe;
  return reply(ctx, leaseReply(ctx, DhcpMessageType.Ack, claimed, target), {
    lease: { mac, ip: claimed, machineId: null, expiresAt: input.now + ctx.subnet.leaseSeconds * 1000 },
    events: [{
      machineId: null, mac, type: networkBoot ? 'dhcp' : 'dhcp-os',
      message: `pool lease ${claimed} to unknown MAC ${mac} (${input.client.archName}, ${describeTarget(target)})`,
      data: { ip: claimed, state, pool: true, arch: input.client.arch, firmware: input.client.firmware, bootTarget: target },
    }],
  });
}

function poolDecline(ctx: PoolContext): DhcpDecision {
  const { packet, settings, now, lease } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) return ignore('other-server', `DECLINE addressed to server ${selected}`);
  const declined = requestedIp(packet) ?? lease?.ip ?? null;
  if (declined === null || !inPool(ctx, declined)) return ignore('declined', `DECLINE of ${declined ?? 'no address'}, not a pool address`);
  const over = declineOverBudget(ctx, declined);
  if (over !== null) return ignore('decline-over-budget', `unknown MAC ${ctx.mac}: ${over}`, { releaseLease: lease?.ip === declined });
  const until = now + Math.min(settings.declineUnknownMs ?? DEFAULT_DECLINE_UNKNOWN_MS, settings.declineMs ?? DEFAULT_DECLINE_MS);
  return ignore('declined', `DECLINE: ${declined} quarantined`, {
    releaseLease: lease?.ip === declined,
    decline: { ip: declined, until },
    events: [{
      machineId: null, mac: ctx.mac, type: 'dhcp-declined',
      message: `unknown MAC ${ctx.mac} declined pool address ${declined}: another host uses it; not offered again for ${Math.round((until - now) / 1000)} s`,
      data: { ip: declined, until, pool: true },
    }],
  });
}

/**
 * Null when a DECLINE of `ip` may be honoured; else why not. A hold matters only inside a pool
 * (reservations are never handed to anyone else), and there at most declineMaxPoolPercent of the
 * pool may be held at once: DECLINEs from random MACs cannot empty it. A MAC's new hold replaces
 * its old one (the caller drops it), so it does not count against the budget twice.
 */
function declineOverBudget(ctx: Context, ip: string): string | null {
  const pool = ctx.subnet.pool ? parsePool(ctx.subnet.pool) : null;
  const value = parseIpv4(ip);
  if (pool === null || value === null || value < pool.start || value > pool.end) return null;
  const holds = ctx.input.addresses?.declinedAddresses?.() ?? [];
  const inThisPool = (h: { readonly ip: string }): boolean => {
    const v = parseIpv4(h.ip);
    return v !== null && v >= pool.start && v <= pool.end;
  };
  const others = holds.filter((h) => h.ip !== ip && h.mac !== ctx.mac && inThisPool(h)).length;
  const size = pool.end - pool.start + 1;
  const percent = ctx.input.settings.declineMaxPoolPercent ?? DEFAULT_DECLINE_MAX_POOL_PERCENT;
  const max = Math.max(1, Math.floor((size * percent) / 100));
  if (others < max) return null;
  return `DECLINE of ${ip} not honoured: ${others} of ${size} pool addresses are already held by DECLINEs (limit ${max}, dhcp.declineMaxPoolPercent ${percent}%)`;
}

function poolRelease(ctx: PoolContext): DhcpDecision {
  const { packet, settings, lease } = ctx.input;
  const selected = serverId(packet);
  if (selected !== null && selected !== settings.serverAddress) return ignore('other-server', `RELEASE addressed to server ${selected}`);
  if (lease?.ip !== packet.ciaddr) return ignore('released', `RELEASE of ${packet.ciaddr}, which ${ctx.mac} does not hold`);
  return ignore('released', 'RELEASE recorded', {
    releaseLease: true,
    events: [{ machineId: null, mac: ctx.mac, type: 'dhcp-release', message: `unknown MAC ${ctx.mac} released ${packet.ciaddr}`, data: { ip: packet.ciaddr, pool: true } }],
  });
}

function poolNak(ctx: PoolContext, claimed: string, state: RequestState): DhcpDecision {
  const reason = cidrContains(ctx.cidr, claimed) ? `${claimed} is not available to this client` : `${claimed} is not on this network`;
  return reply(ctx, nakPacket(ctx.input, reason), {
    events: [{
      machineId: null, mac: ctx.mac, type: 'dhcp-nak',
      message: `refused ${claimed} to unknown MAC ${ctx.mac} (${state}): ${reason}`, data: { requested: claimed, state, pool: true },
    }],
  });
}

function parsePool(pool: DhcpPool): { start: number; end: number } | null {
  const start = parseIpv4(pool.start);
  const end = parseIpv4(pool.end);
  return start === null || end === null || end < start ? null : { start, end };
}

// ---------------------------------------------------------------------------------------------
// Proxy mode (DHCP-40..43): another server owns addressing

function decideProxy(input: DhcpDecisionInput, mac: MacAddress, type: number): DhcpDecision {
  const { packet, client, machine, settings } = input;
  const bootServer = input.localPort === PXE_SERVER_PORT;
  if (!client.isPxeClient) return ignore('proxy-not-pxe', 'proxy mode answers PXE clients only (option 60 PXEClient)');
  if (bootServer) {
    if (type !== DhcpMessageType.Request && type !== DhcpMessageType.Inform) {
      return ignore('proxy-not-discover', `${messageTypeName(type)} on the boot-server port: only REQUEST or INFORM is answered`);
    }
  } else {
    // REQUESTs on 67 go to the site's DHCP server: not ours to answer, not rogue.
    if (type !== DhcpMessageType.Discover) return ignore('proxy-not-discover', `proxy mode answers DISCOVER only on port 67, not ${messageTypeName(type)}`);
    if (clientArchitectures(packet) === null) return ignore('proxy-not-pxe', 'not a PXE boot request (no option 93)');
  }
  if (machine === null) return ignore('unknown-mac', `unknown MAC ${mac} (${messageTypeName(type)}, proxy)`, { discovered: client });
  const match = requestSubnet(packet, settings);
  if (match === null) return noSubnet(input);
  const ctx: MachineContext = { input, machine, mac, ...match };
  const target = bootTargetFor(ctx);
  if (target.kind === 'none') return ignore('no-boot-target', `nothing to boot for ${machine.name}: ${target.reason}`);

  const uefiNative = client.firmware === 'uefi' && !client.isIpxe;
  const final = bootServer || !uefiNative; // UEFI firmware comes back on 4011 for the file (DHCP-41)
  const chain = final ? chainEffect(client, machine.ipxeChainedAt, target) : null;
  const ip = bootServer ? packet.ciaddr : null;
  const effects: EffectsInput = final
    ? {
      ...(chain ? { chain } : {}),
      events: [{
        machineId: machine.id, mac, type: 'dhcp',
        message: `proxyDHCP boot information to ${machine.name}${ip === null ? '' : ` at ${ip}`} (${client.archName}, ${describeTarget(target)})`,
        data: { ip, mode: 'proxy', port: bootServer ? PXE_SERVER_PORT : DHCP_SERVER_PORT, arch: client.arch, firmware: client.firmware, bootTarget: target },
      }],
    }
    : {};
  const packetOut = bootServer ? bootServerAck(ctx, target) : proxyOffer(ctx, target);
  if (bootServer) {
    const destination = input.source ?? { address: packet.ciaddr, port: PXE_SERVER_PORT };
    return { kind: 'reply', packet: packetOut, destination, maxSize: replyMaxSize(packet), effects: { ...effects, events: effects.events ?? [] } };
  }
  return reply(ctx, packetOut, effects);
}

/** DHCP-41: yiaddr 0, PXEClient, server id, 97 echoed; BIOS gets 43 {6:[8]}, UEFI no 43 (A.7 #3). */
function proxyOffer(ctx: MachineContext, target: BootTarget): DhcpPacket {
  const { packet, settings, client } = ctx.input;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(DhcpMessageType.Offer)],
    [DhcpOption.ServerId, ipv4Value(settings.serverAddress)],
    [DhcpOption.VendorClass, textValue('PXEClient')],
  ]);
  if (client.firmware === 'bios') options.set(DhcpOption.VendorEncapsulated, pxeDiscoveryControlValue(8));
  addBootName(options, packet, target, settings.serverAddress);
  const machineId = packet.options.get(DhcpOption.ClientMachineId);
  if (machineId) options.set(DhcpOption.ClientMachineId, machineId);
  const header = replyHeader(packet);
  const boot = bootFields(target, settings.serverAddress);
  return {
    ...header,
    flags: header.flags | BROADCAST_FLAG,
    siaddr: settings.serverAddress,
    sname: settings.serverAddress,
    file: boot.file,
    options: withRelayInfoLast(options, packet),
  };
}

/** DHCP-42: the PXE boot-server ACK on port 4011, with 43.71 echoed when the client asked for an item. */
function bootServerAck(ctx: MachineContext, target: BootTarget): DhcpPacket {
  const { packet, settings } = ctx.input;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(DhcpMessageType.Ack)],
    [DhcpOption.ServerId, ipv4Value(settings.serverAddress)],
    [DhcpOption.VendorClass, textValue('PXEClient')],
  ]);
  const vendor = packet.options.get(DhcpOption.VendorEncapsulated);
  const item = vendor ? decodeSubOptions(vendor)?.get(PxeSubOption.BootItem) : undefined;
  if (item?.length === 4) options.set(DhcpOption.VendorEncapsulated, encodeSubOptions([[PxeSubOption.BootItem, item]], true));
  addBootName(options, packet, target, settings.serverAddress);
  const machineId = packet.options.get(DhcpOption.ClientMachineId);
  if (machineId) options.set(DhcpOption.ClientMachineId, machineId);
  const boot = bootFields(target, settings.serverAddress);
  return {
    ...replyHeader(packet),
    ciaddr: packet.ciaddr,
    yiaddr: packet.ciaddr,
    siaddr: settings.serverAddress,
    sname: settings.serverAddress,
    file: boot.file,
    options: withRelayInfoLast(options, packet),
  };
}

// ---------------------------------------------------------------------------------------------
// Reply building

/** OFFER or ACK carrying an address, network options and boot information. */
function leaseReply(ctx: Context, type: number, yiaddr: string, target: BootTarget, hostName?: string): DhcpPacket {
  const { packet, settings } = ctx.input;
  const lease = ctx.subnet.leaseSeconds;
  const options = new Map<number, Buffer>([
    [DhcpOption.MessageType, uint8Value(type)],
    [DhcpOption.ServerId, ipv4Value(settings.serverAddress)],
    [DhcpOption.LeaseTime, uint32Value(lease)],
    // T1/T2 at RFC 2131 §4.4.5's defaults: 0.5 and 0.875 of the lease.
    [DhcpOption.RenewalTime, uint32Value(Math.floor(lease / 2))],
    [DhcpOption.RebindingTime, uint32Value(Math.floor((lease * 7) / 8))],
  ]);
  addNetworkOptions(options, ctx, hostName);
  addClientEchoes(options, ctx.input);
  if (ctx.input.client.isIpxe) options.set(DhcpOption.IpxeEncapsulated, ipxeNoProxyDhcpValue());
  if (target.kind === 'tftp') {
    const requested = new Set(parameterRequestList(packet));
    if (requested.has(DhcpOption.TftpServerName)) options.set(DhcpOption.TftpServerName, textValue(settings.serverAddress));
    if (requested.has(DhcpOption.BootfileName)) options.set(DhcpOption.BootfileName, textValue(target.file));
  } else if (target.kind === 'http') {
    // EDK II HTTP boot discards an offer without a boot URI; iPXE reads either place.
    options.set(DhcpOption.BootfileName, textValue(target.url));
  }
  const boot = bootFields(target, settings.serverAddress);
  return {
    ...replyHeader(packet),
    ciaddr: type === DhcpMessageType.Ack ? packet.ciaddr : ZERO_IP,
    yiaddr,
    siaddr: boot.siaddr,
    file: boot.file,
    options: withRelayInfoLast(options, packet),
  };
}

/** Proxy replies: 66/67 only when asked (67 also when the name does not fit the file field). */
function addBootName(options: Map<number, Buffer>, packet: DhcpPacket, target: BootTarget, serverAddress: string): void {
  if (target.kind === 'none') return;
  const name = target.kind === 'tftp' ? target.file : target.url;
  const requested = new Set(parameterRequestList(packet));
  if (target.kind === 'tftp' && requested.has(DhcpOption.TftpServerName)) options.set(DhcpOption.TftpServerName, textValue(serverAddress));
  const fits = Buffer.byteLength(name, 'latin1') < FILE_LENGTH;
  if (!fits || requested.has(DhcpOption.BootfileName)) options.set(DhcpOption.BootfileName, textValue(name));
}

function addNetworkOptions(options: Map<number, Buffer>, ctx: Context, hostName: string | undefined): void {
  const { subnet, cidr } = ctx;
  options.set(DhcpOption.SubnetMask, ipv4Value(cidrNetmask(cidr)));
  options.set(DhcpOption.BroadcastAddress, ipv4Value(cidrBroadcast(cidr)));
  if (subnet.gateway) options.set(DhcpOption.Router, ipv4Value(subnet.gateway));
  if (subnet.dns.length > 0) options.set(DhcpOption.DnsServers, ipv4ListValue(subnet.dns));
  if (subnet.domain) options.set(DhcpOption.DomainName, textValue(subnet.domain));
  if (hostName !== undefined) options.set(DhcpOption.HostName, textValue(hostName));
}

/**
 * 60 HTTPClient (EDK II HTTP boot drops an offer without it), 61 (RFC 6842), 97 (PXE).
 * No 60 "PXEClient" in a full-DHCP reply: with it and no option 43, EDK II classifies the offer
 * as "DhcpBinl" and then asks port 4011 for the boot file ("PXE-E16: No valid offer received",
 * seen with OVMF). Without it the offer is "DhcpOnly" and its `file`/siaddr are used directly, as
 * with dnsmasq's dhcp-boot. PXEClient belongs to proxy offers.
 */
function addClientEchoes(options: Map<number, Buffer>, input: DhcpDecisionInput): void {
  const { client, packet } = input;
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
  if (target.kind === 'none') return { siaddr: ZERO_IP, file: '' };
  const name = target.kind === 'tftp' ? target.file : target.url;
  // The file field holds 127 bytes plus its NUL; a longer URL travels in option 67 only.
  return { siaddr: serverAddress, file: Buffer.byteLength(name, 'latin1') < FILE_LENGTH ? name : '' };
}

function nakPacket(input: DhcpDecisionInput, reason: string): DhcpPacket {
  const { packet, settings } = input;
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
  return { ...header, flags, options: withRelayInfoLast(options, packet) };
}

function nak(ctx: MachineContext, claimed: string, state: RequestState): DhcpDecision {
  const reason = cidrContains(ctx.cidr, claimed)
    ? `${claimed} is not reserved for this client` : `${claimed} is not on this network`;
  return reply(ctx, nakPacket(ctx.input, reason), {
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

const cidrCache = new Map<string, Cidr | null>();
function cachedCidr(text: string): Cidr | null {
  let cidr = cidrCache.get(text);
  if (cidr === undefined) {
    cidr = parseCidr(text);
    if (cidrCache.size < 4096) cidrCache.set(text, cidr);
  }
  return cidr;
}

/** The relay's subnet for relayed requests, else the subnet of our own address (DHCP-06). */
export function requestSubnet(packet: DhcpPacket, settings: DhcpSettings): SubnetMatch | null {
  const anchor = isUnspecifiedIpv4(packet.giaddr) ? settings.serverAddress : packet.giaddr;
  for (const subnet of settings.subnets) {
    const cidr = cachedCidr(subnet.cidr);
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

function ignore(code: DhcpIgnoreCode, reason: string, effects: EffectsInput = {}): DhcpDecision {
  return { kind: 'ignore', code, reason, effects: { ...effects, events: effects.events ?? [] } };
}
