#!/usr/bin/env node
/**
 * rackboot <command>. Exit codes: 0 success, 1 operation failed, 2 usage or configuration error.
 * Each group of commands lives in its own module and gets the shared CliContext (context.ts).
 */
import { Command, CommanderError } from 'commander';
import { registerIpmiCommands } from './bmc.js';
import { parseIpRule } from '../core/ip-policy.js';
import { isRackbootError } from '../errors.js';
import { databasePath } from '../main.js';
import { packageVersion } from '../paths.js';
import { registerAdminCommands } from './admin.js';
import { registerClusterCommands } from './clusters.js';
import { CliError, cliContext, EXIT_FAILED, EXIT_USAGE } from './context.js';
import { terminalLines, terminalText } from './format.js';
import { registerInstallCommands } from './install.js';
import { registerInventoryCommands } from './inventory.js';
import { registerLabCommands } from './lab.js';
import { registerServeCommand } from './serve.js';

// `rackboot events | head -1`: the reader closing the pipe ends the command; it is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

/** Configuration and data problems the operator must fix before any command can work: exit code 2. */
const USAGE_CODES: ReadonlySet<string> = new Set(['RACKBOOT_ERR_CONFIG', 'RACKBOOT_ERR_CATALOG', 'RACKBOOT_ERR_STORE_UNUSABLE']);

const program = new Command();
program
  .name('rackboot')
  .description('PXE bare-metal provisioning: DHCP, TFTP, HTTP boot and install tracking')
  .version(packageVersion(), '-V, --version', 'print the version of the rackboot package')
  .option('-c, --config <file>', 'configuration file (default: $RACKBOOT_CONFIG, else the embedded default)')
  .showHelpAfterError()
  // commander's own usage errors (unknown option, missing argument) exit 2 like ours, not 1
  .exitOverride();

const ctx = cliContext(() => program.opts<{ config?: string }>().config);

registerServeCommand(program, ctx);
registerInventoryCommands(program, ctx);
registerAdminCommands(program, ctx);
registerIpmiCommands(program, {
  config: () => ctx.resolveConfig().config,
  databasePath,
  settings: () => {
    const { ipmi } = ctx.resolveConfig().config;
    const rule = ipmi.ipPlan === undefined ? undefined : parseIpRule(ipmi.ipPlan);
    return { ...ipmi, ...(rule?.ok ? { ipRule: rule.rule } : {}) };
  },
});

registerLabCommands(program);

registerInstallCommands(program, ctx);
registerClusterCommands(program, ctx);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  if (error instanceof CliError) {
    process.stderr.write(`rackboot: ${terminalText(error.message)}\n${error.details.map((d) => `  - ${terminalText(d)}\n`).join('')}`);
    process.exit(error.exitCode);
  }
  if (isRackbootError(error)) {
    process.stderr.write(`rackboot: ${terminalText(error.message)} [${error.code}]\n${error.details.map((d) => `  - ${terminalText(d)}\n`).join('')}`);
    process.exit(USAGE_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILED);
  }
  process.stderr.write(`rackboot: ${terminalLines((error as Error).stack ?? String(error))}\n`);
  process.exit(EXIT_FAILED);
});
