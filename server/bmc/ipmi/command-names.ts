/** Human names of the IPMI commands rackboot sends, for error messages. */
import { hex2 } from '../../protocol/ipmi/completion-codes.js';
import type { IpmiRequest } from '../../protocol/ipmi/message.js';

const COMMAND_NAMES: Readonly<Record<string, string>> = {
  '6:1': 'Get Device ID',
  '6:55': 'Get System GUID',
  '6:56': 'Get Channel Authentication Capabilities',
  '6:57': 'Get Session Challenge',
  '6:58': 'Activate Session',
  '6:59': 'Set Session Privilege Level',
  '6:60': 'Close Session',
  '6:66': 'Get Channel Info',
  '6:89': 'Get System Info Parameters',
  '0:1': 'Get Chassis Status',
  '0:2': 'Chassis Control',
  '0:8': 'Set System Boot Options',
  '0:9': 'Get System Boot Options',
  '10:16': 'Get FRU Inventory Area Info',
  '10:17': 'Read FRU Data',
  '12:2': 'Get LAN Configuration Parameters',
};

export function commandName(request: IpmiRequest): string {
  const name = COMMAND_NAMES[`${request.netFn}:${request.cmd}`] ?? `NetFn ${hex2(request.netFn)} command ${hex2(request.cmd)}`;
  return request.data.length > 0 && (request.cmd === 0x08 || request.cmd === 0x02 || request.cmd === 0x59)
    ? `${name} (parameter ${request.data[request.cmd === 0x08 ? 0 : 1]})`
    : name;
}
