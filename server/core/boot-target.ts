import { architectureInfo, type BootPlatform, type ClientInfo } from './client-info.js';

/** iPXE builds served over TFTP (and over HTTP to UEFI HTTP-boot clients), by platform. */
export interface BootFiles {
  readonly bios: string;
  readonly efiX64: string;
  readonly efiIa32?: string;
  readonly efiArm64: string;
}

export interface BootTargetSettings {
  /** e.g. "http://10.98.0.1:8080", without a trailing slash (one is tolerated). */
  readonly httpBaseUrl: string;
  readonly bootFiles: BootFiles;
  /** Replace any iPXE the firmware carries with rackboot's own build, once per boot. */
  readonly chainloadEmbeddedIpxe: boolean;
  /** How long after handing out an iPXE binary the next iPXE request counts as the chained one. */
  readonly chainWindowMs: number;
}

/** Loop-break state of the machine (per MAC): when rackboot last handed it an iPXE binary. */
export interface ChainState {
  readonly ipxeChainedAt: number | null;
  readonly now: number;
}

export type BootTarget =
  /** `chainsIpxe`: the file is an iPXE binary, so the machine's next iPXE request is the chained one. */
  | { readonly kind: 'tftp'; readonly file: string; readonly chainsIpxe: boolean; readonly rule: string }
  | { readonly kind: 'http'; readonly url: string; readonly chainsIpxe: boolean; readonly rule: string }
  | { readonly kind: 'none'; readonly reason: string; readonly rule: string };

interface RuleContext {
  readonly client: ClientInfo;
  readonly settings: BootTargetSettings;
  /** The iPXE build for the client's platform, or null when rackboot has none. */
  readonly binary: string | null;
  readonly recentlyChained: boolean;
}

interface BootRule {
  readonly name: string;
  readonly when: (c: RuleContext) => boolean;
  readonly target: (c: RuleContext) => BootTarget;
}

const wantsOwnIpxe = (c: RuleContext): boolean => c.settings.chainloadEmbeddedIpxe || !c.client.ipxeHasHttp;

/**
 * The boot-file table. The first rule whose `when` holds decides:
 *
 * 1. ipxe-chain: an iPXE client that should run rackboot's own build (chainloading is configured,
 *    or its iPXE lacks HTTP) and was not handed one within `chainWindowMs` -> that build over TFTP.
 *    ROM iPXE and a chained undionly.kpxe look identical on the wire (lab-notes gotcha 3), so the
 *    loop is broken by the per-machine `ipxeChainedAt`, never by option matching.
 * 2. ipxe-script: an iPXE client with HTTP -> `${httpBaseUrl}/boot.ipxe`.
 * 3. ipxe-without-http: any other iPXE client (no HTTP, and already chained or no build) -> nothing.
 * 4. http-boot: option 60 "HTTPClient" on a platform with a build -> URL `${httpBaseUrl}/ipxe/<file>`.
 * 5. http-boot-unsupported: other HTTPClient -> nothing.
 * 6. pxe: option 60 "PXEClient" on a platform with a build -> that build over TFTP.
 * 7. pxe-unsupported: other PXEClient (unknown or unsupported architecture) -> nothing.
 * 8. plain-dhcp: everything else (an OS's DHCP client) -> no boot information.
 */
export const BOOT_RULES: readonly BootRule[] = [
  {
    name: 'ipxe-chain',
    when: (c) => c.client.isIpxe && wantsOwnIpxe(c) && !c.recentlyChained && c.binary !== null,
    target: (c) => tftp(c, 'ipxe-chain'),
  },
  {
    name: 'ipxe-script',
    when: (c) => c.client.isIpxe && c.client.ipxeHasHttp,
    target: (c) => ({ kind: 'http', url: `${baseUrl(c.settings)}/boot.ipxe`, chainsIpxe: false, rule: 'ipxe-script' }),
  },
  {
    name: 'ipxe-without-http',
    when: (c) => c.client.isIpxe,
    target: (c) => none('ipxe-without-http', c.binary === null
      ? `iPXE without HTTP support on ${c.client.archName}, and no iPXE build for that platform`
      : 'iPXE without HTTP support, already handed rackboot\'s iPXE (chain loop broken)'),
  },
  {
    name: 'http-boot',
    when: (c) => c.client.isHttpClient && c.binary !== null,
    target: (c) => ({
      kind: 'http', url: `${baseUrl(c.settings)}/ipxe/${c.binary ?? ''}`, chainsIpxe: true, rule: 'http-boot',
    }),
  },
  {
    name: 'http-boot-unsupported',
    when: (c) => c.client.isHttpClient,
    target: (c) => none('http-boot-unsupported', `no iPXE build for HTTP-boot client architecture ${c.client.archName}`),
  },
  {
    name: 'pxe',
    when: (c) => c.client.isPxeClient && c.binary !== null,
    target: (c) => tftp(c, 'pxe'),
  },
  {
    name: 'pxe-unsupported',
    when: (c) => c.client.isPxeClient,
    target: (c) => none('pxe-unsupported', `no boot file for PXE client architecture ${c.client.archName}`),
  },
  {
    name: 'plain-dhcp',
    when: () => true,
    target: () => none('plain-dhcp', 'not a network-boot client'),
  },
];

export function chooseBootTarget(client: ClientInfo, settings: BootTargetSettings, chain: ChainState): BootTarget {
  const context: RuleContext = {
    client,
    settings,
    binary: binaryFor(architectureInfo(client.arch).platform, settings.bootFiles),
    recentlyChained: chain.ipxeChainedAt !== null && chain.now - chain.ipxeChainedAt < settings.chainWindowMs,
  };
  for (const rule of BOOT_RULES) {
    if (rule.when(context)) return rule.target(context);
  }
  return none('plain-dhcp', 'not a network-boot client');
}

function binaryFor(platform: BootPlatform | null, files: BootFiles): string | null {
  if (platform === null) return null;
  return files[platform] ?? null;
}

function tftp(c: RuleContext, rule: string): BootTarget {
  return { kind: 'tftp', file: c.binary ?? '', chainsIpxe: true, rule };
}

function none(rule: string, reason: string): BootTarget {
  return { kind: 'none', reason, rule };
}

function baseUrl(settings: BootTargetSettings): string {
  return settings.httpBaseUrl.replace(/\/+$/, '');
}
