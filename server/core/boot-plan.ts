/**
 * What a known machine boots next, and the values its iPXE script is rendered with. Pure.
 */
import { configKernelArgs, type ConfigFormat } from './config-format.js';
import { ipxeTextProblem } from './ipxe-text.js';
import type { Menu } from './menu.js';
import type { BootMode } from './roles.js';
import type { Machine } from './types.js';

export interface OsImage {
  readonly name: string;
  /** Paths relative to the assets directory. */
  readonly kernel: string;
  readonly initrds: readonly string[];
  readonly args: readonly string[];
}

export interface MenuSettings {
  readonly name: string;
  readonly defaultItem: string;
  readonly timeoutSeconds: number;
}

export type BootPlan =
  | { readonly kind: 'local-disk'; readonly reason: string }
  | { readonly kind: 'menu' }
  | { readonly kind: 'os'; readonly mode: BootMode; readonly debug: boolean };

/**
 * Installed machines boot their disk (no install loops); machines without a role see the menu;
 * the rest boot their role's OS. `rackboot reprovision` sends an installed machine back.
 */
export function planBoot(machine: Machine): BootPlan {
  if (machine.bootMode === 'install' && (machine.state === 'installed' || machine.state === 'ready')) {
    return { kind: 'local-disk', reason: `${machine.name} is ${machine.state} on its disk` };
  }
  if (machine.role === null) return { kind: 'menu' };
  return { kind: 'os', mode: machine.bootMode, debug: false };
}

/**
 * The first value that cannot go into an iPXE script line (a line break, `${`, a command separator:
 * core/ipxe-text.ts) and why, or null. The config refuses such values at load; this is the last check.
 */
export function findIpxeUnsafe(values: Readonly<Record<string, string>>): { key: string; problem: string } | null {
  for (const [key, value] of Object.entries(values)) {
    const problem = ipxeTextProblem(value);
    if (problem) return { key, problem };
  }
  return null;
}

export interface OsScriptInput {
  readonly baseUrl: string;
  readonly os: OsImage;
  readonly kernelArgs: readonly string[];
  readonly machine: Machine;
  readonly bootToken: string;
  readonly configToken: string;
  readonly debug: boolean;
  /** How the booted OS fetches its config; absent: cloud-config. */
  readonly configFormat?: ConfigFormat;
  /** The NIC that asked for the script: passed as BOOTIF= (pxelinux form, read by dracut) so the OS brings up that one. */
  readonly bootMac?: string;
}

/** Console autologin without a password: only the boot menu's debug entry gets it. */
export const AUTOLOGIN_ARG = 'flatcar.autologin';

/** The values of boot-templates/machine.ipxe.hbs. */
export function osScriptContext(input: OsScriptInput) {
  const { baseUrl, os, machine, bootToken, configToken } = input;
  const initrds = os.initrds.map((path, index) => ({
    url: `${baseUrl}/boot/${bootToken}/initrd/${index}/${basename(path)}`,
    name: basename(path),
  }));
  const configured = [...os.args, ...input.kernelArgs].filter((arg) => arg !== AUTOLOGIN_ARG);
  const args = [
    // Flatcar's kernel finds its initrd by this name (EFI boots hang without it)
    ...initrds.map((i) => `initrd=${i.name}`),
    ...configured,
    ...(input.debug ? [AUTOLOGIN_ARG] : []),
    ...(input.bootMac === undefined ? [] : [`BOOTIF=01-${input.bootMac.toLowerCase().replaceAll(':', '-')}`]),
    ...configKernelArgs(input.configFormat ?? 'cloud-config', baseUrl, configToken).filter((arg) => !configured.includes(arg)),
    `rackboot.callback=${baseUrl}/callback/${bootToken}`,
  ];
  const kernelUrl = `${baseUrl}/boot/${bootToken}/kernel/${basename(os.kernel)}`;
  const values: Record<string, string> = {
    os: os.name,
    name: machine.name,
    ip: machine.ip ?? '',
    role: machine.role ?? '',
    kernelUrl,
    kernelArgs: args.join(' '),
    ...Object.fromEntries(initrds.map((i, n) => [`initrd${n}`, i.url])),
  };
  return {
    values,
    machine: { name: machine.name, ip: machine.ip ?? '', role: machine.role ?? 'none', mode: machine.bootMode },
    os: os.name,
    debug: input.debug,
    kernelUrl,
    kernelArgs: values.kernelArgs,
    initrds,
  };
}

/** The values of boot-templates/menu.ipxe.hbs. */
export function menuScriptContext(input: { baseUrl: string; menu: Menu; settings: MenuSettings; machine: Machine; bootToken: string }) {
  const { menu, machine } = input;
  return {
    title: menu.title,
    machine: { name: machine.name, ip: machine.ip ?? '' },
    entries: menu.entries.map((e) => ({ section: e.kind === 'section', id: e.kind === 'section' ? '' : e.id, label: e.label })),
    defaultItem: input.settings.defaultItem,
    timeoutMs: input.settings.timeoutSeconds * 1000,
    choiceUrl: `${input.baseUrl}/menu/${input.bootToken}`,
    baseUrl: input.baseUrl,
  };
}

function basename(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] ?? path;
}
