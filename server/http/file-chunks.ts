/**
 * Boot assets from one shared, bounded cache of file chunks instead of a read stream per download.
 *
 * Every machine of a rack fetches the same kernel and initrd. @fastify/static gives each download
 * its own fs.ReadStream (64 KiB reads through the thread pool, copied per connection): measured on
 * loopback (bench/http), rackboot served an 8 MiB kernel at 0.3-0.45x nginx. Here @fastify/send
 * still decides everything about the response (status, Content-Length, Content-Range, ETag, 304,
 * 416, HEAD); an onSend hook only swaps the body: the ReadStream it created is closed and the same
 * byte range is streamed from 256 KiB chunks read once through the response's own descriptor and
 * shared by every concurrent download of that file version (1 MiB chunks measured the same on full
 * downloads; 128 KiB was slower).
 *
 * Memory is bounded by the cache budget plus, per connection, the one chunk being written (no
 * read-ahead; a per-connection ReadStream holds up to two 64 KiB buffers of its own). A file replaced
 * while it is being downloaded is read through the descriptor opened for that download, so one
 * response never mixes two versions; chunks are keyed by the file's identity (device, inode, size,
 * mtime, ctime).
 */
import { ReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface FileChunkOptions {
  readonly chunkBytes?: number;
  /** Total bytes of chunks kept; least recently used go first. */
  readonly budgetBytes?: number;
}

const MiB = 1024 * 1024;

export class FileChunkCache {
  readonly chunkBytes: number;
  readonly budgetBytes: number;
  private readonly chunks = new Map<string, Buffer>();
  private readonly reading = new Map<string, Promise<Buffer>>();
  private cached = 0;

  constructor(options: FileChunkOptions = {}) {
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
    this.budgetBytes = options.budgetBytes ?? 64 * MiB;
  }

  get cachedBytes(): number {
    return this.cached;
  }

  /** Chunk `index` of the file open as `handle`, whose identity is `identity` and size `size`. */
  chunk(handle: FileHandle, identity: string, size: number, index: number): Promise<Buffer> {
    const key = `${identity}#${index}`;
    const hit = this.chunks.get(key);
    if (hit !== undefined) {
      this.chunks.delete(key);
      this.chunks.set(key, hit); // most recently used last
      return Promise.resolve(hit);
    }
    let pending = this.reading.get(key);
    if (pending === undefined) {
      pending = this.read(handle, size, index)
        .then((data) => {
          this.remember(key, data);
          return data;
        })
        .finally(() => this.reading.delete(key));
      this.reading.set(key, pending);
      return pending;
    }
    // a read shared with another download: should it fail for that one, read through our own descriptor
    return pending.catch(() => this.read(handle, size, index));
  }

  private async read(handle: FileHandle, size: number, index: number): Promise<Buffer> {
    const position = index * this.chunkBytes;
    const length = Math.min(this.chunkBytes, size - position);
    const data = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(data, filled, length - filled, position + filled);
      if (bytesRead === 0) throw new Error(`file shrank while being read (chunk ${index})`);
      filled += bytesRead;
    }
    return data;
  }

  private remember(key: string, data: Buffer): void {
    if (data.length > this.budgetBytes) return;
    this.chunks.set(key, data);
    this.cached += data.length;
    for (const [old, value] of this.chunks) {
      if (this.cached <= this.budgetBytes) break;
      this.chunks.delete(old);
      this.cached -= value.length;
    }
  }

  /**
   * The onSend hook for routes that answer with reply.sendFile(): a file body becomes the same
   * byte range from the shared chunks. Anything else (HEAD, 304, 416, errors, an empty body) and
   * any doubt (the file changed since @fastify/send looked at it) keeps the original payload.
   */
  readonly onSend = async (_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> => {
    if (!(payload instanceof ReadStream) || typeof payload.path !== 'string') return payload;
    // fs.ReadStream keeps the range it was created with (not in @types/node)
    const range = payload as ReadStream & { start?: number; end?: number };
    const start = range.start ?? 0;
    const end = range.end;
    const length = Number(reply.getHeader('content-length'));
    if (end === undefined || !Number.isFinite(end) || !(length > 0) || end - start + 1 !== length) return payload;
    let handle: FileHandle;
    try {
      handle = await open(payload.path, 'r');
    } catch {
      return payload;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile() || end >= st.size) {
        await handle.close();
        return payload;
      }
      payload.destroy(); // closes the descriptor @fastify/send opened
      return new ChunkStream(this, handle, `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`, st.size, start, end);
    } catch {
      await handle.close().catch(() => {});
      return payload;
    }
  };
}

/** Bytes [start, end] of one file version, as slices of shared chunks (no copies). */
class ChunkStream extends Readable {
  private position: number;

  constructor(
    private readonly cache: FileChunkCache,
    private readonly handle: FileHandle,
    private readonly identity: string,
    private readonly size: number,
    start: number,
    private readonly end: number,
  ) {
    // no read-ahead: the next chunk is fetched when the socket drained the last one, so a slow
    // client pins one chunk, not two
    super({ highWaterMark: 0 });
    this.position = start;
  }

  override _read(): void {
    if (this.position > this.end) {
      this.push(null);
      return;
    }
    const index = Math.floor(this.position / this.cache.chunkBytes);
    this.cache.chunk(this.handle, this.identity, this.size, index).then(
      (data) => {
        if (this.destroyed) return;
        const base = index * this.cache.chunkBytes;
        const slice = data.subarray(this.position - base, Math.min(data.length, this.end - base + 1));
        this.position += slice.length;
        this.push(slice);
      },
      (error: unknown) => this.destroy(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.handle.close().then(
      () => callback(error),
      () => callback(error),
    );
  }
}
