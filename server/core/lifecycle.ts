/**
 * Which lifecycle state an event moves a machine to. Events are facts (what happened); the state is
 * the operator's summary (where the machine is now). Not every event changes the state: the booted
 * OS's own DHCP renewals, for instance, must not look like a new PXE boot.
 */
import type { MachineState } from './types.js';

/** Event types rackboot records. Callbacks from machines may only use the CALLBACK_EVENTS subset. */
export const EVENT_TYPES = [
  'registered',
  'discovered',
  'dhcp',
  'dhcp-os',
  'dhcp-declined',
  'dhcp-nak',
  'dhcp-release',
  'dhcp-ignored',
  'dhcp-rogue-server',
  'firmware-loaded',
  'boot-file-failed',
  'ipxe',
  'booting',
  'configured',
  'booted',
  'progress',
  'installing',
  'installed',
  'ready',
  'failed',
  'stuck',
  'token-refused',
  'render-failed',
  'menu-choice',
  'power',
  'power-failed',
  'ip-plan',
  'role-assigned',
  'warning',
  'edited',
  'board-replaced',
  'deleted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const CALLBACK_EVENTS = ['booted', 'progress', 'installing', 'installed', 'ready', 'failed'] as const;
export type CallbackEvent = (typeof CALLBACK_EVENTS)[number];

const STATE_FOR_EVENT: Partial<Record<EventType, MachineState>> = {
  registered: 'registered',
  dhcp: 'dhcp',
  'firmware-loaded': 'firmware-loaded',
  ipxe: 'ipxe',
  booting: 'booting',
  configured: 'configured',
  booted: 'booted',
  progress: 'installing',
  installing: 'installing',
  installed: 'installed',
  ready: 'ready',
  failed: 'failed',
  stuck: 'stuck',
  'render-failed': 'failed',
  power: 'powering-on',
  'board-replaced': 'registered',
};

/** What an event's outcome says beyond its type, where the state depends on it. */
export interface EventFacts {
  /** A power action powered the machine on with its next boot set to PXE. */
  readonly poweredOnIntoPxe?: boolean;
}

/** Events that move the state only when their facts say so: most power actions start no new boot. */
const STATE_CONDITIONS: Partial<Record<EventType, (facts: EventFacts) => boolean>> = {
  power: (facts) => facts.poweredOnIntoPxe === true,
};

/** Events of a PXE boot that an installed machine answers with its local disk (boot-plan.ts). */
const LOCAL_BOOT_EVENTS: ReadonlySet<EventType> = new Set<EventType>(['dhcp', 'firmware-loaded', 'ipxe']);

/**
 * The state a machine is in after `event`, or null when the event leaves the state as it is.
 * An installed (or ready) machine in install mode stays so through the DHCP and iPXE steps of its
 * next boot: they end in its local disk, and the state is what decides that.
 */
export function stateAfter(event: EventType, current: MachineState, bootMode?: 'memory' | 'install', facts: EventFacts = {}): MachineState | null {
  if (bootMode === 'install' && (current === 'installed' || current === 'ready') && LOCAL_BOOT_EVENTS.has(event)) return null;
  const condition = STATE_CONDITIONS[event];
  if (condition && !condition(facts)) return null;
  const next = STATE_FOR_EVENT[event];
  if (next === undefined || next === current) return null;
  return next;
}

export function isCallbackEvent(value: string): value is CallbackEvent {
  return (CALLBACK_EVENTS as readonly string[]).includes(value);
}
