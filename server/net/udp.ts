import type { Socket } from 'node:dgram';

/** Closes a UDP socket; resolves also when it was closed already. */
export function closeSocket(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
