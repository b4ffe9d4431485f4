/**
 * rackboot's own check of an Ignition config before it is served: every finding (error or warning)
 * keeps the config from being served, as for cloud-configs. Pure; its verdict (valid or not) agrees
 * with Debian's `ignition-validate` 2.14 on the corpus in test/fixtures/ignition/ (a config is valid
 * there when ignition-validate prints nothing: its warnings count, e.g. unused keys).
 *
 * Scope: spec 3.3.0 only (what rackboot renders), and the sections rackboot renders are checked in
 * depth (files, directories, links, units, users). Sections rackboot never renders (disks, RAID,
 * filesystems, LUKS, groups, kernel arguments, config merging, TLS, proxies, timeouts) are a
 * finding of their own: a config that uses them did not come from rackboot's renderer.
 */

const SPEC_VERSION = '3.3.0';

type Shape = 'string' | 'int' | 'bool' | { readonly [key: string]: Shape } | readonly [Shape];

const RESOURCE: Shape = { compression: 'string', httpHeaders: [{ name: 'string', value: 'string' }], source: 'string', verification: { hash: 'string' } };
const OWNER: Shape = { id: 'int', name: 'string' };
const NODE = { path: 'string', overwrite: 'bool', user: OWNER, group: OWNER } as const;

const SHAPE: Shape = {
  ignition: { version: 'string' },
  storage: {
    files: [{ ...NODE, mode: 'int', contents: RESOURCE, append: [RESOURCE] }],
    directories: [{ ...NODE, mode: 'int' }],
    links: [{ ...NODE, target: 'string', hard: 'bool' }],
  },
  systemd: { units: [{ name: 'string', enabled: 'bool', mask: 'bool', contents: 'string', dropins: [{ name: 'string', contents: 'string' }] }] },
  passwd: {
    users: [
      {
        name: 'string', passwordHash: 'string', sshAuthorizedKeys: ['string'], uid: 'int', gecos: 'string', homeDir: 'string',
        noCreateHome: 'bool', primaryGroup: 'string', groups: ['string'], noUserGroup: 'bool', noLogInit: 'bool', shell: 'string',
        shouldExist: 'bool', system: 'bool',
      },
    ],
  },
};

/** Keys spec 3.3.0 defines that rackboot never renders, so never serves. */
const NOT_RENDERED: Readonly<Record<string, readonly string[]>> = {
  '': ['kernelArguments'],
  ignition: ['config', 'timeouts', 'security', 'proxy'],
  storage: ['disks', 'raid', 'filesystems', 'luks'],
  passwd: ['groups'],
};

const URL_SCHEMES = ['http', 'https', 'tftp', 's3', 'arn', 'gs', 'data'];
const HASH_HEX_LENGTH: Readonly<Record<string, number>> = { sha512: 128, sha256: 64 };
const UNIT_TYPES = ['service', 'socket', 'device', 'mount', 'automount', 'swap', 'target', 'path', 'timer', 'snapshot', 'slice', 'scope'];
/** go-systemd's unit parser refuses longer lines (SYSTEMD_LINE_MAX). */
const UNIT_LINE_MAX = 2048;

/** Every finding as `<JSON path>: <message>`; empty when the config may be served. */
export function checkIgnition(text: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    return [`not JSON: ${(error as Error).message}`];
  }
  if (!isRecord(doc)) return ['$: not a JSON object'];
  const findings: string[] = [];
  const version = isRecord(doc.ignition) ? doc.ignition.version : undefined;
  if (typeof version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(version)) return ['$.ignition.version: missing or not a version'];
  if (version !== SPEC_VERSION) return [`$.ignition.version: ${version} is not ${SPEC_VERSION}, the version rackboot serves (Debian's Ignition 2.14 accepts nothing newer)`];
  checkShape(doc, SHAPE, '$', '', findings);
  if (findings.length > 0) return findings;
  checkStorage(isRecord(doc.storage) ? doc.storage : {}, findings);
  checkUnits(isRecord(doc.systemd) ? arrayOf(doc.systemd.units) : [], findings);
  checkUsers(isRecord(doc.passwd) ? arrayOf(doc.passwd.users) : [], findings);
  return findings;
}

function checkShape(value: unknown, shape: Shape, path: string, section: string, findings: string[]): void {
  if (value === null || value === undefined) return; // JSON null is an absent optional field
  if (shape === 'string' || shape === 'bool') {
    if (typeof value !== (shape === 'string' ? 'string' : 'boolean')) findings.push(`${path}: not a ${shape === 'bool' ? 'boolean' : 'string'}`);
    return;
  }
  if (shape === 'int') {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) findings.push(`${path}: not an integer`);
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) findings.push(`${path}: not a list`);
    else value.forEach((item, index) => checkShape(item, shape[0] as Shape, `${path}.${index}`, '', findings));
    return;
  }
  if (!isRecord(value)) {
    findings.push(`${path}: not an object`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const childShape = (shape as Record<string, Shape>)[key];
    if ((NOT_RENDERED[section] ?? []).includes(key)) findings.push(`${path}.${key}: rackboot never renders this section`);
    else if (childShape === undefined) findings.push(`${path}.${key}: unused key ${key}`);
    else checkShape(child, childShape, `${path}.${key}`, path === '$' ? key : '-', findings);
  }
}

function checkStorage(storage: Record<string, unknown>, findings: string[]): void {
  const seen = new Set<string>();
  const links = new Set<string>();
  const nodes: Array<{ path: string; where: string }> = [];
  for (const kind of ['files', 'directories', 'links'] as const) {
    arrayOf(storage[kind]).forEach((raw, index) => {
      const node = raw as Record<string, unknown>;
      const where = `$.storage.${kind}.${index}`;
      const path = node.path;
      if (typeof path !== 'string' || path === '') {
        findings.push(`${where}.path: path not specified`);
        return;
      }
      if (!path.startsWith('/')) findings.push(`${where}.path: path not absolute`);
      else if (cleanPath(path) !== path) findings.push(`${where}.path: path is not fully simplified`);
      if (seen.has(path)) findings.push(`${where}: duplicate entry defined (${path})`);
      seen.add(path);
      nodes.push({ path, where });
      if (kind !== 'links') checkMode(node.mode, `${where}.mode`, findings);
      if (kind === 'files') checkFile(node, where, findings);
      if (kind === 'links') {
        if (typeof node.target !== 'string' || node.target === '') findings.push(`${where}.target: link target is required`);
        if (node.hard !== true) links.add(path);
      }
    });
  }
  for (const { path, where } of nodes) {
    for (let parent = dirname(path); parent !== '/'; parent = dirname(parent)) {
      if (links.has(parent)) findings.push(`${where}: path includes link in config (${parent})`);
    }
  }
}

function checkFile(file: Record<string, unknown>, where: string, findings: string[]): void {
  const contents = isRecord(file.contents) ? file.contents : null;
  const hasSource = contents !== null && typeof contents.source === 'string' && contents.source !== '';
  if (file.overwrite === true && !hasSource) findings.push(`${where}.overwrite: overwrite must be false if source is unspecified`);
  if (contents) checkResource(contents, `${where}.contents`, findings);
  arrayOf(file.append).forEach((r, index) => checkResource(r as Record<string, unknown>, `${where}.append.${index}`, findings));
}

function checkResource(resource: Record<string, unknown>, where: string, findings: string[]): void {
  const source = typeof resource.source === 'string' && resource.source !== '' ? resource.source : null;
  if (source !== null) {
    const problem = urlProblem(source);
    if (problem) findings.push(`${where}.source: ${problem}`);
  }
  const compression = resource.compression;
  if (typeof compression === 'string' && compression !== '' && compression !== 'gzip') findings.push(`${where}.compression: invalid compression method`);
  const hash = isRecord(resource.verification) ? resource.verification.hash : undefined;
  if (typeof hash === 'string' && hash !== '') {
    const problem = hashProblem(hash);
    if (problem) findings.push(`${where}.verification.hash: ${problem}`);
    else if (source === null) findings.push(`${where}.verification.hash: source must be specified if verification is specified`);
  }
  arrayOf(resource.httpHeaders).forEach((h, index) => {
    const header = h as Record<string, unknown>;
    if (typeof header.name !== 'string' || header.name === '') findings.push(`${where}.httpHeaders.${index}.name: header name is required`);
  });
}

/** `<function>-<hex digest>`, as Ignition parses verification.hash. */
export function hashProblem(hash: string): string | null {
  const dash = hash.indexOf('-');
  if (dash < 0) return 'malformed hash specifier';
  const fn = hash.slice(0, dash);
  const digest = hash.slice(dash + 1);
  const length = HASH_HEX_LENGTH[fn];
  if (length === undefined) return 'unrecognized hash function';
  if (digest.length !== length) return 'incorrect size for hash sum';
  if (!/^[0-9A-Fa-f]*$/.test(digest)) return 'hash sum is not hexadecimal';
  return null;
}

function urlProblem(source: string): string | null {
  if ([...source].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return 'unable to parse url';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(source)?.[1]?.toLowerCase();
  if (scheme === undefined || !URL_SCHEMES.includes(scheme)) return 'invalid url scheme';
  if (scheme === 'data') return dataUrlProblem(source.slice('data:'.length));
  if (scheme === 'arn') return null;
  try {
    new URL(source);
  } catch {
    return 'unable to parse url';
  }
  return /[\s"<>\\^`{|}]/.test(source) ? 'unable to parse url' : null;
}

/** RFC 2397 (what vincent-petithory/dataurl accepts): [type/subtype][;attr=value]*[;base64],<uric data>. */
function dataUrlProblem(rest: string): string | null {
  const comma = rest.indexOf(',');
  if (comma < 0) return 'missing comma in data URL';
  const params = rest.slice(0, comma).split(';');
  const media = params.shift() ?? '';
  if (media !== '' && !/^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+$/.test(media)) return 'missing media type slash';
  const base64 = params.length > 0 && params[params.length - 1] === 'base64';
  if (base64) params.pop();
  if (params.some((p) => !/^[A-Za-z0-9!#$&^_.+-]+=[^;,]*$/.test(p))) return 'invalid media type parameter';
  const data = rest.slice(comma + 1);
  if (!/^(?:[A-Za-z0-9\-_.!~*'();/?:@&=+$,]|%[0-9A-Fa-f]{2})*$/.test(data)) {
    return /%(?![0-9A-Fa-f]{2})/.test(data) ? 'invalid escape sequence' : 'invalid data character';
  }
  if (base64) {
    const decoded = decodeURIComponent(data);
    if (decoded.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(decoded)) return 'illegal base64 data';
  }
  return null;
}

function checkMode(mode: unknown, where: string, findings: string[]): void {
  if (typeof mode !== 'number') return;
  if (mode < 0 || mode > 0o7777) findings.push(`${where}: illegal file mode`);
  else if (mode > 0o777) findings.push(`${where}: setuid/setgid/sticky bits are not supported in spec versions older than 3.4.0`);
}

function checkUnits(units: readonly unknown[], findings: string[]): void {
  const names = new Set<string>();
  units.forEach((raw, index) => {
    const unit = raw as Record<string, unknown>;
    const where = `$.systemd.units.${index}`;
    const name = typeof unit.name === 'string' ? unit.name : '';
    if (!validUnitName(name)) findings.push(`${where}.name: invalid systemd unit extension`);
    if (names.has(name)) findings.push(`${where}: duplicate entry defined (${name})`);
    names.add(name);
    if (typeof unit.contents === 'string') {
      const problem = unitContentProblem(unit.contents);
      if (problem) findings.push(`${where}.contents: invalid unit content: ${problem}`);
      else if (unit.enabled === true && !/^\[Install\][ \t]*$/m.test(unit.contents)) {
        findings.push(`${where}.contents: unit "${name}" is enabled, but has no install section so enable does nothing`);
      }
    }
    const dropins = new Set<string>();
    arrayOf(unit.dropins).forEach((d, n) => {
      const dropin = d as Record<string, unknown>;
      const dropinName = typeof dropin.name === 'string' ? dropin.name : '';
      if (!/^[^/]+\.conf$/.test(dropinName)) findings.push(`${where}.dropins.${n}.name: invalid systemd drop-in extension`);
      if (dropins.has(dropinName)) findings.push(`${where}.dropins.${n}: duplicate entry defined (${dropinName})`);
      dropins.add(dropinName);
      if (typeof dropin.contents === 'string') {
        const problem = unitContentProblem(dropin.contents);
        if (problem) findings.push(`${where}.dropins.${n}.contents: invalid unit content: ${problem}`);
      }
    });
  });
}

function validUnitName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && !name.includes('/') && UNIT_TYPES.includes(name.slice(dot + 1));
}

/** What go-systemd's unit deserializer (used by Ignition) refuses. */
export function unitContentProblem(contents: string): string | null {
  for (const line of contents.split('\n')) {
    if (line.length > UNIT_LINE_MAX) return `line too long (max ${UNIT_LINE_MAX} bytes)`;
  }
  const lines = contents.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/^[ \t\r]+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) {
      const close = line.indexOf(']');
      if (close < 0) return 'unable to find end of section';
      const garbage = line.slice(close + 1).trim();
      if (garbage !== '') return `found garbage after section name : "${garbage}"`;
      continue;
    }
    if (!line.includes('=')) {
      // an option name cut by the end of the text is dropped; by a line break it is an error
      if (i < lines.length - 1) return 'unexpected newline encountered while parsing option name';
      continue;
    }
    // a value continued with a trailing backslash swallows the next line
    while (/\\\s*$/.test(lines[i] as string) && i < lines.length - 1) i++;
  }
  return null;
}

function checkUsers(users: readonly unknown[], findings: string[]): void {
  const names = new Set<string>();
  users.forEach((raw, index) => {
    const name = (raw as Record<string, unknown>).name;
    if (typeof name !== 'string' || name === '') findings.push(`$.passwd.users.${index}.name: a user needs a name`);
    else if (names.has(name)) findings.push(`$.passwd.users.${index}: duplicate entry defined (${name})`);
    else names.add(name);
  });
}

function cleanPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function dirname(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function arrayOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}
