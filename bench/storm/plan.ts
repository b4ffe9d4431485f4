/**
 * What the storm client (bench/storm/client.ts, run inside the client namespace) is told to do,
 * and what it reports back as JSON lines on stdout. Shared by the bench and the real tests.
 */

export type SimFirmware = 'bios' | 'uefi';

export interface SimMachine {
  readonly mac: string;
  /** The reserved address; a secondary address on the client's eth0, so HTTP and TFTP come from it. */
  readonly ip: string;
  readonly uuid: string;
  readonly firmware: SimFirmware;
}

export interface RetryPolicy {
  /** Retransmission timeouts of the firmware's PXE DHCP client (PXE spec: 4, 8, 16, 32 s). */
  readonly firmwareDhcpMs: readonly number[];
  /** iPXE's DHCP retransmissions (it starts at 1 s and doubles). */
  readonly ipxeDhcpMs: readonly number[];
  /** TFTP: resend the last ACK (or the RRQ) after this long without data. */
  readonly tftpTimeoutMs: number;
  /** TFTP: give up a transfer after this many timeouts in a row, then start it again. */
  readonly tftpMaxTimeouts: number;
  /** Keep a finished transfer's socket to re-ACK a retransmitted last block (RFC 1350 dallying). */
  readonly tftpDallyMs: number;
  /** HTTP: a request with no answer for this long is abandoned and retried. */
  readonly httpTimeoutMs: number;
  /** HTTP: delay before the first retry; doubles up to 4 s. */
  readonly httpRetryMs: number;
  /** A machine that cannot go on (its token was spent by a request whose answer it never saw) reboots at most this often. */
  readonly maxBoots: number;
  /** How long a reboot takes before the firmware's first DISCOVER (a server's POST: 30 s to minutes). */
  readonly rebootMs: number;
}

export interface StormPlan {
  readonly serverAddress: string;
  /** http://<server>:<port>, as in the boot scripts. */
  readonly httpBase: string;
  readonly dhcpPort: number;
  readonly tftpPort: number;
  readonly machines: readonly SimMachine[];
  /** Machines power on spread evenly over this window (a rack's PDUs do not switch all outlets at once). */
  readonly rampMs: number;
  /** Pauses a real boot has between steps (iPXE start-up, kernel boot, installing); 0 = none. */
  readonly thinkMs: { readonly afterFirmware: number; readonly afterKernel: number; readonly beforeInstalled: number };
  readonly callbacks: readonly string[];
  /** Expected TFTP content (size and SHA-256) by file name, to check every transfer. */
  readonly tftpFiles: Readonly<Record<string, { readonly size: number; readonly sha256: string }>>;
  readonly retry: RetryPolicy;
  /** The whole storm stops here, finished or not. */
  readonly deadlineMs: number;
  /** Print every acknowledged state change (durability drill). */
  readonly reportAcks: boolean;
  /** A registered machine the client DISCOVERs for on request (`probe` on stdin), every 10 ms until answered. */
  readonly probe?: { readonly mac: string };
}

export const FIRMWARE_RETRY: RetryPolicy = {
  firmwareDhcpMs: [4000, 8000, 16000, 32000],
  ipxeDhcpMs: [1000, 2000, 4000, 8000, 16000],
  tftpTimeoutMs: 1000,
  tftpMaxTimeouts: 8,
  tftpDallyMs: 3000,
  httpTimeoutMs: 15_000,
  httpRetryMs: 250,
  maxBoots: 5,
  rebootMs: 500,
};

export const STEPS = [
  'dhcp-firmware',
  'tftp',
  'dhcp-ipxe',
  'boot.ipxe',
  'script',
  'kernel',
  'initrd',
  'cloud-config',
  'callback',
  'machine',
] as const;
export type StepName = (typeof STEPS)[number];

/** Something the server acknowledged to a machine: what must survive a crash. */
export type Ack =
  | { readonly kind: 'lease'; readonly mac: string; readonly ip: string; readonly at: number }
  | { readonly kind: 'script'; readonly mac: string; readonly bootToken: string; readonly at: number }
  | { readonly kind: 'config'; readonly mac: string; readonly at: number }
  | { readonly kind: 'event'; readonly mac: string; readonly type: string; readonly id: number; readonly at: number };

export interface StepSummary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface StormReport {
  readonly machines: number;
  readonly installed: number;
  readonly failed: number;
  readonly unfinished: number;
  /** First power-on to last `installed` acknowledged (or to the deadline). */
  readonly wallMs: number;
  readonly steps: Readonly<Record<string, StepSummary>>;
  readonly counters: Readonly<Record<string, number>>;
  /** Up to 20 distinct failure reasons with their counts. */
  readonly errors: ReadonlyArray<{ readonly reason: string; readonly count: number }>;
  readonly clientCpuSeconds: number;
}

export type ClientLine =
  | { readonly t: 'ready'; readonly at: number }
  | { readonly t: 'ack'; readonly ack: Ack }
  | { readonly t: 'progress'; readonly installed: number; readonly failed: number; readonly at: number }
  | { readonly t: 'probe'; readonly sentAt: number; readonly answeredAt: number; readonly attempts: number }
  | { readonly t: 'report'; readonly report: StormReport };
