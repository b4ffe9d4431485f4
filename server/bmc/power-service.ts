/**
 * The dashboard's and API's PowerDriver (power-driver.ts) over the power workflow (power.ts, which
 * sets the boot device, reads it back and verifies the power state). A machine's BMC is the one
 * `rackboot discover` linked to it, else its bmcAddress. Every action goes on the machine's
 * timeline through the Provisioner, as `rackboot power` does.
 */
import type { Machine, MachineEvent } from '../core/types.js';
import type { PowerDriver, PowerDriverAction, PowerDriverResult } from './power-driver.js';
import { powerEvent, powerOne, type PowerEvent } from './power.js';
import type { BmcConnector, BmcCredentials } from './port.js';
import type { BmcRegistry } from './registry.js';

/** Where power outcomes go: the Provisioner (core/provisioner.ts) implements it. */
export interface PowerJournal {
  recordPower(machine: Machine, outcome: PowerEvent): MachineEvent;
}

export interface IpmiPowerDriverDeps {
  readonly journal: PowerJournal;
  readonly bmcs: BmcRegistry;
  readonly connect: BmcConnector;
  readonly credentials: BmcCredentials;
  /** The BMC port when discovery recorded none (IPMI: 623). */
  readonly defaultPort: number;
  readonly clock?: () => number;
  /** UEFI boot device flags for --pxe (default legacy BIOS, as `rackboot power`). */
  readonly efi?: boolean;
}

export function ipmiPowerDriver(deps: IpmiPowerDriverDeps): PowerDriver {
  const clock = deps.clock ?? Date.now;
  const bmcFor = (machine: Machine) => {
    const record = deps.bmcs.byMachine(machine.id) ?? (machine.bmcAddress ? deps.bmcs.byAddress(machine.bmcAddress) : null);
    const address = record?.address ?? machine.bmcAddress;
    return address ? { address, port: record?.port ?? deps.defaultPort, username: record?.username ?? deps.credentials.username } : null;
  };
  return {
    unavailableReason(machine) {
      return bmcFor(machine) ? null : `${machine.name} has no known BMC: set its BMC address, or run rackboot discover and ip-plan --apply`;
    },
    async power(machine: Machine, action: PowerDriverAction, options: { pxe: boolean }): Promise<PowerDriverResult> {
      const bmc = bmcFor(machine);
      if (!bmc) return { ok: false, message: `${machine.name} has no known BMC` };
      const pxe = options.pxe && action !== 'off';
      const outcome = await powerOne(
        { connect: deps.connect, credentials: () => ({ username: bmc.username, password: deps.credentials.password }), clock },
        { label: machine.name, machineId: machine.id, bmc: { address: bmc.address, port: bmc.port }, username: bmc.username },
        { action, pxe, efi: deps.efi ?? false },
      );
      deps.journal.recordPower(machine, powerEvent(outcome, pxe, `BMC ${outcome.address} (dashboard/API)`));
      return { ok: outcome.ok, message: outcome.message };
    },
  };
}
