/**
 * The format-neutral machine config: what a role lays down on one machine (host name, users and SSH
 * keys, files, networkd files, systemd units, files fetched from the mirror, the etcd settings),
 * whatever format carries it to the machine. Pure.
 *
 * One place says what a role contains: its cloud-config template (cloud-configs/<role>.yaml.hbs).
 * Every format is derived from that one render: the cloud-config is served as it is, and
 * `machineConfigFromCloudConfig` reads the same validated document into this model, from which
 * core/ignition.ts renders Ignition. The two formats cannot drift because there is nothing to keep
 * in step: a key the translation does not know is an error (a template change that Ignition could not
 * express fails every role's test), never silently dropped. docs/architecture.md explains the choice.
 */
import type { EtcdContext } from './render-context.js';

export interface MachineUser {
  readonly name: string;
  readonly sshAuthorizedKeys: readonly string[];
}

/** A file whose bytes are in the config. `mode` is the permission bits (0o644). */
export interface InlineFile {
  readonly kind: 'inline';
  readonly path: string;
  readonly mode: number;
  readonly contents: string;
}

/**
 * A file the machine downloads from rackboot's offline mirror. `sha512` is the mirror manifest's
 * checksum (hex), null when the URL is not a file of an imported mirror version: a format that
 * fetches it itself (Ignition) must refuse to render then, rather than fetch it unverified.
 */
export interface FetchedFile {
  readonly kind: 'fetched';
  readonly path: string;
  readonly mode: number;
  readonly url: string;
  readonly sha512: string | null;
}

export type MachineFile = InlineFile | FetchedFile;

export interface UnitDropIn {
  readonly name: string;
  readonly contents: string;
}

export interface MachineUnit {
  readonly name: string;
  /** null: the unit the OS ships (e.g. docker.service), only enabled or masked here. */
  readonly contents: string | null;
  /** Started at every boot (cloud-config `command: start`; Ignition: a multi-user.target.wants link). */
  readonly enabled: boolean;
  readonly mask: boolean;
  readonly dropIns: readonly UnitDropIn[];
}

export interface MachineConfig {
  readonly hostname: string;
  readonly users: readonly MachineUser[];
  /** Every file but the networkd ones, in the order the role lists them. */
  readonly files: readonly MachineFile[];
  /** /etc/systemd/network/*.network|.netdev|.link: the static network, matched by MAC. */
  readonly networkd: readonly InlineFile[];
  readonly units: readonly MachineUnit[];
  /**
   * The etcd settings the role was rendered with (member or gateway), null without etcd. One field on
   * purpose: etcd TLS and membership extend EtcdContext, and every format reads them from here.
   */
  readonly etcd: EtcdContext | null;
}

export type MachineConfigResult = { readonly ok: true; readonly config: MachineConfig } | { readonly ok: false; readonly errors: readonly string[] };

/** The user whose `ssh_authorized_keys` a cloud-config sets (Flatcar's login user). */
export const LOGIN_USER = 'core';

const NETWORKD_DIR = '/etc/systemd/network/';

/** Where Flatcar's update-engine and locksmithd read the reboot strategy. */
export const UPDATE_CONF_PATH = '/etc/flatcar/update.conf';

/**
 * `ExecStartPre=+/opt/rackboot/bin/rackboot-fetch --if-absent URL DEST MODE` in a unit: the unit
 * downloads DEST itself on the cloud-config path; a format that can fetch files (Ignition) lays DEST
 * down before boot, verified, and the unit then finds it there and skips the download.
 */
const FETCH_LINE = /^ExecStartPre=\+?\/opt\/rackboot\/bin\/rackboot-fetch --if-absent (\S+) (\/\S+) ([0-7]{3,4})$/;

/** The mirror checksum (SHA-512, hex) of a URL of rackboot's /assets/, or null when it has none. */
export type DigestLookup = (url: string) => string | null;

/**
 * Reads a parsed, validated cloud-config (the YAML document as plain values) into the model. Only the
 * keys rackboot's templates use are understood; any other key is an error naming it.
 */
export function machineConfigFromCloudConfig(doc: unknown, etcd: EtcdContext | null, digestOf: DigestLookup): MachineConfigResult {
  const errors: string[] = [];
  const top = asRecord(doc, 'the document', errors);
  if (!top) return { ok: false, errors };
  unknownKeys(top, ['hostname', 'ssh_authorized_keys', 'write_files', 'coreos'], '', errors);

  const hostname = typeof top.hostname === 'string' ? top.hostname : '';
  if (hostname === '') errors.push('hostname: missing');

  const keys = top.ssh_authorized_keys ?? [];
  const users: MachineUser[] = [];
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) errors.push('ssh_authorized_keys: not a list of strings');
  else users.push({ name: LOGIN_USER, sshAuthorizedKeys: keys as string[] });

  const files: MachineFile[] = [];
  const networkd: InlineFile[] = [];
  for (const [index, entry] of list(top.write_files, 'write_files', errors).entries()) {
    const file = writeFile(entry, `write_files[${index}]`, errors);
    if (!file) continue;
    if (file.path.startsWith(NETWORKD_DIR)) networkd.push(file);
    else files.push(file);
  }

  const units: MachineUnit[] = [];
  const coreos = top.coreos === undefined ? {} : asRecord(top.coreos, 'coreos', errors);
  if (coreos) {
    unknownKeys(coreos, ['update', 'units'], 'coreos.', errors);
    const update = coreos.update === undefined ? null : asRecord(coreos.update, 'coreos.update', errors);
    if (update) {
      unknownKeys(update, ['reboot_strategy'], 'coreos.update.', errors);
      const strategy = update.reboot_strategy;
      if (typeof strategy !== 'string' || !/^(off|reboot|etcd-lock|best-effort)$/.test(strategy)) errors.push('coreos.update.reboot_strategy: not a strategy');
      else files.push({ kind: 'inline', path: UPDATE_CONF_PATH, mode: 0o644, contents: `REBOOT_STRATEGY=${strategy}\n` });
    }
    for (const [index, entry] of list(coreos.units, 'coreos.units', errors).entries()) {
      const unit = coreosUnit(entry, `coreos.units[${index}]`, errors);
      if (unit) units.push(unit);
    }
  }

  for (const unit of units) {
    for (const line of (unit.contents ?? '').split('\n')) {
      const fetch = FETCH_LINE.exec(line.trim());
      if (!fetch) continue;
      const [, url, path, mode] = fetch as unknown as [string, string, string, string];
      if (files.some((f) => f.path === path)) continue;
      files.push({ kind: 'fetched', path, mode: parseInt(mode, 8), url, sha512: digestOf(url) });
    }
  }

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, config: { hostname, users, files, networkd, units, etcd } };
}

function writeFile(entry: unknown, where: string, errors: string[]): InlineFile | null {
  const file = asRecord(entry, where, errors);
  if (!file) return null;
  unknownKeys(file, ['path', 'permissions', 'content'], `${where}.`, errors);
  if (typeof file.path !== 'string' || !file.path.startsWith('/')) {
    errors.push(`${where}.path: not an absolute path`);
    return null;
  }
  const permissions = file.permissions ?? '0644';
  if (typeof permissions !== 'string' || !/^0?[0-7]{3}$/.test(permissions)) {
    errors.push(`${where}.permissions: ${JSON.stringify(permissions)} is not an octal mode such as "0644"`);
    return null;
  }
  const contents = file.content ?? '';
  if (typeof contents !== 'string') {
    errors.push(`${where}.content: not a string`);
    return null;
  }
  return { kind: 'inline', path: file.path, mode: parseInt(permissions, 8), contents };
}

function coreosUnit(entry: unknown, where: string, errors: string[]): MachineUnit | null {
  const unit = asRecord(entry, where, errors);
  if (!unit) return null;
  unknownKeys(unit, ['name', 'command', 'enable', 'mask', 'content', 'drop_ins'], `${where}.`, errors);
  if (typeof unit.name !== 'string' || unit.name === '') {
    errors.push(`${where}.name: missing`);
    return null;
  }
  const mask = unit.mask === true;
  const command = unit.command;
  // `restart` re-reads files that write_files changed after boot (networkd, timesyncd); a format that
  // writes its files before systemd starts has nothing to restart. `stop` only goes with `mask`.
  if (command !== undefined && command !== 'start' && command !== 'restart' && !(command === 'stop' && mask)) {
    errors.push(`${where}.command: ${JSON.stringify(command)} is not translated (start, restart, or stop with mask)`);
    return null;
  }
  const contents = unit.content === undefined ? null : unit.content;
  if (contents !== null && typeof contents !== 'string') {
    errors.push(`${where}.content: not a string`);
    return null;
  }
  const dropIns: UnitDropIn[] = [];
  for (const [index, raw] of list(unit.drop_ins, `${where}.drop_ins`, errors).entries()) {
    const dropIn = asRecord(raw, `${where}.drop_ins[${index}]`, errors);
    if (!dropIn) continue;
    unknownKeys(dropIn, ['name', 'content'], `${where}.drop_ins[${index}].`, errors);
    if (typeof dropIn.name !== 'string' || typeof dropIn.content !== 'string') errors.push(`${where}.drop_ins[${index}]: needs a name and a content`);
    else dropIns.push({ name: dropIn.name, contents: dropIn.content });
  }
  const enabled = !mask && (command === 'start' || unit.enable === true);
  return { name: unit.name, contents, enabled, mask, dropIns };
}

function asRecord(value: unknown, where: string, errors: string[]): Record<string, unknown> | null {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  errors.push(`${where}: not a mapping`);
  return null;
}

function list(value: unknown, where: string, errors: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  errors.push(`${where}: not a list`);
  return [];
}

function unknownKeys(record: Record<string, unknown>, known: readonly string[], prefix: string, errors: string[]): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) errors.push(`${prefix}${key}: not translated to the machine config (rackboot's templates do not use it)`);
  }
}
