/**
 * Checks that run before the DHCP decision: which packets can have come from a network rackboot
 * serves (a multi-homed host cannot tell the ingress interface, docs/dhcp.md), and which reveal
 * another DHCP server on the segment (rogue DHCP). Pure; the rate limiter takes the time as input.
 */
import { BOOTP_REPLY, BOOTP_REQUEST, DhcpMessageType, messageTypeName } from '../protocol/dhcp/constants.js';
import { messageType, serverId } from '../protocol/dhcp/options.js';
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import { cidrContains, isUnspecifiedIpv4, parseCidr, type Cidr } from './ipv4.js';
import type { Endpoint } from './types.js';

export interface InterfaceAddress {
  readonly name: string;
  readonly address: string;
}

/**
 * Where requests may come from: relays (giaddr) inside a configured subnet, and direct packets only
 * when a configured subnet holds an address of one of the listed interfaces.
 */
export interface DhcpScope {
  readonly subnets: readonly Cidr[];
  /** Configured subnets with an address of a listed interface: clients there reach us directly. */
  readonly localSubnets: readonly Cidr[];
  readonly interfaces: readonly InterfaceAddress[];
}

export type ScopeResult = { readonly ok: true; readonly scope: DhcpScope } | { readonly ok: false; readonly error: string };

/**
 * Resolves `dhcp.interfaces` against the host's interfaces (os.networkInterfaces() shape). An
 * interface that is missing, or has no IPv4 address, is an error: rackboot refuses to start.
 */
export function resolveDhcpScope(
  names: readonly string[],
  host: Readonly<Record<string, ReadonlyArray<{ readonly address: string; readonly family: string | number }> | undefined>>,
  subnetCidrs: readonly string[],
): ScopeResult {
  const subnets = subnetCidrs.map(parseCidr).filter((c): c is Cidr => c !== null);
  const interfaces: InterfaceAddress[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const entries = host[name];
    if (entries === undefined) {
      problems.push(`interface ${name} does not exist (have: ${Object.keys(host).sort().join(', ') || 'none'})`);
      continue;
    }
    const v4 = entries.filter((e) => e.family === 'IPv4' || e.family === 4);
    if (v4.length === 0) problems.push(`interface ${name} has no IPv4 address`);
    for (const e of v4) interfaces.push({ name, address: e.address });
  }
  if (problems.length > 0) return { ok: false, error: `dhcp.interfaces: ${problems.join('; ')}` };
  const localSubnets = subnets.filter((cidr) => interfaces.some((i) => cidrContains(cidr, i.address)));
  return { ok: true, scope: { subnets, localSubnets, interfaces } };
}

/**
 * Null when the packet can have come from a served network; else the reason code to count it under.
 * Relayed: giaddr must lie in a configured subnet. Direct: a listed interface must sit on a
 * configured subnet, and a client that already has an address must be on one of those subnets.
 */
export function outOfScope(packet: DhcpPacket, source: Endpoint, scope: DhcpScope): 'foreign-relay' | 'no-local-subnet' | 'foreign-source' | null {
  if (packet.op !== BOOTP_REQUEST) return null; // replies are inspected for rogue servers, never answered
  if (!isUnspecifiedIpv4(packet.giaddr)) {
    return scope.subnets.some((c) => cidrContains(c, packet.giaddr)) ? null : 'foreign-relay';
  }
  if (scope.localSubnets.length === 0) return 'no-local-subnet';
  if (!isUnspecifiedIpv4(source.address) && !scope.localSubnets.some((c) => cidrContains(c, source.address))) {
    return 'foreign-source';
  }
  return null;
}

export interface RogueSighting {
  /** Option 54 of the packet, else (for a reply) its source address. */
  readonly serverId: string;
  /** 'reply': a BOOTREPLY reached us; 'request': a client REQUEST selected that server. */
  readonly via: 'reply' | 'request';
  readonly source: string;
  readonly mac: string | null;
  readonly messageType: string;
  /** The address the other server handed out (replies only). */
  readonly yiaddr: string | null;
}

export interface RogueSettings {
  readonly serverAddress: string;
  readonly peers?: readonly string[];
}

/**
 * Another DHCP server answering on the segment: any BOOTREPLY that is not ours or a peer's, or a
 * client REQUEST that selects a server that is neither. Call it in full mode only: in proxy mode the
 * site's DHCP server is expected.
 */
export function rogueSighting(packet: DhcpPacket, source: Endpoint, own: RogueSettings): RogueSighting | null {
  const known = (ip: string): boolean => ip === own.serverAddress || (own.peers ?? []).includes(ip);
  const sid = serverId(packet);
  const type = messageType(packet);
  if (packet.op === BOOTP_REPLY) {
    const id = sid ?? source.address;
    if (known(id) || (sid === null && known(packet.siaddr))) return null;
    return { serverId: id, via: 'reply', source: source.address, mac: packet.mac, messageType: messageTypeName(type), yiaddr: packet.yiaddr };
  }
  if (packet.op === BOOTP_REQUEST && type === DhcpMessageType.Request && sid !== null && !known(sid)) {
    return { serverId: sid, via: 'request', source: source.address, mac: packet.mac, messageType: 'REQUEST', yiaddr: null };
  }
  return null;
}

/**
 * At most one report per key per interval, and at most `maxPerInterval` reports in all per interval
 * (spoofed packets naming random servers cannot flood the event log); remembers a bounded number of keys.
 */
export class RateLimiter {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #last = new Map<string, number>();

  readonly #maxPerInterval: number;
  #windowStart = -Infinity;
  #inWindow = 0;

  constructor(intervalMs: number, maxKeys = 1024, maxPerInterval = 20) {
    this.#intervalMs = intervalMs;
    this.#maxKeys = maxKeys;
    this.#maxPerInterval = maxPerInterval;
  }

  /** True when `key` may be reported at `now` (and records that it was). */
  allow(key: string, now: number): boolean {
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (now - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = now;
      this.#inWindow = 0;
    }
    if (this.#inWindow >= this.#maxPerInterval) return false;
    this.#inWindow += 1;
    this.#last.delete(key);
    if (this.#last.size >= this.#maxKeys) {
      const oldest = this.#last.keys().next();
      if (!oldest.done) this.#last.delete(oldest.value);
    }
    this.#last.set(key, now);
    return true;
  }
}
