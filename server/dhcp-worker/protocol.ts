/** Messages between the main thread and the DHCP worker thread (structured-cloned). */
import type { Config } from '../config/config.js';
import type { DhcpServiceStats } from '../services/dhcp-service.js';

export interface DhcpWorkerData {
  readonly config: Config;
  readonly databasePath: string;
  readonly logLevel: string;
  /** How often the worker posts its counters (ms). */
  readonly statsIntervalMs: number;
}

export type FromWorker =
  | { readonly type: 'ready'; readonly port: number; readonly pxePort: number | null; readonly watchPort: number | null }
  | { readonly type: 'stats'; readonly stats: DhcpServiceStats }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'closed'; readonly stats: DhcpServiceStats };

export type ToWorker =
  | { readonly type: 'close' }
  /** Post the counters now (a caller that must see what just happened, not the last periodic report). */
  | { readonly type: 'stats' }
  /** The inventory changed on another connection in a way a version counter cannot see (kept for callers; see index.ts). */
  | { readonly type: 'inventory-changed' }
  /** The disk guard's state: shed writes of events from unknown sources while the disk is low. */
  | { readonly type: 'disk-low'; readonly low: boolean };
