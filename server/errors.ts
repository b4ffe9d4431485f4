/**
 * Coded errors. Every error rackboot reports to an operator or an API client has a stable code,
 * an HTTP status and, where there is one, the underlying cause.
 */
export const ERROR_CODES = {
  RACKBOOT_ERR_CONFIG: { status: 500, summary: 'invalid configuration' },
  RACKBOOT_ERR_CATALOG: { status: 500, summary: 'invalid templates, menus or cloud-configs' },
  RACKBOOT_ERR_STORE: { status: 500, summary: 'inventory database error' },
  RACKBOOT_ERR_STORE_UNUSABLE: { status: 500, summary: 'the inventory database is empty or damaged' },
  RACKBOOT_ERR_CONFLICT: { status: 409, summary: 'conflicts with the inventory' },
  RACKBOOT_ERR_INVALID_INPUT: { status: 400, summary: 'invalid input' },
  RACKBOOT_ERR_NOT_FOUND: { status: 404, summary: 'not found' },
  RACKBOOT_ERR_TOKEN: { status: 403, summary: 'unknown or expired boot token' },
  RACKBOOT_ERR_RENDER: { status: 500, summary: 'a template could not be rendered' },
  RACKBOOT_ERR_BIND: { status: 500, summary: 'a service could not bind its address' },
  RACKBOOT_ERR_AUTH: { status: 401, summary: 'this action needs the API token' },
  RACKBOOT_ERR_NO_POWER_DRIVER: { status: 501, summary: 'no power driver is configured' },
  RACKBOOT_ERR_NO_BMC: { status: 409, summary: 'the machine has no known BMC' },
  RACKBOOT_ERR_BMC: { status: 502, summary: 'the BMC refused or did not answer' },
  RACKBOOT_ERR_NO_IP_RULE: { status: 501, summary: 'no static-IP rule is configured' },
  RACKBOOT_ERR_RATE_LIMITED: { status: 429, summary: 'too many requests from this address' },
  RACKBOOT_ERR_DISK_LOW: { status: 503, summary: 'the data directory is low on space' },
  RACKBOOT_ERR_BUSY: { status: 503, summary: 'too many connections of this kind: retry later' },
  RACKBOOT_ERR_TOO_MANY: { status: 400, summary: 'the selector matches more machines than a bulk action may touch' },
  RACKBOOT_ERR_TLS_REQUIRED: { status: 403, summary: 'this route is served over HTTPS only' },
  RACKBOOT_ERR_TOO_LARGE: { status: 413, summary: 'the request body is too large' },
  RACKBOOT_ERR_MEDIA_TYPE: { status: 415, summary: 'the request body has a content type the route does not take' },
  RACKBOOT_ERR_METHOD: { status: 405, summary: 'the route does not take this method' },
  RACKBOOT_ERR_INTERNAL: { status: 500, summary: 'the server failed (the log has the cause)' },
  RACKBOOT_ERR_ETCD_COLD_START: { status: 503, summary: 'the etcd cluster lost every member (cold start): an operator must decide' },
  RACKBOOT_ERR_ETCD_MEMBERSHIP: { status: 503, summary: 'the etcd membership change failed: retry later' },
  // the CLI's own failures (docs/cli.md): never sent by the server, the status is nominal
  RACKBOOT_ERR_USAGE: { status: 400, summary: 'the command line is wrong' },
  RACKBOOT_ERR_FAILED: { status: 500, summary: 'the operation failed or found problems' },
  RACKBOOT_ERR_LOCAL_ONLY: { status: 400, summary: 'this command works on the local data directory only, not with --server' },
  RACKBOOT_ERR_TOKEN_FILE: { status: 400, summary: 'the API token file is missing, empty or readable by other users' },
  RACKBOOT_ERR_UNREACHABLE: { status: 502, summary: 'the rackboot server could not be reached in time' },
  RACKBOOT_ERR_REMOTE: { status: 502, summary: 'the rackboot server gave an answer the CLI cannot use' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class RackbootError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: readonly string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RackbootError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.details = options.details ?? [];
  }
}

/** The HTTP status a transport answers a coded failure with. */
export function httpStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * The one error body every JSON route sends: `error` (the message), `code` (RACKBOOT_ERR_*) and,
 * when there is more to say, `details`. docs/api.md documents it; errorSchema (api-model.ts) describes it.
 */
export function errorBody(code: ErrorCode, message: string, extra: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return { error: message, code, ...extra };
}

export function isRackbootError(value: unknown): value is RackbootError {
  return value instanceof RackbootError;
}

/** The code of an HTTP status that has no more specific one (fastify's own errors: validation, body size, unknown routes). */
export function codeForStatus(status: number): ErrorCode {
  if (status === 401) return 'RACKBOOT_ERR_AUTH';
  if (status === 404) return 'RACKBOOT_ERR_NOT_FOUND';
  if (status === 405) return 'RACKBOOT_ERR_METHOD';
  if (status === 409) return 'RACKBOOT_ERR_CONFLICT';
  if (status === 413) return 'RACKBOOT_ERR_TOO_LARGE';
  if (status === 415) return 'RACKBOOT_ERR_MEDIA_TYPE';
  if (status === 429) return 'RACKBOOT_ERR_RATE_LIMITED';
  if (status === 503) return 'RACKBOOT_ERR_BUSY';
  if (status >= 500) return 'RACKBOOT_ERR_INTERNAL';
  return 'RACKBOOT_ERR_INVALID_INPUT';
}
