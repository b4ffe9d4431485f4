/**
 * The production BmcConnector over Redfish. The endpoint (scheme, port, CA file) of each BMC comes
 * from its range in the config (bmc/ranges.ts), not from the target's port, which is the IPMI one.
 * At most one session per BMC at a time in this process, as for IPMI.
 */
import type { BmcConnector, BmcTarget } from '../port.js';
import { RedfishClient, type RedfishClientOptions } from './client.js';
import type { RedfishEndpoint } from './transport.js';

export interface RedfishConnectorOptions extends RedfishClientOptions {
  readonly endpointFor: (target: BmcTarget) => RedfishEndpoint;
}

export function redfishConnector(options: RedfishConnectorOptions): BmcConnector {
  const busy = new Map<string, Promise<void>>();
  return async (target, credentials) => {
    const endpoint = options.endpointFor(target);
    const key = `${endpoint.address}:${endpoint.port}`;
    for (let guard = 0; busy.has(key) && guard < 10_000; guard++) await busy.get(key);
    let release!: () => void;
    busy.set(key, new Promise<void>((resolve) => (release = resolve)));
    const done = () => {
      busy.delete(key);
      release();
    };
    try {
      const client = await RedfishClient.open(endpoint, credentials, options);
      client.onClose(done);
      return client;
    } catch (error) {
      done();
      throw error;
    }
  };
}
