/**
 * The Redfish flavours of the port's error classes (same kinds as IPMI's). `redfishAbsent` in the
 * detail marks "no Redfish service here" (nothing listening, no service root): only then does
 * `protocol: auto` go on to IPMI. A refused certificate or a wrong password never falls back.
 */
import { BmcAuthError, BmcCommandError, BmcProtocolError, BmcTimeoutError, BmcUnsupportedError } from '../port.js';

export class RedfishAuthError extends BmcAuthError {
  override readonly name = 'RedfishAuthError';
}

/** Connected, but no complete answer in time. */
export class RedfishTimeoutError extends BmcTimeoutError {
  override readonly name = 'RedfishTimeoutError';
}

/** Nothing answers HTTP(S) there (refused, unreachable, reset): no Redfish service at this address. */
export class RedfishUnreachableError extends BmcTimeoutError {
  override readonly name = 'RedfishUnreachableError';
  constructor(message: string, address: string, options?: { cause?: unknown }) {
    super(message, address, { ...options, detail: { redfishAbsent: true } });
  }
}

/** An HTTP error status from the service, with its @Message.ExtendedInfo text in the message. */
export class RedfishCommandError extends BmcCommandError {
  override readonly name = 'RedfishCommandError';
  constructor(
    message: string,
    address: string,
    readonly status: number,
    options?: { redfishAbsent?: boolean },
  ) {
    super(message, address, { detail: options?.redfishAbsent ? { status, redfishAbsent: true } : { status } });
  }
}

/** Malformed answers: not JSON, no service root, too large, a task that never ends. */
export class RedfishProtocolError extends BmcProtocolError {
  override readonly name = 'RedfishProtocolError';
}

/** The TLS certificate is not the one recorded at first contact, or the CA does not sign it. */
export class RedfishTrustError extends BmcProtocolError {
  override readonly name = 'RedfishTrustError';
}

/** The system offers no reset type or boot target rackboot can use for the request. */
export class RedfishUnsupportedError extends BmcUnsupportedError {
  override readonly name = 'RedfishUnsupportedError';
}
