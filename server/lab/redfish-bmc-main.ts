/**
 * One lab Redfish BMC as a process (`rackboot lab up --bmc-protocol redfish` starts one per blade,
 * detached, in the BMC namespace): the emulator of redfish-bmc.ts on the blade's BMC address,
 * HTTPS 443, whose ComputerSystem.Reset drives the blade's QEMU VM through the same
 * chassis-control program the ipmi_sim BMCs use (`set power 1|0`, `set reset 1`, `get power`).
 *
 *   node [--import tsx] redfish-bmc-main.(ts|js) <spec.json>
 *
 * The spec names the address, certificate, user, password file, the VM's UUID and MAC, the BMC
 * MAC and the chassis-control path. SIGTERM closes the server and exits.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { RedfishEmulator } from './redfish-bmc.js';

export interface RedfishBmcSpec {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly certFile: string;
  readonly keyFile: string;
  readonly username: string;
  readonly passwordFile: string;
  readonly uuid: string;
  readonly hostMac: string;
  readonly bmcMac: string;
  readonly chassisControl: string;
}

function chassis(program: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(program, args, { timeout: 60_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
}

/** What the chassis-control program is asked for each ResetType. */
function chassisArgs(resetType: string, before: 'On' | 'Off'): string[] {
  if (resetType === 'On' || resetType === 'ForceOn') return ['set', 'power', '1'];
  if (resetType === 'ForceOff' || resetType === 'GracefulShutdown') return ['set', 'power', '0'];
  if (resetType === 'PushPowerButton') return ['set', 'power', before === 'On' ? '0' : '1'];
  return ['set', 'reset', '1'];
}

async function main(): Promise<void> {
  const specFile = process.argv[2];
  if (!specFile) throw new Error('usage: redfish-bmc-main <spec.json>');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as RedfishBmcSpec;
  const emulator = await RedfishEmulator.start({
    username: spec.username,
    password: readFileSync(spec.passwordFile, 'utf8').replace(/\r?\n$/, ''),
    tls: { key: readFileSync(spec.keyFile, 'utf8'), cert: readFileSync(spec.certFile, 'utf8') },
    host: spec.address,
    port: spec.port,
    uuid: spec.uuid,
    hostMacs: [spec.hostMac],
    manager: { ip: spec.address, mac: spec.bmcMac },
    readPower: async () => ((await chassis(spec.chassisControl, ['get', 'power'])).includes('power:1') ? 'On' : 'Off'),
    onReset: async (resetType, before) => {
      process.stdout.write(`${new Date().toISOString()} ${spec.name}: Reset ${resetType} (was ${before})\n`);
      await chassis(spec.chassisControl, chassisArgs(resetType, before));
    },
  });
  process.stdout.write(`${new Date().toISOString()} redfish bmc ${spec.name} listening on https://${spec.address}:${emulator.port}\n`);
  const stop = () => {
    void emulator.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: Error) => {
  process.stderr.write(`redfish bmc: ${error.message}\n`);
  process.exit(1);
});
