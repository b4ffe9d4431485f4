/**
 * Which requests come from a machine itself (docs/security/tokens.md): the rule that binds boot
 * tokens to a machine, and the bounded record of refusals.
 *
 * A request comes from machine M when its source address (the TCP peer; forwarding headers are
 * never read, an IPv4-mapped IPv6 address counts as its IPv4 address) is
 *  - M's reserved IP (`machines.ip`), or
 *  - when this rackboot answers DHCP in full mode: the address of an unexpired lease rackboot
 *    granted to one of M's MACs (the lease table).
 * Nothing else: not an address seen in proxy mode, not the MAC or UUID in the query.
 */
import type { Lease } from './ports.js';
import type { Machine } from './types.js';

/** The request's source as the lease table and reservations write it. */
export function sourceAddress(clientIp: string): string {
  return clientIp.startsWith('::ffff:') ? clientIp.slice(7) : clientIp;
}

export interface BindingFacts {
  readonly machine: Machine;
  /** From `sourceAddress`. */
  readonly source: string;
  /** The lease the table holds for `source`, or null; read only when rackboot owns addressing. */
  readonly leaseAtSource: Lease | null;
  /** True when this process answers DHCP in full mode (it knows which address each MAC has). */
  readonly ownsAddressing: boolean;
  readonly now: number;
}

export function isMachineSource(facts: BindingFacts): boolean {
  const { machine, source, leaseAtSource: lease } = facts;
  if (machine.ip !== null && machine.ip === source) return true;
  if (!facts.ownsAddressing || lease === null || lease.ip !== source) return false;
  return lease.expiresAt > facts.now && (lease.machineId === machine.id || machine.macs.includes(lease.mac));
}

/** Where a token was used from the wrong address, or with a token nobody holds. */
export type RefusedRoute = 'ipxe' | 'menu' | 'boot-asset' | 'cloud-config' | 'ignition' | 'install' | 'callback';
export type RefusalReason = 'wrong-address' | 'unknown-token';

export const REFUSAL_REPORT_INTERVAL_MS = 60_000;
const MAX_REPORT_KEYS = 10_000;

/**
 * At most one report per key (a machine) per interval: what is refused in between is counted and
 * carried by the next report, so a flood writes one row a minute per machine, not one per request.
 * Counts by route and reason feed /metrics.
 */
export class RefusalLog {
  private readonly lastReport = new Map<string, { at: number; suppressed: number }>();
  private readonly counts = new Map<string, number>();

  constructor(private readonly intervalMs: number = REFUSAL_REPORT_INTERVAL_MS) {}

  /** Counts the refusal; `report` says whether to record an event now, `suppressed` how many were not since the last one. */
  refuse(key: string, route: RefusedRoute, reason: RefusalReason, now: number): { report: boolean; suppressed: number } {
    const countKey = `${route} ${reason}`;
    this.counts.set(countKey, (this.counts.get(countKey) ?? 0) + 1);
    const last = this.lastReport.get(key);
    if (last && now - last.at < this.intervalMs && now >= last.at) {
      last.suppressed++;
      return { report: false, suppressed: last.suppressed };
    }
    this.lastReport.delete(key);
    if (this.lastReport.size >= MAX_REPORT_KEYS) this.lastReport.delete(this.lastReport.keys().next().value as string);
    this.lastReport.set(key, { at: now, suppressed: 0 });
    return { report: true, suppressed: last?.suppressed ?? 0 };
  }

  /** Refusals since start, by route and reason. */
  totals(): Array<{ route: RefusedRoute; reason: RefusalReason; count: number }> {
    return [...this.counts].map(([key, count]) => {
      const [route, reason] = key.split(' ') as [RefusedRoute, RefusalReason];
      return { route, reason, count };
    });
  }
}
