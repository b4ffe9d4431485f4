/**
 * The IPMI flavours of the port's error classes: the same kinds (callers test `kind` or the
 * Bmc*Error base classes), IPMI names in stack traces, and the completion code of a failed command.
 */
import { BmcAuthError, BmcCommandError, BmcProtocolError, BmcTimeoutError, BmcUnsupportedError } from '../port.js';

/** Wrong user name or password (RAKP2 HMAC mismatch, "unauthorized name"), refused privilege. */
export class IpmiAuthError extends BmcAuthError {
  override readonly name = 'IpmiAuthError';
}

/** No answer after the bounded retries. */
export class IpmiTimeoutError extends BmcTimeoutError {
  override readonly name = 'IpmiTimeoutError';
}

/** The BMC answered with a non-zero completion code. */
export class IpmiCommandError extends BmcCommandError {
  override readonly name = 'IpmiCommandError';
  constructor(
    message: string,
    address: string,
    readonly completionCode: number,
    readonly netFn: number,
    readonly cmd: number,
  ) {
    super(message, address, { detail: { completionCode } });
  }
}

/** Malformed or inconsistent answers (bad checksum, failed integrity check, wrong session). */
export class IpmiProtocolError extends BmcProtocolError {
  override readonly name = 'IpmiProtocolError';
}

/** Only cipher suite 0, or IPMI 1.5 without MD5. */
export class IpmiUnsupportedError extends BmcUnsupportedError {
  override readonly name = 'IpmiUnsupportedError';
}
