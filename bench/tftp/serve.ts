/**
 * rackboot's TFTP server as its own process, for the benchmark (bench/tftp/run.ts) and for tests
 * that need it inside a network namespace (test/real/tftp-lossy.test.ts): the same listener,
 * transfer sockets and file resolver that `rackboot serve` wires up, with a silent logger. Prints
 * one JSON line `{"port":N,"pid":N}` when listening; on SIGTERM or SIGINT closes and prints its
 * counters (`{"stats":{...}}`) as a second line, then exits.
 *
 *   node --import tsx bench/tftp/serve.ts --root DIR [--address 127.0.0.1] [--port 0]
 *     [--max-transfers N] [--max-per-client N] [--retransmit-ms N] [--max-retries N]
 *     [--max-window N] [--max-block N] [--log-level debug|info|...]
 */
import { parseArgs } from 'node:util';
import { createLogger, silentLogger } from '../../server/log.js';
import { createRootResolver } from '../../server/net/tftp-files.js';
import { startTftpServer } from '../../server/net/tftp-server.js';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'max-transfers': { type: 'string', default: '1000' },
    'max-per-client': { type: 'string', default: '1000' },
    'retransmit-ms': { type: 'string', default: '1000' },
    'max-retries': { type: 'string', default: '5' },
    'max-window': { type: 'string', default: '32' },
    'max-block': { type: 'string', default: '1468' },
    /** pino level for the server's own lines, written to stderr (default: silent). */
    'log-level': { type: 'string', default: 'silent' },
  },
});
if (values.root === undefined) {
  process.stderr.write('usage: serve.ts --root DIR [--address A] [--port P]\n');
  process.exit(2);
}

const logger = values['log-level'] === 'silent' ? silentLogger() : createLogger(values['log-level'], process.stderr);
const server = await startTftpServer({
  address: values.address,
  port: Number(values.port),
  logger,
  maxTransfers: Number(values['max-transfers']),
  maxTransfersPerClient: Number(values['max-per-client']),
  retransmitMs: Number(values['retransmit-ms']),
  maxRetries: Number(values['max-retries']),
  maxWindowSize: Number(values['max-window']),
  maxBlockSize: Number(values['max-block']),
  resolve: createRootResolver({ root: values.root, logger }),
});
process.stdout.write(`${JSON.stringify({ port: server.port, pid: process.pid })}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void server.close().then(() => {
    process.stdout.write(`${JSON.stringify({ stats: server.stats })}\n`);
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
