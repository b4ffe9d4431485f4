/**
 * What every command module shares: the exit codes, the usage error, and how a command finds its
 * configuration and a Provisioner over the local inventory.
 */
import { resolve } from 'node:path';
import { loadConfigFile, loadEmbeddedConfig, type Config, type ConfigResult } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import { createProvisioner } from '../main.js';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

export interface CliContext {
  /** The configuration from --config, $RACKBOOT_CONFIG or the embedded default; exits 2 when invalid. */
  resolveConfig(): { config: Config; warnings: readonly string[] };
  config(): Config;
  /** A Provisioner over the local inventory, closed when `work` returns. */
  withProvisioner<T>(work: (provisioner: Provisioner) => T): T;
}

export function resolveConfigFile(flag: string | undefined): { config: Config; warnings: readonly string[] } {
  const path = flag ?? process.env.RACKBOOT_CONFIG;
  const result: ConfigResult = path ? loadConfigFile(resolve(path)) : loadEmbeddedConfig(process.cwd());
  if (!result.config) throw new CliError('the configuration is invalid', EXIT_USAGE, result.errors);
  return { config: result.config, warnings: result.warnings };
}

export function cliContext(configFlag: () => string | undefined): CliContext {
  const resolveConfig = () => resolveConfigFile(configFlag());
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
  };
}

/** A machine as the CLI prints it: without its boot secrets. */
export function publicMachine<M extends { bootToken: unknown; configToken: unknown }>(machine: M): Omit<M, 'bootToken' | 'configToken'> {
  const { bootToken: _token, configToken: _config, ...rest } = machine;
  return rest;
}
