/**
 * How the CLI talks to a remote rackboot server: where it is (--server / $RACKBOOT_SERVER), the API
 * token ($RACKBOOT_TOKEN, or a file only its owner can read, as ssh insists for keys), the CA for
 * HTTPS (--ca-file), and one JSON request with a deadline. Every failure becomes a coded
 * RackbootError: the server's own code when it sent one, RACKBOOT_ERR_UNREACHABLE when it could not
 * be reached in time, RACKBOOT_ERR_REMOTE when its answer is unusable.
 */
import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ERROR_CODES, RackbootError, type ErrorCode } from '../errors.js';

export interface RemoteOptions {
  readonly server?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly timeout?: string;
}

export interface RemoteServer {
  /** The server's base URL, without /api/v1 and without a trailing slash. */
  readonly url: string;
  readonly token: string | null;
  /** Where the token came from, for messages ("$RACKBOOT_TOKEN", "--token-file /x"). */
  readonly tokenSource: string | null;
  readonly ca: Buffer | null;
  readonly timeoutMs: number;
}

export const DEFAULT_REMOTE_TIMEOUT_SECONDS = 15;
/** Bound on an answer's size: the largest list page is a few MiB. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** The remote server from flags and environment, or null: the CLI works on the local data directory. */
export function remoteServer(options: RemoteOptions, env: NodeJS.ProcessEnv = process.env): RemoteServer | null {
  const server = options.server ?? nonEmpty(env.RACKBOOT_SERVER);
  if (server === undefined) {
    const stray = options.tokenFile !== undefined ? '--token-file' : options.caFile !== undefined ? '--ca-file' : null;
    if (stray) throw new RackbootError('RACKBOOT_ERR_USAGE', `${stray} goes with --server <url> (or $RACKBOOT_SERVER)`);
    return null;
  }
  const url = serverUrl(server);
  const timeoutText = options.timeout ?? nonEmpty(env.RACKBOOT_TIMEOUT);
  const timeoutSeconds = timeoutText === undefined ? DEFAULT_REMOTE_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0 || timeoutSeconds > 3600) {
    throw new RackbootError('RACKBOOT_ERR_USAGE', `--timeout ${timeoutText}: expected seconds from 0.1 to 3600`);
  }
  const caFile = options.caFile ?? nonEmpty(env.RACKBOOT_CA_FILE);
  let ca: Buffer | null = null;
  if (caFile !== undefined) {
    if (!url.startsWith('https:')) throw new RackbootError('RACKBOOT_ERR_USAGE', `--ca-file goes with an https:// server URL (got ${url})`);
    try {
      ca = readFileSync(caFile);
    } catch (error) {
      throw new RackbootError('RACKBOOT_ERR_USAGE', `--ca-file ${caFile}: ${(error as Error).message}`);
    }
  }
  const token = apiToken(options.tokenFile, env);
  return { url, token: token?.token ?? null, tokenSource: token?.source ?? null, ca, timeoutMs: Math.round(timeoutSeconds * 1000) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function serverUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RackbootError('RACKBOOT_ERR_USAGE', `--server ${text}: not a URL (expected e.g. https://rackboot.example:8443)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RackbootError('RACKBOOT_ERR_USAGE', `--server ${text}: only http:// and https:// URLs`);
  if (url.username !== '' || url.password !== '') throw new RackbootError('RACKBOOT_ERR_USAGE', '--server: no credentials in the URL (use $RACKBOOT_TOKEN or --token-file)');
  if (url.search !== '' || url.hash !== '') throw new RackbootError('RACKBOOT_ERR_USAGE', `--server ${text}: no query or fragment`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '')}`;
}

/** --token-file, else $RACKBOOT_TOKEN, else $RACKBOOT_TOKEN_FILE; none: reads work, mutations get 401. */
function apiToken(flagFile: string | undefined, env: NodeJS.ProcessEnv): { token: string; source: string } | null {
  if (flagFile !== undefined) return { token: readTokenFile(flagFile), source: `--token-file ${flagFile}` };
  const fromEnv = nonEmpty(env.RACKBOOT_TOKEN);
  if (fromEnv !== undefined) return { token: fromEnv, source: '$RACKBOOT_TOKEN' };
  const envFile = nonEmpty(env.RACKBOOT_TOKEN_FILE);
  if (envFile !== undefined) return { token: readTokenFile(envFile), source: `$RACKBOOT_TOKEN_FILE ${envFile}` };
  return null;
}

/** The token file must be a regular file only its owner can read or write (like ssh's private keys). */
export function readTokenFile(path: string): string {
  let mode: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new RackbootError('RACKBOOT_ERR_TOKEN_FILE', `token file ${path}: not a regular file`);
    mode = stat.mode;
  } catch (error) {
    if (error instanceof RackbootError) throw error;
    throw new RackbootError('RACKBOOT_ERR_TOKEN_FILE', `token file ${path}: ${(error as Error).message}`);
  }
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new RackbootError('RACKBOOT_ERR_TOKEN_FILE', `token file ${path} is accessible by group or others (mode ${octal}); refusing to use it: chmod 600 ${path}`);
  }
  const token = readFileSync(path, 'utf8').trim();
  if (token === '' || /\s/.test(token)) throw new RackbootError('RACKBOOT_ERR_TOKEN_FILE', `token file ${path}: expected one token on one line`);
  return token;
}

export interface RemoteRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Below /api/v1, e.g. /machines?limit=10. */
  readonly path: string;
  readonly body?: unknown;
  /** Overrides the server's timeout (a power cycle waits for the BMC). */
  readonly timeoutMs?: number;
  /** The answer is text (e.g. CSV), not JSON. */
  readonly text?: boolean;
}

export interface RemoteAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** One request; any HTTP status comes back as an answer, every transport failure as RACKBOOT_ERR_UNREACHABLE. */
export function send(server: RemoteServer, req: RemoteRequest): Promise<RemoteAnswer> {
  const url = new URL(`${server.url}/api/v1${req.path}`);
  const payload = req.body === undefined ? null : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = { accept: req.text ? 'text/csv, application/yaml, application/json' : 'application/json', 'user-agent': 'rackboot-cli' };
  if (payload) headers['content-type'] = 'application/json';
  if (server.token !== null) headers.authorization = `Bearer ${server.token}`;
  const timeoutMs = req.timeoutMs ?? server.timeoutMs;
  const options = { method: req.method, headers, signal: AbortSignal.timeout(timeoutMs), ...(server.ca ? { ca: server.ca } : {}) };
  return new Promise((resolve, reject) => {
    const fail = (error: unknown) => reject(unreachable(server, error, timeoutMs));
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          response.destroy();
          reject(new RackbootError('RACKBOOT_ERR_REMOTE', `${server.url}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', fail);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        const status = response.statusCode ?? 0;
        if (req.text && status >= 200 && status < 300) {
          resolve({ status, body: text });
          return;
        }
        try {
          body = text === '' ? null : JSON.parse(text);
        } catch {
          if ((response.statusCode ?? 0) < 400) {
            reject(new RackbootError('RACKBOOT_ERR_REMOTE', `${server.url} answered ${req.method} ${url.pathname} with something that is not JSON: is this a rackboot server?`));
            return;
          }
        }
        resolve({ status: response.statusCode ?? 0, body });
      });
    };
    const outgoing = url.protocol === 'https:' ? httpsRequest(url, options, onResponse) : httpRequest(url, options, onResponse);
    outgoing.on('error', fail);
    outgoing.end(payload ?? undefined);
  });
}

function unreachable(server: RemoteServer, error: unknown, timeoutMs: number): RackbootError {
  const e = error as NodeJS.ErrnoException & { cause?: unknown };
  const code = e.code ?? '';
  let why: string;
  if (e.name === 'AbortError' || e.name === 'TimeoutError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') why = `no answer within ${timeoutMs / 1000} s (--timeout)`;
  else if (code === 'ECONNREFUSED') why = 'connection refused: is `rackboot serve` running there, on that port?';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') why = `the host name does not resolve (${code})`;
  else if (code === 'ECONNRESET' || code === 'EPIPE') why = `the connection was closed (${code}); if the server uses TLS, use an https:// URL`;
  else if (/CERT|SELF_SIGNED|TLS|SSL/.test(code) || /certificate|TLS|SSL/i.test(e.message)) why = `TLS: ${e.message} (give the CA that signed the server's certificate with --ca-file)`;
  else why = `${e.message}${code ? ` (${code})` : ''}`;
  return new RackbootError('RACKBOOT_ERR_UNREACHABLE', `cannot reach the rackboot server at ${server.url}: ${why}`, { cause: error });
}

/** A non-2xx answer as the coded error the server meant; both error body shapes ({error, code} and {error: {code, message}}) are read. */
export function answerError(server: RemoteServer, answer: RemoteAnswer, what: string): RackbootError {
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const nested = typeof body.error === 'object' && body.error !== null ? (body.error as Record<string, unknown>) : null;
  const sentCode = nested?.code ?? body.code;
  const message = String(nested?.message ?? (typeof body.error === 'string' ? body.error : undefined) ?? body.message ?? `HTTP ${answer.status}`);
  const rawDetails = nested?.details ?? body.details;
  const details = Array.isArray(rawDetails) ? rawDetails.map(String) : [];
  let code: ErrorCode = typeof sentCode === 'string' && sentCode in ERROR_CODES ? (sentCode as ErrorCode) : codeForStatus(answer.status);
  let text = message;
  if (code === 'RACKBOOT_ERR_AUTH') {
    text = server.token === null
      ? `${message} (set $RACKBOOT_TOKEN or give --token-file; \`rackboot api-token rotate\` on the server prints one)`
      : `${message} (the token from ${server.tokenSource ?? 'the environment'} was refused)`;
  } else if (code === 'RACKBOOT_ERR_TLS_REQUIRED') {
    text = `${message}: use the server's https:// URL (http.tls.port)`;
  } else if (answer.status >= 500 && !(typeof sentCode === 'string' && sentCode in ERROR_CODES)) {
    code = 'RACKBOOT_ERR_REMOTE';
    text = `${what}: the server failed (HTTP ${answer.status}): ${message}`;
  }
  return new RackbootError(code, text, { details });
}

function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return 'RACKBOOT_ERR_INVALID_INPUT';
  if (status === 401) return 'RACKBOOT_ERR_AUTH';
  if (status === 404) return 'RACKBOOT_ERR_NOT_FOUND';
  if (status === 409) return 'RACKBOOT_ERR_CONFLICT';
  if (status === 429) return 'RACKBOOT_ERR_RATE_LIMITED';
  return 'RACKBOOT_ERR_REMOTE';
}

/** A request that must succeed: its JSON body, or the coded error. */
export async function call<T>(server: RemoteServer, req: RemoteRequest): Promise<T> {
  const answer = await send(server, req);
  if (answer.status >= 200 && answer.status < 300) return answer.body as T;
  throw answerError(server, answer, `${req.method} ${req.path.split('?')[0]}`);
}
