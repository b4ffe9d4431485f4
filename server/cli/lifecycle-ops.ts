/**
 * The lifecycle commands' work over a local Provisioner, one function per command (the local
 * CliBackend calls them; the remote one calls the API routes that do the same on the server).
 */
import { encodeInventory, type InventoryFormat } from '../core/inventory-file.js';
import { applyLabelChanges } from '../core/labels.js';
import type { BulkBounds, ImportResult, MachinePatch, Outcome, Provisioner } from '../core/provisioner.js';
import type { BootMode, Role } from '../core/roles.js';
import type { Machine } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { CliError, EXIT_USAGE } from './errors-out.js';

/** A failed outcome becomes the coded error the CLI prints (exit 1). */
export function valueOf<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new RackbootError(outcome.code, outcome.message);
  return outcome.value;
}

function find(p: Provisioner, ref: string): Machine {
  const machine = p.machineByRef(ref);
  if (!machine) throw new RackbootError('RACKBOOT_ERR_NOT_FOUND', `no machine ${ref}`);
  return machine;
}

/** `key=value` / `key-` changes applied to a machine's labels; a bad change is a usage error. */
export function labelsAfter(machine: { name: string; labels?: Readonly<Record<string, string>> }, changes: readonly string[]): Record<string, string> {
  const next = applyLabelChanges(machine.labels ?? {}, changes);
  if (!next.ok) throw new CliError(`cannot label ${machine.name}`, EXIT_USAGE, next.problems);
  return next.labels;
}

/** One function per command: what it asks the Provisioner. */
export const LIFECYCLE_OPS = {
  edit: (p: Provisioner, ref: string, patch: MachinePatch, actor: string): Machine => valueOf(p.editMachine(find(p, ref), patch, actor)),
  label: (p: Provisioner, ref: string, changes: readonly string[], actor: string): Machine => {
    const machine = find(p, ref);
    return valueOf(p.editMachine(machine, { labels: labelsAfter(machine, changes) }, actor));
  },
  remove: (p: Provisioner, ref: string, actor: string): { name: string } => valueOf(p.deleteMachine(find(p, ref), actor)),
  replace: (p: Provisioner, ref: string, board: { macs: readonly string[]; uuid: string | null; bmcAddress: string | null }, actor: string): Machine => valueOf(p.replaceBoard(find(p, ref), board, actor)),
  select: (p: Provisioner, selector: string, bounds: BulkBounds): Machine[] => valueOf(p.selectMachines(selector, bounds)),
  assign: (p: Provisioner, selector: string, role: Role | null, mode: BootMode, actor: string, bounds: BulkBounds): readonly Machine[] =>
    valueOf(p.bulkAssignRole(selector, role, mode, actor, bounds)).machines,
  reprovision: (p: Provisioner, selector: string, actor: string, bounds: BulkBounds): readonly Machine[] => valueOf(p.bulkReprovision(selector, actor, bounds)).machines,
  exportInventory: (p: Provisioner, format: InventoryFormat): string => encodeInventory(p.listMachines(), format),
  importInventory: (p: Provisioner, text: string, format: InventoryFormat, apply: boolean, actor: string): ImportResult => p.importInventory(text, format, { apply, actor }),
  audit: (p: Provisioner, query: { limit: number; beforeId?: number }) => p.listAudit(query),
};
