/**
 * rackboot assets import|list, rackboot reprovision, rackboot install-script (registered by index.ts).
 */
import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { AssetImportError, DirectoryAssetIndex, importAssets, listAssets } from '../assets/mirror.js';
import { worksRemotely, type CliMachine } from './backend.js';
import { confirmOrExit } from './confirm.js';
import { CliError, EXIT_USAGE, type CliContext } from './context.js';
import { addSelectorOptions, selectAndConfirm, selectorBounds, type SelectorOptions } from './lifecycle.js';
import { formatTable } from './format.js';
import { findAll, printJson } from './inventory.js';
import { startProgress } from './progress.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Machine } from '../core/types.js';
import { RackbootError } from '../errors.js';
import { ensureKubernetesSecrets } from '../install/kube-pki.js';
import { loadInstallTemplate } from '../install/templates.js';

export type InstallCliContext = Pick<CliContext, 'config' | 'withProvisioner' | 'backend'>;

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
    .option('--json', 'print the imported versions as JSON')
    .action(async (source: string, options: { json?: boolean }) => {
      const config = ctx.config();
      const progress = startProgress('assets import', 0, { json: options.json === true, unit: 'bytes' });
      let imported;
      try {
        imported = await importAssets(resolve(source), config.boot.assetsDir, new Date(), (copied, total, file) => {
          progress.setTotal(total);
          progress.update(copied, file);
        });
      } catch (error) {
        progress.finish('failed');
        if (error instanceof AssetImportError) throw new RackbootError('RACKBOOT_ERR_INVALID_INPUT', error.message, { details: error.problems });
        throw error;
      }
      progress.finish(`${imported.length} version(s) checked`);
      if (options.json) {
        printJson(imported);
        return;
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
        printJson(list);
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
    worksRemotely(program.command('reprovision'))
      .description('send installed machines back: their next PXE boot installs again, and the install script may overwrite their disk')
      .argument('[machines...]', 'names, MACs or IPs (or --selector)'),
  )
    .option('-y, --yes', 'do not ask (required when not on a terminal)')
    .option('--json', 'print the reprovisioned machines as JSON')
    .action(async (refs: string[], options: SelectorOptions) => {
      if ((options.selector === undefined) === (refs.length === 0)) throw new CliError('name machines or give --selector (not both)', EXIT_USAGE);
      const print = (updated: readonly CliMachine[]) => {
        if (options.json) {
          printJson(updated);
          return;
        }
        for (const m of updated) {
          const next = m.role === null ? 'the boot menu' : m.bootMode === 'install' ? `installs ${m.role}, overwriting its disk` : `boots ${m.role} in memory`;
          process.stdout.write(`${m.name}: ${m.state}; its next PXE boot ${next}\n`);
        }
      };
      const backend = ctx.backend();
      if (options.selector !== undefined) {
        const names = await selectAndConfirm(backend, options, 'Reprovision (the next PXE boot installs again and may overwrite the disk)');
        if (names === null) return;
        print(await backend.bulkReprovision(options.selector, selectorBounds(options)));
        return;
      }
      const names = (await findAll(backend, refs)).map((m) => m.name);
      await confirmOrExit(`Reprovision ${names.join(', ')}? The next PXE boot installs again and may overwrite the disk.`, options.yes);
      const updated: CliMachine[] = [];
      for (const name of names) updated.push(await backend.reprovision(name));
      print(updated);
    });

  program
    .command('install-script')
    .description("print a machine's install script as it would be served now (nothing is written)")
    .argument('<machine>', 'name, MAC or IP')
    .addOption(new Option('--dry-run', 'the plan-only variant (the script prints and reports its plan, writes nothing)'))
    .option('--json', 'print {"machine", "dryRun", "script"} as JSON')
    .action((ref: string, options: { dryRun?: boolean; json?: boolean }) => {
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
        return { machine: (machine as Machine).name, text: rendered.text };
      });
      if (options.json) printJson({ machine: text.machine, dryRun: options.dryRun === true, script: text.text });
      else process.stdout.write(text.text);
    });
}
