/**
 * The TFTP content port: the contract between the TFTP adapter (net/tftp-server.ts) and whatever
 * decides what a path serves (a confined root directory, or content the core generates). A port,
 * not wire format, so it lives in core/: core code can produce TftpContent without importing the
 * socket adapter.
 */
import type { Endpoint } from './types.js';

export type TftpContent =
  /** Served from memory; the size is known before the OACK, so tsize is exact. */
  | { kind: 'buffer'; data: Buffer }
  /** Answered with ERROR 1. The reason is logged, never sent. */
  | { kind: 'not-found'; reason: string }
  /** Answered with ERROR 2. The reason is logged, never sent. */
  | { kind: 'denied'; reason: string };

export interface TftpRequestInfo {
  /** Normalised by core/tftp-path.ts: `/` separators, no leading slash, no `..`. */
  readonly path: string;
  readonly client: Endpoint;
  /** The server address the request arrived on (the listener's bound address). */
  readonly localAddress: string;
  /** Requested options, lower-cased names, raw values. */
  readonly options: Readonly<Record<string, string>>;
}

export type TftpTransferResult = 'complete' | 'aborted' | 'timeout' | 'error';

export interface TftpTransferSummary {
  readonly path: string;
  readonly client: Endpoint;
  /** Content bytes the client acknowledged. */
  readonly bytes: number;
  readonly blksize: number;
  readonly windowsize: number;
  readonly durationMs: number;
  readonly result: TftpTransferResult;
  readonly reason?: string;
}

export type TftpResolver = (request: TftpRequestInfo) => Promise<TftpContent>;
