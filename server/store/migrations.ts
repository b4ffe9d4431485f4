/**
 * Schema migrations, applied in order. Never edit a released migration: add a new one.
 * Times are milliseconds since the epoch (INTEGER).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: machines, their interfaces, leases, the append-only event log, discovered clients.
  `
  CREATE TABLE machines (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    uuid             TEXT UNIQUE,
    bmc_address      TEXT UNIQUE,
    ip               TEXT UNIQUE,
    role             TEXT,
    state            TEXT NOT NULL,
    state_changed_at INTEGER NOT NULL,
    boot_token       TEXT UNIQUE,
    ipxe_chained_at  INTEGER,
    created_at       INTEGER NOT NULL
  );
  CREATE TABLE interfaces (
    mac        TEXT PRIMARY KEY,
    machine_id INTEGER NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL
  );
  CREATE INDEX interfaces_machine ON interfaces(machine_id);
  CREATE TABLE leases (
    mac        TEXT PRIMARY KEY,
    ip         TEXT NOT NULL UNIQUE,
    machine_id INTEGER REFERENCES machines(id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    machine_id INTEGER REFERENCES machines(id) ON DELETE SET NULL,
    mac        TEXT,
    at         INTEGER NOT NULL,
    type       TEXT NOT NULL,
    message    TEXT NOT NULL,
    data       TEXT
  );
  CREATE INDEX events_machine ON events(machine_id, id);
  CREATE TABLE discovered (
    mac        TEXT PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    sightings  INTEGER NOT NULL,
    facts      TEXT NOT NULL
  );
  `,
  // 2: how a machine boots its role (in memory or installed to disk), and the one-time cloud-config token.
  `
  ALTER TABLE machines ADD COLUMN boot_mode TEXT NOT NULL DEFAULT 'install';
  ALTER TABLE machines ADD COLUMN config_token TEXT;
  CREATE UNIQUE INDEX machines_config_token ON machines(config_token);
  `,
  // 3: BMCs found by IPMI discovery (rackboot discover). No credentials: passwords come from the
  // environment or a file, never from the database.
  `
  CREATE TABLE bmcs (
    id              INTEGER PRIMARY KEY,
    address         TEXT NOT NULL UNIQUE,
    port            INTEGER NOT NULL DEFAULT 623,
    username        TEXT,
    guid            TEXT,
    bmc_mac         TEXT,
    bmc_ip          TEXT,
    lan_channel     INTEGER,
    manufacturer_id INTEGER,
    product_id      INTEGER,
    firmware        TEXT,
    ipmi_version    TEXT,
    session         TEXT,
    host_macs       TEXT NOT NULL DEFAULT '[]',
    machine_id      INTEGER REFERENCES machines(id) ON DELETE SET NULL,
    first_seen      INTEGER NOT NULL,
    last_seen       INTEGER,
    last_attempt    INTEGER NOT NULL,
    last_error      TEXT,
    last_error_kind TEXT
  );
  CREATE INDEX bmcs_machine ON bmcs(machine_id);
  CREATE INDEX bmcs_guid ON bmcs(guid);
  `,
  // 4: API bearer tokens for mutations, stored only as SHA-256 hashes; rotation revokes the old one.
  `
  CREATE TABLE api_tokens (
    id         INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL UNIQUE,
    hint       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
  );
  `,
  // 5: DHCP addresses a client DECLINEd (another host answers ARP for them): the pool skips them
  // until `until`. Pool leases live in `leases` with machine_id NULL.
  `
  CREATE TABLE dhcp_declined (
    ip    TEXT PRIMARY KEY,
    mac   TEXT,
    at    INTEGER NOT NULL,
    until INTEGER NOT NULL
  );
  CREATE INDEX leases_expires ON leases(expires_at);
  `,
  // 6: the inventory's lifecycle: labels on every machine (a JSON object, key -> value), the audit
  // log of operator writes (who changed what; pruned like events), and a name for API tokens (the
  // audit's actor for writes over the API).
  `
  ALTER TABLE machines ADD COLUMN labels TEXT NOT NULL DEFAULT '{}';
  CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    target  TEXT,
    before  TEXT,
    after   TEXT,
    message TEXT NOT NULL
  );
  ALTER TABLE api_tokens ADD COLUMN name TEXT;
  `,
  // 7: the machine's own config format (core/config-format.ts); NULL: its role's or the default.
  `
  ALTER TABLE machines ADD COLUMN config_format TEXT CHECK (config_format IN ('cloud-config', 'ignition'));
  `,
];
