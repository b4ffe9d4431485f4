/** The production BmcConnector over IPMI: an RMCP+ session (client.ts) seen through the port (session.ts). */
import { cidrContains, parseCidr } from '../../core/ipv4.js';
import type { BmcConnector } from '../port.js';
import { IpmiClient, type IpmiClientOptions } from './client.js';
import { ipmiBmcSession } from './session.js';

/**
 * The production connector. It also makes sure there is at most one open session per BMC in this
 * process: a second open for the same address waits for the first session to close.
 */
export interface IpmiConnectorOptions extends IpmiClientOptions {
  /** BMC addresses and CIDR blocks that may use IPMI 1.5 with MD5 (config `ipmi.allowIpmi15`); default none. */
  readonly allowIpmi15For?: readonly string[];
}

/** True when `address` is one of `ranges` (addresses or CIDR blocks). */
export function inAddressRanges(ranges: readonly string[], address: string): boolean {
  return ranges.some((range) => {
    if (range === address) return true;
    const cidr = range.includes('/') ? parseCidr(range) : null;
    return cidr !== null && cidrContains(cidr, address);
  });
}

export function ipmiConnector(options: IpmiConnectorOptions = {}): BmcConnector {
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
      const allowIpmi15 = options.allowIpmi15 === true || inAddressRanges(options.allowIpmi15For ?? [], target.address);
      const client = await IpmiClient.open(target, credentials, { ...options, allowIpmi15, quirks: options.quirksFor?.(target) ?? options.quirks });
      client.onClose(done);
      return ipmiBmcSession(client);
    } catch (error) {
      done();
      throw error;
    }
  };
}
