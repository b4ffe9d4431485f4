/** The Provisioner's settings from the config: one place for `rackboot serve` and the DHCP worker thread. */
import type { Config } from '../config/config.js';
import type { ProvisionerSettings } from '../core/provisioner.js';
import { dhcpSettings } from './dhcp-service.js';

export function provisionerSettings(config: Config): ProvisionerSettings {
  return {
    publicUrl: config.http.publicUrl,
    serverAddress: config.server.address,
    os: config.boot.os,
    kernelArgs: config.boot.kernelArgs,
    cloudConfig: config.boot.cloudConfig,
    configFormat: config.boot.configFormat,
    menu: config.boot.menu,
    subnets: config.dhcp.subnets,
    cluster: config.cluster,
    // only when this process answers DHCP: then (full mode) its leases vouch for machine addresses
    ...(config.dhcp.enabled ? { dhcp: dhcpSettings(config) } : {}),
  };
}
