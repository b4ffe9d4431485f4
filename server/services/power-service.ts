/**
 * The dashboard's and API's PowerDriver (core/power-driver.ts) over the IPMI power workflow
 * (ipmi/power.ts, which sets the boot device, reads it back and verifies the power state). A
 * machine's BMC is the one `rackboot discover` linked to it, else its bmcAddress. Every action is
 * put on the machine's timeline, as `rackboot power` does.
 */
import type { BmcConnector, BmcCredentials } from '../core/bmc.js';
import type { InventoryStore } from '../core/ports.js';
import type { PowerDriver, PowerDriverAction, PowerDriverResult } from '../core/power-driver.js';
import type { Machine } from '../core/types.js';
import { powerOne } from '../ipmi/power.js';
import { IPMI_PORT } from '../protocol/ipmi/constants.js';
import type { BmcStore } from '../store/bmc-store.js';

export interface IpmiPowerDriverDeps {
  readonly inventory: InventoryStore;
  readonly bmcs: BmcStore;
  readonly connect: BmcConnector;
  readonly credentials: BmcCredentials;
  readonly clock?: () => number;
  /** UEFI boot device flags for --pxe (default legacy BIOS, as `rackboot power`). */
  readonly efi?: boolean;
}

export function ipmiPowerDriver(deps: IpmiPowerDriverDeps): PowerDriver {
  const clock = deps.clock ?? Date.now;
  const bmcFor = (machine: Machine) => {
    const record = deps.bmcs.byMachine(machine.id) ?? (machine.bmcAddress ? deps.bmcs.byAddress(machine.bmcAddress) : null);
    const address = record?.address ?? machine.bmcAddress;
    return address ? { address, port: record?.port ?? IPMI_PORT, username: record?.username ?? deps.credentials.username } : null;
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
      const now = clock();
      deps.inventory.transaction(() => {
        deps.inventory.appendEvent(
          {
            machineId: machine.id,
            mac: null,
            type: outcome.ok ? 'power' : 'power-failed',
            message: `power ${action}${pxe ? ' --pxe' : ''} via BMC ${outcome.address} (dashboard/API): ${outcome.message}`,
            data: { action, before: outcome.before, after: outcome.after, step: outcome.step, bootDevice: outcome.bootDevice },
          },
          now,
        );
        if (outcome.ok && pxe && outcome.step !== 'none' && outcome.after === 'on') deps.inventory.setState(machine.id, 'powering-on', now);
      });
      return { ok: outcome.ok, message: outcome.message };
    },
  };
}
