/**
 * Renders a machine config (core/machine-config.ts) as an Ignition config, spec 3.3.0: the newest
 * version that both Flatcar's Ignition and Debian's `ignition` 2.14 accept (2.14 refuses 3.4.0).
 * Only what the spec defines, no Flatcar extension, so any Ignition started with a plain
 * `ignition.config.url=http://...` applies it. Pure.
 *
 * - The host name is /etc/hostname (spec 3 has no host-name field).
 * - Every file and link overwrites what the image ships (the spec's default refuses to).
 * - A unit that starts at boot gets a link in /etc/systemd/system/multi-user.target.wants/, what
 *   `systemctl enable` makes. Not `enabled: true`: that writes a systemd preset, which systemd
 *   applies only on an uninitialised /etc/machine-id and only to units with an [Install] section,
 *   and rackboot's units have none (the same unit text is served in both formats).
 * - A fetched file carries `verification.hash` (sha512-<hex> of the mirror file): Ignition refuses
 *   bytes that do not match. A fetched file without a mirror checksum is an error, not an unverified
 *   download.
 */
import type { InlineFile, MachineConfig, MachineFile } from './machine-config.js';

export const IGNITION_SPEC_VERSION = '3.3.0';

const UNIT_DIR = '/etc/systemd/system';
const VENDOR_UNIT_DIR = '/usr/lib/systemd/system';
const WANTS_DIR = `${UNIT_DIR}/multi-user.target.wants`;

export type IgnitionResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly errors: readonly string[] };

export function renderIgnition(config: MachineConfig): IgnitionResult {
  const errors: string[] = [];
  const hostnameFile: InlineFile = { kind: 'inline', path: '/etc/hostname', mode: 0o644, contents: `${config.hostname}\n` };
  const files = [hostnameFile, ...config.networkd, ...config.files.filter((f) => f.path !== hostnameFile.path)].map((f) => ignitionFile(f, errors));
  const links = config.units
    .filter((u) => u.enabled)
    .map((u) => ({ path: `${WANTS_DIR}/${u.name}`, target: `${u.contents === null ? VENDOR_UNIT_DIR : UNIT_DIR}/${u.name}`, overwrite: true }));
  const units = config.units.map((u) => ({
    name: u.name,
    ...(u.contents !== null ? { contents: u.contents } : {}),
    ...(u.mask ? { mask: true } : {}),
    ...(u.dropIns.length > 0 ? { dropins: u.dropIns.map((d) => ({ name: d.name, contents: d.contents })) } : {}),
  }));
  const users = config.users.filter((u) => u.sshAuthorizedKeys.length > 0).map((u) => ({ name: u.name, sshAuthorizedKeys: [...u.sshAuthorizedKeys] }));
  if (errors.length > 0) return { ok: false, errors };
  const document = {
    ignition: { version: IGNITION_SPEC_VERSION },
    ...(users.length > 0 ? { passwd: { users } } : {}),
    storage: { files, ...(links.length > 0 ? { links } : {}) },
    ...(units.length > 0 ? { systemd: { units } } : {}),
  };
  return { ok: true, text: `${JSON.stringify(document, null, 2)}\n` };
}

function ignitionFile(file: MachineFile, errors: string[]) {
  if (file.kind === 'inline') return { path: file.path, mode: file.mode, overwrite: true, contents: { source: dataUrl(file.contents) } };
  if (file.sha512 === null) {
    errors.push(`${file.path}: ${file.url} is not a file of an imported mirror version, so Ignition could not verify it (rackboot assets import)`);
  }
  return { path: file.path, mode: file.mode, overwrite: true, contents: { source: file.url, verification: { hash: `sha512-${file.sha512 ?? ''}` } } };
}

/**
 * RFC 2397 `data:,`: the RFC 2396 URI characters stay as they are (so the config stays readable),
 * every other byte of the UTF-8 text is percent-encoded.
 */
export function dataUrl(text: string): string {
  let out = 'data:,';
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.!~*'();/?:@&=+$,]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
