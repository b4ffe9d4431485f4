/** The UDP socket of one IPMI session: datagrams from one BMC, one request outstanding at a time. */
import { createSocket, type Socket } from 'node:dgram';

/** Waits for datagrams from one BMC; one request is outstanding at a time. */
export class Transport {
  readonly #socket: Socket;
  #waiter: ((packet: Buffer) => void) | null = null;
  #closed = false;

  private constructor(
    socket: Socket,
    readonly address: string,
    readonly port: number,
  ) {
    this.#socket = socket;
    socket.on('message', (packet, remote) => {
      if (remote.address !== this.address || remote.port !== this.port) return;
      this.#waiter?.(packet);
    });
    socket.on('error', () => {
      // Send errors surface through send(); late errors after close are irrelevant.
    });
  }

  static async open(address: string, port: number, bindAddress?: string): Promise<Transport> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: 0, ...(bindAddress ? { address: bindAddress } : {}) }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new Transport(socket, address, port);
  }

  send(packet: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.send(packet, this.port, this.address, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Starts waiting (before the request is sent, so no answer can slip past): resolves with the
   * first packet `accept` maps to a value, or undefined after `timeoutMs` or cancel().
   */
  receive<T>(accept: (packet: Buffer) => T | undefined, timeoutMs: number): { result: Promise<T | undefined>; cancel(): void } {
    let finish!: (value: T | undefined) => void;
    const result = new Promise<T | undefined>((resolve) => {
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      finish = (value) => {
        clearTimeout(timer);
        this.#waiter = null;
        resolve(value);
      };
      this.#waiter = (packet) => {
        const value = accept(packet);
        if (value !== undefined) finish(value);
      };
    });
    return { result, cancel: () => finish(undefined) };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter = null;
    this.#socket.close();
  }
}
