/**
 * `rackboot lab up --nodes N [--dir DIR]` and `rackboot lab down [--dir DIR]`: a virtual rack
 * (namespaces, ipmi_sim BMCs, QEMU blades, a rackboot server) on this box. See server/lab/rack.ts.
 */
import type { Command } from 'commander';
import { DEFAULT_LAB_DIR, LabError, labDown, labUp, nextSteps } from '../lab/rack.js';
import { CliError, reportFailure } from './errors-out.js';
import { startProgress, type ProgressStream } from './progress.js';

export interface LabCliDeps {
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: ProgressStream;
  readonly setExitCode?: (code: number) => void;
  /** Default: process.getuid() === 0. */
  readonly isRoot?: () => boolean;
}

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

export function registerLabCommands(program: Command, deps: LabCliDeps = {}): void {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const setExitCode = deps.setExitCode ?? ((code: number) => void (process.exitCode = code));
  const isRoot = deps.isRoot ?? (() => process.getuid?.() === 0);

  /** Text, or with --json the one-line JSON error every command prints (errors-out.ts). */
  const report = (message: string, code: number, json: boolean | undefined): void => {
    if (json) reportFailure(new CliError(message, code), true, stderr);
    else stderr.write(`rackboot lab: ${message}\n`);
    setExitCode(code);
  };
  const fail = (error: unknown, json?: boolean): void => report((error as Error).message, error instanceof LabError ? error.exitCode : EXIT_FAILED, json);
  const requireRoot = (json?: boolean): boolean => {
    if (isRoot()) return true;
    report('needs root (it creates network namespaces, bridges and taps): run it with sudo', EXIT_USAGE, json);
    return false;
  };

  const lab = program.command('lab').description('a virtual rack on this machine: BMCs, PXE-booting VMs and a rackboot server in a namespace');

  lab
    .command('up')
    .description('create the lab namespace, N BMCs (ipmi_sim, or Redfish with --bmc-protocol redfish) with QEMU blades, and start rackboot serve inside it')
    .requiredOption('--nodes <n>', 'number of blades (1-32)')
    .option('--dir <dir>', 'lab directory: state, config, logs', DEFAULT_LAB_DIR)
    .option('--menu-timeout <seconds>', 'seconds before the boot menu picks dev-memory', '5')
    .option('--bmc-protocol <protocol>', 'ipmi (ipmi_sim BMCs) or redfish (Redfish BMCs over HTTPS)', 'ipmi')
    .option('--json', 'print the lab state as JSON (the step log goes to stderr)')
    .action(async (options: { nodes: string; dir: string; menuTimeout: string; bmcProtocol: string; json?: boolean }) => {
      if (!requireRoot(options.json)) return;
      const nodes = Number(options.nodes);
      const menuTimeoutSeconds = Number(options.menuTimeout);
      if (!Number.isInteger(menuTimeoutSeconds) || menuTimeoutSeconds < 1) {
        report('--menu-timeout must be a whole number of seconds >= 1', EXIT_USAGE, options.json);
        return;
      }
      if (options.bmcProtocol !== 'ipmi' && options.bmcProtocol !== 'redfish') {
        report('--bmc-protocol must be ipmi or redfish', EXIT_USAGE, options.json);
        return;
      }
      const bmcProtocol: 'ipmi' | 'redfish' = options.bmcProtocol;
      const progress = startProgress('lab up', nodes + 3, { stream: stderr, json: options.json === true });
      // on a terminal the step log goes above the bar; elsewhere the step log (one line a step) is the progress
      const logLine = (line: string) => (stderr.isTTY ? progress.log(line) : (options.json ? stderr : stdout).write(`${line}\n`));
      if (stderr.isTTY) progress.update(0, 'test OS');
      try {
        const state = await labUp({
          nodes,
          dir: options.dir,
          menuTimeoutSeconds,
          bmcProtocol,
          log: logLine,
          progress: (done, total, step) => {
            progress.setTotal(total);
            if (stderr.isTTY) progress.update(done, step);
          },
        });
        if (stderr.isTTY) progress.finish(`${nodes} blade(s) up`);
        if (options.json) stdout.write(`${JSON.stringify(state, null, 2)}\n`);
        else stdout.write(`\n${nextSteps(state)}\n`);
      } catch (error) {
        if (stderr.isTTY) progress.finish('failed');
        fail(error, options.json);
      }
    });

  lab
    .command('down')
    .description('stop every lab process by PID and delete the lab namespaces (idempotent)')
    .option('--dir <dir>', 'lab directory', DEFAULT_LAB_DIR)
    .option('--json', 'print {"stopped", "namespaces"} as JSON')
    .action(async (options: { dir: string; json?: boolean }) => {
      if (!requireRoot(options.json)) return;
      try {
        const result = await labDown(options.dir, (line) => (options.json ? stderr : stdout).write(`${line}\n`));
        if (options.json) stdout.write(`${JSON.stringify({ stopped: result.stopped, namespaces: result.namespaces })}\n`);
        else if (result.stopped === 0 && result.namespaces.length === 0) stdout.write('lab down: nothing to do\n');
      } catch (error) {
        fail(error, options.json);
      }
    });
}
