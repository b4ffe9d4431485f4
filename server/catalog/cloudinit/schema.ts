/**
 * The key/type table of a CoreOS/Flatcar cloud-config, as `coreos-cloudinit -validate` knows it
 * (reference: docs install-targets.md §1.2; the Go structs of flatcar/coreos-cloudinit `config/*.go`).
 *
 * Every field carries what the validator reads from its Go struct tag: the YAML key, the Go type
 * (which decides both the "want <type>" of a type warning and whether yaml.v3 can decode a value at
 * all), an optional `deprecated` message and an optional `valid` pattern. Pure data, no I/O.
 */

/** A type as the Go structs declare it. `goType` is the name yaml.v3 prints in "cannot unmarshal ... into <goType>". */
export type SchemaType =
  | { readonly kind: 'string'; readonly goType: string }
  | { readonly kind: 'bool' }
  | { readonly kind: 'int' }
  | { readonly kind: 'float64' }
  | { readonly kind: 'struct'; readonly goType: string; readonly fields: readonly FieldSpec[] }
  | { readonly kind: 'slice'; readonly elem: SchemaType };

/** A `valid:"..."` tag: the Go regular expression as written, and an equivalent test for JavaScript. */
export interface ValidPattern {
  readonly goSource: string;
  test(value: string): boolean;
}

export interface FieldSpec {
  readonly key: string;
  readonly type: SchemaType;
  /** The `deprecated:"..."` tag: any use of the key is a warning carrying this text. */
  readonly deprecated?: string;
  readonly valid?: ValidPattern;
}

const STRING: SchemaType = { kind: 'string', goType: 'string' };
const BOOL: SchemaType = { kind: 'bool' };
const INT: SchemaType = { kind: 'int' };
const FLOAT64: SchemaType = { kind: 'float64' };
const STRINGS: SchemaType = { kind: 'slice', elem: STRING };

function struct(goType: string, fields: readonly FieldSpec[]): SchemaType & { kind: 'struct' } {
  return { kind: 'struct', goType, fields };
}

function pattern(goSource: string, regex: RegExp): ValidPattern {
  return { goSource, test: (value) => regex.test(value) };
}

function strings(keys: readonly string[], extra: Partial<FieldSpec> = {}): FieldSpec[] {
  return keys.map((key) => ({ key, type: STRING, ...extra }));
}

function typed(type: SchemaType, keys: readonly string[], extra: Partial<FieldSpec> = {}): FieldSpec[] {
  return keys.map((key) => ({ key, type, ...extra }));
}

/** `coreos.update.reboot_strategy` (v1.14.0 and Flatcar; `best-effort` was dropped). */
export const REBOOT_STRATEGY = pattern('^(etcd-lock|reboot|off)$', /^(etcd-lock|reboot|off)$/);
/** `coreos.units[].command` */
export const UNIT_COMMAND = pattern(
  '^(start|stop|restart|reload|try-restart|reload-or-restart|reload-or-try-restart)$',
  /^(start|stop|restart|reload|try-restart|reload-or-restart|reload-or-try-restart)$/,
);
/** `write_files[].permissions`: an octal mode written as a string */
export const FILE_PERMISSIONS = pattern('^0?[0-7]{3,4}$', /^0?[0-7]{3,4}$/);
/** `write_files[].encoding` */
export const FILE_ENCODING = pattern(
  '^(base64|b64|gz|gzip|gz\\+base64|gzip\\+base64|gz\\+b64|gzip\\+b64)$',
  /^(base64|b64|gz|gzip|gz\+base64|gzip\+base64|gz\+b64|gzip\+b64)$/,
);
/**
 * `coreos.locksmith.window_start`. Go's `(?i:...)` only covers the day names; the rest of the
 * expression has no letters, so a case-insensitive flag on the whole expression is equivalent.
 */
export const WINDOW_START = pattern(
  '^((?i:sun|mon|tue|wed|thu|fri|sat|sun) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$',
  /^((sun|mon|tue|wed|thu|fri|sat|sun) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$/i,
);
/**
 * `coreos.locksmith.window_length`, a Go duration. The Go expression `^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$`
 * runs in linear time under RE2 but backtracks exponentially in JavaScript, so this is the same
 * language written without nested ambiguity: one or more letters, each optionally preceded by a
 * non-empty number with at most one dot. (A test checks the two agree.)
 */
export const WINDOW_LENGTH = pattern(
  '^[-+]?([0-9]*(\\.[0-9]*)?[a-z]+)+$',
  /^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]*)?[a-z])+$/,
);
/** `coreos.etcd2.proxy` */
export const ETCD2_PROXY = pattern('^(on|off|readonly)$', /^(on|off|readonly)$/);

const ETCD2_OPTIONS_GONE = 'etcd2 options no longer work for etcd';
const REMOTE_FETCH = 'trying to fetch from a remote endpoint introduces too many intermittent errors';

/** coreos.etcd (etcd 0.4), `config/etcd.go`, in struct order. */
const ETCD = struct('config.Etcd', [
  { key: 'addr', type: STRING },
  { key: 'advertise_client_urls', type: STRING, deprecated: ETCD2_OPTIONS_GONE },
  ...strings(['bind_addr', 'ca_file', 'cert_file']),
  { key: 'cluster_active_size', type: INT },
  ...typed(FLOAT64, ['cluster_remove_delay', 'cluster_sync_interval']),
  ...strings(['cors', 'data_dir', 'discovery']),
  ...strings(['discovery_fallback', 'discovery_srv', 'discovery_proxy'], { deprecated: ETCD2_OPTIONS_GONE }),
  { key: 'election_timeout', type: INT, deprecated: ETCD2_OPTIONS_GONE },
  { key: 'force_new_cluster', type: BOOL, deprecated: ETCD2_OPTIONS_GONE },
  { key: 'graphite_host', type: STRING },
  { key: 'heartbeat_interval', type: INT, deprecated: ETCD2_OPTIONS_GONE },
  ...typed(FLOAT64, ['http_read_timeout', 'http_write_timeout']),
  ...strings(['initial_advertise_peer_urls', 'initial_cluster', 'initial_cluster_state', 'initial_cluster_token'], {
    deprecated: ETCD2_OPTIONS_GONE,
  }),
  { key: 'key_file', type: STRING },
  ...strings(['listen_client_urls', 'listen_peer_urls'], { deprecated: ETCD2_OPTIONS_GONE }),
  ...typed(INT, ['max_result_buffer', 'max_retry_attempts']),
  ...typed(INT, ['max_snapshots', 'max_wals'], { deprecated: ETCD2_OPTIONS_GONE }),
  ...strings(['name', 'peer_addr', 'peer_bind_addr', 'peer_ca_file', 'peer_cert_file']),
  ...typed(INT, ['peer_election_timeout', 'peer_heartbeat_interval']),
  ...strings(['peer_key_file', 'peers', 'peers_file']),
  { key: 'proxy', type: STRING, deprecated: ETCD2_OPTIONS_GONE },
  { key: 'retry_interval', type: FLOAT64 },
  { key: 'snapshot', type: BOOL },
  { key: 'snapshot_count', type: INT },
  { key: 'trace', type: STRING },
  ...typed(BOOL, ['verbose', 'very_verbose', 'very_very_verbose']),
]);

/** coreos.etcd2, `config/etcd2.go`. */
const ETCD2 = struct('config.Etcd2', [
  { key: 'advertise_client_urls', type: STRING },
  { key: 'ca_file', type: STRING, deprecated: 'ca_file obsoleted by trusted_ca_file and client_cert_auth' },
  { key: 'cert_file', type: STRING },
  { key: 'client_cert_auth', type: BOOL },
  ...strings(['cors', 'data_dir']),
  { key: 'debug', type: BOOL },
  ...strings(['discovery', 'discovery_fallback', 'discovery_srv', 'discovery_proxy']),
  { key: 'election_timeout', type: INT },
  ...typed(BOOL, ['enable_pprof', 'force_new_cluster']),
  { key: 'heartbeat_interval', type: INT },
  ...strings([
    'initial_advertise_peer_urls',
    'initial_cluster',
    'initial_cluster_state',
    'initial_cluster_token',
    'key_file',
    'listen_client_urls',
    'listen_peer_urls',
    'log_package_levels',
  ]),
  ...typed(INT, ['max_snapshots', 'max_wals']),
  { key: 'name', type: STRING },
  { key: 'peer_ca_file', type: STRING, deprecated: 'peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth' },
  ...strings(['peer_cert_file', 'peer_key_file']),
  { key: 'peer_client_cert_auth', type: BOOL },
  { key: 'peer_trusted_ca_file', type: STRING },
  { key: 'proxy', type: STRING, valid: ETCD2_PROXY },
  ...typed(INT, ['proxy_dial_timeout', 'proxy_failure_wait', 'proxy_read_timeout', 'proxy_refresh_interval', 'proxy_write_timeout']),
  { key: 'snapshot_count', type: INT },
  { key: 'strict_reconfig_check', type: BOOL },
  ...strings(['trusted_ca_file', 'wal_dir']),
]);

const FLANNEL = struct(
  'config.Flannel',
  strings([
    'etcd_endpoints',
    'etcd_cafile',
    'etcd_certfile',
    'etcd_keyfile',
    'etcd_prefix',
    'etcd_username',
    'etcd_password',
    'ip_masq',
    'subnet_file',
    'interface',
    'public_ip',
  ]),
);

const FLEET = struct('config.Fleet', [
  ...strings(['agent_ttl', 'authorized_keys_file']),
  { key: 'disable_engine', type: BOOL },
  { key: 'engine_reconcile_interval', type: FLOAT64 },
  ...strings(['etcd_cafile', 'etcd_certfile', 'etcd_keyfile', 'etcd_key_prefix']),
  { key: 'etcd_request_timeout', type: FLOAT64 },
  ...strings(['etcd_servers', 'etcd_username', 'etcd_password', 'metadata', 'public_ip']),
  ...typed(INT, ['token_limit', 'verbosity']),
  { key: 'verify_units', type: BOOL },
]);

const LOCKSMITH = struct('config.Locksmith', [
  ...strings(['endpoint', 'etcd_cafile', 'etcd_certfile', 'etcd_keyfile', 'etcd_username', 'etcd_password', 'group']),
  { key: 'window_start', type: STRING, valid: WINDOW_START },
  { key: 'window_length', type: STRING, valid: WINDOW_LENGTH },
]);

const OEM = struct('config.OEM', strings(['id', 'name', 'version_id', 'home_url', 'bug_report_url']));

const UPDATE = struct('config.Update', [
  { key: 'reboot_strategy', type: STRING, valid: REBOOT_STRATEGY },
  ...strings(['group', 'server']),
]);

export const UNIT_DROP_IN = struct('config.UnitDropIn', strings(['name', 'content']));

export const UNIT = struct('config.Unit', [
  { key: 'name', type: STRING },
  ...typed(BOOL, ['mask', 'enable', 'runtime']),
  { key: 'content', type: STRING },
  { key: 'command', type: STRING, valid: UNIT_COMMAND },
  { key: 'drop_ins', type: { kind: 'slice', elem: UNIT_DROP_IN } },
]);

export const COREOS = struct('config.CoreOS', [
  { key: 'etcd', type: ETCD, deprecated: 'etcd is no longer shipped in Container Linux' },
  { key: 'etcd2', type: ETCD2, deprecated: 'etcd2 is no longer shipped in Container Linux' },
  { key: 'flannel', type: FLANNEL },
  { key: 'fleet', type: FLEET, deprecated: 'fleet is no longer shipped in Container Linux' },
  { key: 'locksmith', type: LOCKSMITH },
  { key: 'oem', type: OEM },
  { key: 'update', type: UPDATE },
  { key: 'units', type: { kind: 'slice', elem: UNIT } },
]);

export const FILE = struct('config.File', [
  { key: 'encoding', type: STRING, valid: FILE_ENCODING },
  ...strings(['content', 'owner', 'path']),
  { key: 'permissions', type: STRING, valid: FILE_PERMISSIONS },
]);

export const USER = struct('config.User', [
  ...strings(['name', 'passwd']),
  { key: 'ssh_authorized_keys', type: STRINGS },
  { key: 'coreos_ssh_import_github', type: STRING, deprecated: REMOTE_FETCH },
  { key: 'coreos_ssh_import_github_users', type: STRINGS, deprecated: REMOTE_FETCH },
  { key: 'coreos_ssh_import_url', type: STRING, deprecated: REMOTE_FETCH },
  ...strings(['gecos', 'homedir']),
  { key: 'no_create_home', type: BOOL },
  { key: 'primary_group', type: STRING },
  { key: 'groups', type: STRINGS },
  ...typed(BOOL, ['no_user_group', 'system', 'no_log_init']),
  { key: 'shell', type: STRING },
]);

/** The whole document (`config.CloudConfig`). */
export const CLOUD_CONFIG = struct('config.CloudConfig', [
  { key: 'ssh_authorized_keys', type: STRINGS },
  { key: 'coreos', type: COREOS },
  { key: 'write_files', type: { kind: 'slice', elem: FILE } },
  { key: 'hostname', type: STRING },
  { key: 'users', type: { kind: 'slice', elem: USER } },
  // config.EtcHosts is a named string type: same checks, but yaml.v3 names it in its errors
  { key: 'manage_etc_hosts', type: { kind: 'string', goType: 'config.EtcHosts' } },
]);

export function findField(type: SchemaType, key: string): FieldSpec | undefined {
  return type.kind === 'struct' ? type.fields.find((field) => field.key === key) : undefined;
}

/** The Go type name, as yaml.v3 prints it (`[]config.Unit`, `config.EtcHosts`, `bool`). */
export function goTypeName(type: SchemaType): string {
  switch (type.kind) {
    case 'string':
    case 'struct':
      return type.goType;
    case 'slice':
      return `[]${goTypeName(type.elem)}`;
    default:
      return type.kind;
  }
}

/** The validator's `HumanType()`: the reflect kind, `struct` for every struct, `[]` + element for slices. */
export function humanType(type: SchemaType): string {
  return type.kind === 'slice' ? `[]${humanType(type.elem)}` : type.kind;
}
