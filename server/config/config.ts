/**
 * Configuration: one YAML file (or the embedded default) -> a validated, frozen Config.
 * loadConfig never throws for bad input: it returns every error and warning at once, each with the
 * path of the offending key, so an operator fixes a file in one pass.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { CONFIG_FORMATS } from '../core/config-format.js';
import { ROLES, type Role } from '../core/roles.js';
import { parseIpRule } from '../core/ip-policy.js';
import { cidrContains as containsIp, cidrsOverlap, parseCidr, parseIpv4 } from '../core/ipv4.js';
import { installSchema } from './install.js';
import { checkListen, checkRenderedValues, checkServedRoots, checkSymlinkTargets } from './safety.js';
import { bootFileWarnings } from './boot-files.js';

const port = z.number().int().min(1).max(65535);
const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const subnetSchema = z.strictObject({
  cidr: z.cidrv4(),
  gateway: z.ipv4().optional(),
  dns: z.array(z.ipv4()).default([]),
  domain: z.string().min(1).optional(),
  leaseSeconds: z.number().int().min(60).max(31_536_000).default(86_400),
  /** Optional dynamic range for machines not in the inventory (discovery); off unless set. */
  pool: z.strictObject({ start: z.ipv4(), end: z.ipv4() }).optional(),
});

const bootFilesSchema = z.strictObject({
  bios: z.string().min(1).default('undionly.kpxe'),
  efiX64: z.string().min(1).default('snponly.efi'),
  efiIa32: z.string().min(1).default('ipxe-ia32.efi'),
  efiArm64: z.string().min(1).default('ipxe-arm64.efi'),
});

/** One kernel argument. Console autologin is the boot menu's debug entry only, never every boot's. */
const kernelArg = z
  .string()
  .regex(/^[^\s]+$/, 'a kernel argument may not contain white space')
  .refine((arg) => arg !== 'flatcar.autologin', 'flatcar.autologin (a root console without a password) is added only to the boot menu\'s debug entry; remove it here')
  .refine((arg) => !/^(cloud-config-url|ignition\.config\.url)=/.test(arg), 'rackboot adds the config URL itself (cloud-config-url= or ignition.config.url=, with a one-time token)');

const osSchema = z.strictObject({
  name: z.string().min(1).default('flatcar'),
  kernel: z.string().min(1).default('flatcar/flatcar_production_pxe.vmlinuz'),
  initrds: z.array(z.string().min(1)).min(1).default(['flatcar/flatcar_production_pxe_image.cpio.gz']),
  args: z.array(kernelArg).default(['flatcar.first_boot=1']),
});

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const storeSchema = z
  .strictObject({
    retention: z
      .strictObject({
        /** Events older than this are deleted, except each machine's newest keepPerMachine. */
        eventsDays: int(1, 36_500).default(90),
        keepPerMachine: int(0, 1_000_000).default(200),
        /** Discovered (unknown) MACs not seen for this long are forgotten, and at most discoveredMax are kept. */
        discoveredDays: int(1, 36_500).default(30),
        discoveredMax: int(10, 10_000_000).default(10_000),
        /** How often the prune runs, and the rows one step deletes before the event loop is free again. */
        intervalSeconds: int(10, 86_400).default(60),
        batch: int(10, 100_000).default(500),
      })
      .prefault({}),
    /** Events from unknown sources (no machine): counted and summarized once per interval. */
    unknownEvents: z
      .strictObject({
        flushSeconds: int(1, 86_400).default(60),
        /** Distinct (type, source) keys counted per interval; more are folded into an "other" count. */
        maxSources: int(1, 1_000_000).default(1000),
        /** The first sighting of a new source is still its own event, this many per interval. */
        immediatePerInterval: int(0, 100_000).default(10),
      })
      .prefault({}),
    /** Per client address, on the open boot routes that write (/ipxe, /menu, /callback, /cloud-config, /install). */
    writeRate: z
      .strictObject({
        perSecond: z.number().positive().max(1_000_000).default(10),
        burst: int(1, 1_000_000).default(60),
        maxSources: int(1, 10_000_000).default(10_000),
      })
      .prefault({}),
    /** Below either floor /healthz is 503 and non-essential writes are shed (0 turns a floor off). */
    disk: z
      .strictObject({
        minFreeBytes: int(0, Number.MAX_SAFE_INTEGER).default(512 * 1024 * 1024),
        minFreePercent: z.number().min(0).max(99).default(5),
        checkSeconds: int(1, 3600).default(10),
      })
      .prefault({}),
  })
  .prefault({});

export const configSchema = z.strictObject({
  dataDir: z.string().min(1).default('./var'),
  /** Override: serve dataDir (the database, the Kubernetes CA key) from inside tftp.root or boot.assetsDir. */
  allowDataDirInServedRoot: z.boolean().default(false),
  log: z
    .strictObject({
      level: logLevel.default('info'),
      /** auto: journal under systemd (JOURNAL_STREAM), pretty on a TTY, else json (server/log.ts). */
      format: z.enum(['auto', 'json', 'pretty', 'journal']).default('auto'),
    })
    .prefault({}),
  server: z
    .strictObject({
      /** The address machines reach rackboot at: DHCP server id, siaddr, and the default HTTP URL. */
      address: z.ipv4().default('127.0.0.1'),
    })
    .prefault({}),
  http: z
    .strictObject({
      listen: z.ipv4().default('127.0.0.1'),
      /** Override: listen on 0.0.0.0 (every address of the host), refused otherwise. */
      allowAllAddresses: z.boolean().default(false),
      port: port.default(8080),
      /** Base URL written into boot scripts; defaults to http://<server.address>:<port>. */
      publicUrl: z
        .url()
        .regex(/^https?:\/\/[A-Za-z0-9.:[\]-]+(\/[A-Za-z0-9._~/-]*)?$/, 'a plain http(s)://host[:port][/path] URL (it is written into boot scripts and unit files)')
        .optional(),
      /** Bounds on the sockets of the HTTP listener(s) (server/http/listeners.ts, docs/security/http.md). */
      limits: z
        .strictObject({
          maxConnections: z.number().int().min(16).max(1_000_000).default(2048),
          maxConnectionsPerClient: z.number().int().min(4).max(1_000_000).default(64),
          headersTimeoutMs: z.number().int().min(1000).max(600_000).default(10_000),
          requestTimeoutMs: z.number().int().min(1000).max(3_600_000).default(30_000),
          keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
          /** An idle socket is closed after this; keep it above the event stream's 15 s heartbeat. */
          connectionTimeoutMs: z.number().int().min(20_000).max(3_600_000).default(60_000),
        })
        .prefault({}),
      /** GET /api/v1/events/stream (server/http/events-stream.ts). */
      eventStream: z
        .strictObject({
          maxConnections: z.number().int().min(1).max(10_000).default(64),
          maxConnectionsPerClient: z.number().int().min(1).max(10_000).default(8),
          /** A resume with more missed events than this gets `event: reset` (page through /api/v1/events). */
          maxReplay: z.number().int().min(1).max(10_000).default(1000),
          /** A client that lets this much pile up unread is disconnected. */
          maxBufferedBytes: z.number().int().min(65_536).max(268_435_456).default(1_048_576),
        })
        .prefault({}),
      /** HTTPS for the operator surface (API, dashboard) on its own port; machines keep plain HTTP on `port`. */
      tls: z
        .strictObject({
          certFile: z.string().min(1),
          keyFile: z.string().min(1),
          listen: z.ipv4().optional(),
          port: port.default(8443),
        })
        .optional(),
    })
    .prefault({}),
  tftp: z
    .strictObject({
      enabled: z.boolean().default(true),
      listen: z.ipv4().default('127.0.0.1'),
      port: port.default(69),
      /** Where the iPXE binaries live; Debian's `ipxe` package puts them here. */
      root: z.string().min(1).default('/usr/lib/ipxe'),
      /** Override: a root that is or contains a system directory (/, /etc, /usr, ...), refused otherwise. */
      allowSystemRoot: z.boolean().default(false),
      /**
       * Absolute files or directories outside the root that symlinks inside it may point to (TFTP and
       * /ipxe/): Debian's /usr/lib/ipxe/ipxe.efi is a link to /boot/ipxe.efi. Other links out are refused.
       */
      symlinkTargets: z.array(z.string().min(1).refine((p) => p.startsWith('/'), 'an absolute path')).max(32).default([]),
      maxBlockSize: z.number().int().min(512).max(65464).default(1468),
      maxWindowSize: z.number().int().min(1).max(64).default(32),
      /**
       * Concurrent transfers in total, and per client address; a request beyond them gets no answer
       * (the firmware retransmits it). 10,000-machine storm: with 4,000 all installed in 57-62 s with
       * 0-13 reboots; with 2,000, 101 s and 3,800 reboots (docs/performance.md).
       */
      maxTransfers: z.number().int().min(1).max(100_000).default(4000),
      /** A machine's firmware needs 1-2 at a time; 8 leaves room, and one flooding address holds no more. */
      maxTransfersPerClient: z.number().int().min(1).max(100_000).default(8),
      /** New transfers per second per client address (a token bucket of clientRequestBurst); beyond it, no answer. */
      clientRequestRate: z.number().int().min(1).max(100_000).default(20),
      clientRequestBurst: z.number().int().min(1).max(200_000).default(40),
      /** First retransmission timeout (doubles per retry, up to 8x); a client's `timeout` option caps it, or replaces it for windowed transfers (docs/tftp.md). */
      retransmitMs: z.number().int().min(10).max(60_000).default(1000),
      /** Retransmissions of one OACK or window before a transfer is given up. */
      maxRetries: z.number().int().min(0).max(100).default(5),
    })
    .prefault({}),
  dhcp: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** 0.0.0.0 receives broadcasts; run rackboot where the provisioning NIC is the only broadcast path (docs/real-hardware.md). */
      listen: z.ipv4().default('0.0.0.0'),
      port: port.default(67),
      subnets: z.array(subnetSchema).default([]),
      /** Hand iPXE binaries even to firmware that already runs iPXE, so every machine runs rackboot's iPXE build. */
      chainloadEmbeddedIpxe: z.boolean().default(false),
      chainWindowSeconds: z.number().int().min(10).max(3600).default(300),
      bootFiles: bootFilesSchema.prefault({}),
      /** full: rackboot hands out addresses; proxy: the site's DHCP server does, rackboot adds boot information (ports 67 and pxePort). */
      mode: z.enum(['full', 'proxy']).default('full'),
      /** PXE boot-server port, bound in proxy mode only. */
      pxePort: port.default(4011),
      /** Provisioning interfaces: must exist at start; packets that cannot come from their subnets (or a relay in dhcp.subnets) are dropped. */
      interfaces: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,15}$/, 'an interface name')).default([]),
      /** Other DHCP servers expected on the segment (active-active rackboot instances): never reported as rogue. */
      peers: z.array(z.ipv4()).default([]),
      /** How long a DECLINEd pool address stays out of use. */
      declineSeconds: z.number().int().min(10).max(86_400).default(600),
      /** The same for MACs not in the inventory (never longer than declineSeconds): random MACs cannot hold addresses for long. */
      declineUnknownSeconds: z.number().int().min(10).max(86_400).default(60),
      /** At most this share of each pool (at least one address) may be held by DECLINEs at once; beyond it a DECLINE is counted, not honoured. */
      declineMaxPoolPercent: z.number().int().min(1).max(100).default(10),
      /** How long a pool address is held after an OFFER. */
      offerHoldSeconds: z.number().int().min(5).max(600).default(30),
      /** Answer DHCP on a worker thread with its own sockets and database connection (false: on the main thread, for debugging). */
      worker: z.boolean().default(true),
      /** Load shedding (docs/dhcp.md): above queueBound pending packets, DISCOVERs from MACs not yet admitted are dropped. */
      shedding: z
        .strictObject({
          queueBound: z.number().int().min(1).max(100_000).default(256),
          maxAdmitted: z.number().int().min(1).max(1_000_000).default(8192),
          /** An admitted MAC silent this long must be admitted again. */
          idleSeconds: z.number().int().min(1).max(3600).default(120),
        })
        .prefault({}),
      rogue: z
        .strictObject({
          /** Report other DHCP servers (event + warn log + counter). */
          detect: z.boolean().default(true),
          /** At most one report per foreign server per interval. */
          reportIntervalSeconds: z.number().int().min(1).max(86_400).default(300),
          /** Also listen on UDP 68 to see other servers' broadcast OFFERs/ACKs (the client port). */
          watchClientPort: z.boolean().default(false),
        })
        .prefault({}),
    })
    .prefault({}),
  boot: z
    .strictObject({
      /** Kernel, initrd and other offline assets; paths in `os` are relative to it. */
      assetsDir: z.string().min(1).default('./var/assets'),
      /** Override: an assets directory that is or contains a system directory, refused otherwise. */
      allowSystemAssetsDir: z.boolean().default(false),
      os: osSchema.prefault({}),
      /** Extra kernel arguments for every boot, e.g. a serial console. */
      kernelArgs: z.array(kernelArg).default([]),
      /** cloud-config template for machines booted without a role (the menu's debug entry). */
      cloudConfig: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).default('default'),
      /**
       * The format of the config the booted OS fetches: cloud-config (coreos-cloudinit, the default) or
       * ignition (Ignition in the initramfs), for every role or per role; a machine's own choice
       * (rackboot assign --config-format) wins over both.
       */
      configFormat: z
        .strictObject({
          default: z.enum(CONFIG_FORMATS).default('cloud-config'),
          roles: z.partialRecord(z.enum(ROLES as [Role, ...Role[]]), z.enum(CONFIG_FORMATS)).default({}),
        })
        .prefault({}),
      menu: z
        .strictObject({
          /** menus/<name>.yaml */
          name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/).default('default'),
          /** What a machine without a role boots when nobody chooses: the safe choice is its disk. */
          defaultItem: z.string().min(1).default('local'),
          timeoutSeconds: z.number().int().min(1).max(3600).default(30),
        })
        .prefault({}),
    })
    .prefault({}),
  ipmi: z
    .strictObject({
      username: z.string().min(1).default('admin'),
      /** The BMC password is read from this file, else from $RACKBOOT_IPMI_PASSWORD; never from this config. */
      passwordFile: z.string().min(1).optional(),
      port: port.default(623),
      timeoutMs: z.number().int().min(100).max(30_000).default(1000),
      attempts: z.number().int().min(1).max(10).default(4),
      concurrency: z.number().int().min(1).max(1024).default(32),
      /** Preference order; suite 0 (no authentication) is never used. */
      cipherSuites: z.array(z.union([z.literal(17), z.literal(3)])).min(1).default([17, 3]),
      privilege: z.enum(['administrator', 'operator']).default('administrator'),
      /**
       * BMC addresses or CIDR blocks that may fall back to IPMI 1.5 with MD5 when they report no
       * IPMI 2.0. Off by default: a BMC (or anyone answering in its place) gets an MD5 of the password.
       */
      allowIpmi15: z.array(z.union([z.ipv4(), z.cidrv4()])).default([]),
      /** Vendor workarounds by BMC address or CIDR block. */
      quirks: z
        .record(
          z.string(),
          z.strictObject({
            noBootSetInProgress: z.boolean().optional(),
            noBootFlagValidClearing: z.boolean().optional(),
            fruChunkSize: z.number().int().min(1).max(255).optional(),
            lanChannel: z.number().int().min(1).max(15).optional(),
            noNameOnlyLookup: z.boolean().optional(),
          }),
        )
        .default({}),
      /** The static-IP rule of `rackboot ip-plan`, e.g. {kind: bmc-offset, hostSubnet, bmcSubnet, offset}. */
      ipPlan: z.record(z.string(), z.unknown()).optional(),
      /**
       * Per BMC range: which protocol (redfish | ipmi | auto: Redfish, then IPMI when no Redfish
       * service answers) and, for Redfish, the endpoint. A BMC in no range speaks IPMI (docs/bmc.md).
       */
      ranges: z
        .array(
          z.strictObject({
            range: z.union([z.ipv4(), z.cidrv4()]),
            protocol: z.enum(['redfish', 'ipmi', 'auto']),
            /** http only for labs: the password crosses the network in clear. */
            scheme: z.enum(['https', 'http']).default('https'),
            port: port.optional(),
            /** PEM CA of the BMC certificates; without it, each certificate is trusted on first use. */
            caFile: z.string().min(1).optional(),
          }),
        )
        .max(1024)
        .default([]),
      redfish: z
        .strictObject({
          timeoutMs: z.number().int().min(500).max(120_000).default(10_000),
          maxResponseBytes: z.number().int().min(4096).max(16 * 1024 * 1024).default(1024 * 1024),
          taskTimeoutMs: z.number().int().min(1000).max(3_600_000).default(120_000),
          /** Certificate fingerprints recorded at first contact; default <dataDir>/redfish-fingerprints.json. */
          trustFile: z.string().min(1).optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  cluster: z
    .strictObject({
      /** Part of every etcd cluster token: clusters of different racks never join each other. */
      name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/).default('rack'),
      sshAuthorizedKeys: z.array(z.string().regex(/^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+( [^\n]*)?$/, 'an OpenSSH public key line')).default([]),
      /** NTP servers of the installed systems (timesyncd); none: they use what DHCP offers. */
      ntpServers: z.array(z.string().min(1)).default([]),
      /** The etcd binary below boot.assetsDir (served at /assets/...), for offline etcd members and gateways. */
      etcdBinary: z.string().min(1).default('etcd/etcd'),
    })
    .prefault({}),
  /** The install script, offline assets and stuck-state timeouts (server/config/install.ts, docs/install.md). */
  install: installSchema,
  /** Bounds on what unauthenticated clients can make rackboot write, retention, the disk guard (docs/security/writes.md). */
  store: storeSchema,
});

export type RawConfig = z.infer<typeof configSchema>;
export type Config = Readonly<RawConfig & { http: RawConfig['http'] & { publicUrl: string }; source: string }>;

export interface ConfigResult {
  readonly config: Config | null;
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

/** The configuration `npm start` uses when no file is given: loopback only, DHCP off. */
export const EMBEDDED_DEFAULT_YAML = `# rackboot embedded default: safe on any machine.
# Serves HTTP on 127.0.0.1:8080 and TFTP on 127.0.0.1:6969; DHCP stays off until a config file
# names the provisioning subnet (see docs/configuration.md).
dataDir: ./var
server:
  address: 127.0.0.1
http:
  listen: 127.0.0.1
  port: 8080
tftp:
  listen: 127.0.0.1
  port: 6969
  # Debian's ipxe package links /usr/lib/ipxe/ipxe.efi and ipxe.lkrn to /boot: serve those two files
  symlinkTargets: [/boot/ipxe.efi, /boot/ipxe.lkrn]
dhcp:
  enabled: false
`;

export function loadConfigFile(path: string): ConfigResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return { config: null, errors: [`${path}: cannot read: ${(error as Error).message}`], warnings: [] };
  }
  return parseConfig(text, path, dirname(resolve(path)));
}

export function loadEmbeddedConfig(cwd: string): ConfigResult {
  return parseConfig(EMBEDDED_DEFAULT_YAML, '(embedded default)', cwd);
}

/** Parses and validates YAML text; relative paths resolve against `baseDir`. */
export function parseConfig(text: string, source: string, baseDir: string): ConfigResult {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  const yamlErrors = document.errors.map((e) => `${source}: YAML: ${e.message.split('\n')[0]}`);
  if (yamlErrors.length > 0) return { config: null, errors: yamlErrors, warnings: [] };

  const raw: unknown = document.toJS() ?? {};
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => `${source}: ${formatPath(issue.path)}: ${issue.message}`);
    return { config: null, errors, warnings: [] };
  }

  const value = parsed.data;
  const errors: string[] = [];
  const warnings: string[] = [];
  const within = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  checkCrossFieldRules(value, source, errors, warnings);
  checkRenderedValues(value, source, errors);
  checkListen(value, source, errors);
  checkServedRoots(value, { dataDir: within(value.dataDir), tftpRoot: within(value.tftp.root), assetsDir: within(value.boot.assetsDir) }, source, errors);
  checkSymlinkTargets(value, within(value.dataDir), source, errors);
  if (errors.length > 0) return { config: null, errors, warnings };

  const config: Config = deepFreeze({
    ...value,
    source,
    dataDir: within(value.dataDir),
    tftp: { ...value.tftp, root: within(value.tftp.root) },
    boot: { ...value.boot, assetsDir: within(value.boot.assetsDir) },
    ipmi: {
      ...value.ipmi,
      ranges: value.ipmi.ranges.map((r) => (r.caFile === undefined ? r : { ...r, caFile: within(r.caFile) })),
      redfish: { ...value.ipmi.redfish, ...(value.ipmi.redfish.trustFile === undefined ? {} : { trustFile: within(value.ipmi.redfish.trustFile) }) },
    },
    http: {
      ...value.http,
      ...(value.http.tls === undefined ? {} : { tls: { ...value.http.tls, certFile: within(value.http.tls.certFile), keyFile: within(value.http.tls.keyFile) } }),
      publicUrl: (value.http.publicUrl ?? `http://${value.server.address}:${value.http.port}`).replace(/\/+$/, ''),
    },
  });
  warnings.push(...bootFileWarnings(config, source));
  return { config, errors, warnings };
}

function checkCrossFieldRules(value: RawConfig, source: string, errors: string[], warnings: string[]): void {
  if (value.dhcp.enabled && value.dhcp.subnets.length === 0) {
    errors.push(`${source}: dhcp.subnets: DHCP is enabled but no subnet is configured`);
  }
  value.dhcp.subnets.forEach((subnet, index) => {
    if (subnet.gateway !== undefined && !cidrContains(subnet.cidr, subnet.gateway)) {
      errors.push(`${source}: dhcp.subnets.${index}.gateway: ${subnet.gateway} is outside ${subnet.cidr}`);
    }
    checkPool(value, subnet, `${source}: dhcp.subnets.${index}.pool`, errors);
    const cidr = parseCidr(subnet.cidr);
    value.dhcp.subnets.slice(0, index).forEach((earlier, earlierIndex) => {
      const other = parseCidr(earlier.cidr);
      if (cidr && other && cidrsOverlap(cidr, other)) {
        errors.push(`${source}: dhcp.subnets.${index}.cidr: ${subnet.cidr} overlaps dhcp.subnets.${earlierIndex} (${earlier.cidr}); a machine's address must name one subnet`);
      }
    });
  });
  if (value.dhcp.mode === 'proxy' && value.dhcp.pxePort === value.dhcp.port) {
    errors.push(`${source}: dhcp.pxePort: must differ from dhcp.port (${value.dhcp.port})`);
  }
  if (value.dhcp.enabled && !value.dhcp.subnets.some((s) => cidrContains(s.cidr, value.server.address))) {
    warnings.push(
      `${source}: server.address ${value.server.address} is in no dhcp subnet: fine behind relays, otherwise machines cannot reach it`,
    );
  }
  if (value.ipmi.ipPlan !== undefined) {
    const rule = parseIpRule(value.ipmi.ipPlan);
    if (!rule.ok) for (const e of rule.errors) errors.push(`${source}: ipmi.ipPlan: ${e}`);
  }
  value.ipmi.ranges.forEach((range, index) => {
    if (range.scheme === 'http' && range.protocol !== 'ipmi') {
      warnings.push(`${source}: ipmi.ranges.${index}: Redfish over plain HTTP for ${range.range}: the BMC password crosses the network in clear (labs only)`);
    }
    if (range.caFile !== undefined && range.scheme === 'http') errors.push(`${source}: ipmi.ranges.${index}.caFile: a CA file needs scheme https`);
    if (value.ipmi.ranges.slice(0, index).some((earlier) => earlier.range === range.range)) {
      errors.push(`${source}: ipmi.ranges.${index}.range: ${range.range} is listed twice`);
    }
  });
  if (value.tftp.enabled && value.tftp.listen === '0.0.0.0') {
    errors.push(`${source}: tftp.listen: name the provisioning address; replies must leave from the address a request came to`);
  }
  if (value.http.limits.headersTimeoutMs > value.http.limits.requestTimeoutMs) {
    errors.push(`${source}: http.limits.headersTimeoutMs: must not exceed http.limits.requestTimeoutMs (${value.http.limits.requestTimeoutMs})`);
  }
  if (value.http.tls !== undefined && value.http.tls.port === value.http.port && (value.http.tls.listen ?? value.http.listen) === value.http.listen) {
    errors.push(`${source}: http.tls.port: must differ from http.port (${value.http.port}): machines keep plain HTTP there`);
  }
  if (value.dhcp.enabled && value.server.address.startsWith('127.')) {
    errors.push(`${source}: server.address: DHCP clients cannot reach a loopback address; set the provisioning address`);
  }
}

function checkPool(value: RawConfig, subnet: RawConfig['dhcp']['subnets'][number], where: string, errors: string[]): void {
  const pool = subnet.pool;
  if (pool === undefined) return;
  if (value.dhcp.mode === 'proxy') errors.push(`${where}: proxy mode never hands out addresses; remove the pool`);
  for (const [key, ip] of [['start', pool.start], ['end', pool.end]] as const) {
    if (!cidrContains(subnet.cidr, ip)) errors.push(`${where}.${key}: ${ip} is outside ${subnet.cidr}`);
  }
  const start = parseIpv4(pool.start);
  const end = parseIpv4(pool.end);
  if (start !== null && end !== null) {
    if (end < start) errors.push(`${where}: end ${pool.end} is before start ${pool.start}`);
    else if (end - start + 1 > 65_536) errors.push(`${where}: ${end - start + 1} addresses; at most 65536`);
  }
}

function cidrContains(cidr: string, address: string): boolean {
  const parsed = parseCidr(cidr);
  return parsed !== null && containsIp(parsed, address);
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top level)' : path.map(String).join('.');
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
