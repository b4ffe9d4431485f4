/**
 * Coded errors. Every error rackboot reports to an operator or an API client has a stable code,
 * an HTTP status and, where there is one, the underlying cause.
 */
export const ERROR_CODES = {
  RACKBOOT_ERR_CONFIG: { status: 500, summary: 'invalid configuration' },
  RACKBOOT_ERR_CATALOG: { status: 500, summary: 'invalid templates, menus or cloud-configs' },
  RACKBOOT_ERR_STORE: { status: 500, summary: 'inventory database error' },
  RACKBOOT_ERR_CONFLICT: { status: 409, summary: 'conflicts with the inventory' },
  RACKBOOT_ERR_INVALID_INPUT: { status: 400, summary: 'invalid input' },
  RACKBOOT_ERR_NOT_FOUND: { status: 404, summary: 'not found' },
  RACKBOOT_ERR_TOKEN: { status: 403, summary: 'unknown or expired boot token' },
  RACKBOOT_ERR_RENDER: { status: 500, summary: 'a template could not be rendered' },
  RACKBOOT_ERR_BIND: { status: 500, summary: 'a service could not bind its address' },
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

export function isRackbootError(value: unknown): value is RackbootError {
  return value instanceof RackbootError;
}
