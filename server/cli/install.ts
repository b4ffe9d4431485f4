/**
 * rackboot assets import|list, rackboot reprovision, rackboot install-script (registered by index.ts).
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { AssetImportError, DirectoryAssetIndex, importAssets, listAssets } from '../assets/mirror.js';
import { confirmOrExit } from './confirm.js';
import { CliError, EXIT_USAGE, publicMachine } from './context.js';
import { addSelectorOptions, cliActor, LIFECYCLE_OPS, selectAndConfirm, selectorBounds, type SelectorOptions } from './lifecycle.js';
import { formatTable } from './format.js';
import type { Config } from '../config/config.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Machine } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { ensureKubernetesSecrets } from '../install/kube-pki.js';
import { loadInstallTemplate } from '../install/templates.js';

export interface InstallCliContext {
  config(): Config;
  withProvisioner<T>(work: (provisioner: Provisioner) => T): T;
}

function size(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function findMachines(p: Provisioner, refs: readonly string[]): Machine[] {
  const found = refs.map((ref) => p.machineByRef(ref) ?? ref);
  const missing = found.filter((m): m is string => typeof m === 'string');
  if (missing.length > 0) throw new RackbootError('RACKBOOT_ERR_NOT_FOUND', `no such machine: ${missing.join(', ')}`);
  return found as Machine[];
}

export function registerInstallCommands(program: Command, ctx: InstallCliContext): void {
  const assets = program.command('assets').description('the offline mirror below boot.assetsDir (Flatcar, Kubernetes, DC/OS)');

  assets
    .command('import')
    .description('import <kind>/<version>/ folders from a directory or tarball: checked against their checksums, then renamed into place')
    .argument('<source>', 'a directory or a .tar[.gz|.bz2|.xz] holding <kind>/<version>/...')
    .action(async (source: string) => {
      const config = ctx.config();
      let imported;
      try {
        imported = await importAssets(resolve(source), config.boot.assetsDir);
      } catch (error) {
        if (error instanceof AssetImportError) throw new RackbootError('RACKBOOT_ERR_INVALID_INPUT', error.message, { details: error.problems });
        throw error;
      }
      for (const v of imported) {
        process.stdout.write(`${v.status === 'imported' ? 'imported' : 'unchanged'} ${v.kind}/${v.version}: ${v.files} files, ${size(v.bytes)}\n`);
      }
    });

  assets
    .command('list')
    .description('imported versions, with their file counts and sizes')
    .option('--json', 'JSON instead of a table')
    .action((options: { json?: boolean }) => {
      const list = listAssets(ctx.config().boot.assetsDir);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        formatTable(
          ['KIND', 'VERSION', 'FILES', 'SIZE', 'IMPORTED'],
          list.map((v) => [v.kind, v.version, String(v.files), size(v.bytes), v.problem ? `BROKEN: ${v.problem}` : v.importedAt]),
        ),
      );
    });

  addSelectorOptions(
    program
      .command('reprovision')
      .description('send installed machines back: their next PXE boot installs again, and the install script may overwrite their disk')
      .argument('[machines...]', 'names, MACs or IPs (or --selector)'),
  )
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--json', 'print the reprovisioned machines as JSON')
    .action(async (refs: string[], options: SelectorOptions) => {
      if ((options.selector === undefined) === (refs.length === 0)) throw new CliError('name machines or give --selector (not both)', EXIT_USAGE);
      const print = (updated: readonly Machine[]) => {
        if (options.json) {
          process.stdout.write(`${JSON.stringify(updated.map(publicMachine), null, 2)}\n`);
          return;
        }
        for (const m of updated) {
          const next = m.role === null ? 'the boot menu' : m.bootMode === 'install' ? `installs ${m.role}, overwriting its disk` : `boots ${m.role} in memory`;
          process.stdout.write(`${m.name}: ${m.state}; its next PXE boot ${next}\n`);
        }
      };
      if (options.selector !== undefined) {
        const names = await selectAndConfirm(ctx, options, 'Reprovision (the next PXE boot installs again and may overwrite the disk)');
        if (names === null) return;
        print(ctx.withProvisioner((p) => LIFECYCLE_OPS.reprovision(p, options.selector as string, cliActor(), selectorBounds(options))));
        return;
      }
      const names = ctx.withProvisioner((p) => findMachines(p, refs).map((m) => m.name));
      await confirmOrExit(`Reprovision ${names.join(', ')}? The next PXE boot installs again and may overwrite the disk.`, options.yes);
      print(ctx.withProvisioner((p) => findMachines(p, refs).map((machine) => p.reprovision(machine, 'requested with rackboot reprovision', cliActor()))));
    });

  program
    .command('install-script')
    .description("print a machine's install script as it would be served now (nothing is written)")
    .argument('<machine>', 'name, MAC or IP')
    .addOption(new Option('--dry-run', 'the plan-only variant (the script prints and reports its plan, writes nothing)'))
    .action((ref: string, options: { dryRun?: boolean }) => {
      const config = ctx.config();
      const text = ctx.withProvisioner((p) => {
        const [machine] = findMachines(p, [ref]);
        const usesKubernetes = Object.values(config.install.roles).some((r) => r.payload === 'kubernetes');
        p.setInstall({
          settings: config.install,
          renderer: loadInstallTemplate(),
          assets: new DirectoryAssetIndex(config.boot.assetsDir),
          kubernetes: usesKubernetes ? ensureKubernetesSecrets(config.dataDir) : null,
        });
        const rendered = p.renderInstallScript(machine as Machine, machine?.bootToken ?? 'PREVIEW-TOKEN', { dryRun: options.dryRun ?? false });
        if (!rendered.ok) throw new RackbootError('RACKBOOT_ERR_RENDER', `${ref}: the install script cannot be rendered`, { details: rendered.errors });
        return rendered.text;
      });
      process.stdout.write(text);
    });
}
