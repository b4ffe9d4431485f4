/**
 * DHCP wired to the core: the listener decodes, the Provisioner decides and records, the listener
 * encodes and sends.
 */
import type { Config } from '../config.js';
import type { DhcpSettings } from '../core/dhcp-decision.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Logger } from '../log.js';
import { startDhcpListener, type DhcpListener } from '../net/dhcp-listener.js';

export type DhcpService = DhcpListener;

export function dhcpSettings(config: Config): DhcpSettings {
  return {
    serverAddress: config.server.address,
    subnets: config.dhcp.subnets,
    httpBaseUrl: config.http.publicUrl,
    bootFiles: config.dhcp.bootFiles,
    chainloadEmbeddedIpxe: config.dhcp.chainloadEmbeddedIpxe,
    chainWindowMs: config.dhcp.chainWindowSeconds * 1000,
  };
}

export async function startDhcpService(config: Config, provisioner: Provisioner, logger: Logger): Promise<DhcpService> {
  const log = logger.child({ svc: 'dhcp' });
  return startDhcpListener({
    address: config.dhcp.listen,
    port: config.dhcp.port,
    logger: log,
    handle: (packet) => {
      const decision = provisioner.handleDhcp(packet);
      if (decision.kind === 'ignore') {
        log.debug({ mac: packet.mac, reason: decision.reason }, 'no reply');
        return null;
      }
      return { reply: decision.packet, destination: decision.destination, maxSize: decision.maxSize };
    },
  });
}
