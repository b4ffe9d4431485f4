/**
 * The inventory's lifecycle on the command line: machines edit|delete|replace|label|select|import|export,
 * rackboot audit, and the label-selector side of assign, reprovision and power. Every command is
 * written against the CliBackend (backend.ts), so it runs on the local data directory (audited as
 * cliActor(), the OS user) or with --server through the API (audited under the API token's name);
 * the commands parse, confirm and print, the same JSON both ways.
 */
import { Option, type Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { formatOfFile, INVENTORY_FORMATS, type InventoryFormat } from '../core/inventory-file.js';
import { describeChanges, type FieldChange } from '../core/inventory-plan.js';
import { BULK_DEFAULT_LIMIT, BULK_MAX } from '../core/labels.js';
import type { BulkBounds, MachinePatch } from '../core/provisioner.js';
import { isRole, ROLES, type BootMode } from '../core/roles.js';
import { worksRemotely, type CliBackend, type CliMachine, type ImportView } from './backend.js';
import { confirmOrExit } from './confirm.js';
import { CliError, EXIT_FAILED, EXIT_USAGE, type CliContext } from './context.js';
import { formatTable, formatTime, terminalText } from './format.js';
import { labelsAfter } from './lifecycle-ops.js';

export { cliActor } from './actor.js';
export { LIFECYCLE_OPS, valueOf } from './lifecycle-ops.js';

export interface SelectorOptions {
  selector?: string;
  all?: boolean;
  limit?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** --selector, --all, --limit, --dry-run, --yes: the options of every bulk command. */
export function addSelectorOptions(command: Command): Command {
  return command
    .option('--selector <selector>', 'every machine matching a label selector, e.g. rack=r12,role=small (also key!=value, key, !key; name, role, state are built in)')
    .option('--all', `with --selector: allow more than ${BULK_DEFAULT_LIMIT} machines (up to ${BULK_MAX})`)
    .option('--limit <n>', `with --selector: refuse when more than this many match (default ${BULK_DEFAULT_LIMIT})`)
    .option('--dry-run', 'with --selector: only list the machines it would act on');
}

export function selectorBounds(options: SelectorOptions): BulkBounds {
  if (options.limit === undefined) return options.all ? { all: true } : {};
  const limit = Number(options.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > BULK_MAX) throw new CliError(`--limit ${options.limit}: a whole number from 1 to ${BULK_MAX}`, EXIT_USAGE);
  return { limit, ...(options.all ? { all: true } : {}) };
}

/** `a, b, c and 17 more`: a bounded list of names for a question or a summary. */
export function nameList(names: readonly string[], show = 20): string {
  if (names.length <= show) return names.join(', ');
  return `${names.slice(0, show).join(', ')} and ${names.length - show} more`;
}

/**
 * The selector side of a bulk command: the matching names; on --dry-run they are printed and null
 * is returned (nothing to do); otherwise the operator confirms `verb` (--yes in scripts).
 */
export async function selectAndConfirm(backend: CliBackend, options: SelectorOptions, verb: string): Promise<string[] | null> {
  const selector = options.selector as string;
  const names = (await backend.select(selector, selectorBounds(options))).map((m) => m.name);
  if (options.dryRun) {
    if (options.json) process.stdout.write(`${JSON.stringify({ applied: false, selector, count: names.length, machines: names }, null, 2)}\n`);
    else process.stdout.write(`${names.length} machine(s) match ${terminalText(selector)}; ${verb} would act on:\n${names.map((n) => `  ${terminalText(n)}\n`).join('')}`);
    return null;
  }
  if (names.length === 0) throw new CliError(`no machine matches ${selector}: nothing changed`, EXIT_FAILED);
  await confirmOrExit(`${verb} ${names.length} machine(s) matching ${selector} (${nameList(names)})?`, options.yes);
  return names;
}

/** `none` clears a field. */
function orNone(value: string | undefined): string | null | undefined {
  return value === undefined ? undefined : value === 'none' ? null : value;
}

export function registerLifecycleCommands(program: Command, machines: Command, ctx: CliContext): void {
  const printMachine = (machine: CliMachine, json: boolean | undefined, what: string) => {
    if (json) printJsonValue(machine);
    else process.stdout.write(`${what} ${machine.name}: ${machine.macs.join(', ')} -> ${machine.ip ?? '(no IP)'}, ${machine.role ?? 'no role'} (${machine.bootMode}), ${machine.state}${labelText(machine)}\n`);
  };

  worksRemotely(machines.command('edit'))
    .description("change a machine's name, MACs, IP, role, boot mode, UUID, BMC address or labels (checked like add; 'none' clears a field)")
    .argument('<machine>', 'name, MAC or IP')
    .option('--name <name>', 'new host name')
    .option('--mac <mac...>', 'the boot NICs (replaces every MAC)')
    .option('--ip <address>', "reserved IPv4 address, or 'none'")
    .option('--role <role>', `${ROLES.join(', ')}, or 'none' (the boot menu)`)
    .addOption(new Option('--mode <mode>', 'how the role boots').choices(['install', 'memory']))
    .option('--uuid <uuid>', "system UUID, or 'none'")
    .option('--bmc <address>', "BMC address, or 'none'")
    .option('--label <change...>', 'key=value sets a label, key- removes it')
    .option('--json', 'print the machine as JSON')
    .action(async (ref: string, options: { name?: string; mac?: string[]; ip?: string; role?: string; mode?: BootMode; uuid?: string; bmc?: string; label?: string[]; json?: boolean }) => {
      const role = orNone(options.role);
      if (typeof role === 'string' && !isRole(role)) throw new CliError(`--role ${role}: not one of ${ROLES.join(', ')}`, EXIT_USAGE);
      const patch: MachinePatch = {};
      if (options.name !== undefined) patch.name = options.name;
      if (options.mac !== undefined) patch.macs = options.mac;
      if (options.ip !== undefined) patch.ip = orNone(options.ip) ?? null;
      if (role !== undefined) patch.role = role;
      if (options.mode !== undefined) patch.bootMode = options.mode;
      if (options.uuid !== undefined) patch.uuid = orNone(options.uuid) ?? null;
      if (options.bmc !== undefined) patch.bmcAddress = orNone(options.bmc) ?? null;
      if (Object.keys(patch).length === 0 && options.label === undefined) {
        throw new CliError('nothing to change: give --name, --mac, --ip, --role, --mode, --uuid, --bmc or --label', EXIT_USAGE);
      }
      const backend = ctx.backend();
      // label changes are relative to the labels the machine has now
      if (options.label !== undefined) patch.labels = labelsAfter(await backend.machine(ref), options.label);
      printMachine(await backend.editMachine(ref, patch), options.json, 'edited');
    });

  worksRemotely(machines.command('label'))
    .description('set (key=value) or remove (key-) labels of a machine; label selectors of bulk actions match them')
    .argument('<machine>', 'name, MAC or IP')
    .argument('<changes...>', 'key=value or key-')
    .option('--json', 'print the machine as JSON')
    .action(async (ref: string, changes: string[], options: { json?: boolean }) => {
      printMachine(await ctx.backend().labelMachine(ref, changes), options.json, 'labelled');
    });

  worksRemotely(machines.command('delete'))
    .description('remove a machine from the inventory: its name, IP and MACs are free again; its events stay')
    .argument('<machine>', 'name, MAC or IP')
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--json', 'print {"deleted": name} as JSON')
    .action(async (ref: string, options: { yes?: boolean; json?: boolean }) => {
      const backend = ctx.backend();
      const current = await backend.machine(ref);
      await confirmOrExit(`Delete ${current.name} (${current.macs.join(', ')} -> ${current.ip ?? 'no IP'}, ${current.state})?`, options.yes);
      // by name: the machine confirmed is the one deleted
      const result = await backend.deleteMachine(current.name);
      process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `deleted ${result.deleted}\n`);
    });

  worksRemotely(machines.command('replace'))
    .description("RMA / decommissioned board: a new board keeps the machine's name, IP, role and labels; its MACs, UUID and BMC are replaced and it installs again")
    .argument('<machine>', 'name, MAC or IP')
    .requiredOption('--mac <mac...>', "the new board's boot NIC(s)")
    .option('--uuid <uuid>', "the new board's system UUID (default: none)")
    .option('--bmc <address>', "the new board's BMC address (default: none)")
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--json', 'print the machine as JSON')
    .action(async (ref: string, options: { mac: string[]; uuid?: string; bmc?: string; yes?: boolean; json?: boolean }) => {
      const backend = ctx.backend();
      const current = await backend.machine(ref);
      await confirmOrExit(`Replace ${current.name}'s board (${current.macs.join(', ')} -> ${options.mac.join(', ')})? Its install state is reset: the next PXE boot installs again.`, options.yes);
      const machine = await backend.replaceBoard(current.name, { macs: options.mac, uuid: orNone(options.uuid) ?? null, bmcAddress: orNone(options.bmc) ?? null });
      printMachine(machine, options.json, 'replaced the board of');
    });

  worksRemotely(machines.command('select'))
    .description('the machines a label selector matches (what a bulk action with --selector would act on)')
    .argument('<selector>', 'e.g. rack=r12,role=small')
    .option('--all', `allow more than ${BULK_DEFAULT_LIMIT} machines (up to ${BULK_MAX})`)
    .option('--limit <n>', `refuse when more than this many match (default ${BULK_DEFAULT_LIMIT})`)
    .option('--json', 'JSON instead of a table')
    .action(async (selector: string, options: SelectorOptions) => {
      const list = await ctx.backend().select(selector, selectorBounds(options));
      if (options.json) {
        printJsonValue(list);
        return;
      }
      process.stdout.write(formatTable(['NAME', 'IP', 'ROLE', 'STATE', 'LABELS'], list.map((m) => [m.name, m.ip ?? '-', m.role ?? '-', m.state, labelPairs(m) || '-'])));
    });

  worksRemotely(machines.command('export'))
    .description('the inventory as CSV or YAML, as `machines import` reads it back')
    .addOption(new Option('--format <format>', 'csv or yaml (default: from --output, else yaml)').choices([...INVENTORY_FORMATS]))
    .option('--output <file>', 'write to this file instead of standard output')
    .option('--json', 'print {"format", "machines", "text"} as JSON')
    .action(async (options: { format?: InventoryFormat; output?: string; json?: boolean }) => {
      const format = options.format ?? (options.output ? formatOfFile(options.output) : null) ?? 'yaml';
      const { text, count } = await ctx.backend().exportInventory(format);
      if (options.output) writeFileSync(options.output, text);
      if (options.json) printJsonValue({ format, machines: count, ...(options.output ? { output: options.output } : { text }) });
      else if (!options.output) process.stdout.write(text);
      else process.stderr.write(`rackboot: wrote ${count} machine(s) to ${options.output}\n`);
    });

  worksRemotely(machines.command('import'))
    .description('add and update machines from a CSV or YAML file (rows match machines by name; others stay). A dry run unless --apply: prints the diff and every row error with its line')
    .argument('<file>', 'the inventory file (.csv, .yaml); - for standard input with --format')
    .addOption(new Option('--format <format>', 'csv or yaml (default: from the file name)').choices([...INVENTORY_FORMATS]))
    .option('--apply', 'apply every change in one transaction (nothing is applied when any row has an error)')
    .option('--json', 'JSON instead of text')
    .action(async (file: string, options: { format?: InventoryFormat; apply?: boolean; json?: boolean }) => {
      const format = options.format ?? formatOfFile(file);
      if (!format) throw new CliError(`${file}: give --format csv|yaml (the file name does not say)`, EXIT_USAGE);
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (error) {
        throw new CliError(`${file}: ${(error as Error).message}`, EXIT_USAGE);
      }
      const result = await ctx.backend().importInventory(text, format, options.apply === true);
      if (options.json) printJsonValue(result);
      else process.stdout.write(importText(result, options.apply === true));
      if (result.errors.length > 0) process.exitCode = EXIT_FAILED;
    });

  worksRemotely(program.command('audit'))
    .description('who changed what: every operator write (CLI: the OS user, API and --server: the API token name), newest first')
    .option('--limit <n>', 'this many entries (at most 5000)', '50')
    .option('--before <id>', 'entries older than this id (paging)')
    .option('--json', 'JSON instead of a table')
    .action(async (options: { limit: string; before?: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw new CliError(`--limit ${options.limit}: a whole number from 1 to 5000`, EXIT_USAGE);
      const before = options.before === undefined ? undefined : Number(options.before);
      if (before !== undefined && (!Number.isInteger(before) || before < 1)) throw new CliError(`--before ${options.before}: an audit entry id`, EXIT_USAGE);
      const entries = await ctx.backend().audit(limit, before);
      if (options.json) {
        printJsonValue(entries);
        return;
      }
      process.stdout.write(formatTable(['ID', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'WHAT'], entries.map((e) => [String(e.id), formatTime(e.at), e.actor, e.action, e.target ?? '-', e.message])));
    });
}

function printJsonValue(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function labelPairs(machine: CliMachine): string {
  return Object.entries(machine.labels).map(([k, v]) => `${k}=${v}`).join(',');
}

function labelText(machine: CliMachine): string {
  const pairs = labelPairs(machine);
  return pairs === '' ? '' : `, labels ${pairs}`;
}

function importText(result: ImportView, apply: boolean): string {
  const out: string[] = [];
  for (const c of result.changes) {
    if (c.action === 'add') out.push(`+ line ${c.line}: add ${c.name} (${(c.macs ?? []).join(' ')} -> ${c.ip ?? 'no IP'})`);
    else if (c.action === 'update') out.push(`~ line ${c.line}: ${c.name}: ${describeChanges((c.changes ?? []) as readonly FieldChange[])}`);
  }
  for (const e of result.errors) out.push(`! line ${e.line}: ${e.message}`);
  const count = (a: string) => result.changes.filter((c) => c.action === a).length;
  const summary = `${count('add')} to add, ${count('update')} to update, ${count('unchanged')} unchanged, ${result.errors.length} row error(s)`;
  if (result.errors.length > 0) out.push(`NOT applied: ${summary}; fix the rows above (nothing is applied while any row is invalid)`);
  else if (apply) out.push(`applied: ${summary}`);
  else out.push(`dry run: ${summary}; run with --apply to apply`);
  return `${out.map(terminalText).join('\n')}\n`;
}
