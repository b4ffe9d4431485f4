/** `dhcp.worker`: DHCP on its own thread (default), or on the main thread for debugging. Both run startDhcpService. */
import type { Config } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Logger } from '../log.js';
import { startDhcpService, type DhcpService } from '../services/dhcp-service.js';
import { startDhcpWorker } from './supervisor.js';

export function startDhcp(config: Config, provisioner: Provisioner, logger: Logger, databasePath: string): Promise<DhcpService> {
  if (config.dhcp.worker && databasePath !== ':memory:') return startDhcpWorker(config, { databasePath, logger });
  return startDhcpService(config, provisioner, logger);
}
