/**
 * What every command module shares: the exit codes, the usage error, how a command finds its
 * configuration, a Provisioner over the local inventory, and the backend (local or --server).
 */
import { resolve } from 'node:path';
import { loadConfigFile, loadEmbeddedConfig, type Config, type ConfigResult } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import { createProvisioner } from '../main.js';
import { localBackend, remoteBackend, type CliBackend } from './backend.js';
import { CliError, EXIT_USAGE } from './errors-out.js';
import { remoteServer, type RemoteOptions, type RemoteServer } from './remote.js';

export { CliError, EXIT_AUTH, EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE } from './errors-out.js';

export interface GlobalOptions extends RemoteOptions {
  readonly config?: string;
}

export interface CliContext {
  /** The configuration from --config, $RACKBOOT_CONFIG or the embedded default; exits 2 when invalid. */
  resolveConfig(): { config: Config; warnings: readonly string[] };
  config(): Config;
  /** A Provisioner over the local inventory, closed when `work` returns. */
  withProvisioner<T>(work: (provisioner: Provisioner) => T): T;
  /** The remote server (--server / $RACKBOOT_SERVER), or null: commands work on the local data directory. */
  remote(): RemoteServer | null;
  /** The inventory the command works on: the remote server's API, or the local data directory. */
  backend(): CliBackend;
}

export function resolveConfigFile(flag: string | undefined): { config: Config; warnings: readonly string[] } {
  const path = flag ?? process.env.RACKBOOT_CONFIG;
  const result: ConfigResult = path ? loadConfigFile(resolve(path)) : loadEmbeddedConfig(process.cwd());
  if (!result.config) throw new CliError('the configuration is invalid', EXIT_USAGE, result.errors, 'RACKBOOT_ERR_CONFIG');
  return { config: result.config, warnings: result.warnings };
}

export function cliContext(globalOptions: () => GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  const resolveConfig = () => resolveConfigFile(globalOptions().config);
  let remote: RemoteServer | null | undefined;
  const remoteOnce = () => (remote === undefined ? (remote = remoteServer(globalOptions(), env)) : remote);
  return {
    resolveConfig,
    config: () => resolveConfig().config,
    withProvisioner(work) {
      const { provisioner, close } = createProvisioner(resolveConfig().config);
      try {
        return work(provisioner);
      } finally {
        close();
      }
    },
    remote: remoteOnce,
    backend() {
      const server = remoteOnce();
      return server ? remoteBackend(server) : localBackend({ open: () => createProvisioner(resolveConfig().config) });
    },
  };
}

/** A machine as the CLI prints it: without its boot secrets. */
export function publicMachine<M extends { bootToken: unknown; configToken: unknown }>(machine: M): Omit<M, 'bootToken' | 'configToken'> {
  const { bootToken: _token, configToken: _config, ...rest } = machine;
  return rest;
}
