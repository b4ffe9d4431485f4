/**
 * rackboot serve: the whole server (server/main.ts), its banner, and its signals.
 */
import type { Command } from 'commander';
import { RackbootError } from '../errors.js';
import { createLogger, LOG_FORMATS, parseLogFormat } from '../log.js';
import { handleSignals, startServer } from '../main.js';
import type { CliContext } from './context.js';

export function registerServeCommand(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('run the DHCP, TFTP and HTTP services')
    .action(async () => {
      const resolved = ctx.resolveConfig();
      const { warnings } = resolved;
      // RACKBOOT_DHCP_WORKER=false: DHCP on the main thread whatever the config says (debugging, and the tests of both paths)
      const config = process.env.RACKBOOT_DHCP_WORKER === 'false' ? { ...resolved.config, dhcp: { ...resolved.config.dhcp, worker: false } } : resolved.config;
      const format = parseLogFormat(process.env.RACKBOOT_LOG_FORMAT ?? config.log.format);
      if (format === null) throw new RackbootError('RACKBOOT_ERR_CONFIG', `RACKBOOT_LOG_FORMAT must be one of ${LOG_FORMATS.join(', ')}`);
      const logger = createLogger(process.env.RACKBOOT_LOG_LEVEL ?? config.log.level, undefined, format);
      for (const warning of warnings) logger.warn(warning);
      const server = await startServer(config, logger);
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
      handleSignals(server, config, logger);
    });
}
