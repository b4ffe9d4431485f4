/**
 * Discovery: log in to every BMC of some address ranges (bounded concurrency), learn its identity
 * (GUID, its own LAN IP and MAC, the host NICs' MACs) through the BMC port, and hand each result to
 * a recorder (the BMC registry). One session per BMC, always closed.
 */
import { matchingMachines } from '../core/ip-policy.js';
import { formatIpv4, parseCidr, parseIpv4 } from '../core/ipv4.js';
import { canonicalGuid } from '../core/uuid-match.js';
import {
  describeBmcError,
  type BmcConnector,
  type BmcCredentials,
  type BmcProduct,
  type BmcSession,
  type BmcTarget,
  type DescribedBmcError,
  type HostMac,
  type LanAddress,
  type SessionInfo,
} from './port.js';
import type { BmcRegistry } from './registry.js';

export const DEFAULT_DISCOVERY_CONCURRENCY = 32;
/** A scan larger than this is almost certainly a typo (a /16 is 65,534 addresses). */
export const MAX_DISCOVERY_ADDRESSES = 65_536;

/**
 * Expands "10.1.0.0/24", "10.1.0.7", "10.1.0.10-10.1.0.20", "10.1.0.10-20" and comma-separated
 * lists of them into unique addresses, in order. CIDR blocks up to /30 skip the network and
 * broadcast addresses.
 */
export function expandTargets(specs: readonly string[], max = MAX_DISCOVERY_ADDRESSES): { addresses: string[]; errors: string[] } {
  const seen = new Set<number>();
  const order: number[] = [];
  const errors: string[] = [];
  const add = (value: number): boolean => {
    if (seen.has(value)) return true;
    if (order.length >= max) return false;
    seen.add(value);
    order.push(value);
    return true;
  };
  const addRange = (first: number, last: number, spec: string): void => {
    if (last < first) {
      errors.push(`${spec}: the range ends before it starts`);
      return;
    }
    if (last - first + 1 > max) {
      errors.push(`${spec}: ${last - first + 1} addresses is more than ${max}`);
      return;
    }
    for (let v = first; v <= last; v++) {
      if (!add(v)) {
        errors.push(`more than ${max} addresses in total; scan in parts`);
        return;
      }
    }
  };
  for (const spec of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s.length > 0)) {
    if (spec.includes('/')) {
      const cidr = parseCidr(spec);
      if (!cidr) {
        errors.push(`${spec}: not a CIDR block`);
        continue;
      }
      const size = 2 ** (32 - cidr.prefix);
      const first = cidr.prefix <= 30 ? cidr.network + 1 : cidr.network;
      const last = cidr.prefix <= 30 ? cidr.network + size - 2 : cidr.network + size - 1;
      addRange(first, last, spec);
      continue;
    }
    const dash = spec.indexOf('-');
    const from = dash === -1 ? null : parseIpv4(spec.slice(0, dash).trim());
    if (from !== null) {
      const tail = spec.slice(dash + 1).trim();
      let to = parseIpv4(tail);
      if (to === null && /^\d{1,3}$/.test(tail) && Number(tail) <= 255) to = ((from & 0xffffff00) | Number(tail)) >>> 0;
      if (to === null) {
        errors.push(`${spec}: not a range (a.b.c.d-a.b.c.e or a.b.c.d-e)`);
        continue;
      }
      addRange(from, to, spec);
      continue;
    }
    const one = parseIpv4(spec);
    if (one === null) errors.push(`${spec}: not an IPv4 address, range or CIDR block`);
    else if (!add(one)) errors.push(`more than ${max} addresses in total; scan in parts`);
  }
  return { addresses: order.map(formatIpv4), errors: [...new Set(errors)] };
}

/** Runs `work` over `items` with at most `limit` in flight; results keep the input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export interface DiscoveredBmc {
  readonly ok: true;
  readonly address: string;
  readonly port: number;
  readonly durationMs: number;
  /** Canonical text of the GUID bytes as received; null when absent or a placeholder. */
  readonly guid: string | null;
  readonly device: BmcProduct;
  readonly serialNumber: string | null;
  readonly lan: LanAddress | null;
  readonly hostMacs: readonly HostMac[];
  readonly session: SessionInfo;
  readonly warnings: readonly string[];
}

export interface FailedBmc {
  readonly ok: false;
  readonly address: string;
  readonly port: number;
  readonly durationMs: number;
  readonly error: DescribedBmcError;
}

export type DiscoveryResult = DiscoveredBmc | FailedBmc;

export async function discoverBmc(
  connect: BmcConnector,
  target: BmcTarget,
  credentials: BmcCredentials,
  clock: () => number = Date.now,
): Promise<DiscoveryResult> {
  const started = clock();
  let bmc: BmcSession | undefined;
  try {
    bmc = await connect(target, credentials);
    const identity = await bmc.identify();
    return {
      ok: true,
      address: target.address,
      port: target.port,
      durationMs: clock() - started,
      guid: identity.systemGuid ? canonicalGuid(identity.systemGuid) : null,
      device: identity.product,
      serialNumber: identity.serialNumber,
      lan: identity.lan,
      hostMacs: identity.hostMacs,
      session: bmc.session,
      warnings: [...bmc.session.notes, ...identity.warnings],
    };
  } catch (error) {
    return { ok: false, address: target.address, port: target.port, durationMs: clock() - started, error: describeBmcError(error) };
  } finally {
    await bmc?.close().catch(() => {});
  }
}

export interface DiscoveryOptions {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly credentials: BmcCredentials;
  readonly concurrency?: number;
}

export interface DiscoveryDeps {
  readonly connect: BmcConnector;
  readonly clock?: () => number;
  /** Called as each BMC finishes (store it, draw progress). */
  readonly onResult?: (result: DiscoveryResult, done: number, total: number) => void;
}

export async function discoverBmcs(deps: DiscoveryDeps, options: DiscoveryOptions): Promise<DiscoveryResult[]> {
  let done = 0;
  return mapBounded(options.addresses, options.concurrency ?? DEFAULT_DISCOVERY_CONCURRENCY, async (address) => {
    const result = await discoverBmc(deps.connect, { address, port: options.port }, options.credentials, deps.clock);
    done += 1;
    deps.onResult?.(result, done, options.addresses.length);
    return result;
  });
}

/**
 * Keeps one result in the inventory: a BMC that answered is upserted (and linked to the one machine
 * its host MACs, GUID or address point at, if exactly one); a failure is noted (see recordFailure).
 */
export function recordDiscovery(bmcs: BmcRegistry, result: DiscoveryResult, username: string, now: number): void {
  bmcs.transaction(() => {
    if (!result.ok) {
      bmcs.recordFailure({ address: result.address, port: result.port, username, kind: result.error.kind, message: result.error.message }, now);
      return;
    }
    const record = bmcs.recordObservation(
      {
        address: result.address,
        port: result.port,
        username,
        guid: result.guid,
        bmcMac: result.lan?.mac ?? null,
        bmcIp: result.lan?.ip ?? null,
        lanChannel: result.lan?.channel ?? null,
        manufacturerId: result.device.manufacturerId,
        productId: result.device.productId,
        firmware: result.device.firmwareRevision,
        ipmiVersion: result.device.protocolVersion,
        session: result.session.summary,
        hostMacs: result.hostMacs,
      },
      now,
    );
    if (record.machineId !== null) return;
    const planBmc = { address: record.address, guid: record.guid, hostMacs: record.hostMacs.map((h) => h.mac), machineId: null };
    const match = matchingMachines(planBmc, bmcs.candidateMachines(planBmc));
    const only = match.machines.length === 1 ? match.machines[0] : undefined;
    if (only && (only.bmcAddress === null || only.bmcAddress === record.address)) bmcs.linkMachine(record.address, only.id);
  });
}
