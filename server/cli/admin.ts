/**
 * rackboot config (check and print the effective configuration) and rackboot api-token.
 */
import { Option, type Command } from 'commander';
import { CONFIG_SCHEMA_FILE, configJsonSchemaText } from '../config/json-schema.js';
import { databasePath, loadCatalog } from '../main.js';
import { ApiTokenStore } from '../store/api-token-store.js';
import { openDatabase } from '../store/db.js';
import { CliError, EXIT_USAGE, type CliContext } from './context.js';
import { formatTime } from './format.js';

export function registerAdminCommands(program: Command, ctx: CliContext): void {
  const configCommand = program
    .command('config')
    .description('check a configuration file (and the templates, menus and cloud-configs it names, as serve does) and print the effective configuration')
    .addOption(new Option('--quiet', 'print only problems'))
    .option('--json', 'print {"config", "warnings"} as JSON (warnings not on stderr)')
    .action((options: { quiet?: boolean; json?: boolean }) => {
      const { config, warnings } = ctx.resolveConfig();
      if (!options.json) for (const warning of warnings) process.stderr.write(`warning: ${warning}\n`);
      // what serve loads next: a menu or default item the catalog does not have fails here too
      loadCatalog(config);
      if (options.json) process.stdout.write(`${JSON.stringify({ config, warnings }, null, 2)}\n`);
      else if (!options.quiet) process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
    });
  configCommand
    .command('schema')
    .description(`print the JSON Schema of the configuration file, for editors (the same as ${CONFIG_SCHEMA_FILE}; docs/configuration.md)`)
    .action(() => {
      process.stdout.write(configJsonSchemaText());
    });

  const apiToken = program.command('api-token').description("the bearer token the API's mutations (and the dashboard's actions) need");

  function withTokenStore<T>(work: (tokens: ApiTokenStore) => T): T {
    const { config } = ctx.resolveConfig();
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
    .option('--name <name>', 'who uses the token: the audit log records changes made with it as api:<name>')
    .action((options: { json?: boolean; name?: string }) => {
      if (options.name !== undefined && !/^[A-Za-z0-9._@-]{1,64}$/.test(options.name)) throw new CliError(`--name ${options.name}: 1 to 64 letters, digits, '.', '_', '@', '-'`, EXIT_USAGE);
      const token = withTokenStore((tokens) => tokens.rotate(Date.now(), options.name));
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
}
