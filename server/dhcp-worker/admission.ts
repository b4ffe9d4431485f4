/**
 * Load shedding by MAC (issue 18): when the DHCP queue is deep, finish the machines already being
 * answered and drop new ones early, instead of answering everyone too late (firmware gives up after
 * a few seconds and reboots, which doubles the load). Pure: the caller passes the clock and the
 * queue depth.
 *
 * - A MAC is admitted when it is seen while the queue is below `queueBound`, or when it sends
 *   anything but a DISCOVER (a REQUEST, DECLINE, RELEASE or INFORM comes from a machine that got an
 *   OFFER or holds a lease: it is finished first, whatever the queue).
 * - An admitted MAC stays admitted while it keeps talking (`idleMs` after its last packet), so the
 *   second DORA of a PXE boot (the chained iPXE) is admitted as well.
 * - The admitted set is bounded (`maxAdmitted`); when it is full of live entries a new MAC is shed
 *   even below the bound (an admitted machine is never evicted to make room).
 * - Memory stays bounded whatever arrives: with `held` packets in the process at 4x `queueBound`
 *   (at least 64), even admitted MACs are shed and wait for their retransmit.
 */

export interface AdmissionLimits {
  /** Pending packets above which DISCOVERs from MACs not yet admitted are shed. */
  readonly queueBound: number;
  /** Most MACs tracked at once. */
  readonly maxAdmitted: number;
  /** An admitted MAC silent this long is forgotten. */
  readonly idleMs: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = { queueBound: 256, maxAdmitted: 8192, idleMs: 120_000 };

export type AdmissionVerdict = 'admit' | 'shed';

export interface AdmissionStats {
  admitted: number;
  shed: number;
  /** MACs in the admitted set now. */
  admittedMacs: number;
}

export class DhcpAdmission {
  private readonly limits: AdmissionLimits;
  /** MAC -> time of its last packet; Map order is insertion order, refreshed on every packet (oldest first). */
  private readonly seen = new Map<string, number>();
  readonly stats: AdmissionStats = { admitted: 0, shed: 0, admittedMacs: 0 };
  private readonly hardLimit: number;

  constructor(limits: Partial<AdmissionLimits> = {}) {
    this.limits = { ...DEFAULT_ADMISSION, ...limits };
    this.hardLimit = Math.max(4 * this.limits.queueBound, 64);
  }

  /**
   * One packet: `discover` is true for a DISCOVER (or BOOTP request without option 53), `queued`
   * the packets waiting before this one, `held` those of them already read into the process.
   */
  decide(mac: string, discover: boolean, queued: number, now: number, held = 0): AdmissionVerdict {
    if (held >= this.hardLimit) {
      this.stats.shed += 1;
      return 'shed';
    }
    this.expire(now);
    const known = this.seen.has(mac);
    if (known || !discover || (queued < this.limits.queueBound && this.seen.size < this.limits.maxAdmitted)) {
      if (!known && this.seen.size >= this.limits.maxAdmitted) {
        // a mid-conversation packet from a MAC we do not track and no room: answer it, track nothing
        this.stats.admitted += 1;
        return 'admit';
      }
      this.seen.delete(mac);
      this.seen.set(mac, now);
      this.stats.admitted += 1;
      this.stats.admittedMacs = this.seen.size;
      return 'admit';
    }
    this.stats.shed += 1;
    return 'shed';
  }

  /** Whether `mac` is in the admitted set now. */
  isAdmitted(mac: string): boolean {
    return this.seen.has(mac);
  }

  private expire(now: number): void {
    for (const [mac, at] of this.seen) {
      if (now - at < this.limits.idleMs) break;
      this.seen.delete(mac);
    }
    this.stats.admittedMacs = this.seen.size;
  }
}
