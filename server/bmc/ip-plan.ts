/**
 * `ip-plan`: read discovered BMCs and the inventory, let core/ip-policy.ts decide, and (with
 * apply) write the whole plan in the same transaction, so nothing can change between the plan and
 * its application. A plan with conflicts is never applied, not even in part.
 */
import { planIps, type IpPlan, type IpRule } from '../core/ip-policy.js';
import type { InventoryStore } from '../core/ports.js';
import type { BmcRegistry } from './registry.js';

export interface IpPlanStores {
  readonly bmcs: BmcRegistry;
  readonly inventory: InventoryStore;
}

export interface IpPlanRun {
  readonly plan: IpPlan;
  readonly applied: boolean;
}

export function runIpPlan(stores: IpPlanStores, rule: IpRule, options: { apply: boolean; now: number }): IpPlanRun {
  return stores.bmcs.transaction(() => {
    const plan = planIps({ rule, ...stores.bmcs.planInputs(options.now) });
    if (!options.apply || !plan.applicable) return { plan, applied: false };
    applyPlan(stores, plan, options.now);
    return { plan, applied: true };
  });
}

function applyPlan({ bmcs, inventory }: IpPlanStores, plan: IpPlan, now: number): void {
  const updates = plan.changes.flatMap((c) => (c.action === 'update' ? [c] : []));
  // Free every address that moves before taking new ones: a swap must not trip the UNIQUE index.
  for (const u of updates) if (u.ipFrom !== u.ipTo) bmcs.setMachineIp(u.machineId, null);
  for (const u of updates) {
    bmcs.setMachineIp(u.machineId, u.ipTo);
    if (u.link) bmcs.linkMachine(u.bmc, u.machineId);
    const what = [u.ipFrom !== u.ipTo ? `reserved IP ${u.ipFrom ?? '(none)'} -> ${u.ipTo}` : null, u.link ? `linked to BMC ${u.bmc}` : null].filter(Boolean).join(', ');
    inventory.appendEvent({ machineId: u.machineId, mac: null, type: 'ip-plan', message: `ip-plan: ${what}`, data: { bmc: u.bmc, from: u.ipFrom, to: u.ipTo } }, now);
  }
  for (const change of plan.changes) {
    if (change.action !== 'add') continue;
    const machine = inventory.addMachine({ name: change.name, macs: change.macs, ip: change.ip, role: null, uuid: change.uuid, bmcAddress: change.bmc }, now);
    bmcs.linkMachine(change.bmc, machine.id);
    inventory.appendEvent(
      {
        machineId: machine.id,
        mac: change.macs[0] ?? null,
        type: 'registered',
        message: `registered by ip-plan from BMC ${change.bmc}: ${change.macs.join(', ')} -> ${change.ip}`,
        data: { bmc: change.bmc, ip: change.ip, macs: [...change.macs] },
      },
      now,
    );
  }
  for (const change of plan.changes) {
    if (change.action === 'unchanged') bmcs.linkMachine(change.bmc, change.machineId);
  }
}
