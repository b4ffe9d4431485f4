/**
 * The DHCP worker's in-memory index over the inventory: machines by MAC and by id, leases by MAC,
 * read through from the store and kept until something may have changed them.
 *
 * Staleness is ruled out with SQLite's own version counter: `PRAGMA data_version` changes whenever
 * ANOTHER connection commits (the main thread's Provisioner, `rackboot` CLI commands in another
 * process, a restore), so every transaction first re-reads it (one cheap pragma) and drops the whole
 * index when it moved. No write path has to remember to notify the worker, including ones added
 * later. The worker's own writes go through this wrapper: the lease and machine writes DHCP makes
 * drop exactly the entries they touch, and any other write drops everything. A transaction that
 * throws (rolled back) drops everything too, since entries read inside it may show its undone writes.
 */
import type { InventoryStore, Lease } from '../core/ports.js';
import type { Machine } from '../core/types.js';
import type { Db } from '../store/db.js';

/** Reads that never change anything (anything else called on the store counts as a write). */
const READS = new Set<string>([
  'machineByUuid', 'machineByIp', 'machineByName', 'machineByBootToken', 'machineByConfigToken', 'listMachines',
  'listMachinesWithRoles', 'leaseByIp', 'unavailableAddresses', 'activeDeclines', 'listEvents', 'listDiscovered',
  'listDiscoveredPage', 'listMachinesPage',
]);
/** Writes that touch one machine (by id, the first argument). */
const MACHINE_WRITES = new Set<string>(['setState', 'setBootToken', 'setConfigToken', 'setRole', 'setIpxeChainedAt', 'setIp']);
/** Writes that touch no machine and no lease. */
const APPEND_ONLY = new Set<string>(['appendEvent', 'noteDiscovered']);
/** Entries kept at most, per map (unknown MACs are cached as null: a flood of them must not grow it). */
const MAX_ENTRIES = 50_000;

export interface IndexStats {
  hits: number;
  misses: number;
  /** Times the whole index was dropped because another connection committed. */
  invalidations: number;
}

export interface IndexedDhcpStore extends InventoryStore {
  /** Drops every entry (an explicit notification). */
  invalidate(): void;
  readonly indexStats: Readonly<IndexStats>;
}

export function indexedDhcpStore(inner: InventoryStore, db: Db): IndexedDhcpStore {
  const machinesByMac = new Map<string, Machine | null>();
  const machinesById = new Map<number, Machine | null>();
  const leasesByMac = new Map<string, Lease | null>();
  /** Lease address -> the MAC whose cached lease holds it. */
  const leaseHolders = new Map<string, string>();
  const stats: IndexStats = { hits: 0, misses: 0, invalidations: 0 };
  let version = db.pragma('data_version', { simple: true }) as number;
  let depth = 0;

  const clear = (): void => {
    machinesByMac.clear();
    machinesById.clear();
    leasesByMac.clear();
    leaseHolders.clear();
  };
  const forgetMachine = (id: number): void => {
    const machine = machinesById.get(id);
    machinesById.delete(id);
    if (machine) for (const mac of machine.macs) machinesByMac.delete(mac);
    else machinesByMac.clear();
  };
  const cached = <K, V>(map: Map<K, V>, key: K, read: () => V): V => {
    if (map.has(key)) {
      stats.hits += 1;
      return map.get(key) as V;
    }
    stats.misses += 1;
    const value = read();
    if (map.size >= MAX_ENTRIES) clear();
    map.set(key, value);
    return value;
  };

  const own: Partial<IndexedDhcpStore> & Record<string, unknown> = {
    invalidate: clear,
    indexStats: stats,
    transaction<T>(work: () => T): T {
      if (depth === 0) {
        const now = db.pragma('data_version', { simple: true }) as number;
        if (now !== version) {
          version = now;
          stats.invalidations += 1;
          clear();
        }
      }
      depth += 1;
      try {
        return inner.transaction(work);
      } catch (error) {
        clear();
        throw error;
      } finally {
        depth -= 1;
      }
    },
    machineByMac: (mac: string) => cached(machinesByMac, mac, () => {
      const machine = inner.machineByMac(mac);
      if (machine) machinesById.set(machine.id, machine);
      return machine;
    }),
    machineById: (id: number) => cached(machinesById, id, () => inner.machineById(id)),
    leaseByMac: (mac: string) => cached(leasesByMac, mac, () => {
      const lease = inner.leaseByMac(mac);
      if (lease) leaseHolders.set(lease.ip, mac);
      return lease;
    }),
    putLease: (lease: Lease) => {
      leasesByMac.delete(lease.mac);
      // the upsert may drop another MAC's lease on the same address
      const holder = leaseHolders.get(lease.ip);
      if (holder !== undefined) leasesByMac.delete(holder);
      inner.putLease(lease);
    },
    deleteLease: (mac: string) => {
      leasesByMac.delete(mac);
      inner.deleteLease(mac);
    },
    declineAddress: (...args: Parameters<InventoryStore['declineAddress']>) => {
      leasesByMac.clear();
      inner.declineAddress(...args);
    },
  };

  return new Proxy(inner as IndexedDhcpStore, {
    get(target, name, receiver) {
      if (typeof name === 'string' && Object.hasOwn(own, name)) return own[name];
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function' || typeof name !== 'string' || READS.has(name)) {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      const method = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (MACHINE_WRITES.has(name)) forgetMachine(args[0] as number);
        else if (!APPEND_ONLY.has(name)) clear();
        return method.apply(target, args);
      };
    },
  });
}
