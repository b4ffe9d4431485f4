#!/usr/bin/env node
/**
 * rackboot <command>. Exit codes (docs/cli.md): 0 success, 1 operation failed or problems found,
 * 2 usage, configuration or unusable local store, 3 remote server unreachable, 4 API token refused.
 * Each group of commands lives in its own module and gets the shared CliContext (context.ts).
 * With --server (or $RACKBOOT_SERVER) the commands marked worksRemotely (backend.ts) go through the
 * server's API; every other command refuses with RACKBOOT_ERR_LOCAL_ONLY.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerIpmiCommands } from './bmc.js';
import { parseIpRule } from '../core/ip-policy.js';
import { RackbootError } from '../errors.js';
import { databasePath } from '../main.js';
import { packageVersion } from '../paths.js';
import { registerAdminCommands } from './admin.js';
import { registerClusterCommands } from './clusters.js';
import { commandPath, isRemoteCapable } from './backend.js';
import { cliContext, type GlobalOptions } from './context.js';
import { EXIT_USAGE, reportFailure, wantsJson } from './errors-out.js';
import { registerInstallCommands } from './install.js';
import { registerInventoryCommands } from './inventory.js';
import { registerLabCommands } from './lab.js';
import { DEFAULT_REMOTE_TIMEOUT_SECONDS } from './remote.js';
import { registerServeCommand } from './serve.js';

// `rackboot events | head -1`: the reader closing the pipe ends the command; it is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const json = wantsJson(process.argv.slice(2));

const program = new Command();
program
  .name('rackboot')
  .description('PXE bare-metal provisioning: DHCP, TFTP, HTTP boot and install tracking')
  .version(packageVersion(), '-V, --version', 'print the version of the rackboot package')
  .option('-c, --config <file>', 'configuration file (default: $RACKBOOT_CONFIG, else the embedded default)')
  .addOption(new Option('--server <url>', 'work through this rackboot server\'s API instead of the local data directory').env('RACKBOOT_SERVER'))
  .addOption(new Option('--token-file <file>', 'file holding the API token, mode 0600 (default: $RACKBOOT_TOKEN, else $RACKBOOT_TOKEN_FILE)'))
  .addOption(new Option('--ca-file <file>', 'PEM CA certificate(s) to trust for an https:// --server').env('RACKBOOT_CA_FILE'))
  .addOption(new Option('--timeout <seconds>', `deadline of each request to --server (default ${DEFAULT_REMOTE_TIMEOUT_SECONDS})`).env('RACKBOOT_TIMEOUT'))
  .showHelpAfterError(!json)
  // commander's own usage errors (unknown option, missing argument) exit 2 like ours, not 1
  .exitOverride()
  .configureOutput({
    outputError: (text, write) => {
      if (json) reportFailure(new RackbootError('RACKBOOT_ERR_USAGE', text.replace(/^error: /, '').trim()), true);
      else write(text);
    },
  });

const ctx = cliContext(() => program.opts<GlobalOptions>());

// a command not written against the backend cannot run remotely: say so before it touches anything local
program.hook('preAction', (_root, action) => {
  if (ctx.remote() === null || isRemoteCapable(action)) return;
  throw new RackbootError(
    'RACKBOOT_ERR_LOCAL_ONLY',
    `rackboot ${commandPath(action)} works on this machine's data directory only, not with --server ${ctx.remote()?.url ?? ''} (run it on the server, or unset RACKBOOT_SERVER)`,
  );
});

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
  remote: () => ctx.remote(),
});

registerLabCommands(program);

registerInstallCommands(program, ctx);
registerClusterCommands(program, ctx);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) process.exit(error.exitCode === 0 ? 0 : EXIT_USAGE);
  process.exit(reportFailure(error, json));
});
