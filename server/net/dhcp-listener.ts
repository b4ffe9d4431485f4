import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Endpoint } from '../core/types.js';
import type { Logger } from '../log.js';
import { messageTypeName } from '../protocol/dhcp/constants.js';
import { decodeDhcp } from '../protocol/dhcp/decode.js';
import { encodeDhcp } from '../protocol/dhcp/encode.js';
import { messageType } from '../protocol/dhcp/options.js';
import type { DhcpPacket } from '../protocol/dhcp/packet.js';

export interface DhcpReplyPlan {
  readonly reply: DhcpPacket;
  readonly destination: Endpoint;
  /** Largest payload the client accepts; a larger reply is not sent and counts as an error. */
  readonly maxSize?: number;
}

export interface ReceivedOn {
  /** The local port the request arrived on: 67, or the PXE boot-server port (4011). */
  readonly localPort: number;
}

/** Decides one request. Return null to stay silent. May throw: the listener logs and counts it. */
export type DhcpHandler = (
  packet: DhcpPacket,
  source: Endpoint,
  receivedOn: ReceivedOn,
) => DhcpReplyPlan | null | Promise<DhcpReplyPlan | null>;

export interface DhcpListenerOptions {
  /** '0.0.0.0' to receive broadcasts (a socket bound to a unicast address does not). */
  readonly address: string;
  readonly port: number;
  /** Optional second socket for PXE boot-server requests (4011); its replies leave through it. */
  readonly pxePort?: number;
  readonly logger: Logger;
  readonly handle: DhcpHandler;
}

export interface DhcpListenerStats {
  received: number;
  malformed: number;
  replied: number;
  ignored: number;
  errors: number;
}

export interface DhcpListener {
  readonly port: number;
  readonly pxePort: number | null;
  readonly stats: Readonly<DhcpListenerStats>;
  close(): Promise<void>;
}

/** Binds the DHCP socket(s): decode, one call to `handle`, encode, send. A bad packet never stops it. */
export async function startDhcpListener(options: DhcpListenerOptions): Promise<DhcpListener> {
  const { logger } = options;
  const stats: DhcpListenerStats = { received: 0, malformed: 0, replied: 0, ignored: 0, errors: 0 };

  const serve = (socket: Socket, localPort: number) => (msg: Buffer, rinfo: RemoteInfo): void => {
    stats.received += 1;
    const decoded = decodeDhcp(msg);
    if (!decoded.ok) {
      stats.malformed += 1;
      logger.info({ from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, error: decoded.error }, 'dhcp: malformed packet dropped');
      return;
    }
    void answer(socket, decoded.packet, { address: rinfo.address, port: rinfo.port }, localPort);
  };

  const answer = async (socket: Socket, packet: DhcpPacket, source: Endpoint, localPort: number): Promise<void> => {
    const summary = { type: messageTypeName(messageType(packet)), mac: packet.mac, xid: packet.xid, from: `${source.address}:${source.port}` };
    let plan: DhcpReplyPlan | null;
    let bytes: Buffer;
    try {
      plan = await options.handle(packet, source, { localPort });
      if (plan === null) {
        stats.ignored += 1;
        logger.debug(summary, 'dhcp: no reply');
        return;
      }
      bytes = encodeDhcp(plan.reply, plan.maxSize === undefined ? {} : { maxSize: plan.maxSize });
    } catch (err) {
      stats.errors += 1;
      logger.error({ ...summary, err }, 'dhcp: handling failed; no reply sent');
      return;
    }
    const { destination, reply } = plan;
    socket.send(bytes, destination.port, destination.address, (err) => {
      if (err) {
        stats.errors += 1;
        logger.error({ ...summary, to: `${destination.address}:${destination.port}`, err }, 'dhcp: send failed');
        return;
      }
      stats.replied += 1;
      logger.debug({ ...summary, reply: messageTypeName(messageType(reply)), yiaddr: reply.yiaddr, to: `${destination.address}:${destination.port}` }, 'dhcp: replied');
    });
  };

  const sockets: Socket[] = [];
  try {
    const main = await bindSocket(options.address, options.port);
    sockets.push(main);
    main.on('message', serve(main, main.address().port));
    let pxePort: number | null = null;
    if (options.pxePort !== undefined) {
      const pxe = await bindSocket(options.address, options.pxePort);
      sockets.push(pxe);
      pxePort = pxe.address().port;
      pxe.on('message', serve(pxe, pxePort));
    }
    for (const socket of sockets) {
      socket.on('error', (err) => {
        stats.errors += 1;
        logger.error({ err }, 'dhcp: socket error');
      });
    }
    logger.info({ address: options.address, port: main.address().port, pxePort }, 'dhcp: listening');
    return {
      port: main.address().port,
      pxePort,
      stats,
      close: () => Promise.all(sockets.map(closeSocket)).then(() => undefined),
    };
  } catch (err) {
    await Promise.all(sockets.map(closeSocket));
    throw err;
  }
}

function bindSocket(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const onError = (err: Error): void => {
      closeSocket(socket).finally(() => reject(err));
    };
    socket.once('error', onError);
    socket.bind({ address, port }, () => {
      socket.off('error', onError);
      socket.setBroadcast(true);
      resolve(socket);
    });
  });
}

function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
