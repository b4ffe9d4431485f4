/**
 * Serves TFTP reads from one directory, confined by realpath, with an in-memory cache.
 *
 * Every request re-resolves the path and re-stats the file, so a replaced or edited file is
 * picked up on the next request; the cache only saves the read (every machine in a rack fetches
 * the same few boot files). Refused: anything whose realpath leaves the root (symlinks out, unless
 * their target is one the operator allowed: net/confine.ts),
 * non-regular files (directories, FIFOs, devices), files without o+r unless allowed (as tftpd-hpa
 * does without --permissive) and files above maxFileBytes (TFTP content is served from memory).
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import { join } from 'node:path';
import { normaliseTftpPath } from '../core/tftp-path.js';
import { locate, realTargets } from './confine.js';
import type { Logger } from '../log.js';
import type { TftpContent, TftpRequestInfo, TftpResolver } from '../core/tftp-content.js';

export interface RootResolverOptions {
  readonly root: string;
  readonly logger: Logger;
  /** Total bytes of file content kept in memory, least recently used evicted first. */
  readonly maxCacheBytes?: number;
  /** Larger files are refused (ERROR 2): TFTP content is held in memory whole. */
  readonly maxFileBytes?: number;
  /** Serve files that are not world-readable too. Default false. */
  readonly allowNonWorldReadable?: boolean;
  /** Files or directories outside the root that a symlink inside it may point to (tftp.symlinkTargets). */
  readonly symlinkTargets?: readonly string[];
}

interface CachedFile {
  readonly identity: string;
  readonly data: Buffer;
}

const MiB = 1024 * 1024;
const NOT_FOUND_CODES = new Set(['ENOENT', 'ENOTDIR']);
const DENIED_CODES = new Set(['EACCES', 'EPERM', 'ELOOP', 'ENAMETOOLONG']);

/** Changes whenever the file is replaced, rewritten or chmod-ed. */
function identityOf(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/** Maps expected file-system errors to a reply; anything else is rethrown (and logged by the server). */
function contentForError(err: unknown): TftpContent {
  const code = errorCode(err);
  if (code !== undefined && NOT_FOUND_CODES.has(code)) return { kind: 'not-found', reason: code };
  if (code !== undefined && DENIED_CODES.has(code)) return { kind: 'denied', reason: code };
  throw err;
}

export function createRootResolver(options: RootResolverOptions): TftpResolver {
  const { logger } = options;
  const maxCacheBytes = options.maxCacheBytes ?? 256 * MiB;
  const maxFileBytes = options.maxFileBytes ?? 512 * MiB;
  const cache = new Map<string, CachedFile>();
  const reading = new Map<string, Promise<TftpContent>>();
  let cachedBytes = 0;
  // resolved once (every request would otherwise pay for them); a failure is retried: the root may be mounted later
  let roots: Promise<{ root: string; targets: string[] }> | null = null;
  const realRoots = (): Promise<{ root: string; targets: string[] }> => {
    roots ??= Promise.all([fs.realpath(options.root), realTargets(options.symlinkTargets ?? [])])
      .then(([root, targets]) => ({ root, targets }))
      .catch((err: unknown) => {
        roots = null;
        throw err;
      });
    return roots;
  };
  const remember = (path: string, entry: CachedFile): void => {
    if (entry.data.length > maxCacheBytes) return;
    const old = cache.get(path);
    if (old !== undefined) cachedBytes -= old.data.length;
    cache.delete(path);
    cache.set(path, entry);
    cachedBytes += entry.data.length;
    for (const [key, value] of cache) {
      if (cachedBytes <= maxCacheBytes) break;
      cache.delete(key);
      cachedBytes -= value.data.length;
    }
  };

  /** Reads through a no-follow, non-blocking descriptor and checks it is still a regular file. */
  const readRegularFile = async (path: string): Promise<{ data: Buffer; identity: string } | TftpContent> => {
    const handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat();
      if (!st.isFile()) return { kind: 'denied', reason: 'not a regular file' };
      if (st.size > maxFileBytes) return { kind: 'denied', reason: `larger than ${maxFileBytes} bytes` };
      return { data: await handle.readFile(), identity: identityOf(st) };
    } finally {
      await handle.close();
    }
  };

  const read = async (path: string, identity: string): Promise<TftpContent> => {
    try {
      const result = await readRegularFile(path);
      if ('kind' in result) return result;
      // Only cache what matches the stat that admitted the request; a file caught mid-rewrite is
      // served as read but cached on a later, stable request.
      if (result.identity === identity) remember(path, result);
      logger.debug({ path, bytes: result.data.length }, 'tftp file read into memory');
      return { kind: 'buffer', data: result.data };
    } catch (err) {
      return contentForError(err);
    }
  };

  /** Concurrent requests for the same file version share one read. */
  const load = (path: string, identity: string): Promise<TftpContent> => {
    const key = `${path}\0${identity}`;
    let pending = reading.get(key);
    if (pending === undefined) {
      pending = read(path, identity).finally(() => reading.delete(key));
      reading.set(key, pending);
    }
    return pending;
  };

  return async (request: TftpRequestInfo): Promise<TftpContent> => {
    const normalised = normaliseTftpPath(request.path);
    if (!normalised.ok) return { kind: 'denied', reason: normalised.reason };
    const { root, targets } = await realRoots(); // a missing root is a configuration error: rejected, logged by the server
    let real: string;
    let st: Stats;
    try {
      const found = locate(await fs.realpath(join(root, normalised.path)), root, targets);
      if (found === 'escape') return { kind: 'denied', reason: 'resolves outside the root (tftp.symlinkTargets may allow a link target)' };
      real = found.real;
      st = await fs.stat(real);
    } catch (err) {
      return contentForError(err);
    }
    if (!st.isFile()) return { kind: 'denied', reason: 'not a regular file' };
    if (!options.allowNonWorldReadable && (st.mode & 0o004) === 0) return { kind: 'denied', reason: 'not world-readable' };
    if (st.size > maxFileBytes) return { kind: 'denied', reason: `larger than ${maxFileBytes} bytes` };

    const identity = identityOf(st);
    const hit = cache.get(real);
    if (hit !== undefined && hit.identity === identity) {
      cache.delete(real);
      cache.set(real, hit); // most recently used goes last
      return { kind: 'buffer', data: hit.data };
    }
    return load(real, identity);
  };
}
