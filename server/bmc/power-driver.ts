/**
 * What the dashboard and the API call to power a machine. The power workflow (power.ts over the
 * PowerControl port of port.ts) implements it in power-service.ts; when no driver is configured the
 * API answers 501 and the dashboard shows the buttons disabled.
 */
import type { Machine } from '../core/types.js';

export const POWER_DRIVER_ACTIONS = ['on', 'off', 'cycle'] as const;
export type PowerDriverAction = (typeof POWER_DRIVER_ACTIONS)[number];

export interface PowerDriverResult {
  readonly ok: boolean;
  readonly message: string;
}

export interface PowerDriver {
  /** Why this machine cannot be powered (no BMC known, ...), or null when it can. */
  unavailableReason(machine: Machine): string | null;
  /** With `pxe`, the next boot is set to the network (and read back) before the power action. */
  power(machine: Machine, action: PowerDriverAction, options: { readonly pxe: boolean }): Promise<PowerDriverResult>;
}
