/**
 * The offline mirror below boot.assetsDir: `rackboot assets import <dir|tarball>` and `rackboot
 * assets list`, the manifests the install script is rendered with, and the check that keeps the
 * /assets route from serving bytes that do not match them.
 *
 * Layout of an import source (a directory, or a .tar/.tar.gz/.tar.bz2/.tar.xz of one):
 *   <kind>/<version>/...      e.g. flatcar/4081.2.0/flatcar_production_image.bin.bz2
 * Every file of a version folder must be covered by a checksum the source carries: SHA256SUMS or
 * SHA512SUMS (`<hex>  <path>`), Flatcar's `<file>.DIGESTS`, `<file>.sha256`/`.sha512`, or the
 * manifest.json of an earlier export. A version is copied into a staging folder inside assetsDir,
 * hashed as it is written (SHA-256 and SHA-512), checked, given its manifest.json and renamed into
 * place: a version appears whole or not at all, and an imported version never changes.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { ASSET_KIND, ASSET_VERSION } from '../config/install.js';
import { isSafeRelativePath, MANIFEST_FORMAT, MANIFEST_NAME, parseManifest, splitAssetPath, type AssetFile, type AssetIndex, type AssetManifest } from '../core/assets.js';

export class AssetImportError extends Error {
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
  }
}

export interface ImportedVersion {
  readonly kind: string;
  readonly version: string;
  readonly files: number;
  readonly bytes: number;
  readonly status: 'imported' | 'unchanged';
}

const CHECKSUM_FILE = /^(SHA256SUMS|SHA512SUMS)(\.(asc|sig|gpg))?$|\.DIGESTS(\.asc)?$|\.(sha256|sha512)$/;

/** Bytes copied and checked so far, of all the version folders' bytes, and the file being copied. */
export type ImportProgress = (copiedBytes: number, totalBytes: number, file: string) => void;

/** Imports every <kind>/<version> folder of `source` into `assetsDir`; all problems at once, nothing half-done. */
export async function importAssets(source: string, assetsDir: string, now: Date = new Date(), onProgress?: ImportProgress): Promise<ImportedVersion[]> {
  mkdirSync(assetsDir, { recursive: true });
  const stat = statSync(source, { throwIfNoEntry: false });
  if (!stat) throw new AssetImportError(`${source} does not exist`, []);
  const scratch = mkdtempSync(join(assetsDir, '.import-'));
  try {
    let root = source;
    if (stat.isFile()) {
      root = join(scratch, 'source');
      mkdirSync(root);
      try {
        execFileSync('tar', ['-x', '-f', source, '-C', root, '--no-same-owner', '--no-same-permissions'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30 * 60_000 });
      } catch (error) {
        throw new AssetImportError(`cannot unpack ${source}: ${String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim()}`, []);
      }
    } else if (!stat.isDirectory()) {
      throw new AssetImportError(`${source} is neither a directory nor a tarball`, []);
    }
    const versions = findVersions(root);
    if (versions.problems.length > 0) throw new AssetImportError(`${source} is not a mirror laid out as <kind>/<version>/`, versions.problems);
    if (versions.found.length === 0) throw new AssetImportError(`${source} has no <kind>/<version>/ folders (e.g. flatcar/4081.2.0/)`, []);

    const staged: Array<{ kind: string; version: string; dir: string; manifest: AssetManifest }> = [];
    const problems: string[] = [];
    const total = versions.found.reduce((n, v) => n + folderBytes(v.dir), 0);
    let copied = 0;
    const copiedMore = (bytes: number, file: string) => {
      copied += bytes;
      onProgress?.(copied, total, file);
    };
    onProgress?.(0, total, '');
    for (const { kind, version, dir } of versions.found) {
      const target = join(scratch, 'staging', kind, version);
      const result = await stageVersion(dir, target, kind, version, source, now, (bytes, path) => copiedMore(bytes, `${kind}/${version}/${path}`));
      if (result.problems.length > 0) problems.push(...result.problems.map((p) => `${kind}/${version}: ${p}`));
      else if (result.manifest) staged.push({ kind, version, dir: target, manifest: result.manifest });
    }
    // an existing version must be byte-for-byte the same: imported versions are immutable
    const results: ImportedVersion[] = [];
    const moves: Array<{ from: string; to: string }> = [];
    for (const s of staged) {
      const to = join(assetsDir, s.kind, s.version);
      const files = Object.keys(s.manifest.files).length;
      const bytes = Object.values(s.manifest.files).reduce((n, f) => n + f.bytes, 0);
      if (existsSync(to)) {
        const existing = readManifest(join(to, MANIFEST_NAME));
        if (typeof existing === 'string') problems.push(`${s.kind}/${s.version}: already in ${to}, but its manifest is unreadable (${existing}); remove the folder to import again`);
        else if (!sameFiles(existing, s.manifest)) problems.push(`${s.kind}/${s.version}: already imported with other content; versions are immutable (import it under a new version)`);
        else results.push({ kind: s.kind, version: s.version, files, bytes, status: 'unchanged' });
        continue;
      }
      moves.push({ from: s.dir, to });
      results.push({ kind: s.kind, version: s.version, files, bytes, status: 'imported' });
    }
    if (problems.length > 0) throw new AssetImportError(`nothing was imported from ${source}`, problems);
    for (const move of moves) {
      mkdirSync(dirname(move.to), { recursive: true });
      renameSync(move.from, move.to);
    }
    return results;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function findVersions(root: string): { found: Array<{ kind: string; version: string; dir: string }>; problems: string[] } {
  const found: Array<{ kind: string; version: string; dir: string }> = [];
  const problems: string[] = [];
  for (const kind of readdirSync(root).sort()) {
    const kindDir = join(root, kind);
    if (kind.startsWith('.')) continue;
    if (!lstatSync(kindDir).isDirectory()) {
      problems.push(`${kind}: a file at the top level (expected <kind>/<version>/ folders)`);
      continue;
    }
    if (!ASSET_KIND.test(kind)) {
      problems.push(`${kind}: not a mirror kind (lower-case letters, digits and -)`);
      continue;
    }
    for (const version of readdirSync(kindDir).sort()) {
      const dir = join(kindDir, version);
      if (version.startsWith('.')) continue;
      if (!lstatSync(dir).isDirectory()) problems.push(`${kind}/${version}: a file where version folders belong`);
      else if (!ASSET_VERSION.test(version)) problems.push(`${kind}/${version}: not a version name`);
      else found.push({ kind, version, dir });
    }
  }
  return { found, problems };
}

async function stageVersion(
  dir: string,
  target: string,
  kind: string,
  version: string,
  source: string,
  now: Date,
  onCopied: (bytes: number, path: string) => void = () => undefined,
): Promise<{ manifest?: AssetManifest; problems: string[] }> {
  const problems: string[] = [];
  const paths = listFiles(dir, problems);
  if (paths.length === 0) problems.push('the folder is empty');
  const expected = new Map<string, { sha256?: string; sha512?: string; from: string[] }>();
  const expect = (path: string, hex: string, from: string) => {
    const entry = expected.get(path) ?? { from: [] };
    const kindOf = hex.length === 64 ? 'sha256' : hex.length === 128 ? 'sha512' : null;
    if (kindOf === null) return;
    if (entry[kindOf] !== undefined && entry[kindOf] !== hex) problems.push(`${path}: ${from} and ${entry.from.join(', ')} disagree on its ${kindOf}`);
    entry[kindOf] = hex;
    entry.from.push(from);
    expected.set(path, entry);
  };
  for (const path of paths) readChecksums(dir, path, expect, problems);
  if (problems.length > 0) return { problems };

  const files: Record<string, AssetFile> = {};
  for (const path of paths) {
    if (path === MANIFEST_NAME) continue;
    const out = join(target, path);
    mkdirSync(dirname(out), { recursive: true });
    const hashed = await copyHashed(join(dir, path), out, (bytes) => onCopied(bytes, path));
    files[path] = hashed;
    const want = expected.get(path);
    if (CHECKSUM_FILE.test(basename(path))) continue;
    if (!want) {
      problems.push(`${path} has no checksum (add it to SHA256SUMS or SHA512SUMS)`);
      continue;
    }
    if (want.sha256 !== undefined && want.sha256 !== hashed.sha256) problems.push(`${path}: sha256 ${hashed.sha256} does not match ${want.sha256} (${want.from.join(', ')})`);
    if (want.sha512 !== undefined && want.sha512 !== hashed.sha512) problems.push(`${path}: sha512 does not match ${want.from.join(', ')}`);
  }
  for (const path of expected.keys()) if (!(path in files) && path !== MANIFEST_NAME) problems.push(`${path} is listed in a checksum file but missing`);
  if (problems.length > 0) return { problems };
  const manifest: AssetManifest = { format: MANIFEST_FORMAT, kind, version, importedAt: now.toISOString(), source, files: sortKeys(files) };
  writeFileSync(join(target, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, problems };
}

function listFiles(dir: string, problems: string[]): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current).sort()) {
      if (name.startsWith('.')) continue; // build stamps, editor files: never served, never imported
      const full = join(current, name);
      const rel = relative(dir, full).split(sep).join('/');
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full);
      else if (!st.isFile()) problems.push(`${rel}: not a regular file (symbolic links and devices are refused)`);
      else if (!isSafeRelativePath(rel)) problems.push(`${rel}: names starting with a dot or with control characters are refused`);
      else out.push(rel);
    }
  };
  walk(dir);
  return out;
}

/** Reads the checksum files this path may be: SHA256SUMS, SHA512SUMS, *.DIGESTS, *.sha256, *.sha512, manifest.json. */
function readChecksums(dir: string, path: string, expect: (path: string, hex: string, from: string) => void, problems: string[]): void {
  const name = basename(path);
  const base = path.includes('/') ? path.slice(0, path.lastIndexOf('/') + 1) : '';
  if (name === MANIFEST_NAME) {
    const manifest = readManifest(join(dir, path));
    if (typeof manifest === 'string') problems.push(`${path}: ${manifest}`);
    else for (const [file, entry] of Object.entries(manifest.files)) {
      expect(base + file, entry.sha256, path);
      expect(base + file, entry.sha512, path);
    }
    return;
  }
  if (!/^(SHA256SUMS|SHA512SUMS)$|\.DIGESTS$|\.(sha256|sha512)$/.test(name)) return;
  const text = readFileSync(join(dir, path), 'utf8');
  const single = /\.(sha256|sha512)$/.test(name) ? name.replace(/\.(sha256|sha512)$/, '') : null;
  for (const line of text.split('\n')) {
    const m = /^([0-9a-fA-F]{64}|[0-9a-fA-F]{128})(?:\s+\*?(\S.*))?$/.exec(line.trim());
    if (!m) continue;
    const hex = (m[1] as string).toLowerCase();
    const file = m[2]?.trim().replace(/^\.\//, '') ?? single;
    if (!file) continue;
    // DIGESTS files name files by their base name, next to the DIGESTS file
    const rel = base + (name.endsWith('.DIGESTS') ? basename(file) : file);
    if (!isSafeRelativePath(rel)) problems.push(`${path}: ${file} is not a plain relative path`);
    else expect(rel, hex, path);
  }
}

/** Bytes of the regular files below `dir` (what an import copies), for its progress. */
function folderBytes(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    const st = lstatSync(join(dir, name));
    if (st.isDirectory()) bytes += folderBytes(join(dir, name));
    else if (st.isFile()) bytes += st.size;
  }
  return bytes;
}

async function copyHashed(from: string, to: string, onChunk: (bytes: number) => void = () => undefined): Promise<AssetFile> {
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sha256.update(chunk);
      sha512.update(chunk);
      bytes += chunk.length;
      onChunk(chunk.length);
      done(null, chunk);
    },
  });
  await pipeline(createReadStream(from), tap, createWriteStream(to, { flags: 'wx', mode: 0o644 }));
  return { bytes, sha256: sha256.digest('hex'), sha512: sha512.digest('hex') };
}

function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function sameFiles(a: AssetManifest, b: AssetManifest): boolean {
  const ka = Object.keys(a.files).sort();
  const kb = Object.keys(b.files).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a.files[k]?.sha512 === b.files[k]?.sha512);
}

export function readManifest(path: string): AssetManifest | string {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    return (error as Error).message;
  }
  return parseManifest(value);
}

export interface ListedVersion {
  readonly kind: string;
  readonly version: string;
  readonly files: number;
  readonly bytes: number;
  readonly importedAt: string;
  readonly problem?: string;
}

/** Every imported version folder (those with a manifest.json), by kind and version. */
export function listAssets(assetsDir: string): ListedVersion[] {
  const out: ListedVersion[] = [];
  if (!existsSync(assetsDir)) return out;
  for (const kind of readdirSync(assetsDir).sort()) {
    if (!ASSET_KIND.test(kind) || !statSync(join(assetsDir, kind)).isDirectory()) continue;
    for (const version of readdirSync(join(assetsDir, kind)).sort()) {
      const path = join(assetsDir, kind, version, MANIFEST_NAME);
      if (!ASSET_VERSION.test(version) || !existsSync(path)) continue;
      const manifest = readManifest(path);
      if (typeof manifest === 'string') out.push({ kind, version, files: 0, bytes: 0, importedAt: '', problem: manifest });
      else out.push({ kind, version, files: Object.keys(manifest.files).length, bytes: Object.values(manifest.files).reduce((n, f) => n + f.bytes, 0), importedAt: manifest.importedAt });
    }
  }
  return out;
}

/** The AssetIndex the Provisioner renders install scripts with: manifests read from disk, cached by mtime. */
export class DirectoryAssetIndex implements AssetIndex {
  private readonly cache = new Map<string, { mtimeMs: number; manifest: AssetManifest | null }>();
  constructor(readonly assetsDir: string) {}

  manifest(kind: string, version: string): AssetManifest | null {
    if (!ASSET_KIND.test(kind) || !ASSET_VERSION.test(version)) return null;
    const path = join(this.assetsDir, kind, version, MANIFEST_NAME);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) return null;
    const cached = this.cache.get(path);
    if (cached && cached.mtimeMs === st.mtimeMs) return cached.manifest;
    const read = readManifest(path);
    const manifest = typeof read === 'string' || read.kind !== kind || read.version !== version ? null : read;
    this.cache.set(path, { mtimeMs: st.mtimeMs, manifest });
    return manifest;
  }
}

export type AssetCheck = { readonly ok: true } | { readonly ok: false; readonly status: 404 | 409; readonly message: string };

/**
 * Decides whether /assets/<path> may be served. Files of an imported version must match their
 * manifest: the SHA-256 is computed on the first request and remembered for that file's inode, size,
 * mtime and ctime (any write changes ctime), so a changed file is hashed again. Files outside
 * imported versions are served as they are (hand-placed assets from before the mirror existed).
 */
export class AssetVerifier {
  private readonly verified = new Map<string, string>();
  private readonly pending = new Map<string, Promise<string>>();
  constructor(
    readonly assetsDir: string,
    private readonly index: AssetIndex = new DirectoryAssetIndex(assetsDir),
  ) {}

  async check(path: string): Promise<AssetCheck> {
    const parts = splitAssetPath(path);
    if (!parts) return { ok: true };
    const manifest = this.index.manifest(parts.kind, parts.version);
    if (!manifest) return { ok: true };
    if (parts.file === MANIFEST_NAME) return { ok: true };
    const entry = manifest.files[parts.file];
    if (!entry) return { ok: false, status: 404, message: `${parts.file} is not in the manifest of ${parts.kind}/${parts.version}` };
    const full = join(this.assetsDir, path);
    const st = statSync(full, { throwIfNoEntry: false, bigint: false });
    if (!st) return { ok: false, status: 404, message: `${path} is listed in its manifest but missing on the server` };
    const key = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const mismatch = (sha: string) => ({
      ok: false as const,
      status: 409 as const,
      message: `${path} fails its checksum (${st.size} bytes, sha256 ${sha}; the manifest says ${entry.bytes} bytes, sha256 ${entry.sha256}): not served`,
    });
    if (st.size !== entry.bytes) return mismatch('not computed');
    if (this.verified.get(full) === key) return { ok: true };
    let running = this.pending.get(key + full);
    if (!running) {
      running = sha256File(full).finally(() => this.pending.delete(key + full));
      this.pending.set(key + full, running);
    }
    const sha = await running;
    if (sha !== entry.sha256) {
      this.verified.delete(full);
      return mismatch(sha);
    }
    this.verified.set(full, key);
    return { ok: true };
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
