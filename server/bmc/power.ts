/**
 * Power workflows over the PowerControl port (bmc/port.ts): status, on, off (optionally soft first), cycle, with
 * bounded concurrency. With `pxe` the boot device is set to PXE for the next boot, read back and
 * compared before any power action: a machine is never powered on into the wrong boot device.
 *
 *   on     off -> on;  already on -> nothing (with --pxe the next boot will PXE: say so)
 *   off    on -> off (soft: ACPI soft-off, hard off when the OS ignores it);  already off -> nothing
 *   cycle  "reboot": off -> on; on -> power cycle
 */
import {
  describeBmcError,
  type BmcConnector,
  type BmcCredentials,
  type BmcTarget,
  type BootDeviceReadBack,
  type BootDeviceRequest,
  type DescribedBmcError,
  type PowerControl,
  type PowerState,
} from './port.js';
import { mapBounded } from './discover.js';

export const POWER_ACTIONS = ['on', 'off', 'cycle', 'status'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

export interface PowerTarget {
  /** What the operator called it: a machine name, or the BMC address. */
  readonly label: string;
  readonly machineId: number | null;
  readonly bmc: BmcTarget;
  readonly username: string;
}

export interface PowerOptions {
  readonly action: PowerAction;
  /** Set the next boot to PXE (verified by read-back) before the power action. */
  readonly pxe?: boolean;
  readonly efi?: boolean;
  readonly persistent?: boolean;
  /** For off: ask the OS to shut down (ACPI) first; hard off after `softTimeoutMs`. */
  readonly soft?: boolean;
  readonly softTimeoutMs?: number;
  /** How long to poll for the expected power state afterwards (default 20 s). */
  readonly verifyTimeoutMs?: number;
  readonly pollMs?: number;
  readonly concurrency?: number;
}

export type PowerStep = 'none' | 'on' | 'off' | 'soft-off' | 'soft-then-hard-off' | 'cycle';

export interface BootDeviceCheck {
  readonly requested: BootDeviceRequest;
  readonly readBack: Pick<BootDeviceReadBack, 'device' | 'valid' | 'persistent' | 'efi' | 'raw'>;
  readonly warnings: readonly string[];
}

export interface PowerOutcome {
  readonly label: string;
  readonly machineId: number | null;
  readonly address: string;
  readonly action: PowerAction;
  readonly ok: boolean;
  readonly before: PowerState | null;
  readonly after: PowerState | null;
  readonly step: PowerStep;
  readonly bootDevice: BootDeviceCheck | null;
  readonly message: string;
  readonly durationMs: number;
  readonly error?: DescribedBmcError | { readonly kind: 'verify'; readonly message: string };
}

export interface PowerDeps {
  readonly connect: BmcConnector;
  readonly credentials: (target: PowerTarget) => BmcCredentials;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
  readonly onOutcome?: (outcome: PowerOutcome, done: number, total: number) => void;
}

/**
 * Compares what the BMC reports with what was written. The device must match. Flags are compared
 * only when the BMC reports the valid bit: some BMCs (ipmi_sim among them) keep the device but
 * report the flags byte as zero, and that is only worth a warning.
 */
export function checkBootReadBack(requested: BootDeviceRequest, readBack: BootDeviceReadBack): { ok: boolean; problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (readBack.device !== requested.device) problems.push(`the BMC reports boot device ${readBack.device}${readBack.detail ? ` (${readBack.detail})` : ''}, not ${requested.device}`);
  if (readBack.valid) {
    if (readBack.efi !== requested.efi) problems.push(`the BMC reports ${readBack.efi ? 'EFI' : 'legacy BIOS'} boot, not ${requested.efi ? 'EFI' : 'legacy BIOS'}`);
    if (readBack.persistent !== requested.persistent) warnings.push(`the BMC reports ${readBack.persistent ? 'persistent' : 'next-boot-only'} boot flags`);
  } else {
    warnings.push('the BMC does not report the boot flags (valid bit clear after the write): only the device could be checked');
  }
  return { ok: problems.length === 0, problems, warnings };
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitForState(bmc: PowerControl, want: PowerState, timeoutMs: number, pollMs: number, sleep: (ms: number) => Promise<void>): Promise<PowerState> {
  let state = await bmc.powerState();
  const rounds = Math.max(1, Math.ceil(timeoutMs / pollMs));
  for (let i = 0; i < rounds && state !== want; i++) {
    await sleep(pollMs);
    state = await bmc.powerState();
  }
  return state;
}

export async function powerOne(deps: PowerDeps, target: PowerTarget, options: PowerOptions): Promise<PowerOutcome> {
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const pollMs = options.pollMs ?? 500;
  const verifyMs = options.verifyTimeoutMs ?? 20_000;
  const started = clock();
  const base = { label: target.label, machineId: target.machineId, address: target.bmc.address, action: options.action };
  let before: PowerState | null = null;
  let bootDevice: BootDeviceCheck | null = null;
  let step: PowerStep = 'none';
  let bmc: PowerControl | undefined;
  const finish = (rest: Pick<PowerOutcome, 'ok' | 'after' | 'message'> & { error?: PowerOutcome['error'] }): PowerOutcome => ({
    ...base,
    before,
    step,
    bootDevice,
    durationMs: clock() - started,
    ...rest,
  });
  try {
    bmc = await deps.connect(target.bmc, deps.credentials(target));
    before = await bmc.powerState();
    if (options.action === 'status') return finish({ ok: true, after: before, message: `power is ${before}` });

    if (options.pxe) {
      const requested: BootDeviceRequest = { device: 'pxe', persistent: options.persistent ?? false, efi: options.efi ?? false };
      await bmc.setBootDevice(requested);
      const readBack = await bmc.getBootDevice();
      const check = checkBootReadBack(requested, readBack);
      bootDevice = {
        requested,
        readBack: { device: readBack.device, valid: readBack.valid, persistent: readBack.persistent, efi: readBack.efi, raw: readBack.raw },
        warnings: check.warnings,
      };
      if (!check.ok) {
        const message = `boot device not set: ${check.problems.join('; ')}; power left ${before}`;
        return finish({ ok: false, after: before, message, error: { kind: 'verify', message } });
      }
    }

    let want: PowerState;
    switch (options.action) {
      case 'on':
        want = 'on';
        if (before === 'off') {
          await bmc.power('on');
          step = 'on';
        }
        break;
      case 'off':
        want = 'off';
        if (before === 'on') {
          if (options.soft) {
            await bmc.power('soft');
            const state = await waitForState(bmc, 'off', options.softTimeoutMs ?? 60_000, pollMs, sleep);
            if (state === 'off') step = 'soft-off';
            else {
              await bmc.power('off');
              step = 'soft-then-hard-off';
            }
          } else {
            await bmc.power('off');
            step = 'off';
          }
        }
        break;
      case 'cycle':
        want = 'on';
        // Power cycle while off is "no action" (CC D5h) on many BMCs: reboot means "on" then.
        if (before === 'off') {
          await bmc.power('on');
          step = 'on';
        } else {
          await bmc.power('cycle');
          step = 'cycle';
          await sleep(pollMs);
        }
        break;
    }
    const after = await waitForState(bmc, want, verifyMs, pollMs, sleep);
    if (after !== want) {
      const message = `power is still ${after} ${Math.round(verifyMs / 1000)} s after ${step === 'none' ? 'no action' : step}`;
      return finish({ ok: false, after, message, error: { kind: 'verify', message } });
    }
    const did =
      step === 'none'
        ? `already ${after}${options.pxe && options.action === 'on' ? '; the next boot will PXE boot (use cycle to reboot now)' : ''}`
        : `${step} -> power is ${after}`;
    return finish({ ok: true, after, message: `${options.pxe ? 'boot device PXE (read back), ' : ''}${did}` });
  } catch (error) {
    const described = describeBmcError(error);
    return finish({ ok: false, after: null, message: described.message, error: described });
  } finally {
    await bmc?.close().catch(() => {});
  }
}

export async function powerMachines(deps: PowerDeps, targets: readonly PowerTarget[], options: PowerOptions): Promise<PowerOutcome[]> {
  let done = 0;
  return mapBounded(targets, options.concurrency ?? 16, async (target) => {
    const outcome = await powerOne(deps, target, options);
    done += 1;
    deps.onOutcome?.(outcome, done, targets.length);
    return outcome;
  });
}

/** A power outcome as a machine's timeline records it (Provisioner.recordPower). */
export interface PowerEvent {
  readonly ok: boolean;
  readonly message: string;
  readonly data: Record<string, unknown>;
  /** The machine was powered on with its next boot set to PXE: a new boot has started. */
  readonly poweredOnIntoPxe: boolean;
}

/** `via` names the path, e.g. "BMC 10.1.0.11" or "BMC 10.1.0.11 (dashboard/API)". */
export function powerEvent(outcome: PowerOutcome, pxe: boolean, via: string): PowerEvent {
  return {
    ok: outcome.ok,
    message: `power ${outcome.action}${pxe ? ' --pxe' : ''} via ${via}: ${outcome.message}`,
    data: { action: outcome.action, before: outcome.before, after: outcome.after, step: outcome.step, bootDevice: outcome.bootDevice },
    poweredOnIntoPxe: outcome.ok && pxe && outcome.step !== 'none' && outcome.after === 'on',
  };
}
