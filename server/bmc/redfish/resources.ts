/**
 * Reading Redfish resources (DMTF DSP0266 / DSP0268) into what the BMC port needs, and choosing
 * what to write. Pure: JSON in, values out; the client (client.ts) does the HTTP.
 */
import { normaliseMac } from '../../core/identifiers.js';
import { isIpv4 } from '../../core/ipv4.js';
import { uuidBytes } from '../../core/uuid-match.js';
import type { BootDevice, BootDeviceReadBack, BootDeviceRequest, HostMac, PowerRequest, PowerState } from '../port.js';

export type Json = Readonly<Record<string, unknown>>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** The `@odata.id` of a link property, e.g. root.Systems; null when absent or not a service path. */
export function odataId(value: unknown): string | null {
  const id = isObject(value) ? value['@odata.id'] : undefined;
  return typeof id === 'string' && id.startsWith('/redfish/') ? id : null;
}

/** Members of a collection, at most `max` (a hostile BMC could list millions). */
export function collectionMembers(collection: unknown, max: number): { ids: string[]; truncated: boolean } {
  const members = isObject(collection) && Array.isArray(collection.Members) ? collection.Members : [];
  const ids = members.map(odataId).filter((id): id is string => id !== null);
  return { ids: ids.slice(0, max), truncated: ids.length > max };
}

export interface ServiceRoot {
  readonly redfishVersion: string | null;
  readonly vendor: string | null;
  readonly uuid: string | null;
  readonly systems: string | null;
  readonly managers: string | null;
  /** Where sessions are created (Links.Sessions, else SessionService/Sessions by convention). */
  readonly sessions: string | null;
}

/** Null when this is not a Redfish service root (no RedfishVersion and no Systems link). */
export function parseServiceRoot(body: unknown): ServiceRoot | null {
  if (!isObject(body)) return null;
  const redfishVersion = text(body.RedfishVersion);
  const systems = odataId(body.Systems);
  if (redfishVersion === null && systems === null) return null;
  const links = isObject(body.Links) ? body.Links : {};
  const sessionService = odataId(body.SessionService);
  return {
    redfishVersion,
    vendor: text(body.Vendor),
    uuid: text(body.UUID),
    systems,
    managers: odataId(body.Managers),
    sessions: odataId(links.Sessions) ?? (sessionService ? `${sessionService.replace(/\/$/, '')}/Sessions` : null),
  };
}

export interface ComputerSystem {
  readonly id: string;
  readonly uuid: Uint8Array | null;
  readonly serialNumber: string | null;
  readonly manufacturer: string | null;
  readonly model: string | null;
  readonly powerState: string | null;
  readonly ethernetInterfaces: string | null;
  readonly managedBy: string | null;
  readonly reset: ResetAction | null;
  readonly boot: BootOverride;
}

export interface ResetAction {
  readonly target: string;
  /** Null when the system does not list them (then the ActionInfo may, or we try the usual one). */
  readonly allowable: readonly string[] | null;
  readonly actionInfo: string | null;
}

export interface BootOverride {
  readonly target: string | null;
  readonly enabled: string | null;
  /** Null when the system has no BootSourceOverrideMode (it does not let us choose UEFI or Legacy). */
  readonly mode: string | null;
  readonly allowableTargets: readonly string[] | null;
}

function strings(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}

export function parseComputerSystem(body: unknown, path: string): ComputerSystem {
  const b = isObject(body) ? body : {};
  const uuid = text(b.UUID);
  const links = isObject(b.Links) ? b.Links : {};
  const managedBy = Array.isArray(links.ManagedBy) ? odataId(links.ManagedBy[0]) : null;
  const actions = isObject(b.Actions) ? b.Actions : {};
  const resetAction = isObject(actions['#ComputerSystem.Reset']) ? actions['#ComputerSystem.Reset'] : null;
  const resetTarget = resetAction && typeof resetAction.target === 'string' && resetAction.target.startsWith('/redfish/') ? resetAction.target : null;
  const boot = isObject(b.Boot) ? b.Boot : {};
  return {
    id: text(b.Id) ?? path,
    uuid: uuid ? uuidBytes(uuid) : null,
    serialNumber: text(b.SerialNumber),
    manufacturer: text(b.Manufacturer),
    model: text(b.Model),
    powerState: text(b.PowerState),
    ethernetInterfaces: odataId(b.EthernetInterfaces),
    managedBy,
    reset:
      resetAction && resetTarget
        ? {
            target: resetTarget,
            allowable: strings(resetAction['ResetType@Redfish.AllowableValues']),
            actionInfo: typeof resetAction['@Redfish.ActionInfo'] === 'string' ? resetAction['@Redfish.ActionInfo'] : null,
          }
        : null,
    boot: {
      target: text(boot.BootSourceOverrideTarget),
      enabled: text(boot.BootSourceOverrideEnabled),
      mode: text(boot.BootSourceOverrideMode),
      allowableTargets: strings(boot['BootSourceOverrideTarget@Redfish.AllowableValues']),
    },
  };
}

/** ResetType values an ActionInfo resource lists (Parameters[Name=ResetType].AllowableValues). */
export function actionInfoResetTypes(body: unknown): string[] | null {
  const parameters = isObject(body) && Array.isArray(body.Parameters) ? body.Parameters : [];
  const reset = parameters.find((p) => isObject(p) && p.Name === 'ResetType');
  return isObject(reset) ? strings(reset.AllowableValues) : null;
}

/** A host NIC's MAC: PermanentMACAddress (burned in), else MACAddress (some BMCs only give that). */
export function ethernetInterfaceMac(body: unknown): { mac: string; label: string; fromPermanent: boolean } | null {
  if (!isObject(body)) return null;
  const label = text(body.Id) ?? text(body.Name) ?? '?';
  for (const [field, fromPermanent] of [['PermanentMACAddress', true], ['MACAddress', false]] as const) {
    const value = text(body[field]);
    const mac = value ? normaliseMac(value) : null;
    if (mac && mac !== '00:00:00:00:00:00' && mac !== 'ff:ff:ff:ff:ff:ff') return { mac, label, fromPermanent };
  }
  return null;
}

/**
 * Not a NIC the host can PXE boot from: the Redfish host interface (the host's side of its link to
 * the BMC, Links.HostInterface) and virtual interfaces (VLANs, EthernetInterfaceType Virtual).
 */
export function isNonBootInterface(body: unknown): boolean {
  if (!isObject(body)) return true;
  const links = isObject(body.Links) ? body.Links : {};
  return links.HostInterface !== undefined || body.EthernetInterfaceType === 'Virtual';
}

/** Host MACs from the system's EthernetInterfaces: physical NICs only, each MAC once. */
export function hostMacsFromInterfaces(bodies: readonly unknown[]): { macs: HostMac[]; warnings: string[] } {
  const macs: HostMac[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const body of bodies) {
    if (isNonBootInterface(body)) continue;
    const found = ethernetInterfaceMac(body);
    if (!found || seen.has(found.mac)) continue;
    seen.add(found.mac);
    macs.push({ mac: found.mac, source: 'redfish', label: found.label });
    if (!found.fromPermanent) warnings.push(`EthernetInterface ${found.label}: no PermanentMACAddress, used MACAddress`);
  }
  return { macs, warnings };
}

export interface ManagerInterface {
  readonly mac: string | null;
  readonly ipv4: readonly string[];
}

export function parseManagerInterface(body: unknown): ManagerInterface {
  const b = isObject(body) ? body : {};
  const ipv4 = (Array.isArray(b.IPv4Addresses) ? b.IPv4Addresses : [])
    .map((a) => (isObject(a) ? text(a.Address) : null))
    .filter((a): a is string => a !== null && isIpv4(a) && a !== '0.0.0.0');
  const mac = ethernetInterfaceMac(b)?.mac ?? null;
  return { mac, ipv4 };
}

/**
 * The Manager's own address among its interfaces: the one holding the address we reached it at,
 * else the first with an IPv4 address (with a warning: behind NAT or a proxy, say).
 */
export function managerAddress(interfaces: readonly ManagerInterface[], reachedAt: string): { ip: string | null; mac: string | null; warning: string | null } {
  const exact = interfaces.find((i) => i.ipv4.includes(reachedAt));
  if (exact) return { ip: reachedAt, mac: exact.mac, warning: null };
  const first = interfaces.find((i) => i.ipv4.length > 0);
  if (first) return { ip: first.ipv4[0] ?? null, mac: first.mac, warning: `no Manager interface has ${reachedAt}; reporting ${first.ipv4[0]}` };
  return { ip: null, mac: interfaces.find((i) => i.mac)?.mac ?? null, warning: 'the Manager reports no IPv4 address' };
}

export function powerStateOf(value: string | null): PowerState {
  // PoweringOn is not on yet; PoweringOff is not off yet (the workflows poll until it settles).
  if (value === 'On' || value === 'PoweringOff' || value === 'Paused') return 'on';
  return 'off';
}

/** ResetType values in order of preference for each power request (DSP0268 ResetType). */
export const RESET_PREFERENCES: Readonly<Record<PowerRequest, readonly string[]>> = {
  on: ['On', 'ForceOn'],
  off: ['ForceOff'],
  soft: ['GracefulShutdown'],
  cycle: ['PowerCycle', 'ForceRestart', 'GracefulRestart'],
  reset: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
};

/**
 * The ResetType to send: the first preferred value the system allows. When the system lists none
 * (the property is optional) the first preference is tried; null when it lists values and none fits.
 */
export function chooseResetType(request: PowerRequest, allowable: readonly string[] | null): string | null {
  const wanted = RESET_PREFERENCES[request];
  if (allowable === null) return wanted[0] ?? null;
  return wanted.find((w) => allowable.includes(w)) ?? null;
}

const TO_REDFISH: Readonly<Record<Exclude<BootDevice, 'other'>, string>> = {
  none: 'None',
  pxe: 'Pxe',
  disk: 'Hdd',
  cdrom: 'Cd',
  floppy: 'Floppy',
  'bios-setup': 'BiosSetup',
  diag: 'Diags',
};

const FROM_REDFISH: Readonly<Record<string, BootDevice>> = Object.fromEntries(Object.entries(TO_REDFISH).map(([k, v]) => [v, k as BootDevice]));

/**
 * The PATCH body of a boot override. The mode is sent only when the system has the property (some
 * BMCs refuse unknown properties); a system that lists allowable targets without ours is refused.
 */
export function bootOverridePatch(request: BootDeviceRequest, current: BootOverride): { ok: true; body: Json } | { ok: false; message: string } {
  if (request.device === 'other') return { ok: false, message: 'boot device "other" cannot be written' };
  const target = TO_REDFISH[request.device];
  if (current.allowableTargets && !current.allowableTargets.includes(target)) {
    return { ok: false, message: `the system does not offer boot target ${target} (it offers ${current.allowableTargets.join(', ') || 'none'})` };
  }
  const boot: Record<string, string> = {
    BootSourceOverrideTarget: target,
    BootSourceOverrideEnabled: request.device === 'none' ? 'Disabled' : request.persistent ? 'Continuous' : 'Once',
  };
  if (current.mode !== null && request.device !== 'none') boot.BootSourceOverrideMode = request.efi ? 'UEFI' : 'Legacy';
  return { ok: true, body: { Boot: boot } };
}

/** The boot override as the port reports it. Without BootSourceOverrideMode only the device can be compared. */
export function bootReadBack(boot: BootOverride): BootDeviceReadBack {
  const device = boot.enabled === 'Disabled' ? 'none' : (FROM_REDFISH[boot.target ?? 'None'] ?? 'other');
  const valid = boot.mode !== null && boot.enabled !== null;
  return {
    device,
    valid,
    persistent: boot.enabled === 'Continuous',
    efi: boot.mode === 'UEFI',
    raw: JSON.stringify({ BootSourceOverrideTarget: boot.target, BootSourceOverrideEnabled: boot.enabled, BootSourceOverrideMode: boot.mode }),
    ...(device === 'other' || boot.enabled === 'Disabled' ? { detail: `target ${boot.target ?? '-'}, ${boot.enabled ?? '-'}` } : {}),
  };
}

/**
 * The text of a Redfish error body: every @Message.ExtendedInfo Message (with its MessageId),
 * else error.message; null when the body says nothing.
 */
export function extendedInfoText(body: unknown): string | null {
  const error = isObject(body) && isObject(body.error) ? body.error : isObject(body) ? body : null;
  if (!error) return null;
  const info = Array.isArray(error['@Message.ExtendedInfo']) ? error['@Message.ExtendedInfo'] : Array.isArray(error.Messages) ? error.Messages : [];
  const messages = info
    .filter(isObject)
    .map((m) => {
      const message = text(m.Message);
      const id = text(m.MessageId);
      return message ? (id ? `${message} (${id})` : message) : id;
    })
    .filter((m): m is string => m !== null);
  if (messages.length > 0) return messages.slice(0, 8).join('; ');
  return text(error.message);
}

/**
 * True when an error answer blames BootSourceOverrideMode (RelatedProperties or the message text):
 * some BMCs keep the mode read-only unless other settings change it.
 */
export function blamesOverrideMode(body: unknown): boolean {
  return /BootSourceOverrideMode/.test(JSON.stringify(body ?? null).slice(0, 65_536));
}

/** The same PATCH without BootSourceOverrideMode. */
export function withoutOverrideMode(body: Json): Json {
  const boot = isObject(body.Boot) ? { ...body.Boot } : {};
  delete (boot as Record<string, unknown>).BootSourceOverrideMode;
  return { ...body, Boot: boot };
}

/** True when an error body names a session limit (Base registry SessionLimitExceeded). */
export function isSessionLimit(body: unknown): boolean {
  return /SessionLimitExceeded/i.test(JSON.stringify(body ?? null).slice(0, 65_536));
}

export type TaskOutcome = { done: false } | { done: true; ok: true } | { done: true; ok: false; message: string };

/** A Task resource (or a task monitor's final answer): finished when TaskState says so. */
export function taskOutcome(body: unknown): TaskOutcome {
  if (!isObject(body) || typeof body.TaskState !== 'string') return { done: true, ok: true };
  const state = body.TaskState;
  if (state === 'Completed') {
    return body.TaskStatus === 'Critical' ? { done: true, ok: false, message: extendedInfoText(body) ?? 'the task completed with status Critical' } : { done: true, ok: true };
  }
  if (state === 'Exception' || state === 'Killed' || state === 'Cancelled') {
    return { done: true, ok: false, message: `task ${state}${extendedInfoText(body) ? `: ${extendedInfoText(body)}` : ''}` };
  }
  return { done: false };
}
