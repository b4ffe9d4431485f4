#!/usr/bin/env node
/**
 * rackboot <command>. Exit codes: 0 success, 1 operation failed, 2 usage or configuration error.
 */
import { Command, CommanderError, Option } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfigFile, loadEmbeddedConfig, type Config, type ConfigResult } from './config.js';
import { isRole } from './core/cloud-config-context.js';
import { EXPORT_FORMATS, exportInventory, type ExportFormat } from './core/export.js';
import { isValidMachineName, normaliseMac, normaliseUuid } from './core/identifiers.js';
import { ROLES, type BootMode } from './core/render-context.js';
import { isIpv4 } from './core/ipv4.js';
import type { Machine } from './core/types.js';
import { isRackbootError } from './errors.js';
import { createLogger } from './log.js';
import { createProvisioner, databasePath, reloadCatalog, startServer } from './main.js';
import { registerIpmiCommands } from './cli/bmc.js';
import { registerInstallCommands } from './cli-install.js';
import { registerLabCommands } from './cli-lab.js';
import { enableInstall } from './install/enable.js';
import { parseIpRule } from './core/ip-policy.js';
import { previewDhcp } from './preview-dhcp.js';
import { dhcpSettings } from './services/dhcp-service.js';
import { formatTable, formatTime } from './cli-format.js';
import { ApiTokenStore } from './store/api-token-store.js';
import { openDatabase } from './store/db.js';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

function resolveConfig(flag: string | undefined): { config: Config; warnings: readonly string[] } {
  const path = flag ?? process.env.RACKBOOT_CONFIG;
  const result: ConfigResult = path ? loadConfigFile(resolve(path)) : loadEmbeddedConfig(process.cwd());
  if (!result.config) throw new CliError('the configuration is invalid', EXIT_USAGE, result.errors);
  return { config: result.config, warnings: result.warnings };
}

function withProvisioner<T>(configFlag: string | undefined, work: (p: ReturnType<typeof createProvisioner>['provisioner']) => T): T {
  const { config } = resolveConfig(configFlag);
  const { provisioner, close } = createProvisioner(config);
  try {
    return work(provisioner);
  } finally {
    close();
  }
}

const program = new Command();
program
  .name('rackboot')
  .description('PXE bare-metal provisioning: DHCP, TFTP, HTTP boot and install tracking')
  .option('-c, --config <file>', 'configuration file (default: $RACKBOOT_CONFIG, else the embedded default)')
  .showHelpAfterError()
  // commander's own usage errors (unknown option, missing argument) exit 2 like ours, not 1
  .exitOverride();

program
  .command('serve')
  .description('run the DHCP, TFTP and HTTP services')
  .action(async () => {
    const { config, warnings } = resolveConfig(program.opts().config);
    const logger = createLogger(process.env.RACKBOOT_LOG_LEVEL ?? config.log.level);
    for (const warning of warnings) logger.warn(warning);
    const server = await startServer(config, logger);
    const install = enableInstall(server.provisioner, config, logger);
    process.stdout.write(
      [
        `rackboot serving (config: ${config.source})`,
        ...server.listening.map((line) => `  ${line}`),
        `  data  ${server.databasePath}`,
        `  assets ${config.boot.assetsDir}`,
        config.dhcp.enabled ? '' : '  dhcp  off (enable it in a config file that names the provisioning subnet)',
        `  ui    ${config.http.publicUrl}/ (API ${config.http.publicUrl}/api/v1, metrics ${config.http.publicUrl}/metrics)`,
        server.newApiToken === null
          ? ''
          : `  API token (shown this once; only its hash is kept; \`rackboot api-token rotate\` makes a new one):\n    ${server.newApiToken}`,
      ]
        .filter((l) => l !== '')
        .join('\n') + '\n',
    );
    const stop = (signal: string) => {
      logger.info({ signal }, 'stopping');
      install.stop();
      server.close().then(
        () => process.exit(0),
        () => process.exit(EXIT_FAILED),
      );
    };
    process.on('SIGHUP', () => reloadCatalog(config, server.provisioner, logger));
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });

const machines = program.command('machines').description('the machine inventory');

machines
  .command('add')
  .description('register a machine by hand: its MAC(s), reserved IP and role')
  .requiredOption('--mac <mac...>', 'MAC address of a boot NIC (repeat for several)')
  .option('--ip <address>', 'reserved static IPv4 address')
  .option('--name <name>', 'host name (default: derived from the IP or MAC)')
  .option('--role <role>', `role: ${ROLES.join(', ')} (default: none, the machine shows the boot menu)`)
  .addOption(new Option('--mode <mode>', 'how the role boots').choices(['install', 'memory']).default('install'))
  .option('--uuid <uuid>', 'system UUID / BMC GUID')
  .option('--json', 'print the machine as JSON')
  .action((options: { mac: string[]; ip?: string; name?: string; role?: string; mode: BootMode; uuid?: string; json?: boolean }) => {
    const input = parseNewMachine(options);
    const machine = withProvisioner(program.opts().config, (p) => p.registerMachine(input));
    if (options.json) process.stdout.write(`${JSON.stringify(publicMachine(machine), null, 2)}\n`);
    else process.stdout.write(`added ${machine.name}: ${machine.macs.join(', ')} -> ${machine.ip ?? '(no IP)'}\n`);
  });

machines
  .command('list')
  .description('list machines with their state')
  .option('--json', 'JSON instead of a table')
  .action((options: { json?: boolean }) => {
    const list = withProvisioner(program.opts().config, (p) => p.store.listMachines());
    if (options.json) {
      process.stdout.write(`${JSON.stringify(list.map(publicMachine), null, 2)}\n`);
      return;
    }
    process.stdout.write(
      formatTable(
        ['NAME', 'MACS', 'IP', 'ROLE', 'STATE', 'SINCE'],
        list.map((m) => [m.name, m.macs.join(','), m.ip ?? '-', m.role ?? '-', m.state, formatTime(m.stateChangedAt)]),
      ),
    );
  });

machines
  .command('discovered')
  .description('MACs that asked for DHCP or a boot script but are not in the inventory')
  .option('--json', 'JSON instead of a table')
  .action((options: { json?: boolean }) => {
    const list = withProvisioner(program.opts().config, (p) => p.store.listDiscovered());
    if (options.json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      formatTable(
        ['MAC', 'FIRST SEEN', 'LAST SEEN', 'SIGHTINGS', 'FACTS'],
        list.map((d) => [d.mac, formatTime(d.firstSeen), formatTime(d.lastSeen), String(d.sightings), JSON.stringify(d.facts)]),
      ),
    );
  });

program
  .command('assign')
  .description('give machines a role; each boots it on its next PXE boot (--menu: forget the role, show the menu)')
  .argument('<machines...>', 'names, MACs or IPs')
  .option('--role <role>', `one of ${ROLES.join(', ')}`)
  .addOption(new Option('--mode <mode>', 'install to disk, or boot in memory').choices(['install', 'memory']).default('install'))
  .option('--menu', 'clear the role: the next boot shows the menu')
  .option('--json', 'print the updated machines as JSON')
  .action((refs: string[], options: { role?: string; mode: BootMode; menu?: boolean; json?: boolean }) => {
    if ((options.role === undefined) === (options.menu !== true)) throw new CliError('give either --role or --menu', EXIT_USAGE);
    const role = options.role ?? null;
    if (role !== null && !isRole(role)) throw new CliError(`--role ${role}: not one of ${ROLES.join(', ')}`, EXIT_USAGE);
    withProvisioner(program.opts().config, (p) => {
      const machines = refs.map((ref) => p.machineByRef(ref) ?? ref);
      const missing = machines.filter((m): m is string => typeof m === 'string');
      if (missing.length > 0) throw new CliError(`no such machine: ${missing.join(', ')}`, EXIT_FAILED);
      const updated = (machines as Machine[]).map((machine) => p.assignRole(machine, role, options.mode));
      if (options.json) process.stdout.write(`${JSON.stringify(updated.map(publicMachine), null, 2)}\n`);
      else for (const m of updated) process.stdout.write(`${m.name}: ${m.role === null ? 'no role (boot menu)' : `${m.role} (${m.bootMode})`}\n`);
    });
  });

program
  .command('preview')
  .description('what a machine would get now (DHCP answer, iPXE script, cloud-config), without booting it')
  .argument('<machine>', 'name, MAC or IP')
  .addOption(new Option('--firmware <kind>', 'the DHCP client to simulate').choices(['bios', 'uefi', 'ipxe']).default('ipxe'))
  .option('--json', 'JSON instead of text')
  .action((ref: string, options: { firmware: 'bios' | 'uefi' | 'ipxe'; json?: boolean }) => {
    const { config } = resolveConfig(program.opts().config);
    const result = withProvisioner(program.opts().config, (p) => {
      const machine = p.machineByRef(ref);
      if (!machine) throw new CliError(`no machine ${ref}`, EXIT_FAILED);
      return { preview: p.preview(machine), dhcp: previewDhcp(machine, options.firmware, dhcpSettings(config)) };
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
      `# cloud-config${preview.cloudConfig.ok ? ` (${preview.cloudConfig.template})` : ''}`,
      preview.cloudConfig.ok ? preview.cloudConfig.text.trimEnd() : `NOT SERVED:\n${preview.cloudConfig.errors.map((e) => `  - ${e}`).join('\n')}`,
      ...(preview.cloudConfig.ok ? preview.cloudConfig.warnings.map((w) => `# warning: ${w}`) : []),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    if (!preview.script.ok || !preview.cloudConfig.ok) process.exitCode = EXIT_FAILED;
  });

program
  .command('export')
  .description('the inventory for other tools: ISC dhcpd host blocks, dnsmasq dhcp-host lines, CSV, Ansible inventory')
  .addOption(new Option('--format <format>', 'output format').choices([...EXPORT_FORMATS]).makeOptionMandatory())
  .option('--output <file>', 'write to this file instead of standard output')
  .action((options: { format: ExportFormat; output?: string }) => {
    const machines = withProvisioner(program.opts().config, (p) => p.store.listMachines());
    const result = exportInventory(machines, options.format);
    for (const reason of result.skipped) process.stderr.write(`rackboot: left out ${reason}\n`);
    if (options.output) writeFileSync(options.output, result.text);
    else process.stdout.write(result.text);
  });

program
  .command('events')
  .description("a machine's timeline, or every event")
  .argument('[machine]', 'name, MAC or IP')
  .option('--json', 'JSON instead of a table')
  .option('--limit <n>', 'at most this many events', '200')
  .action((ref: string | undefined, options: { json?: boolean; limit: string }) => {
    const limit = Number(options.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new CliError(`--limit ${options.limit}: expected a whole number from 1 to 10000`, EXIT_USAGE);
    const events = withProvisioner(program.opts().config, (p) => {
      if (ref === undefined) return p.store.listEvents({ limit });
      const machine = p.machineByRef(ref);
      if (!machine) throw new CliError(`no machine ${ref}`, EXIT_FAILED);
      return p.store.listEvents({ machineId: machine.id, limit });
    });
    if (options.json) {
      process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      formatTable(
        ['TIME', 'MACHINE', 'EVENT', 'MESSAGE'],
        events.map((e) => [formatTime(e.at), e.machineId === null ? (e.mac ?? '-') : String(e.machineId), e.type, e.message]),
      ),
    );
  });

program
  .command('config')
  .description('check a configuration file and print the effective configuration')
  .addOption(new Option('--quiet', 'print only problems'))
  .action((options: { quiet?: boolean }) => {
    const { config, warnings } = resolveConfig(program.opts().config);
    for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
    if (!options.quiet) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  });

const apiToken = program.command('api-token').description("the bearer token the API's mutations (and the dashboard's actions) need");

function withTokenStore<T>(work: (tokens: ApiTokenStore) => T): T {
  const { config } = resolveConfig(program.opts().config);
  const db = openDatabase(databasePath(config));
  try {
    return work(new ApiTokenStore(db));
  } finally {
    db.close();
  }
}

apiToken
  .command('rotate')
  .description('revoke the API token and print a new one, this once (only its hash is stored); a running server uses it at once')
  .option('--json', 'print {"token": ...} as JSON')
  .action((options: { json?: boolean }) => {
    const token = withTokenStore((tokens) => tokens.rotate(Date.now()));
    if (options.json) process.stdout.write(`${JSON.stringify({ token })}\n`);
    else process.stdout.write(`${token}\n`);
    process.stderr.write('rackboot: the previous API token no longer works; this one is not shown again\n');
  });

apiToken
  .command('status')
  .description('whether there is an API token, its first characters and when it was made (never the token)')
  .option('--json', 'JSON instead of text')
  .action((options: { json?: boolean }) => {
    const active = withTokenStore((tokens) => tokens.active());
    if (options.json) process.stdout.write(`${JSON.stringify({ active: active !== null, hint: active?.hint ?? null, createdAt: active?.createdAt ?? null })}\n`);
    else process.stdout.write(active ? `API token ${active.hint}… made ${formatTime(active.createdAt)}\n` : 'no API token yet: `rackboot serve` makes one at its first start, or run `rackboot api-token rotate`\n');
  });

function parseNewMachine(options: { mac: string[]; ip?: string; name?: string; role?: string; mode: BootMode; uuid?: string }) {
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
  if (problems.length > 0) throw new CliError('invalid machine', EXIT_USAGE, problems);
  return { name, macs, ip: options.ip ?? null, role: options.role ?? null, bootMode: options.mode, uuid };
}

function defaultName(ip: string | undefined, mac: string): string {
  if (ip !== undefined && isIpv4(ip)) return `node-${ip.replace(/\./g, '-')}`;
  return `node-${mac.replace(/:/g, '')}`;
}

function publicMachine(machine: Machine) {
  const { bootToken: _token, configToken: _config, ...rest } = machine;
  return rest;
}

registerIpmiCommands(program, {
  config: () => resolveConfig(program.opts().config).config,
  databasePath,
  settings: () => {
    const { ipmi } = resolveConfig(program.opts().config).config;
    const rule = ipmi.ipPlan === undefined ? undefined : parseIpRule(ipmi.ipPlan);
    return { ...ipmi, ...(rule?.ok ? { ipRule: rule.rule } : {}) };
  },
});

registerLabCommands(program);

registerInstallCommands(program, {
  config: () => resolveConfig(program.opts().config).config,
  withProvisioner: (work) => withProvisioner(program.opts().config, work),
});

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  if (error instanceof CliError) {
    process.stderr.write(`rackboot: ${error.message}\n${error.details.map((d) => `  - ${d}\n`).join('')}`);
    process.exit(error.exitCode);
  }
  if (isRackbootError(error)) {
    process.stderr.write(`rackboot: ${error.message} [${error.code}]\n${error.details.map((d) => `  - ${d}\n`).join('')}`);
    process.exit(error.code === 'RACKBOOT_ERR_CONFIG' || error.code === 'RACKBOOT_ERR_CATALOG' ? EXIT_USAGE : EXIT_FAILED);
  }
  process.stderr.write(`rackboot: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(EXIT_FAILED);
});
