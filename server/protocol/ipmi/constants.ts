/**
 * IPMI v2.0 rev 1.1 numbers used by rackboot's LAN client: RMCP classes, session auth types,
 * RMCP+ payload types, NetFns, commands, privilege levels and addresses.
 */

export const IPMI_PORT = 623;

/** RMCP header: version 6, reserved, sequence 0xFF (no RMCP ACK), then the message class. */
export const RMCP_VERSION = 0x06;
export const RMCP_SEQUENCE_NO_ACK = 0xff;
export const RmcpClass = { asf: 0x06, ipmi: 0x07 } as const;

/** Session header "authentication type" byte; 6 marks the IPMI v2.0 RMCP+ format. */
export const AuthType = { none: 0x00, md2: 0x01, md5: 0x02, password: 0x04, oem: 0x05, rmcpPlus: 0x06 } as const;
export type AuthTypeValue = (typeof AuthType)[keyof typeof AuthType];

export const PayloadType = {
  ipmi: 0x00,
  sol: 0x01,
  oemExplicit: 0x02,
  openSessionRequest: 0x10,
  openSessionResponse: 0x11,
  rakp1: 0x12,
  rakp2: 0x13,
  rakp3: 0x14,
  rakp4: 0x15,
} as const;

export const Privilege = { callback: 0x01, user: 0x02, operator: 0x03, administrator: 0x04 } as const;
export type PrivilegeLevel = (typeof Privilege)[keyof typeof Privilege];

/** RAKP1 role bit: look the user up by name only (not name + privilege). */
export const RAKP_NAME_ONLY_LOOKUP = 0x10;

export const NetFn = { chassis: 0x00, app: 0x06, storage: 0x0a, transport: 0x0c } as const;

export const AppCmd = {
  getDeviceId: 0x01,
  getSystemGuid: 0x37,
  getChannelAuthCapabilities: 0x38,
  getSessionChallenge: 0x39,
  activateSession: 0x3a,
  setSessionPrivilege: 0x3b,
  closeSession: 0x3c,
  getChannelInfo: 0x42,
  getChannelCipherSuites: 0x54,
  getSystemInfoParameters: 0x59,
} as const;

export const ChassisCmd = {
  getStatus: 0x01,
  control: 0x02,
  setSystemBootOptions: 0x08,
  getSystemBootOptions: 0x09,
} as const;

export const StorageCmd = { getFruInventoryAreaInfo: 0x10, readFruData: 0x11 } as const;

export const TransportCmd = { getLanConfigParameters: 0x02 } as const;

/** IPMB addresses: the BMC's responder address and the software ID rackboot uses as requester. */
export const BMC_SLAVE_ADDRESS = 0x20;
export const REMOTE_CONSOLE_SWID = 0x81;

/** "This channel": the channel the request arrived on. */
export const CURRENT_CHANNEL = 0x0e;

/** Get Channel Info medium type for 802.3 LAN. */
export const CHANNEL_MEDIUM_LAN = 0x04;

export const LanParam = { ipAddress: 3, ipAddressSource: 4, macAddress: 5, subnetMask: 6, defaultGateway: 12 } as const;

export const BootParam = { setInProgress: 0, bootFlagValidClearing: 3, bootInfoAcknowledge: 4, bootFlags: 5 } as const;

/** Dell OEM Get System Info parameter with the embedded NICs' (LOM) MAC addresses, 11G and later. */
export const DELL_LOM_MAC_PARAMETER = 0xda;
