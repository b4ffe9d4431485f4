/**
 * The offline mirror's manifests: one per imported version folder (<assetsDir>/<kind>/<version>/
 * manifest.json), listing every file with its size and SHA-256/SHA-512. The install script is
 * rendered with these checksums, and the /assets route refuses bytes that do not match. Pure: the
 * adapter in server/assets/ reads and writes the files.
 */

export const MANIFEST_FORMAT = 'rackboot-assets/1';
export const MANIFEST_NAME = 'manifest.json';

export interface AssetFile {
  readonly bytes: number;
  readonly sha256: string;
  readonly sha512: string;
}

export interface AssetManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly kind: string;
  readonly version: string;
  /** ISO time of the import. */
  readonly importedAt: string;
  /** What was imported (a directory or tarball path), for the operator. */
  readonly source: string;
  /** Path relative to the version folder -> size and checksums. */
  readonly files: Readonly<Record<string, AssetFile>>;
}

/** Read access to the imported manifests (the port the Provisioner uses). */
export interface AssetIndex {
  manifest(kind: string, version: string): AssetManifest | null;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

/** Checks a parsed manifest.json; returns the manifest or the first problem found. */
export function parseManifest(value: unknown): AssetManifest | string {
  if (value === null || typeof value !== 'object') return 'not a JSON object';
  const m = value as Record<string, unknown>;
  if (m.format !== MANIFEST_FORMAT) return `format is ${JSON.stringify(m.format)}, expected ${MANIFEST_FORMAT}`;
  for (const key of ['kind', 'version', 'importedAt', 'source'] as const) {
    if (typeof m[key] !== 'string') return `${key} is not a string`;
  }
  if (m.files === null || typeof m.files !== 'object') return 'files is not an object';
  for (const [path, entry] of Object.entries(m.files as Record<string, unknown>)) {
    if (!isSafeRelativePath(path)) return `file ${JSON.stringify(path)} is not a plain relative path`;
    const f = entry as Record<string, unknown> | null;
    if (f === null || typeof f !== 'object') return `${path}: not an object`;
    if (typeof f.bytes !== 'number' || !Number.isSafeInteger(f.bytes) || f.bytes < 0) return `${path}: bytes is not a size`;
    if (typeof f.sha256 !== 'string' || !HEX64.test(f.sha256)) return `${path}: sha256 is not 64 hex digits`;
    if (typeof f.sha512 !== 'string' || !HEX128.test(f.sha512)) return `${path}: sha512 is not 128 hex digits`;
  }
  return value as AssetManifest;
}

/** `a/b.c`: no empty, `.` or `..` segments, no leading dot, no backslash or control characters. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.length > 1024 || path.includes('\\') || [...path].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return false;
  return path.split('/').every((part) => part !== '' && !part.startsWith('.'));
}

/** Splits an /assets/ path into its version folder and the file inside it, when it has that shape. */
export function splitAssetPath(path: string): { kind: string; version: string; file: string } | null {
  const parts = path.split('/');
  if (parts.length < 3) return null;
  const [kind, version, ...rest] = parts as [string, string, ...string[]];
  return { kind, version, file: rest.join('/') };
}
