/**
 * Composition root: config -> store -> catalog -> Provisioner -> services. The only module (with the
 * CLI) that reads files, the environment and signals; everything below it gets frozen config.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from './catalog/catalog.js';
import type { Config } from './config.js';
import { Provisioner } from './core/provisioner.js';
import { RackbootError } from './errors.js';
import { buildApp } from './http/app.js';
import type { Logger } from './log.js';
import { dhcpSettings, startDhcpService, type DhcpService } from './services/dhcp-service.js';
import { startTftpService, type TftpService } from './services/tftp-service.js';
import { catalogDirs } from './paths.js';
import { openDatabase } from './store/db.js';
import { SqliteStore } from './store/sqlite-store.js';

export interface RunningServer {
  readonly provisioner: Provisioner;
  readonly listening: readonly string[];
  readonly databasePath: string;
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

export function createProvisioner(config: Config): { provisioner: Provisioner; close(): void } {
  const db = openDatabase(databasePath(config));
  const provisioner = new Provisioner({
    store: new SqliteStore(db),
    renderer: loadCatalog(config),
    settings: {
      publicUrl: config.http.publicUrl,
      serverAddress: config.server.address,
      os: config.boot.os,
      kernelArgs: config.boot.kernelArgs,
      cloudConfig: config.boot.cloudConfig,
      menu: config.boot.menu,
      subnets: config.dhcp.subnets,
      cluster: config.cluster,
      dhcp: dhcpSettings(config),
    },
    clock: { now: () => Date.now() },
    newToken: () => randomBytes(18).toString('base64url'),
  });
  return { provisioner, close: () => db.close() };
}

export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  mkdirSync(config.boot.assetsDir, { recursive: true });
  const { provisioner, close: closeStore } = createProvisioner(config);
  const listening: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.error({ err: error }, 'close failed'));
    closeStore();
  };

  try {
    const app = await buildApp({ provisioner, assetsDir: config.boot.assetsDir, firmwareDir: config.tftp.root, logger });
    await app.listen({ host: config.http.listen, port: config.http.port });
    closers.push(() => app.close());
    listening.push(`http  ${config.http.listen}:${config.http.port} (machines use ${config.http.publicUrl})`);

    if (config.tftp.enabled) {
      const tftp: TftpService = await startTftpService(config, provisioner, logger);
      closers.push(() => tftp.close());
      listening.push(`tftp  ${config.tftp.listen}:${tftp.port} (serving ${config.tftp.root})`);
    }
    if (config.dhcp.enabled) {
      const dhcp: DhcpService = await startDhcpService(config, provisioner, logger);
      closers.push(() => dhcp.close());
      listening.push(`dhcp  ${config.dhcp.listen}:${dhcp.port} (subnets ${config.dhcp.subnets.map((s) => s.cidr).join(', ')})`);
    }
  } catch (error) {
    await closeAll();
    throw error;
  }

  return { provisioner, listening, databasePath: databasePath(config), close: closeAll };
}

/**
 * Re-reads boot-templates/, menus/ and cloud-configs/ (SIGHUP). A catalog with any error is not
 * used: machines keep getting what the last good catalog renders, and every error is reported.
 */
export function reloadCatalog(config: Config, provisioner: Provisioner, logger: Logger, dirs = catalogDirs()): readonly string[] {
  const result = loadCatalogResult(config, dirs);
  if (!result.ok) {
    logger.error({ errors: result.errors }, `catalog reload refused (${result.errors.length} error(s)); the previous catalog stays in use`);
    for (const error of result.errors) logger.error(error);
    return result.errors;
  }
  provisioner.setRenderer(result.catalog);
  logger.info('catalog reloaded');
  return [];
}
