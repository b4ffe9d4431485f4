/** The production BmcConnector over IPMI: an RMCP+ session (client.ts) seen through the port (session.ts). */
import type { BmcConnector } from '../port.js';
import { IpmiClient, type IpmiClientOptions } from './client.js';
import { ipmiBmcSession } from './session.js';

/**
 * The production connector. It also makes sure there is at most one open session per BMC in this
 * process: a second open for the same address waits for the first session to close.
 */
export function ipmiConnector(options: IpmiClientOptions = {}): BmcConnector {
  const busy = new Map<string, Promise<void>>();
  return async (target, credentials) => {
    const key = `${target.address}:${target.port}`;
    for (let guard = 0; busy.has(key) && guard < 10_000; guard++) await busy.get(key);
    let release!: () => void;
    busy.set(key, new Promise<void>((resolve) => (release = resolve)));
    const done = () => {
      busy.delete(key);
      release();
    };
    try {
      const client = await IpmiClient.open(target, credentials, { ...options, quirks: options.quirksFor?.(target) ?? options.quirks });
      client.onClose(done);
      return ipmiBmcSession(client);
    } catch (error) {
      done();
      throw error;
    }
  };
}
