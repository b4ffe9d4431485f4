/**
 * Which protocol (and, for Redfish, which endpoint) each BMC gets: the config's BMC ranges
 * (`ipmi.ranges`), the narrowest range containing the address winning. One BmcConnector for both
 * protocols: `auto` tries Redfish and goes on to IPMI only when no Redfish service answers there
 * (never after a refused password or certificate: that would be a downgrade).
 */
import { cidrContains, parseCidr } from '../core/ipv4.js';
import { isBmcError, type BmcConnector, type BmcTarget } from './port.js';

export const BMC_PROTOCOLS = ['redfish', 'ipmi', 'auto'] as const;
export type BmcProtocol = (typeof BMC_PROTOCOLS)[number];

export interface BmcRange {
  /** An address or a CIDR block. */
  readonly range: string;
  readonly protocol: BmcProtocol;
  /** Redfish over HTTP instead of HTTPS: labs only. */
  readonly scheme?: 'https' | 'http';
  /** The Redfish port (default 443 for HTTPS, 80 for HTTP). */
  readonly port?: number;
  /** PEM CA file for the BMC certificates; without it, the fingerprint is trusted on first use. */
  readonly caFile?: string;
}

export interface RedfishEndpointSetting {
  readonly address: string;
  readonly port: number;
  readonly scheme: 'https' | 'http';
  readonly caFile?: string;
}

/** The range an address falls in: an exact address first, then the narrowest block. */
export function rangeFor(ranges: readonly BmcRange[], address: string): BmcRange | null {
  let best: { prefix: number; range: BmcRange } | null = null;
  for (const range of ranges) {
    if (range.range === address) return range;
    const cidr = range.range.includes('/') ? parseCidr(range.range) : null;
    if (cidr && cidrContains(cidr, address) && (!best || cidr.prefix > best.prefix)) best = { prefix: cidr.prefix, range };
  }
  return best?.range ?? null;
}

export function protocolFor(ranges: readonly BmcRange[], address: string, fallback: BmcProtocol = 'ipmi'): BmcProtocol {
  return rangeFor(ranges, address)?.protocol ?? fallback;
}

export function redfishEndpointFor(ranges: readonly BmcRange[], target: BmcTarget): RedfishEndpointSetting {
  const range = rangeFor(ranges, target.address);
  const scheme = range?.scheme ?? 'https';
  return {
    address: target.address,
    port: range?.port ?? (scheme === 'https' ? 443 : 80),
    scheme,
    ...(range?.caFile ? { caFile: range.caFile } : {}),
  };
}

/** True when the error says "no Redfish service at this address" (nothing listening, no service root). */
export function redfishAbsent(error: unknown): boolean {
  return isBmcError(error) && error.detail?.redfishAbsent === true;
}

export function protocolConnector(deps: { readonly ipmi: BmcConnector; readonly redfish: BmcConnector; readonly protocolFor: (address: string) => BmcProtocol }): BmcConnector {
  return async (target, credentials) => {
    const protocol = deps.protocolFor(target.address);
    if (protocol === 'ipmi') return deps.ipmi(target, credentials);
    if (protocol === 'redfish') return deps.redfish(target, credentials);
    try {
      return await deps.redfish(target, credentials);
    } catch (redfishError) {
      if (!redfishAbsent(redfishError)) throw redfishError;
      try {
        return await deps.ipmi(target, credentials);
      } catch (ipmiError) {
        if (ipmiError instanceof Error) ipmiError.message = `Redfish: ${(redfishError as Error).message}; IPMI: ${ipmiError.message}`;
        throw ipmiError;
      }
    }
  };
}

/** The protocol a recorded session summary names ("redfish https session", "rmcp+ suite 17"). */
export function protocolOfSession(summary: string | null): 'redfish' | 'ipmi' | null {
  if (summary === null) return null;
  return summary.startsWith('redfish') ? 'redfish' : 'ipmi';
}
