/**
 * The inventory commands: machines add|list|show|discovered, assign, preview, export, events.
 * All but preview are written against the CliBackend (backend.ts), so they also run with --server.
 */
import { Argument, Option, type Command } from 'commander';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';
import type { ConfigFormat } from '../core/config-format.js';
import { EXPORT_FORMATS, exportInventory, type ExportFormat } from '../core/export.js';
import { isValidMachineName, normaliseMac, normaliseUuid } from '../core/identifiers.js';
import { cidrContains, isIpv4, parseCidr } from '../core/ipv4.js';
import { applyLabelChanges } from '../core/labels.js';
import { previewDhcp } from '../core/preview-dhcp.js';
import { isRole, ROLES, type BootMode, type Role } from '../core/roles.js';
import type { Machine } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { dhcpSettings } from '../services/dhcp-service.js';
import { cliMachine, worksRemotely, type CliBackend, type CliMachine } from './backend.js';
import { CliError, EXIT_FAILED, EXIT_USAGE, publicMachine, type CliContext } from './context.js';
import { formatTable, formatTime, terminalLines, terminalText } from './format.js';
import { addSelectorOptions, registerLifecycleCommands, selectAndConfirm, selectorBounds, type SelectorOptions } from './lifecycle.js';

export function registerInventoryCommands(program: Command, ctx: CliContext): void {
  const machines = program.command('machines').description('the machine inventory');

  worksRemotely(machines.command('add'))
    .description('register a machine by hand: its MAC(s), reserved IP and role')
    .requiredOption('--mac <mac...>', 'MAC address of a boot NIC (repeat for several)')
    .option('--ip <address>', 'reserved static IPv4 address')
    .option('--name <name>', 'host name (default: derived from the IP or MAC)')
    .option('--role <role>', `role: ${ROLES.join(', ')} (default: none, the machine shows the boot menu)`)
    .addOption(new Option('--mode <mode>', 'how the role boots').choices(['install', 'memory']).default('install'))
    .option('--uuid <uuid>', 'system UUID / BMC GUID')
    .option('--label <label...>', 'key=value labels (docs/inventory.md)')
    .option('--json', 'print the machine as JSON')
    .action(async (options: { mac: string[]; ip?: string; name?: string; role?: string; mode: BootMode; uuid?: string; label?: string[]; json?: boolean }) => {
      const input = parseNewMachine(options);
      const backend = ctx.backend();
      const machine = await backend.addMachine(input);
      // the local config names the subnets; a remote server checks its own
      const uncovered = backend.kind === 'remote' || input.ip === null ? null : subnetProblem(ctx.config(), input.ip);
      if (uncovered) process.stderr.write(`rackboot: warning: ${uncovered}\n`);
      if (options.json) printJson(machine);
      else process.stdout.write(`added ${machine.name}: ${machine.macs.join(', ')} -> ${machine.ip ?? '(no IP)'}\n`);
    });

  worksRemotely(machines.command('list'))
    .description('list machines with their state')
    .option('--json', 'JSON instead of a table')
    .action(async (options: { json?: boolean }) => {
      const list = await ctx.backend().listMachines();
      if (options.json) {
        printJson(list);
        return;
      }
      process.stdout.write(
        formatTable(
          ['NAME', 'MACS', 'IP', 'ROLE', 'STATE', 'SINCE'],
          list.map((m) => [m.name, m.macs.join(','), m.ip ?? '-', m.role ?? '-', m.state, formatTime(m.stateChangedAt)]),
        ),
      );
    });

  worksRemotely(machines.command('show'))
    .description('one machine: its identifiers, role and state')
    .argument('<machine>', 'name, MAC or IP')
    .option('--json', 'JSON instead of text')
    .action(async (ref: string, options: { json?: boolean }) => {
      const m = await ctx.backend().machine(ref);
      if (options.json) {
        printJson(m);
        return;
      }
      const rows: Array<[string, string]> = [
        ['name', m.name],
        ['macs', m.macs.join(', ')],
        ['ip', m.ip ?? '-'],
        ['uuid', m.uuid ?? '-'],
        ['bmc', m.bmcAddress ?? '-'],
        ['role', m.role === null ? '- (boot menu)' : `${m.role} (${m.bootMode})`],
        ['state', `${m.state} since ${formatTime(m.stateChangedAt)}`],
        ['labels', Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'],
        ['created', formatTime(m.createdAt)],
      ];
      process.stdout.write(rows.map(([k, v]) => `${k.padEnd(8)} ${terminalText(v)}\n`).join(''));
    });

  worksRemotely(machines.command('discovered'))
    .description('MACs that asked for DHCP or a boot script but are not in the inventory')
    .option('--json', 'JSON instead of a table')
    .action(async (options: { json?: boolean }) => {
      const list = await ctx.backend().discovered();
      if (options.json) {
        printJson(list);
        return;
      }
      process.stdout.write(
        formatTable(
          ['MAC', 'FIRST SEEN', 'LAST SEEN', 'SIGHTINGS', 'FACTS'],
          list.map((d) => [d.mac, formatTime(d.firstSeen), formatTime(d.lastSeen), String(d.sightings), JSON.stringify(d.facts)]),
        ),
      );
    });

  registerLifecycleCommands(program, machines, ctx);

  addSelectorOptions(
    worksRemotely(program.command('assign'))
      .description('give machines a role; each boots it on its next PXE boot (--menu: forget the role, show the menu)')
      .argument('[machines...]', 'names, MACs or IPs (or --selector)')
      .option('--role <role>', `one of ${ROLES.join(', ')}`)
      .addOption(new Option('--mode <mode>', 'install to disk, or boot in memory').choices(['install', 'memory']).default('install'))
      .option('--menu', 'clear the role: the next boot shows the menu'),
  )
    .option('-y, --yes', 'with --selector: do not ask (required when not on a terminal)')
    .option('--json', 'print the updated machines as JSON')
    .action(async (refs: string[], options: SelectorOptions & { role?: string; mode: BootMode; menu?: boolean }) => {
      if ((options.role === undefined) === (options.menu !== true)) throw new CliError('give either --role or --menu', EXIT_USAGE);
      const role = (options.role ?? null) as Role | null;
      if (role !== null && !isRole(role)) throw new CliError(`--role ${role}: not one of ${ROLES.join(', ')}`, EXIT_USAGE);
      if ((options.selector === undefined) === (refs.length === 0)) throw new CliError('name machines or give --selector (not both)', EXIT_USAGE);
      const print = (updated: readonly CliMachine[]) => {
        if (options.json) printJson(updated);
        else for (const m of updated) process.stdout.write(`${m.name}: ${m.role === null ? 'no role (boot menu)' : `${m.role} (${m.bootMode})`}\n`);
      };
      const backend = ctx.backend();
      if (options.selector !== undefined) {
        const names = await selectAndConfirm(backend, options, role === null ? 'Clear the role of' : `Assign ${role} (${options.mode}) to`);
        if (names === null) return;
        print(await backend.bulkAssign(options.selector, role, options.mode, selectorBounds(options)));
        return;
      }
      // every machine is found before any changes: a typo changes nothing
      const machines = await findAll(backend, refs);
      const updated: CliMachine[] = [];
      for (const machine of machines) updated.push(await backend.assignRole(machine.name, role, options.mode));
      print(updated);
    });

  program
    .command('config-format')
    .description("how machines fetch their config from the next PXE boot: cloud-config, ignition, or role (their role's or the default, boot.configFormat)")
    .addArgument(new Argument('<format>', 'the format').choices(['cloud-config', 'ignition', 'role']))
    .argument('<machines...>', 'names, MACs or IPs')
    .option('--json', 'print the updated machines as JSON')
    .action((format: ConfigFormat | 'role', refs: string[], options: { json?: boolean }) => {
      ctx.withProvisioner((p) => {
        const machines = refs.map((ref) => p.machineByRef(ref) ?? ref);
        const missing = machines.filter((m): m is string => typeof m === 'string');
        if (missing.length > 0) throw new CliError(`no such machine: ${missing.join(', ')}`, EXIT_FAILED);
        const updated = (machines as Machine[]).map((machine) => p.setConfigFormat(machine, format === 'role' ? null : format));
        if (options.json) process.stdout.write(`${JSON.stringify(updated.map((m) => cliMachine(publicMachine(m))), null, 2)}\n`);
        else for (const m of updated) process.stdout.write(`${m.name}: ${p.configFormat(m)}${m.configFormat ? '' : " (its role's or the default)"}\n`);
      });
    });

  program
    .command('preview')
    .description('what a machine would get now (DHCP answer, iPXE script, cloud-config), without booting it')
    .argument('<machine>', 'name, MAC or IP')
    .addOption(new Option('--firmware <kind>', 'the DHCP client to simulate').choices(['bios', 'uefi', 'ipxe']).default('ipxe'))
    .option('--json', 'JSON instead of text')
    .action((ref: string, options: { firmware: 'bios' | 'uefi' | 'ipxe'; json?: boolean }) => {
      const { config } = ctx.resolveConfig();
      const result = ctx.withProvisioner((p) => {
        const machine = p.machineByRef(ref);
        if (!machine) throw new CliError(`no machine ${ref}`, EXIT_FAILED, [], 'RACKBOOT_ERR_NOT_FOUND');
        const preview = p.preview(machine);
        return { preview, dhcp: previewDhcp(machine, options.firmware, dhcpSettings(config)), missingBootFiles: preview.plan.startsWith('local disk') ? [] : missingBootFiles(config) };
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const { preview, dhcp } = result;
      const out: string[] = [
        `# ${preview.machine.name}: ${preview.machine.state}, boots ${preview.plan}`,
        `# DHCP (${options.firmware}): ${dhcp}`,
        '# iPXE script',
        preview.script.ok ? preview.script.value.trimEnd() : `ERROR: ${preview.script.message}`,
        `# ${preview.configFormat === 'ignition' ? 'Ignition config' : 'cloud-config'}${preview.cloudConfig.ok ? ` (${preview.cloudConfig.template})` : ''}`,
        preview.cloudConfig.ok ? preview.cloudConfig.text.trimEnd() : `NOT SERVED:\n${preview.cloudConfig.errors.map((e) => `  - ${e}`).join('\n')}`,
        ...(preview.cloudConfig.ok ? preview.cloudConfig.warnings.map((w) => `# warning: ${w}`) : []),
        ...result.missingBootFiles.map((m) => `# NOT BOOTABLE: ${m}`),
      ];
      process.stdout.write(`${terminalLines(out.join('\n'))}\n`);
      if (!preview.script.ok || !preview.cloudConfig.ok || result.missingBootFiles.length > 0) process.exitCode = EXIT_FAILED;
    });

  worksRemotely(program.command('export'))
    .description('the inventory for other tools: ISC dhcpd host blocks, dnsmasq dhcp-host lines, CSV, Ansible inventory')
    .addOption(new Option('--format <format>', 'output format').choices([...EXPORT_FORMATS]).makeOptionMandatory())
    .option('--output <file>', 'write to this file instead of standard output')
    .option('--json', 'print {"format", "text", "skipped"} as JSON (with --output: only the summary)')
    .action(async (options: { format: ExportFormat; output?: string; json?: boolean }) => {
      const machines = await ctx.backend().listMachines();
      const result = exportInventory(machines.map((m) => ({ ...m, bootToken: null, configToken: null })), options.format);
      if (!options.json) for (const reason of result.skipped) process.stderr.write(`rackboot: left out ${reason}\n`);
      if (options.output) writeFileSync(options.output, result.text);
      if (options.json) printJson({ format: options.format, ...(options.output ? { output: options.output } : { text: result.text }), skipped: result.skipped });
      else if (!options.output) process.stdout.write(result.text);
    });

  worksRemotely(program.command('events'))
    .description("a machine's timeline, or every event")
    .argument('[machine]', 'name, MAC or IP')
    .option('--json', 'JSON instead of a table')
    .option('--limit <n>', 'the newest this many events', '200')
    .action(async (ref: string | undefined, options: { json?: boolean; limit: string }) => {
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError(`--limit ${options.limit}: expected a whole number from 1 to 10000`, EXIT_USAGE);
      const events = await ctx.backend().events(ref, limit);
      if (options.json) {
        printJson(events);
        return;
      }
      process.stdout.write(
        formatTable(
          ['TIME', 'MACHINE', 'EVENT', 'MESSAGE'],
          events.map((e) => [formatTime(e.at), e.machineId === null ? (e.mac ?? '-') : String(e.machineId), e.type, e.message]),
        ),
      );
    });
}

/** Finds every machine first; the missing ones are one error naming them all. */
export async function findAll(backend: CliBackend, refs: readonly string[]): Promise<CliMachine[]> {
  const found: CliMachine[] = [];
  const missing: string[] = [];
  for (const ref of refs) {
    try {
      found.push(await backend.machine(ref));
    } catch (error) {
      if (!(error instanceof RackbootError && error.code === 'RACKBOOT_ERR_NOT_FOUND')) throw error;
      missing.push(ref);
    }
  }
  if (missing.length > 0) throw new CliError(`no such machine: ${missing.join(', ')}`, EXIT_FAILED, [], 'RACKBOOT_ERR_NOT_FOUND');
  return found;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function parseNewMachine(options: { mac: string[]; ip?: string; name?: string; role?: string; mode: BootMode; uuid?: string; label?: string[] }) {
  const problems: string[] = [];
  const macs = options.mac.map((raw) => {
    const mac = normaliseMac(raw);
    if (!mac) problems.push(`--mac ${raw}: not a MAC address (expected aa:bb:cc:dd:ee:ff)`);
    return mac ?? '';
  });
  if (new Set(macs).size !== macs.length) problems.push('--mac: the same MAC is given twice');
  if (options.ip !== undefined && !isIpv4(options.ip)) problems.push(`--ip ${options.ip}: not an IPv4 address`);
  const uuid = options.uuid === undefined ? null : normaliseUuid(options.uuid);
  if (options.uuid !== undefined && !uuid) problems.push(`--uuid ${options.uuid}: not a UUID`);
  if (options.role !== undefined && !isRole(options.role)) problems.push(`--role ${options.role}: not one of ${ROLES.join(', ')}`);
  const name = options.name ?? defaultName(options.ip, macs[0] ?? '');
  if (!isValidMachineName(name)) problems.push(`--name ${name}: use lower-case letters, digits and hyphens (a host name)`);
  const labels = applyLabelChanges({}, options.label ?? []);
  if (!labels.ok) problems.push(...labels.problems.map((p) => `--label: ${p}`));
  if (problems.length > 0) throw new CliError('invalid machine', EXIT_USAGE, problems);
  return { name, macs, ip: options.ip ?? null, role: (options.role ?? null) as Role | null, bootMode: options.mode, uuid, labels: labels.ok ? labels.labels : {} };
}

function defaultName(ip: string | undefined, mac: string): string {
  if (ip !== undefined && isIpv4(ip)) return `node-${ip.replace(/\./g, '-')}`;
  return `node-${mac.replace(/:/g, '')}`;
}

/** The OS files a machine would fetch after its iPXE script, when they are not in boot.assetsDir. */
function missingBootFiles(config: Config): string[] {
  const files = [['boot.os.kernel', config.boot.os.kernel], ...config.boot.os.initrds.map((path, i) => [`boot.os.initrds.${i}`, path])] as const;
  return files
    .filter(([, path]) => !existsSync(join(config.boot.assetsDir, path)))
    .map(([key, path]) => `${key} ${path} is not in ${config.boot.assetsDir}: the machine would stop after its iPXE script (rackboot assets import, or copy it there)`);
}

/** A reserved address no configured subnet covers: the machine's static network config cannot be rendered. */
function subnetProblem(config: Config, ip: string): string | null {
  if (config.dhcp.subnets.some((s) => { const cidr = parseCidr(s.cidr); return cidr !== null && cidrContains(cidr, ip); })) return null;
  const subnets = config.dhcp.subnets.map((s) => s.cidr).join(', ');
  return `${ip} is in none of dhcp.subnets (${subnets === '' ? 'none configured' : subnets}): its cloud-config cannot be rendered (no prefix, gateway or DNS) until a subnet in the config covers it`;
}
