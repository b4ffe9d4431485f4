import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino({ level, base: { app: 'rackboot' } }, destination ?? process.stdout);
}

/** A logger that drops everything: for tests and tools that report through their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
