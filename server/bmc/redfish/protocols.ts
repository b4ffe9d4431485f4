/**
 * The production BmcConnector for both protocols: IPMI over LAN (bmc/ipmi/) and Redfish, chosen per
 * BMC range (bmc/ranges.ts). The CLI and the server's power driver build it from the config's
 * `ipmi` section (ranges, redfish) the same way.
 */
import { ipmiConnector, type IpmiConnectorOptions } from '../ipmi/connector.js';
import type { BmcConnector } from '../port.js';
import { protocolConnector, protocolFor, redfishEndpointFor, type BmcRange } from '../ranges.js';
import { redfishConnector } from './connector.js';
import { FileFingerprintStore, type FingerprintStore } from './trust.js';

export interface RedfishSettings {
  readonly timeoutMs?: number;
  readonly maxResponseBytes?: number;
  readonly taskTimeoutMs?: number;
}

export interface BmcConnectorSettings {
  readonly ipmi: IpmiConnectorOptions;
  readonly ranges: readonly BmcRange[];
  readonly redfish?: RedfishSettings;
  /** Where certificate fingerprints recorded at first contact live (a FileFingerprintStore path), or a store. */
  readonly fingerprints: string | FingerprintStore;
}

export function bmcConnector(settings: BmcConnectorSettings): BmcConnector {
  const ranges = settings.ranges;
  return protocolConnector({
    ipmi: ipmiConnector(settings.ipmi),
    redfish: redfishConnector({
      endpointFor: (target) => redfishEndpointFor(ranges, target),
      fingerprints: typeof settings.fingerprints === 'string' ? new FileFingerprintStore(settings.fingerprints) : settings.fingerprints,
      ...settings.redfish,
    }),
    protocolFor: (address) => protocolFor(ranges, address),
  });
}
