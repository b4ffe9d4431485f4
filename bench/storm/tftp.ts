/**
 * A firmware-like TFTP read (RFC 1350, 2347-2349, 7440) for the simulated machines, with
 * rackboot's own codec: RRQ with the options the real client asks for, ACK per window, the last
 * in-order block re-ACKed on duplicates and gaps, the RRQ or last ACK resent on timeout, and a
 * dally after the last block so a lost final ACK does not leave the server retransmitting.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { decodePacket, encodeAck, encodeError, encodeRequest, TFTP_ERROR, type TftpOption } from '../../server/protocol/tftp/codec.js';

export interface TftpCounters {
  transfers: number;
  timeouts: number;
  duplicateBlocks: number;
  gapAcks: number;
  errorsFromServer: number;
  unknownTid: number;
}

export function newTftpCounters(): TftpCounters {
  return { transfers: 0, timeouts: 0, duplicateBlocks: 0, gapAcks: 0, errorsFromServer: 0, unknownTid: 0 };
}

export interface TftpReadOptions {
  readonly server: string;
  readonly port: number;
  /** The machine's own address: the server attributes the transfer to the machine by it. */
  readonly localAddress: string;
  readonly file: string;
  readonly options: readonly TftpOption[];
  readonly timeoutMs: number;
  readonly maxTimeouts: number;
  readonly dallyMs: number;
  /** OVMF's size probe: read the OACK's tsize, then end the request with an ERROR. */
  readonly probeOnly?: boolean;
}

export class TftpError extends Error {
  override readonly name = 'TftpError';
}

/** Reads a file; resolves with its content (or, for a probe, an empty buffer and the tsize). */
export function tftpRead(opts: TftpReadOptions, counters: TftpCounters): Promise<{ data: Buffer; tsize: number | null }> {
  counters.transfers += 1;
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket('udp4');
    let tidPort: number | null = null;
    let blksize = 512;
    let windowsize = 1;
    let tsize: number | null = null;
    let lastInOrder = 0; // absolute block number
    let lastAckSent = -1;
    let sinceAck = 0;
    let timeouts = 0;
    let gotData = false;
    const chunks: Buffer[] = [];
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    const rrq = encodeRequest('rrq', opts.file, 'octet', opts.options);

    const send = (packet: Buffer, port: number): void => {
      socket.send(packet, port, opts.server, () => {});
    };
    const ack = (block: number): void => {
      if (tidPort === null) return;
      lastAckSent = block;
      send(encodeAck(block & 0xffff), tidPort);
    };
    const arm = (): void => {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(onTimeout, opts.timeoutMs);
    };
    const fail = (why: string): void => {
      if (done) return;
      done = true;
      if (timer !== null) clearTimeout(timer);
      socket.close();
      reject(new TftpError(why));
    };
    const finish = (): void => {
      done = true;
      if (timer !== null) clearTimeout(timer);
      const data = Buffer.concat(chunks);
      if (opts.dallyMs > 0) setTimeout(() => socket.close(), opts.dallyMs).unref();
      else socket.close();
      resolve({ data, tsize });
    };
    function onTimeout(): void {
      timeouts += 1;
      counters.timeouts += 1;
      if (timeouts > opts.maxTimeouts) {
        fail(`${opts.file}: no answer after ${opts.maxTimeouts} timeouts (block ${lastInOrder})`);
        return;
      }
      if (tidPort === null) send(rrq, opts.port);
      else ack(lastInOrder);
      arm();
    }

    const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
      if (rinfo.address !== opts.server) return;
      if (tidPort !== null && rinfo.port !== tidPort) {
        counters.unknownTid += 1;
        send(encodeError(TFTP_ERROR.unknownTransferId, 'Unknown transfer ID'), rinfo.port);
        return;
      }
      const decoded = decodePacket(msg);
      if (!decoded.ok) return;
      const packet = decoded.packet;
      if (done) {
        // dallying: the server did not see our last ACK
        if (packet.op === 'data' && (packet.block & 0xffff) === (lastInOrder & 0xffff)) ack(lastInOrder);
        return;
      }
      if (packet.op === 'error') {
        counters.errorsFromServer += 1;
        fail(`${opts.file}: server error ${packet.code}: ${packet.message}`);
        return;
      }
      if (packet.op === 'oack') {
        if (gotData) return;
        tidPort = rinfo.port;
        for (const { name, value } of packet.options) {
          const key = name.toLowerCase();
          if (key === 'blksize') blksize = Number(value);
          else if (key === 'windowsize') windowsize = Number(value);
          else if (key === 'tsize') tsize = Number(value);
        }
        timeouts = 0;
        if (opts.probeOnly) {
          send(encodeError(TFTP_ERROR.notDefined, 'tsize probe done'), rinfo.port);
          finish();
          return;
        }
        ack(0);
        arm();
        return;
      }
      if (packet.op !== 'data') return;
      if (tidPort === null) tidPort = rinfo.port; // the server ignored every option: plain RFC 1350
      gotData = true;
      const expected = (lastInOrder + 1) & 0xffff;
      if (packet.block !== expected) {
        if (((lastInOrder - packet.block) & 0xffff) < 0x8000) {
          counters.duplicateBlocks += 1; // an old block: our ACK was lost, say so again
          ack(lastInOrder);
        } else if (lastInOrder > lastAckSent) {
          counters.gapAcks += 1; // a gap: ACK what we have, the server resends from there
          ack(lastInOrder);
          sinceAck = 0;
        }
        return;
      }
      lastInOrder += 1;
      timeouts = 0;
      chunks.push(Buffer.from(packet.data));
      sinceAck += 1;
      if (packet.data.length < blksize) {
        ack(lastInOrder);
        finish();
        return;
      }
      if (sinceAck >= windowsize) {
        ack(lastInOrder);
        sinceAck = 0;
      }
      arm();
    };

    socket.on('message', onMessage);
    socket.on('error', (err) => fail(`${opts.file}: socket: ${err.message}`));
    socket.bind({ address: opts.localAddress, port: 0 }, () => {
      send(rrq, opts.port);
      arm();
    });
  });
}
