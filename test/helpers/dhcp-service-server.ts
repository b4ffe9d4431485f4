/**
 * rackboot's real DHCP service for real-client tests: config file, Provisioner over a SQLite file,
 * startDhcp (dhcp.worker: the worker thread unless RACKBOOT_DHCP_WORKER=false or the config says
 * false; guard, group commit, proxy port, watch socket). Run it inside a test network
 * namespace, never on a host interface:
 *   node --import tsx test/helpers/dhcp-service-server.ts CONFIG.yaml '[{"name":..,"mac":..,"ip":..}]'
 * stdout: {"ready":{port,pxePort,watchPort}} once listening; on SIGUSR2 {"stats":{...},"n":k} (k counts
 * the signals, so a caller waits for its own line). Events: read the database (WAL) directly.
 * SIGTERM closes it.
 */
import { loadConfigFile } from '../../server/config/config.js';
import { createLogger } from '../../server/log.js';
import { startDhcp } from '../../server/dhcp-worker/start.js';
import { createProvisioner, databasePath } from '../../server/main.js';

const loaded = loadConfigFile(process.argv[2] ?? '');
if (!loaded.config) {
  process.stderr.write(`${loaded.errors.join('\n')}\n`);
  process.exit(2);
}
const config = process.env.RACKBOOT_DHCP_WORKER === 'false' ? { ...loaded.config, dhcp: { ...loaded.config.dhcp, worker: false } } : loaded.config;
const machines = JSON.parse(process.argv[3] ?? '[]') as Array<{ name: string; mac: string; ip: string }>;
const { provisioner, close } = createProvisioner(config);
for (const m of machines) {
  if (!provisioner.machineByRef(m.mac)) provisioner.registerMachine({ name: m.name, macs: [m.mac], ip: m.ip, role: null });
}
const service = await startDhcp(config, provisioner, createLogger(config.log.level, process.stderr), databasePath(config));
const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
emit({ ready: { port: service.port, pxePort: service.pxePort, watchPort: service.watchPort } });

let n = 0;
process.on('SIGUSR2', () => {
  n += 1;
  const k = n;
  // the worker path: counters as of now, not the last periodic report
  void (service.freshStats?.() ?? Promise.resolve(service.stats)).then((stats) => emit({ stats, n: k }));
});

const stop = (): void => {
  void service.close().then(() => {
    close();
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
