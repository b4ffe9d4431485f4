/**
 * TFTP wired to the core: files from the configured root (the iPXE binaries), and every finished
 * transfer reported to the Provisioner, which puts it on the machine's timeline. The returned
 * server's `stats` is the plain counter object that /metrics reads (docs/tftp.md lists them).
 */
import type { Config } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Logger } from '../log.js';
import { createRootResolver } from '../net/tftp-files.js';
import { startTftpServer, type TftpServer } from '../net/tftp-server.js';

export type TftpService = TftpServer;

export async function startTftpService(config: Config, provisioner: Provisioner, logger: Logger): Promise<TftpService> {
  const log = logger.child({ svc: 'tftp' });
  return startTftpServer({
    address: config.tftp.listen,
    port: config.tftp.port,
    logger: log,
    maxBlockSize: config.tftp.maxBlockSize,
    maxWindowSize: config.tftp.maxWindowSize,
    maxTransfers: config.tftp.maxTransfers,
    maxTransfersPerClient: config.tftp.maxTransfersPerClient,
    clientRequestRate: config.tftp.clientRequestRate,
    clientRequestBurst: config.tftp.clientRequestBurst,
    retransmitMs: config.tftp.retransmitMs,
    maxRetries: config.tftp.maxRetries,
    resolve: createRootResolver({ root: config.tftp.root, symlinkTargets: config.tftp.symlinkTargets, logger: log }),
    onTransferEnd: (summary) => {
      try {
        provisioner.tftpTransferEnded({
          path: summary.path,
          clientIp: summary.client.address,
          bytes: summary.bytes,
          durationMs: summary.durationMs,
          result: summary.result,
          ...(summary.reason === undefined ? {} : { reason: summary.reason }),
        });
      } catch (error) {
        log.error({ err: error, path: summary.path }, 'could not record the transfer');
      }
    },
  });
}
