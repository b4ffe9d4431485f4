/**
 * Completion codes (IPMI v2.0 table 5-2) and RMCP+ session-setup status codes (table 13-15), as
 * text an operator can act on.
 */

export const CompletionCode = {
  ok: 0x00,
  nodeBusy: 0xc0,
  invalidCommand: 0xc1,
  invalidForLun: 0xc2,
  timeout: 0xc3,
  outOfSpace: 0xc4,
  reservationCancelled: 0xc5,
  requestTruncated: 0xc6,
  requestLengthInvalid: 0xc7,
  requestLengthExceeded: 0xc8,
  parameterOutOfRange: 0xc9,
  cannotReturnRequestedBytes: 0xca,
  notPresent: 0xcb,
  invalidDataField: 0xcc,
  illegalForSensor: 0xcd,
  responseUnavailable: 0xce,
  duplicateRequest: 0xcf,
  sdrUpdateMode: 0xd0,
  firmwareUpdateMode: 0xd1,
  initializing: 0xd2,
  destinationUnavailable: 0xd3,
  insufficientPrivilege: 0xd4,
  notSupportedInPresentState: 0xd5,
  subFunctionDisabled: 0xd6,
  unspecified: 0xff,
} as const;

const COMPLETION_TEXT: Readonly<Record<number, string>> = {
  0x00: 'command completed normally',
  0xc0: 'node busy',
  0xc1: 'invalid command (not supported by this BMC)',
  0xc2: 'command invalid for the given LUN',
  0xc3: 'timeout while processing the command',
  0xc4: 'out of space',
  0xc5: 'reservation cancelled or invalid',
  0xc6: 'request data truncated',
  0xc7: 'request data length invalid',
  0xc8: 'request data field length limit exceeded',
  0xc9: 'parameter out of range',
  0xca: 'cannot return the number of requested data bytes',
  0xcb: 'requested sensor, data or record not present',
  0xcc: 'invalid data field in request',
  0xcd: 'command illegal for the specified sensor or record type',
  0xce: 'command response could not be provided',
  0xcf: 'cannot execute a duplicated request',
  0xd0: 'SDR repository in update mode',
  0xd1: 'device in firmware update mode',
  0xd2: 'BMC initialization in progress',
  0xd3: 'destination unavailable',
  0xd4: 'insufficient privilege level',
  0xd5: 'not supported in the present state',
  0xd6: 'parameter is illegal because a sub-function is disabled or unavailable',
  0xff: 'unspecified error',
};

/** Codes 0x80-0xBE are command-specific; these are the ones rackboot's commands define. */
const COMMAND_SPECIFIC_TEXT: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  // Get/Set System Boot Options, Get LAN Configuration Parameters, Get System Info Parameters
  parameter: { 0x80: 'parameter not supported', 0x81: 'attempt to set "set in progress" while already set', 0x82: 'attempt to write a read-only parameter' },
  activateSession: {
    0x81: 'no session slot available',
    0x82: 'no slot available for this user',
    0x83: 'no slot available at the requested privilege',
    0x84: 'session sequence number out of range',
    0x85: 'invalid session ID',
    0x86: 'requested privilege exceeds the user or channel limit',
  },
  getSessionChallenge: { 0x81: 'invalid user name', 0x82: 'null user name not enabled' },
  setSessionPrivilege: { 0x80: 'requested level not available for this user', 0x81: 'requested level exceeds the channel or user limit', 0x82: 'cannot disable user-level authentication' },
  readFruData: { 0x81: 'FRU device busy' },
};

export type CommandFamily = keyof typeof COMMAND_SPECIFIC_TEXT;

export function describeCompletionCode(code: number, family?: CommandFamily): string {
  const specific = family ? COMMAND_SPECIFIC_TEXT[family]?.[code] : undefined;
  if (specific) return specific;
  const text = COMPLETION_TEXT[code];
  if (text) return text;
  if (code >= 0x01 && code <= 0x7e) return 'device-specific (OEM) completion code';
  if (code >= 0x80 && code <= 0xbe) return 'command-specific completion code';
  return 'unknown completion code';
}

export function hex2(value: number): string {
  return `0x${value.toString(16).padStart(2, '0')}`;
}

/** RMCP+ status codes carried in Open Session Response and RAKP messages 2 and 4. */
export const RmcpPlusStatus = {
  ok: 0x00,
  insufficientResources: 0x01,
  invalidSessionId: 0x02,
  invalidPayloadType: 0x03,
  invalidAuthenticationAlgorithm: 0x04,
  invalidIntegrityAlgorithm: 0x05,
  noMatchingAuthenticationPayload: 0x06,
  noMatchingIntegrityPayload: 0x07,
  inactiveSessionId: 0x08,
  invalidRole: 0x09,
  unauthorizedRole: 0x0a,
  insufficientResourcesForRole: 0x0b,
  invalidNameLength: 0x0c,
  unauthorizedName: 0x0d,
  unauthorizedGuid: 0x0e,
  invalidIntegrityCheckValue: 0x0f,
  invalidConfidentialityAlgorithm: 0x10,
  noCipherSuiteMatch: 0x11,
  illegalParameter: 0x12,
} as const;

const STATUS_TEXT: Readonly<Record<number, string>> = {
  0x00: 'no errors',
  0x01: 'insufficient resources to create a session',
  0x02: 'invalid session ID',
  0x03: 'invalid payload type',
  0x04: 'invalid authentication algorithm',
  0x05: 'invalid integrity algorithm',
  0x06: 'no matching authentication payload',
  0x07: 'no matching integrity payload',
  0x08: 'inactive session ID',
  0x09: 'invalid role',
  0x0a: 'unauthorized role or privilege level requested',
  0x0b: 'insufficient resources to create a session at the requested role',
  0x0c: 'invalid name length',
  0x0d: 'unauthorized name',
  0x0e: 'unauthorized GUID',
  0x0f: 'invalid integrity check value',
  0x10: 'invalid confidentiality algorithm',
  0x11: 'no cipher suite match with the proposed security algorithms',
  0x12: 'illegal or unrecognized parameter',
};

export function describeRmcpPlusStatus(code: number): string {
  return STATUS_TEXT[code] ?? `unknown RMCP+ status ${hex2(code)}`;
}

/** Statuses meaning "this BMC does not do the proposed cipher suite": try the next one. */
export function isCipherSuiteRefusal(code: number): boolean {
  return (
    code === RmcpPlusStatus.invalidAuthenticationAlgorithm ||
    code === RmcpPlusStatus.invalidIntegrityAlgorithm ||
    code === RmcpPlusStatus.noMatchingAuthenticationPayload ||
    code === RmcpPlusStatus.noMatchingIntegrityPayload ||
    code === RmcpPlusStatus.invalidConfidentialityAlgorithm ||
    code === RmcpPlusStatus.noCipherSuiteMatch ||
    code === RmcpPlusStatus.illegalParameter
  );
}

/** Statuses that mean the credentials (user name, role) were refused. */
export function isCredentialRefusal(code: number): boolean {
  return (
    code === RmcpPlusStatus.unauthorizedName ||
    code === RmcpPlusStatus.unauthorizedRole ||
    code === RmcpPlusStatus.invalidRole ||
    code === RmcpPlusStatus.invalidNameLength ||
    code === RmcpPlusStatus.invalidIntegrityCheckValue
  );
}
