/**
 * How a failed command ends: its exit code (the table in docs/cli.md) and its message on stderr,
 * as text, or with --json as one JSON object {"error": {"code", "message", "details"}, "exitCode"}.
 */
import { isRackbootError, type ErrorCode } from '../errors.js';
import { terminalLines, terminalText } from './format.js';

export const EXIT_OK = 0;
/** The operation failed, or a check found problems. */
export const EXIT_FAILED = 1;
/** The command line, the configuration or the local data directory is wrong; or the command cannot run remotely. */
export const EXIT_USAGE = 2;
/** The remote server could not be reached in time, or answered something unusable. */
export const EXIT_UNREACHABLE = 3;
/** The remote server refused the API token (missing, wrong or rotated). */
export const EXIT_AUTH = 4;

const USAGE_CODES: ReadonlySet<string> = new Set([
  'RACKBOOT_ERR_CONFIG',
  'RACKBOOT_ERR_CATALOG',
  'RACKBOOT_ERR_STORE_UNUSABLE',
  'RACKBOOT_ERR_USAGE',
  'RACKBOOT_ERR_LOCAL_ONLY',
  'RACKBOOT_ERR_TOKEN_FILE',
]);

export function exitCodeFor(code: string): number {
  if (USAGE_CODES.has(code)) return EXIT_USAGE;
  if (code === 'RACKBOOT_ERR_UNREACHABLE' || code === 'RACKBOOT_ERR_REMOTE') return EXIT_UNREACHABLE;
  if (code === 'RACKBOOT_ERR_AUTH') return EXIT_AUTH;
  return EXIT_FAILED;
}

/** A failure the CLI itself reports; its code defaults from the exit code. */
export class CliError extends Error {
  readonly code: ErrorCode;
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: readonly string[] = [],
    code?: ErrorCode,
  ) {
    super(message);
    this.code = code ?? (exitCode === EXIT_USAGE ? 'RACKBOOT_ERR_USAGE' : 'RACKBOOT_ERR_FAILED');
  }
}

export interface FailureReport {
  readonly code: string;
  readonly message: string;
  readonly details: readonly string[];
  readonly exitCode: number;
}

/** Any thrown value as a report; an unexpected error keeps its stack for the operator (text mode). */
export function failureReport(error: unknown): FailureReport & { stack?: string } {
  if (error instanceof CliError) return { code: error.code, message: error.message, details: error.details, exitCode: error.exitCode };
  if (isRackbootError(error)) return { code: error.code, message: error.message, details: error.details, exitCode: exitCodeFor(error.code) };
  const e = error as Error;
  return { code: 'RACKBOOT_ERR_FAILED', message: e?.message ?? String(error), details: [], exitCode: EXIT_FAILED, stack: e?.stack ?? String(error) };
}

/** Writes the failure to stderr and returns its exit code. */
export function reportFailure(error: unknown, json: boolean, stderr: { write(s: string): unknown } = process.stderr): number {
  const report = failureReport(error);
  if (json) {
    stderr.write(`${JSON.stringify({ error: { code: report.code, message: report.message, details: report.details }, exitCode: report.exitCode })}\n`);
  } else if (report.stack !== undefined) {
    stderr.write(`rackboot: ${terminalLines(report.stack)}\n`);
  } else {
    const generic = error instanceof CliError && (report.code === 'RACKBOOT_ERR_USAGE' || report.code === 'RACKBOOT_ERR_FAILED');
    const code = generic ? '' : ` [${report.code}]`;
    stderr.write(`rackboot: ${terminalText(report.message)}${code}\n${report.details.map((d) => `  - ${terminalText(d)}\n`).join('')}`);
  }
  return report.exitCode;
}

/** Whether the command line asks for JSON (also decides how an error before the action is printed). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}
