/**
 * The DHCP worker thread (issue 18): its own sockets, its own connection to the WAL database and
 * its own Provisioner, running the same startDhcpService (guard, admission, group commit, the same
 * pure decision) as the in-process path. The main thread keeps HTTP, TFTP, the API and the
 * dashboard; the events written here reach the timeline and the SSE stream through the database,
 * which the main thread's event feed polls.
 */
import { randomBytes } from 'node:crypto';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { MachinelessEvents } from '../core/machineless-events.js';
import { Provisioner, type Renderer } from '../core/provisioner.js';
import { createLogger } from '../log.js';
import { startDhcpService } from '../services/dhcp-service.js';
import { provisionerSettings } from '../services/provisioner-settings.js';
import Database from 'better-sqlite3';
import type { Db } from '../store/db.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { indexedDhcpStore } from './index.js';
import type { DhcpWorkerData, FromWorker, ToWorker } from './protocol.js';

/** DHCP never renders a script or a cloud-config: the worker's Provisioner has no catalog. */
const NO_RENDERER: Renderer = {
  bootScript: () => {
    throw new Error('the DHCP worker renders no boot scripts');
  },
  cloudConfig: () => ({ ok: false, errors: ['the DHCP worker renders no cloud-configs'] }),
  menu: () => null,
};

if (parentPort === null) throw new Error('dhcp worker: not started as a worker thread');
const port: MessagePort = parentPort;
const data = workerData as DhcpWorkerData;
const post = (message: FromWorker): void => port.postMessage(message);
const { config } = data;
const logger = createLogger(data.logLevel);

/**
 * A second connection to the database the main thread has just opened, checked and migrated: the
 * same pragmas, without a second integrity check (on a large database after a crash it doubled the
 * restart time) and without migrations.
 */
function openWorkerConnection(path: string): Db {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

async function main(): Promise<void> {
  const db = openWorkerConnection(data.databasePath);
  const u = config.store.unknownEvents;
  const machineless = new MachinelessEvents({ maxKeys: u.maxSources, immediatePerInterval: u.immediatePerInterval }, Date.now());
  const store = indexedDhcpStore(new SqliteStore(db), db);
  const provisioner = new Provisioner({
    store,
    renderer: NO_RENDERER,
    settings: provisionerSettings(config),
    clock: { now: () => Date.now() },
    newToken: () => randomBytes(18).toString('base64url'),
    machineless,
  });
  const flushMachineless = (): void => {
    try {
      provisioner.flushMachinelessEvents();
    } catch (err) {
      logger.error({ err, svc: 'dhcp' }, 'dhcp worker: could not write the summary of events from unknown sources');
    }
  };
  let service;
  try {
    service = await startDhcpService(config, provisioner, logger);
  } catch (err) {
    db.close();
    throw err;
  }
  const running = service;
  const flushTimer = setInterval(flushMachineless, u.flushSeconds * 1000);
  const statsTimer = setInterval(() => post({ type: 'stats', stats: running.stats }), data.statsIntervalMs);
  port.on('message', (message: ToWorker) => {
    if (message.type === 'stats') post({ type: 'stats', stats: running.stats });
    else if (message.type === 'inventory-changed') store.invalidate();
    else if (message.type === 'disk-low') machineless.setShedding(message.low);
    else if (message.type === 'close') {
      clearInterval(flushTimer);
      clearInterval(statsTimer);
      void running.close().then(() => {
        flushMachineless();
        db.close();
        post({ type: 'closed', stats: running.stats });
        port.close();
      });
    }
  });
  post({ type: 'ready', port: running.port, pxePort: running.pxePort, watchPort: running.watchPort });
}

main().catch((err: unknown) => {
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  port.close();
});
