/** Malformed or unexpected bytes from a BMC. The adapter turns these into IpmiProtocolError. */
export class IpmiDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IpmiDecodeError';
  }
}

/** Throws IpmiDecodeError unless `data` has at least `length` bytes. */
export function need(data: Uint8Array, length: number, what: string): void {
  if (data.length < length) throw new IpmiDecodeError(`${what}: ${data.length} bytes, need at least ${length}`);
}
