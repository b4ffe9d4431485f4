/**
 * `ip-plan`: read discovered BMCs and the inventory, let core/ip-policy.ts decide, and (with
 * apply) write the whole plan in the same transaction, so nothing can change between the plan and
 * its application. A plan with conflicts is never applied, not even in part.
 */
import { planIps, type IpPlan, type IpRule } from '../core/ip-policy.js';
import type { BmcRegistry } from './registry.js';

/** The inventory side of an applied plan (the Provisioner): addresses, new machines, their events. */
export interface IpPlanInventory {
  applyIpPlan(plan: IpPlan, link: (bmc: string, machineId: number) => void): void;
}

export interface IpPlanStores {
  readonly bmcs: BmcRegistry;
  readonly inventory: IpPlanInventory;
}

export interface IpPlanRun {
  readonly plan: IpPlan;
  readonly applied: boolean;
}

export function runIpPlan(stores: IpPlanStores, rule: IpRule, options: { apply: boolean; now: number }): IpPlanRun {
  return stores.bmcs.transaction(() => {
    const plan = planIps({ rule, ...stores.bmcs.planInputs(options.now) });
    if (!options.apply || !plan.applicable) return { plan, applied: false };
    stores.inventory.applyIpPlan(plan, (bmc, machineId) => stores.bmcs.linkMachine(bmc, machineId));
    return { plan, applied: true };
  });
}
