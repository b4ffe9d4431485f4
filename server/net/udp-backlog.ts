/**
 * How much waits in the kernel's receive queues of our UDP sockets: Node reads at most 32
 * datagrams per event-loop turn, so under a burst the backlog is in the kernel, not in JavaScript.
 * Linux reports it per socket in /proc/net/udp (rx_queue: bytes of buffer the queued datagrams
 * take, about 1 KiB each for a DHCP request). Elsewhere, or when the file cannot be read: 0.
 */
import { readFileSync } from 'node:fs';

/** Buffer bytes one queued small datagram takes (its skb truesize), for turning bytes into packets. */
export const BYTES_PER_QUEUED_DATAGRAM = 1024;

/** Sum of rx_queue over the sockets bound to one of `ports` (the text of /proc/net/udp). */
export function receiveQueueBytes(procNetUdp: string, ports: ReadonlySet<number>): number {
  let total = 0;
  for (const line of procNetUdp.split('\n')) {
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..." e.g. "  12: 00000000:0043 00000000:0000 07 00000000:00000300 ..."
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    const queues = fields[4];
    if (local === undefined || queues === undefined || !/^[0-9A-F]+:[0-9A-F]{4}$/i.test(local)) continue;
    const port = parseInt(local.slice(local.indexOf(':') + 1), 16);
    if (!ports.has(port)) continue;
    const rx = parseInt(queues.slice(queues.indexOf(':') + 1), 16);
    if (Number.isFinite(rx)) total += rx;
  }
  return total;
}

/**
 * Samples the backlog of `ports` every `intervalMs`. `packets` is the latest sample less the
 * datagrams read since (`consumed()` once per datagram read), so a burst being drained is not
 * seen as deep for up to a whole interval.
 */
export function startBacklogSampler(ports: readonly number[], intervalMs = 50, read = () => readFileSync('/proc/net/udp', 'utf8')) {
  const wanted = new Set(ports);
  let sampled = 0;
  let readSince = 0;
  let failed = false;
  const sample = (): void => {
    if (failed) return;
    try {
      sampled = Math.floor(receiveQueueBytes(read(), wanted) / BYTES_PER_QUEUED_DATAGRAM);
    } catch {
      failed = true;
      sampled = 0;
    }
    readSince = 0;
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    get packets() { return Math.max(0, sampled - readSince); },
    consumed: () => {
      readSince += 1;
    },
    stop: () => clearInterval(timer),
  };
}
