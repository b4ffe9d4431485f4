/**
 * Composition root: config -> store -> catalog -> Provisioner -> services. The only module (with the
 * CLI) that reads files, the environment and signals; everything below it gets frozen config.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectoryAssetIndex } from './assets/mirror.js';
import { Catalog } from './catalog/catalog.js';
import type { Config } from './config/config.js';
import { Provisioner } from './core/provisioner.js';
import type { InstallRenderer } from './core/install-types.js';
import { RackbootError } from './errors.js';
import { parseIpRule, type IpRule } from './core/ip-policy.js';
import { buildApp } from './http/app.js';
import { HttpListeners, type TlsMaterial } from './http/listeners.js';
import { NO_POWER_REASON } from './http/operator.js';
import type { PowerDriver } from './bmc/power-driver.js';
import { IPMI_PORT } from './protocol/ipmi/constants.js';
import { bmcConnector } from './bmc/redfish/protocols.js';
import { ipmiPowerDriver, type PowerJournal } from './bmc/power-service.js';
import { ApiTokenStore } from './store/api-token-store.js';
import { BmcStore } from './store/bmc-store.js';
import type { Db } from './store/db.js';
import { OverviewStore } from './store/overview-store.js';
import type { Logger } from './log.js';
import type { DhcpService } from './services/dhcp-service.js';
import { startDhcp } from './dhcp-worker/start.js';
import { provisionerSettings } from './services/provisioner-settings.js';
import { startTftpService, type TftpService } from './services/tftp-service.js';
import { createWriteGuards, startWriteGuards } from './services/write-guards.js';
import type { MachinelessEvents } from './core/machineless-events.js';
import { enableInstall } from './install/enable.js';
import { loadInstallRenderer } from './install/templates.js';
import { catalogDirs } from './paths.js';
import { ensurePrivateDir, openDatabase } from './store/db.js';
import { SqliteStore } from './store/sqlite-store.js';
import { EtcdPki } from './install/etcd-pki.js';
import { EtcdMembership, etcdHttpsCall, FormedClusters, type EtcdCall } from './services/etcd-membership.js';

export interface RunningServer {
  readonly provisioner: Provisioner;
  readonly listening: readonly string[];
  readonly databasePath: string;
  /** The API token made at the first start: shown once, only its hash is kept. Null on later starts. */
  readonly newApiToken: string | null;
  close(): Promise<void>;
}

export function databasePath(config: Config): string {
  return join(config.dataDir, 'rackboot.db');
}

function loadCatalogResult(config: Config, dirs = catalogDirs()) {
  return Catalog.load(dirs, {
    requiredCloudConfigs: [config.boot.cloudConfig],
    menu: { name: config.boot.menu.name, defaultItem: config.boot.menu.defaultItem },
  });
}

export function loadCatalog(config: Config): Catalog {
  const result = loadCatalogResult(config);
  if (!result.ok) {
    throw new RackbootError('RACKBOOT_ERR_CATALOG', `the catalog has ${result.errors.length} error(s)`, { details: result.errors });
  }
  return result.catalog;
}

/** The Provisioner over the inventory database; nothing else gets the store (the db is for the BMC, token and overview stores). */
export function createProvisioner(config: Config, machineless?: MachinelessEvents): { provisioner: Provisioner; db: Db; etcdPki: EtcdPki; close(): void } {
  const db = openDatabase(databasePath(config));
  const store = new SqliteStore(db);
  const etcdPki = new EtcdPki(config.dataDir);
  const provisioner = new Provisioner({
    etcd: etcdPki,
    store,
    renderer: loadCatalog(config),
    settings: provisionerSettings(config),
    clock: { now: () => Date.now() },
    newToken: () => randomBytes(18).toString('base64url'),
    // the mirror checksums Ignition verifies fetched files with
    assets: new DirectoryAssetIndex(config.boot.assetsDir),
    ...(machineless ? { machineless } : {}),
  });
  return { provisioner, db, etcdPki, close: () => db.close() };
}

/**
 * The whole startup: store, catalog, Provisioner, install mode, then the services. Install mode is on
 * before anything listens, so no install-script request can arrive while it is still off.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  // before the assets directory, which usually lies inside it: the data directory is created private (0700)
  ensurePrivateDir(config.dataDir);
  mkdirSync(config.boot.assetsDir, { recursive: true });
  const guards = createWriteGuards(config, Date.now());
  const { provisioner, db, etcdPki, close: closeStore } = createProvisioner(config, guards.machineless);
  const apiTokens = new ApiTokenStore(db);
  const newApiToken = apiTokens.ensure(Date.now());
  const power = powerDriverFor(config, provisioner, db);
  let tftp: TftpService | undefined;
  let dhcp: DhcpService | undefined;
  const listening: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'close failed'));
    closeStore();
  };
  // The DHCP worker thread starts (loads its modules, opens its connection) while this thread builds
  // HTTP and TFTP: after a crash, rackboot answers again sooner. It may answer a few ms before TFTP
  // and HTTP listen; firmware retries what fails then.
  const dhcpWorker = config.dhcp.enabled && config.dhcp.worker ? startDhcp(config, provisioner, logger, databasePath(config)) : null;
  dhcpWorker?.catch(() => undefined); // awaited below; no unhandled rejection meanwhile

  try {
    // the DHCP worker keeps its own counter of events from unknown MACs: it sheds them too while the disk is low
    const writes = startWriteGuards(guards, { config, provisioner, db, logger, onDiskLow: (low) => dhcp?.notify?.({ type: 'disk-low', low }) });
    closers.push(async () => writes.stop());
    const install = enableInstall(provisioner, config, logger);
    closers.push(async () => install.stop());
    const etcd = etcdMembership(config, provisioner, etcdPki, logger);
    etcd.start(ETCD_HEALTH_INTERVAL_MS);
    closers.push(async () => etcd.stop());
    const listeners = new HttpListeners(config.http.limits, tlsMaterial(config));
    const app = await buildApp({
      listeners,
      provisioner,
      assetsDir: config.boot.assetsDir,
      firmwareDir: config.tftp.root,
      firmwareSymlinkTargets: config.tftp.symlinkTargets,
      logger,
      operator: {
        overview: new OverviewStore(db),
        tokens: apiTokens,
        power: power.driver,
        noPowerReason: power.reason,
        metrics: { dhcp: () => dhcp?.stats ?? null, tftp: () => tftp?.stats ?? null, writes: () => writes.stats() },
        eventStream: config.http.eventStream,
      },
      ipmi: { bmcs: new BmcStore(db), inventory: provisioner, rule: configuredIpRule(config) },
      health: () => writes.disk.health(),
      writeLimit: guards.writeLimit,
      etcd,
    });
    if (config.http.tls === undefined) {
      await app.listen({ host: config.http.listen, port: config.http.port });
      closers.push(() => app.close());
      listening.push(`http  ${config.http.listen}:${config.http.port} (machines use ${config.http.publicUrl})`);
    } else {
      // HTTPS for the operator; the same app on plain HTTP for the machines (no API or dashboard there)
      const tlsListen = config.http.tls.listen ?? config.http.listen;
      await app.listen({ host: tlsListen, port: config.http.tls.port });
      closers.push(() => app.close());
      await listeners.listenPlain(config.http.listen, config.http.port);
      closers.push(() => listeners.closePlain());
      listening.push(`https ${tlsListen}:${config.http.tls.port} (API and dashboard)`);
      listening.push(`http  ${config.http.listen}:${config.http.port} (machines use ${config.http.publicUrl}; no API or dashboard)`);
    }

    if (config.tftp.enabled) {
      const started: TftpService = (tftp = await startTftpService(config, provisioner, logger));
      closers.push(() => started.close());
      listening.push(`tftp  ${config.tftp.listen}:${started.port} (serving ${config.tftp.root})`);
    }
    if (config.dhcp.enabled) {
      const started: DhcpService = (dhcp = await (dhcpWorker ?? startDhcp(config, provisioner, logger, databasePath(config))));
      closers.push(() => started.close());
      listening.push(`dhcp  ${config.dhcp.listen}:${started.port} (subnets ${config.dhcp.subnets.map((s) => s.cidr).join(', ')}; ${config.dhcp.worker ? 'worker thread' : 'main thread'})`);
    }
  } catch (error) {
    if (dhcpWorker && dhcp === undefined) await dhcpWorker.then((started) => started.close(), () => undefined);
    await closeAll();
    throw error;
  }

  return { provisioner, listening, databasePath: databasePath(config), newApiToken, close: closeAll };
}

/** `rackboot serve` after startServer: SIGHUP reloads the catalog, SIGINT/SIGTERM stop everything. */
export function handleSignals(server: RunningServer, config: Config, logger: Logger): void {
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGHUP', () => reloadCatalog(config, server.provisioner, logger));
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/**
 * The dashboard's and API's power buttons: IPMI or Redfish (per BMC range) through each machine's BMC when rackboot has the
 * BMC password (ipmi.passwordFile, else $RACKBOOT_IPMI_PASSWORD); otherwise none, and they say why.
 */
export function powerDriverFor(config: Config, journal: PowerJournal, db: Db, env: NodeJS.ProcessEnv = process.env): { driver: PowerDriver | null; reason: string } {
  let password: string | undefined;
  if (config.ipmi.passwordFile !== undefined) {
    try {
      password = readFileSync(config.ipmi.passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (error) {
      return { driver: null, reason: `no power driver: ipmi.passwordFile ${config.ipmi.passwordFile}: ${(error as Error).message}` };
    }
  } else password = env.RACKBOOT_IPMI_PASSWORD;
  if (password === undefined || password === '') return { driver: null, reason: NO_POWER_REASON };
  const connect = bmcConnector({
    ipmi: {
      timeoutMs: config.ipmi.timeoutMs,
      attempts: config.ipmi.attempts,
      cipherSuites: config.ipmi.cipherSuites,
      allowIpmi15For: config.ipmi.allowIpmi15,
    },
    ranges: config.ipmi.ranges,
    redfish: config.ipmi.redfish,
    fingerprints: config.ipmi.redfish.trustFile ?? join(config.dataDir, 'redfish-fingerprints.json'),
  });
  const credentials = { username: env.RACKBOOT_IPMI_USER ?? config.ipmi.username, password };
  return { driver: ipmiPowerDriver({ journal, bmcs: new BmcStore(db), connect, credentials, defaultPort: IPMI_PORT }), reason: '' };
}

/**
 * Re-reads boot-templates/, menus/ and cloud-configs/ (SIGHUP), and in install mode
 * boot-templates/install.sh.hbs and boot-templates/install/*.hbs too. All or nothing: with any
 * error nothing changes (machines keep getting what the last good templates render) and every
 * error is reported.
 */
export function reloadCatalog(config: Config, provisioner: Provisioner, logger: Logger, dirs = catalogDirs()): readonly string[] {
  const result = loadCatalogResult(config, dirs);
  const errors = result.ok ? [] : [...result.errors];
  let installRenderer: InstallRenderer | null = null;
  if (provisioner.installEnabled) {
    const loaded = loadInstallRenderer(dirs.bootTemplates);
    if (loaded.ok) installRenderer = loaded.renderer;
    else errors.push(...loaded.errors);
  }
  if (!result.ok || errors.length > 0) {
    logger.error({ errors }, `catalog reload refused (${errors.length} error(s)); the previous templates stay in use`);
    for (const error of errors) logger.error(error);
    return errors;
  }
  provisioner.setRenderer(result.catalog);
  if (installRenderer !== null) provisioner.setInstallRenderer(installRenderer);
  logger.info({ installTemplate: installRenderer !== null }, 'catalog reloaded');
  return [];
}

function tlsMaterial(config: Config): TlsMaterial | null {
  const tls = config.http.tls;
  if (tls === undefined) return null;
  try {
    return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
  } catch (error) {
    throw new RackbootError('RACKBOOT_ERR_CONFIG', `http.tls: cannot read the certificate or key: ${(error as Error).message}`, { cause: error });
  }
}

function configuredIpRule(config: Config): IpRule | null {
  if (config.ipmi.ipPlan === undefined) return null;
  const parsed = parseIpRule(config.ipmi.ipPlan);
  return parsed.ok ? parsed.rule : null;
}

/** How often `rackboot serve` checks every etcd cluster's health (GET /api/v1/clusters). */
export const ETCD_HEALTH_INTERVAL_MS = 15_000;

/** The etcd membership adapter with rackboot's client certificate (the CA is made on first use). */
export function etcdMembership(config: Config, provisioner: Provisioner, pki: EtcdPki, logger?: Logger): EtcdMembership {
  let call: EtcdCall | null = null;
  return new EtcdMembership({
    provisioner,
    call: (endpoint, path, body) => {
      call ??= etcdHttpsCall(pki.rackbootClient());
      return call(endpoint, path, body);
    },
    formed: new FormedClusters(config.dataDir),
    ...(logger ? { log: (level: 'info' | 'warn', message: string) => logger[level]({ svc: 'etcd' }, message) } : {}),
  });
}
