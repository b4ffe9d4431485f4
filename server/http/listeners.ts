/**
 * The sockets under the HTTP service: bounded and timed out, so that slow or idle connections from
 * the provisioning network cannot use up the process's descriptors or memory (issue 15).
 *
 * Fastify's serverFactory gets the HTTP server(s) built here:
 *  - headersTimeout / requestTimeout: a client that sends its request slowly (slow loris) is closed
 *    with a 408 once the deadline passes (checked every connectionsCheckingInterval);
 *  - connectionTimeout: an idle socket is closed (the event stream's heartbeat keeps it busy);
 *  - maxConnections: above it Node closes a new socket at once (process-wide bound);
 *  - maxConnectionsPerClient: one address cannot hold more, so a single attacker does not reach
 *    the process-wide bound and lock everybody else out.
 * With TLS (http.tls) the factory returns the HTTPS server and builds a second, plain server with the
 * same handler for the machines (firmware iPXE has no TLS); see docs/operators.md.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerClient: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** A socket with no traffic for this long is closed. */
  readonly connectionTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 2048,
  maxConnectionsPerClient: 64,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionTimeoutMs: 60_000,
};

export interface TlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** Counters for /metrics (metrics.ts reads them at scrape time). */
export interface ConnectionStats {
  accepted: number;
  open: number;
  /** Closed at once: the client already holds maxConnectionsPerClient. */
  refusedPerClient: number;
  /** Closed at once by Node: the server holds maxConnections. */
  refusedTotal: number;
  /** Requests that did not arrive within headersTimeout / requestTimeout. */
  timedOut: number;
  /** /assets or /ipxe requests refused because the file resolves outside its directory (boot-routes.ts). */
  pathEscapes: number;
  /** /ipxe/:file requests for a binary that is not there (or is refused): the firmware's boot ends. */
  firmwareNotFound: number;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export class HttpListeners {
  readonly stats: ConnectionStats = { accepted: 0, open: 0, refusedPerClient: 0, refusedTotal: 0, timedOut: 0, pathEscapes: 0, firmwareNotFound: 0 };
  /** With TLS: the plain-HTTP server for the machines (listen it yourself: listenPlain). */
  plain: Server | null = null;
  private readonly perClient = new Map<string, number>();

  constructor(
    readonly limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
    readonly tls: TlsMaterial | null = null,
  ) {}

  /** Fastify's serverFactory. */
  readonly factory = (handler: Handler): Server => {
    const options = {
      headersTimeout: this.limits.headersTimeoutMs,
      requestTimeout: this.limits.requestTimeoutMs,
      keepAliveTimeout: this.limits.keepAliveTimeoutMs,
      // how often Node looks for requests past their deadline (default 30 s: slow clients would live that much longer)
      connectionsCheckingInterval: Math.max(250, Math.min(5_000, Math.floor(this.limits.headersTimeoutMs / 4))),
    };
    if (this.tls === null) return this.guard(createHttpServer(options, handler));
    this.plain = this.guard(createHttpServer(options, handler));
    return this.guard(createHttpsServer({ ...options, cert: this.tls.cert, key: this.tls.key }, handler));
  };

  /** Listens the plain server (TLS only) and resolves with its port. */
  listenPlain(host: string, port: number): Promise<number> {
    const server = this.plain;
    if (server === null) return Promise.reject(new Error('no plain listener: TLS is off'));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  closePlain(): Promise<void> {
    const server = this.plain;
    if (server === null || !server.listening) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private guard<T extends Server>(server: T): T {
    server.maxConnections = this.limits.maxConnections;
    server.setTimeout(this.limits.connectionTimeoutMs);
    server.on('drop', () => {
      this.stats.refusedTotal += 1;
    });
    // TLS servers emit 'secureConnection' after the handshake; 'connection' is the TCP socket either way
    server.on('connection', (socket: Socket) => this.admit(socket));
    server.on('clientError', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.stats.timedOut += 1;
    });
    return server;
  }

  private admit(socket: Socket): void {
    const client = socket.remoteAddress ?? 'unknown';
    const held = this.perClient.get(client) ?? 0;
    if (held >= this.limits.maxConnectionsPerClient) {
      this.stats.refusedPerClient += 1;
      socket.destroy();
      return;
    }
    this.perClient.set(client, held + 1);
    this.stats.accepted += 1;
    this.stats.open += 1;
    socket.once('close', () => {
      this.stats.open -= 1;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
  }
}
