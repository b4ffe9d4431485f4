/**
 * The configuration's safety rules (issue 15), checked after the schema: roots that would serve the
 * system or rackboot's own secrets, the API on every address, and values that reach iPXE scripts, unit
 * files or URLs with characters those targets would read as syntax. Each refusal names the key, the
 * reason and, where the operator may knowingly accept the risk, the override key.
 */
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ipxeTextProblem } from '../core/ipxe-text.js';

/** Directories no served root may be or contain. Their real paths are added (/bin -> /usr/bin on merged-/usr systems). */
export const SYSTEM_DIRECTORIES: readonly string[] = ['/', '/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/boot', '/root', '/var', '/home', '/proc', '/sys', '/dev', '/run'];

export interface ResolvedRoots {
  readonly dataDir: string;
  readonly tftpRoot: string;
  readonly assetsDir: string;
}

export interface SafetyInput {
  readonly allowDataDirInServedRoot: boolean;
  readonly http: { readonly listen: string; readonly allowAllAddresses: boolean };
  readonly tftp: { readonly allowSystemRoot: boolean; readonly symlinkTargets: readonly string[] };
  readonly boot: {
    readonly allowSystemAssetsDir: boolean;
    readonly os: { readonly name: string; readonly kernel: string; readonly initrds: readonly string[]; readonly args: readonly string[] };
    readonly kernelArgs: readonly string[];
    readonly menu: { readonly defaultItem: string };
  };
  readonly cluster: { readonly etcdBinary: string; readonly ntpServers: readonly string[] };
  readonly dhcp: { readonly subnets: readonly { readonly domain?: string | undefined }[] };
}

/** The served roots: neither a system directory nor a parent of rackboot's data directory. */
export function checkServedRoots(value: SafetyInput, roots: ResolvedRoots, source: string, errors: string[]): void {
  const system = systemDirectories();
  const data = realLocation(roots.dataDir);
  const served = [
    { key: 'tftp.root', path: roots.tftpRoot, override: 'tftp.allowSystemRoot', allowed: value.tftp.allowSystemRoot, what: 'TFTP and /ipxe/ serve every file below it' },
    { key: 'boot.assetsDir', path: roots.assetsDir, override: 'boot.allowSystemAssetsDir', allowed: value.boot.allowSystemAssetsDir, what: '/assets/ serves every file below it' },
  ];
  for (const root of served) {
    const real = realLocation(root.path);
    const shown = real === root.path ? root.path : `${root.path} (really ${real})`;
    const hit = system.find((dir) => contains(real, dir));
    if (hit !== undefined && !root.allowed) {
      errors.push(
        `${source}: ${root.key}: ${shown} ${hit === real ? 'is' : 'contains'} the system directory ${hit}; ${root.what} (/etc/shadow, keys). Point it at a directory of its own, or set ${root.override}: true to serve it anyway`,
      );
    }
    if (contains(real, data) && !value.allowDataDirInServedRoot) {
      errors.push(
        `${source}: ${root.key}: ${shown} contains dataDir ${roots.dataDir}; ${root.what}, so the inventory database and the Kubernetes CA key would be served. Move dataDir out of it, or set allowDataDirInServedRoot: true`,
      );
    }
  }
}

/** Where secrets live: a symlink target may be none of these, nor inside one, nor contain one. */
const SECRET_DIRECTORIES: readonly string[] = ['/etc', '/root', '/home', '/proc', '/sys', '/dev', '/run'];

/** tftp.symlinkTargets: each a narrow allowance (a firmware file or directory), never a place with secrets. */
export function checkSymlinkTargets(value: SafetyInput, dataDir: string, source: string, errors: string[]): void {
  const secret = [...new Set(SECRET_DIRECTORIES.flatMap((dir) => [dir, realLocation(dir)]))];
  const data = realLocation(dataDir);
  value.tftp.symlinkTargets.forEach((target, index) => {
    const real = realLocation(target);
    const key = `${source}: tftp.symlinkTargets.${index}: ${real === target ? target : `${target} (really ${real})`}`;
    if (real === '/' || secret.some((dir) => contains(dir, real) || contains(real, dir))) {
      errors.push(`${key} is or holds a directory with secrets (${secret.join(', ')}); name the firmware file or its own directory`);
    } else if (contains(real, data) && !value.allowDataDirInServedRoot) {
      errors.push(`${key} contains dataDir ${dataDir} (the database and CA keys); name the firmware file instead`);
    }
  });
}

/** The API and dashboard on every address: refused unless the operator says so. */
export function checkListen(value: SafetyInput, source: string, errors: string[]): void {
  if (value.http.listen === '0.0.0.0' && !value.http.allowAllAddresses) {
    errors.push(
      `${source}: http.listen: 0.0.0.0 serves the API and the dashboard on every address of this host, not only the provisioning network. Name the address to listen on, or set http.allowAllAddresses: true (and configure http.tls, so the API token never crosses a network in clear text)`,
    );
  }
}

// Segments of a path below boot.assetsDir: they become URL path segments and iPXE words.
const ASSET_SEGMENT = /^[A-Za-z0-9_+~=@,:-][A-Za-z0-9._+~=@,:-]*$/;
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const NTP_SERVER = /^[A-Za-z0-9.:[\]-]+$/;

/** Values rendered into iPXE scripts, unit files and URLs: what can never be valid there is refused now, not at a machine's boot. */
export function checkRenderedValues(value: SafetyInput, source: string, errors: string[]): void {
  const refuse = (key: string, problem: string | null) => {
    if (problem) errors.push(`${source}: ${key}: ${problem}`);
  };
  const { os } = value.boot;
  refuse('boot.os.name', ipxeTextProblem(os.name));
  os.args.forEach((arg, i) => refuse(`boot.os.args.${i}`, ipxeTextProblem(arg)));
  value.boot.kernelArgs.forEach((arg, i) => refuse(`boot.kernelArgs.${i}`, ipxeTextProblem(arg)));
  refuse('boot.menu.defaultItem', /^[a-z0-9][a-z0-9-]{0,39}$/.test(value.boot.menu.defaultItem) ? null : 'a menu entry id: lower-case letters, digits and hyphens');
  refuse('boot.os.kernel', assetPathProblem(os.kernel));
  os.initrds.forEach((path, i) => refuse(`boot.os.initrds.${i}`, assetPathProblem(path)));
  refuse('cluster.etcdBinary', assetPathProblem(value.cluster.etcdBinary));
  value.cluster.ntpServers.forEach((server, i) => refuse(`cluster.ntpServers.${i}`, NTP_SERVER.test(server) ? null : 'a host name or an IP address (it is written into timesyncd.conf)'));
  value.dhcp.subnets.forEach((subnet, i) => {
    if (subnet.domain !== undefined && !HOST_NAME.test(subnet.domain)) refuse(`dhcp.subnets.${i}.domain`, 'a DNS domain name: letters, digits, hyphens and dots');
  });
}

/** Why `path` is not a plain relative path below boot.assetsDir, or null. */
export function assetPathProblem(path: string): string | null {
  const segments = path.split('/');
  const ok = segments.every((segment) => ASSET_SEGMENT.test(segment));
  return ok ? null : 'a relative path below boot.assetsDir: segments of letters, digits and . _ + ~ = @ , : - separated by /, none . or .., none starting with a dot';
}

function systemDirectories(): readonly string[] {
  const all = new Set<string>();
  for (const dir of SYSTEM_DIRECTORIES) {
    all.add(dir);
    all.add(realLocation(dir));
  }
  return [...all];
}

/** Where `path` really is: the real path of its nearest existing ancestor, with the rest appended. */
export function realLocation(path: string): string {
  const absolute = resolve(path);
  if (existsSync(absolute)) {
    try {
      return realpathSync(absolute);
    } catch {
      return absolute;
    }
  }
  const parent = dirname(absolute);
  if (parent === absolute) return absolute;
  return join(realLocation(parent), basename(absolute));
}

/** Whether `inner` is `outer` or below it. */
export function contains(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  return inner.startsWith(outer.endsWith(sep) ? outer : outer + sep);
}
