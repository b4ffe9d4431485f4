/**
 * Trust on first use for BMC certificates: the SHA-256 fingerprint each BMC (address:port)
 * presented at first contact, kept in a small JSON file (mode 600, replaced atomically). Bounded:
 * a scan cannot grow it past MAX_FINGERPRINTS.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface FingerprintStore {
  /** Where the operator removes an entry after replacing a certificate on purpose. */
  readonly location: string;
  get(key: string): string | null;
  remember(key: string, fingerprint: string): void;
}

export const MAX_FINGERPRINTS = 65_536;

export class FileFingerprintStore implements FingerprintStore {
  #entries: Record<string, string> | null = null;

  constructor(readonly location: string) {}

  #load(): Record<string, string> {
    if (this.#entries) return this.#entries;
    let entries: Record<string, string> = {};
    try {
      const value: unknown = JSON.parse(readFileSync(this.location, 'utf8'));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        entries = Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`${this.location}: ${(error as Error).message}`);
    }
    this.#entries = entries;
    return entries;
  }

  get(key: string): string | null {
    // Re-read: another rackboot process (the server, a CLI run) may have recorded it meanwhile.
    this.#entries = null;
    return this.#load()[key] ?? null;
  }

  remember(key: string, fingerprint: string): void {
    this.#entries = null;
    const entries = this.#load();
    if (entries[key] === undefined && Object.keys(entries).length >= MAX_FINGERPRINTS) {
      throw new Error(`${this.location} already holds ${MAX_FINGERPRINTS} fingerprints`);
    }
    entries[key] = fingerprint;
    mkdirSync(dirname(this.location), { recursive: true });
    const temporary = `${this.location}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.location);
  }
}

/** In memory only (tests, and one-off runs that must not remember anything). */
export class MemoryFingerprintStore implements FingerprintStore {
  readonly location = '(memory)';
  readonly entries = new Map<string, string>();
  get(key: string): string | null {
    return this.entries.get(key) ?? null;
  }
  remember(key: string, fingerprint: string): void {
    this.entries.set(key, fingerprint);
  }
}
