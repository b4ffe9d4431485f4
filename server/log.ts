/**
 * The process log (pino). Three formats, one line per record:
 * - json: pino's JSON (numeric level), for log shippers;
 * - pretty: `time LEVEL svc: message key=value ...`, for a person at a terminal;
 * - journal: the pretty line without the time after an sd-daemon `<N>` prefix (sd-daemon(3)), so
 *   journald (SyslogLevelPrefix=, on by default) stores each line at its syslog priority.
 * `auto` picks journal under systemd (JOURNAL_STREAM set), pretty on a TTY, json otherwise.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export const LOG_FORMATS = ['auto', 'json', 'pretty', 'journal'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** pino level number -> [name, syslog priority] (warn 4, error 3, fatal 2: crit). */
const LEVELS: ReadonlyMap<number, readonly [string, number]> = new Map([
  [10, ['TRACE', 7]],
  [20, ['DEBUG', 7]],
  [30, ['INFO', 6]],
  [40, ['WARN', 4]],
  [50, ['ERROR', 3]],
  [60, ['FATAL', 2]],
]);
const OWN_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'app', 'svc', 'msg']);

/** A format named by the config or RACKBOOT_LOG_FORMAT; null when it is not one. */
export function parseLogFormat(text: string): LogFormat | null {
  return (LOG_FORMATS as readonly string[]).includes(text) ? (text as LogFormat) : null;
}

/** The format `auto` means here: journal under systemd, pretty on a TTY, else json. */
export function resolveLogFormat(format: LogFormat, env: NodeJS.ProcessEnv = process.env, isTty = process.stdout.isTTY === true): Exclude<LogFormat, 'auto'> {
  if (format !== 'auto') return format;
  if (env.JOURNAL_STREAM !== undefined && env.JOURNAL_STREAM !== '') return 'journal';
  return isTty ? 'pretty' : 'json';
}

function fieldText(value: unknown): string {
  if (value !== null && typeof value === 'object' && typeof (value as { message?: unknown }).message === 'string') {
    const error = value as { type?: string; message: string };
    return JSON.stringify(`${error.type ?? 'Error'}: ${error.message}`);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return /^[^\s"=]+$/.test(text) && typeof value === 'string' ? text : JSON.stringify(text);
}

/** One pino record (parsed JSON) as one human-readable line, without a trailing newline. */
export function formatRecord(record: Record<string, unknown>, withTime: boolean): string {
  const [name] = LEVELS.get(Number(record.level)) ?? [String(record.level), 6];
  const svc = typeof record.svc === 'string' ? `${record.svc}: ` : '';
  const fields = Object.entries(record)
    .filter(([key, value]) => !OWN_KEYS.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${fieldText(value)}`);
  const time = withTime && typeof record.time === 'number' ? `${new Date(record.time).toISOString()} ` : '';
  const message = String(record.msg ?? '').replace(/\r?\n/g, '\\n');
  return `${time}${name.padEnd(5)} ${svc}${message}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}`;
}

/** The `<N>` priority prefix of a record's level. */
export function journalPrefix(level: number): string {
  return `<${(LEVELS.get(level) ?? ['', 6])[1]}>`;
}

/** Re-formats pino's JSON lines on their way to `out`. */
function formattingStream(out: NodeJS.WritableStream, format: 'pretty' | 'journal'): DestinationStream {
  return {
    write(line: string) {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      const text = formatRecord(record, format === 'pretty');
      out.write(format === 'journal' ? `${journalPrefix(Number(record.level))}${text}\n` : `${text}\n`);
    },
  };
}

/** A logger writing to `destination` (default stdout); without a destination the format defaults to `auto`, with one to json. */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format?: LogFormat): Logger {
  const out = destination ?? process.stdout;
  const chosen = resolveLogFormat(format ?? (destination === undefined ? 'auto' : 'json'), process.env, (out as { isTTY?: boolean }).isTTY === true);
  const options = { level, base: { app: 'rackboot' } };
  return chosen === 'json' ? pino(options, out) : pino(options, formattingStream(out, chosen));
}

/** A logger that drops everything: for tests and tools that report through their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
