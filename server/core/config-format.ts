/**
 * Which format carries a machine's config at first boot: `cloud-config` (the default, fetched by
 * coreos-cloudinit from `cloud-config-url=`) or `ignition` (fetched by Ignition from
 * `ignition.config.url=` in the initramfs). Chosen per machine, else per role, else the default
 * (config: boot.configFormat). Pure.
 */
import { isRole, type Role } from './roles.js';
import type { Machine } from './types.js';

export const CONFIG_FORMATS = ['cloud-config', 'ignition'] as const;
export type ConfigFormat = (typeof CONFIG_FORMATS)[number];

export interface ConfigFormatSettings {
  readonly default: ConfigFormat;
  /** Per-role choice; a role not listed gets `default`. */
  readonly roles: Readonly<Partial<Record<Role, ConfigFormat>>>;
}

export const DEFAULT_CONFIG_FORMAT: ConfigFormatSettings = { default: 'cloud-config', roles: {} };

export function isConfigFormat(value: unknown): value is ConfigFormat {
  return typeof value === 'string' && (CONFIG_FORMATS as readonly string[]).includes(value);
}

/** The machine's own choice, else its role's, else the default. */
export function configFormatFor(machine: Pick<Machine, 'role' | 'configFormat'>, settings: ConfigFormatSettings = DEFAULT_CONFIG_FORMAT): ConfigFormat {
  if (machine.configFormat) return machine.configFormat;
  if (isRole(machine.role)) return settings.roles[machine.role] ?? settings.default;
  return settings.default;
}

/** The kernel arguments that point the booted OS at its config (the URL carries the one-time token). */
export function configKernelArgs(format: ConfigFormat, baseUrl: string, configToken: string): string[] {
  if (format === 'ignition') return ['flatcar.first_boot=1', `ignition.config.url=${baseUrl}/ignition/${configToken}`];
  return [`cloud-config-url=${baseUrl}/cloud-config/${configToken}`];
}
