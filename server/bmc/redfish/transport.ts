/**
 * One HTTP(S) request to a Redfish service, bounded in time and size. Over HTTPS the certificate is
 * checked before a single byte of the request (and so the password) is sent: against a CA file, or
 * against the SHA-256 fingerprint recorded at first contact (trust on first use; a changed
 * certificate is refused with both fingerprints in the message).
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { RedfishProtocolError, RedfishTimeoutError, RedfishTrustError, RedfishUnreachableError } from './errors.js';
import type { FingerprintStore } from './trust.js';

export interface RedfishEndpoint {
  readonly address: string;
  readonly port: number;
  readonly scheme: 'https' | 'http';
  /** PEM file of the CA(s) that sign the BMC certificates; without it, trust on first use. */
  readonly caFile?: string;
}

export interface TransportOptions {
  /** Per request: connect, TLS, headers and body (default 10 s). */
  readonly timeoutMs?: number;
  /** Largest response body accepted (default 1 MiB). */
  readonly maxResponseBytes?: number;
  /** Where first-contact fingerprints live (needed for HTTPS without a CA file). */
  readonly fingerprints?: FingerprintStore;
}

export interface RedfishResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** Parsed JSON, or null for an empty or non-JSON body. */
  readonly body: unknown;
}

export interface RedfishRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/** "AB:CD:..." as Node reports fingerprint256. */
export type Fingerprint = string;

const caCache = new Map<string, Buffer>();

function readCa(file: string): Buffer {
  let ca = caCache.get(file);
  if (!ca) {
    ca = readFileSync(file);
    caCache.set(file, ca);
  }
  return ca;
}

function endpointKey(endpoint: RedfishEndpoint): string {
  return `${endpoint.address}:${endpoint.port}`;
}

/** Connects and checks the certificate; resolves with a socket nothing has been written to. */
function openTls(endpoint: RedfishEndpoint, options: TransportOptions, deadline: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    let ca: Buffer | undefined;
    try {
      ca = endpoint.caFile ? readCa(endpoint.caFile) : undefined;
    } catch (error) {
      return reject(new RedfishTrustError(`CA file ${endpoint.caFile}: ${(error as Error).message}`, endpoint.address));
    }
    const socket = tlsConnect({
      host: endpoint.address,
      port: endpoint.port,
      // With a CA file Node verifies the chain and that the certificate names this address;
      // without one, the fingerprint below is the check.
      ...(ca ? { ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      // Nothing completed a TLS handshake: as good as nothing listening (auto may try IPMI).
      reject(new RedfishUnreachableError(`no TLS handshake with ${endpointKey(endpoint)} within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`, endpoint.address));
    }, Math.max(1, deadline - Date.now()));
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        ca && /certificate|self[- ]signed|unable to verify|altname/i.test(error.message)
          ? new RedfishTrustError(`TLS certificate refused (CA ${endpoint.caFile}): ${error.message}`, endpoint.address)
          : new RedfishUnreachableError(`cannot connect to ${endpointKey(endpoint)}: ${error.code ?? error.message}`, endpoint.address, { cause: error }),
      );
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      if (ca) return resolve(socket);
      const presented = socket.getPeerCertificate().fingerprint256;
      const store = options.fingerprints;
      if (!presented || !store) {
        socket.destroy();
        return reject(new RedfishTrustError('no CA file and no fingerprint store: refusing to trust the certificate', endpoint.address));
      }
      const key = endpointKey(endpoint);
      const known = store.get(key);
      if (known === null) {
        store.remember(key, presented);
        return resolve(socket);
      }
      if (known.toUpperCase() === presented.toUpperCase()) return resolve(socket);
      socket.destroy();
      reject(
        new RedfishTrustError(
          `the TLS certificate of ${key} changed: recorded SHA-256 ${known}, presented ${presented}; refused (if it was replaced on purpose, remove ${key} from ${store.location})`,
          endpoint.address,
          { detail: { recorded: known, presented } },
        ),
      );
    });
  });
}

/** Sends one request; the caller maps statuses. Never follows redirects. */
export async function redfishRequest(endpoint: RedfishEndpoint, req: RedfishRequest, options: TransportOptions = {}): Promise<RedfishResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const deadline = Date.now() + timeoutMs;
  const socket = endpoint.scheme === 'https' ? await openTls(endpoint, options, deadline) : null;
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  return new Promise<RedfishResponse>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      r.destroy();
      socket?.destroy();
      reject(error);
    };
    const r = httpRequest(
      {
        host: endpoint.address,
        port: endpoint.port,
        method: req.method,
        path: req.path,
        // The verified TLS socket, or a fresh plain one: never a pooled connection (an agent
        // would ignore createConnection and open its own, unencrypted).
        ...(socket ? { createConnection: () => socket } : { agent: false }),
        headers: {
          Accept: 'application/json',
          'OData-Version': '4.0',
          Connection: 'close',
          ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': String(payload.length) } : {}),
          ...req.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(new RedfishProtocolError(`${req.method} ${req.path}: response larger than ${maxBytes} bytes`, endpoint.address));
          chunks.push(chunk);
        });
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          socket?.destroy();
          const raw = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          if (raw.trim() !== '') {
            try {
              body = JSON.parse(raw);
            } catch {
              body = null;
            }
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    const timer = setTimeout(() => fail(new RedfishTimeoutError(`${req.method} ${req.path}: no complete answer within ${Math.round(timeoutMs / 1000)} s`, endpoint.address)), Math.max(1, deadline - Date.now()));
    r.on('error', (error: NodeJS.ErrnoException) => fail(new RedfishUnreachableError(`cannot reach ${endpointKey(endpoint)}: ${error.code ?? error.message}`, endpoint.address, { cause: error })));
    r.end(payload);
  });
}
