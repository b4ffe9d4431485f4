/**
 * rackboot's DHCP service as its own process, for the benchmark (bench/dhcp/run.ts): the same
 * config loading, Provisioner, SQLite store (a file, WAL) and DHCP service (on its worker thread
 * unless dhcp.worker is false) that `rackboot serve` wires up, without HTTP and TFTP. Registers the machines of `--machines FILE` (lines `mac,ip`) first,
 * in one transaction. Prints `{"ready":port}` when listening; on SIGTERM or SIGINT closes and
 * prints `{"stats":{...}}` (the listener's counters), then exits.
 *
 *   node --import tsx bench/dhcp/serve.ts --config rackboot.yaml [--machines FILE]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../../server/config/config.js';
import { createLogger } from '../../server/log.js';
import { startDhcp } from '../../server/dhcp-worker/start.js';
import { createProvisioner, databasePath } from '../../server/main.js';

const { values } = parseArgs({ options: { config: { type: 'string' }, machines: { type: 'string' } } });
if (values.config === undefined) {
  process.stderr.write('usage: serve.ts --config FILE [--machines FILE]\n');
  process.exit(2);
}
const loaded = loadConfigFile(values.config);
if (!loaded.config) {
  process.stderr.write(`${loaded.errors.join('\n')}\n`);
  process.exit(2);
}
const config = loaded.config;
const { provisioner, close } = createProvisioner(config);
if (values.machines !== undefined) {
  const lines = readFileSync(values.machines, 'utf8').split('\n').filter((l) => l.includes(','));
  const missing = lines.flatMap((line, i) => {
    const [mac, ip] = line.split(',');
    return mac && ip && !provisioner.machineByRef(mac) ? [{ name: `bench-${i}`, macs: [mac], ip, role: null }] : [];
  });
  provisioner.registerMachines(missing);
}
const logger = createLogger(config.log.level, process.stderr);
// dhcp.worker (default true): the worker thread with its own connection, as `rackboot serve` runs it
const service = await startDhcp(config, provisioner, logger, databasePath(config));
process.stdout.write(`${JSON.stringify({ ready: service.port, pid: process.pid })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void service.close().then(() => {
    close();
    process.stdout.write(`${JSON.stringify({ stats: service.stats })}\n`);
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
