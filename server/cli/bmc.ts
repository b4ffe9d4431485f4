/**
 * rackboot discover | ip-plan | power | bmcs: the BMC commands (over IPMI or Redfish, per BMC range: docs/bmc.md). server/cli/index.ts registers them with
 *   registerIpmiCommands(program, { config: () => resolveConfig(program.opts().config).config });
 * Power outcomes go on the machines' timelines through the Provisioner (core/lifecycle.ts decides the state).
 * Exit codes follow index.ts: 0 success, 1 an operation failed (a BMC, a conflict), 2 usage.
 * BMC passwords come from $RACKBOOT_IPMI_PASSWORD or --password-file, never from argv or the database.
 */
import type { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DISCOVERY_CONCURRENCY, discoverBmcs, expandTargets, mapBounded, recordDiscovery, type DiscoveryResult } from '../bmc/discover.js';
import type { PowerDriverAction } from '../bmc/power-driver.js';
import { protocolOfSession, type BmcRange } from '../bmc/ranges.js';
import { bmcConnector, type RedfishSettings } from '../bmc/redfish/protocols.js';
import { MemoryFingerprintStore } from '../bmc/redfish/trust.js';
import { RackbootError } from '../errors.js';
import type { IpmiQuirks } from '../bmc/ipmi/client.js';
import type { BmcConnector, BmcCredentials } from '../bmc/port.js';
import { POWER_ACTIONS, powerEvent, powerMachines, type PowerAction, type PowerOutcome, type PowerTarget } from '../bmc/power.js';
import type { BmcRegistry } from '../bmc/registry.js';
import { localBackend, remoteBackend, worksRemotely, type CliBackend } from './backend.js';
import { confirmOrExit } from './confirm.js';
import { cliActor } from './actor.js';
import { CliError, reportFailure } from './errors-out.js';
import { formatTable, formatTime, terminalText } from './format.js';
import { nameList, selectorBounds } from './lifecycle.js';
import { startProgress } from './progress.js';
import { call, type RemoteServer } from './remote.js';
import type { Config } from '../config/config.js';
import { parseIpRule, type IpRule, type PlanChange } from '../core/ip-policy.js';
import { cidrContains, isIpv4, parseCidr } from '../core/ipv4.js';
import type { Provisioner } from '../core/provisioner.js';
import type { Machine } from '../core/types.js';
import { createProvisioner } from '../main.js';
import type { CipherSuiteId } from '../protocol/ipmi/crypto.js';
import { IPMI_PORT, Privilege } from '../protocol/ipmi/constants.js';
import { BmcStore } from '../store/bmc-store.js';
import { openDatabase, type Db } from '../store/db.js';

/** Settings that belong in the config file (proposed `ipmi:` section); defaults until then. */
export interface IpmiSettings {
  readonly username: string;
  readonly port: number;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly attempts: number;
  readonly cipherSuites: readonly CipherSuiteId[];
  readonly passwordFile?: string;
  /** Session privilege: administrator (default) or operator (enough for power and boot device). */
  readonly privilege?: 'administrator' | 'operator';
  /** Vendor workarounds by BMC address or CIDR block, e.g. { "10.1.0.0/24": { noBootFlagValidClearing: true } }. */
  readonly quirks?: Readonly<Record<string, IpmiQuirks>>;
  /** BMC addresses and CIDR blocks that may use IPMI 1.5 with MD5 (off for all by default). */
  readonly allowIpmi15?: readonly string[];
  readonly ipRule?: IpRule;
  /** Which protocol each BMC range speaks (default: IPMI), and the Redfish endpoint. */
  readonly ranges?: readonly BmcRange[];
  readonly redfish?: RedfishSettings & { readonly trustFile?: string };
}

export const DEFAULT_IPMI_SETTINGS: IpmiSettings = {
  username: 'admin',
  port: IPMI_PORT,
  concurrency: DEFAULT_DISCOVERY_CONCURRENCY,
  timeoutMs: 1000,
  attempts: 4,
  cipherSuites: [17, 3],
};

type Out = NodeJS.WritableStream & { isTTY?: boolean };

export interface IpmiCliDeps {
  /** The effective configuration (index.ts: the CliContext's config()). */
  readonly config?: () => Config;
  /** Where the inventory lives (default: <dataDir>/rackboot.db, as main.ts's databasePath). */
  readonly databasePath?: (config: Config) => string;
  /** Overrides how the inventory database is opened (tests). */
  readonly openDatabase?: () => { db: Db; close(): void };
  /** Overrides the Provisioner `power` journals through, with its database (default: main.ts createProvisioner). */
  readonly openProvisioner?: () => { provisioner: Provisioner; db: Db; close(): void };
  /** Overrides the IPMI-over-LAN connector (tests: a fake BMC). */
  readonly connect?: (settings: IpmiSettings) => BmcConnector;
  /** Static settings, or a function read when a command runs (after the config file is known). */
  readonly settings?: Partial<IpmiSettings> | (() => Partial<IpmiSettings>);
  readonly env?: NodeJS.ProcessEnv;
  readonly stdout?: Out;
  readonly stderr?: Out;
  readonly clock?: () => number;
  readonly setExitCode?: (code: number) => void;
  /** Asks before power off/cycle (default: on a terminal, else --yes is required). */
  readonly confirm?: (question: string, yes: boolean | undefined) => Promise<void>;
  /** The remote server (--server), or null: bmcs, ip-plan and power then go through its API. */
  readonly remote?: () => RemoteServer | null;
}

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
  }
}

interface CredentialOptions {
  user?: string;
  passwordFile?: string;
}

export function registerIpmiCommands(program: Command, deps: IpmiCliDeps): void {
  const env = deps.env ?? process.env;
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const clock = deps.clock ?? Date.now;
  const setExitCode = deps.setExitCode ?? ((code: number) => void (process.exitCode = code));

  const settings = (): IpmiSettings => ({
    ...DEFAULT_IPMI_SETTINGS,
    ...(typeof deps.settings === 'function' ? deps.settings() : deps.settings),
  });
  const open = (): { db: Db; close(): void } => {
    if (deps.openDatabase) return deps.openDatabase();
    if (!deps.config) throw new Error('registerIpmiCommands needs deps.config or deps.openDatabase');
    const config = deps.config();
    const db = openDatabase(deps.databasePath?.(config) ?? join(config.dataDir, 'rackboot.db'));
    return { db, close: () => db.close() };
  };
  const openWithProvisioner = (): { provisioner: Provisioner; db: Db; close(): void } => {
    if (deps.openProvisioner) return deps.openProvisioner();
    if (!deps.config) throw new Error('registerIpmiCommands needs deps.config or deps.openProvisioner');
    return createProvisioner(deps.config());
  };
  const connector = (s: IpmiSettings): BmcConnector =>
    deps.connect?.(s) ??
    bmcConnector({
      ipmi: {
        timeoutMs: s.timeoutMs,
        attempts: s.attempts,
        cipherSuites: s.cipherSuites,
        privilege: s.privilege === 'operator' ? Privilege.operator : Privilege.administrator,
        quirksFor: (target) => quirksFor(s.quirks, target.address),
        allowIpmi15For: s.allowIpmi15 ?? [],
      },
      ranges: s.ranges ?? [],
      redfish: s.redfish ?? {},
      // Without a config (and so a data directory) nothing is remembered: each run trusts afresh.
      fingerprints: s.redfish?.trustFile ?? (deps.config ? join(deps.config().dataDir, 'redfish-fingerprints.json') : new MemoryFingerprintStore()),
    });

  const remote = (): RemoteServer | null => deps.remote?.() ?? null;
  const backend = (): CliBackend => {
    const server = remote();
    return server ? remoteBackend(server) : localBackend({ open: openWithProvisioner, now: clock });
  };

  /** Runs an action; usage problems print (as JSON with --json) and exit 2, everything else goes to index.ts's handler. */
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<number> | number) =>
    async (...args: A): Promise<void> => {
      try {
        const code = await action(...args);
        if (code !== 0) setExitCode(code);
      } catch (error) {
        if (!(error instanceof UsageError)) throw error;
        // commander passes (...arguments, options, command): the options are second to last
        const json = (args.at(-2) as { json?: boolean } | undefined)?.json === true;
        setExitCode(reportFailure(new CliError(error.message, EXIT_USAGE, error.details), json, stderr));
      }
    };

  const credentials = (options: CredentialOptions, s: IpmiSettings): { username: string; password: string } => {
    const username = options.user ?? env.RACKBOOT_IPMI_USER ?? s.username;
    const file = options.passwordFile ?? s.passwordFile;
    let password: string | undefined;
    if (file !== undefined) {
      try {
        password = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
        if ((statSync(file).mode & 0o077) !== 0) stderr.write(`rackboot: warning: ${file} is readable by other users (chmod 600 it)\n`);
      } catch (error) {
        throw new UsageError(`--password-file ${file}: ${(error as Error).message}`);
      }
    } else {
      password = env.RACKBOOT_IPMI_PASSWORD;
    }
    if (password === undefined || password === '') {
      throw new UsageError('no BMC password: set RACKBOOT_IPMI_PASSWORD or pass --password-file <file> (never on the command line)');
    }
    return { username, password };
  };

  const positiveInt = (value: string | undefined, flag: string, fallback: number): number => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} ${value}: expected a whole number >= 1`);
    return n;
  };

  /** Power through the server's API (its power driver and BMC password): one request per machine, a few at once. */
  const remotePower = async (server: RemoteServer, action: PowerDriverAction, refs: readonly string[] | null, options: { pxe: boolean; concurrency: number; json: boolean }): Promise<number> => {
    let names: string[];
    if (refs === null) {
      const page = await listRemotePowerable(server);
      names = page;
      if (names.length === 0) throw new UsageError('no machine can be powered by the server (none has a known BMC, or the server has no power driver)');
    } else {
      // as locally: every name is checked before any machine is powered
      const found = await Promise.all(refs.map((ref) => remoteBackend(server).machine(ref).then((m) => m.name, (error: unknown) => {
        if (error instanceof RackbootError && error.code === 'RACKBOOT_ERR_NOT_FOUND') return null;
        throw error;
      })));
      const problems = refs.filter((_ref, i) => found[i] === null).map((ref) => `${ref}: no machine by that name, MAC or IP`);
      if (problems.length > 0) throw new UsageError('cannot power these', problems);
      names = [...new Set(found as string[])];
    }
    const progress = startProgress(`power ${action}`, names.length, { stream: stderr, env, json: options.json, now: clock });
    let finished = 0;
    let failed = 0;
    const results = await mapBounded(names, options.concurrency, async (ref): Promise<RemotePowerResult> => {
      let result: RemotePowerResult;
      try {
        const body = await call<{ ok: boolean; message: string; machine: { name: string } }>(server, {
          method: 'POST',
          path: `/machines/${encodeURIComponent(ref)}/power`,
          body: { action, pxe: options.pxe },
          timeoutMs: Math.max(server.timeoutMs, REMOTE_POWER_TIMEOUT_MS),
        });
        result = { machine: body.machine.name, action, ok: body.ok, code: null, message: body.message };
      } catch (error) {
        // the server unreachable or the token refused: every other machine would fail alike
        if (error instanceof RackbootError && ['RACKBOOT_ERR_UNREACHABLE', 'RACKBOOT_ERR_AUTH', 'RACKBOOT_ERR_REMOTE'].includes(error.code)) throw error;
        if (!(error instanceof RackbootError)) throw error;
        result = { machine: ref, action, ok: false, code: error.code, message: error.message };
      }
      finished += 1;
      if (!result.ok) failed += 1;
      progress.update(finished, `${failed} failed; last ${result.machine} ${result.ok ? 'ok' : 'FAILED'}`);
      return result;
    });
    progress.finish(`${finished - failed} of ${finished} done${failed > 0 ? `, ${failed} failed` : ''}`);
    if (options.json) stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else stdout.write(remotePowerTable(results));
    return results.every((r) => r.ok) ? 0 : EXIT_FAILED;
  };

  /**
   * Power by label selector through the server (POST /bulk/power: it selects again, powers, and
   * audits under the token's name). One request: the bar counts the machines when the server answers.
   */
  const remoteBulkPower = async (
    server: RemoteServer,
    action: PowerDriverAction,
    selector: string,
    names: readonly string[],
    bounds: { all?: boolean; limit?: number },
    options: { pxe: boolean; json: boolean },
  ): Promise<number> => {
    const progress = startProgress(`power ${action}`, names.length, { stream: stderr, env, json: options.json, now: clock });
    // the server powers BULK_POWER_CONCURRENCY machines at a time, each waiting on its BMC
    const rounds = Math.ceil(names.length / BULK_POWER_CONCURRENCY);
    let body: { count: number; results: Array<{ name: string; ok: boolean; message: string }> };
    try {
      body = await call(server, {
        method: 'POST',
        path: '/bulk/power',
        body: { selector, action, pxe: options.pxe, ...(bounds.all ? { all: true } : {}), ...(bounds.limit === undefined ? {} : { limit: bounds.limit }) },
        timeoutMs: Math.min(Math.max(server.timeoutMs, REMOTE_POWER_TIMEOUT_MS * rounds), MAX_BULK_POWER_TIMEOUT_MS),
      });
    } catch (error) {
      progress.finish('failed');
      throw error;
    }
    const results: RemotePowerResult[] = body.results.map((r) => ({ machine: r.name, action, ok: r.ok, code: null, message: r.message }));
    const failed = results.filter((r) => !r.ok).length;
    progress.update(results.length, `${failed} failed`);
    progress.finish(`${results.length - failed} of ${results.length} done${failed > 0 ? `, ${failed} failed` : ''}`);
    if (options.json) stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else stdout.write(remotePowerTable(results));
    return results.every((r) => r.ok) ? 0 : EXIT_FAILED;
  };

  // ---- discover ----
  program
    .command('discover')
    .description('log in to BMCs (IPMI or Redfish per range), record their GUID, BMC MAC/IP and the host NIC MACs (Redfish EthernetInterfaces; IPMI: FRU fields, then Dell OEM)')
    .requiredOption('--bmc <targets...>', 'BMC addresses: 10.1.0.0/24, 10.1.0.7, 10.1.0.10-10.1.0.20 or 10.1.0.10-20 (repeatable)')
    .option('--user <name>', 'BMC user (default: $RACKBOOT_IPMI_USER, else admin)')
    .option('--password-file <file>', 'file holding the BMC password (default: $RACKBOOT_IPMI_PASSWORD)')
    .option('--port <port>', 'IPMI UDP port (Redfish: the range\'s port, default 443)', String(IPMI_PORT))
    .option('--concurrency <n>', 'BMCs in flight at once', String(DEFAULT_DISCOVERY_CONCURRENCY))
    .option('--timeout <ms>', 'per-try timeout in milliseconds')
    .option('--json', 'JSON instead of a table')
    .action(
      run(async (options: CredentialOptions & { bmc: string[]; port: string; concurrency: string; timeout?: string; json?: boolean }) => {
        const base = settings();
        const s: IpmiSettings = { ...base, timeoutMs: positiveInt(options.timeout, '--timeout', base.timeoutMs) };
        const { addresses, errors } = expandTargets(options.bmc);
        if (errors.length > 0) throw new UsageError('invalid --bmc', errors);
        const port = positiveInt(options.port, '--port', s.port);
        if (port > 65535) throw new UsageError(`--port ${port}: not a UDP port`);
        const concurrency = positiveInt(options.concurrency, '--concurrency', s.concurrency);
        const creds = credentials(options, s);
        const { db, close } = open();
        try {
          const bmcs = new BmcStore(db);
          const progress = startProgress('discover', addresses.length, { stream: stderr, env, json: options.json === true, now: clock });
          let found = 0;
          const results = await discoverBmcs(
            {
              connect: connector(s),
              clock,
              onResult: (result, done, total) => {
                recordDiscovery(bmcs, result, creds.username, clock());
                if (result.ok) found += 1;
                progress.setTotal(total);
                progress.update(done, `${found} found, ${done - found} failed; last ${result.address} ${result.ok ? 'ok' : result.error.kind}`);
              },
            },
            { addresses, port, credentials: creds, concurrency },
          );
          progress.finish(`${found} of ${results.length} BMCs answered`);
          stdout.write(options.json ? `${JSON.stringify(results, null, 2)}\n` : discoveryTable(results));
          return results.every((r) => r.ok) ? 0 : EXIT_FAILED;
        } finally {
          close();
        }
      }),
    );

  // ---- bmcs ----
  worksRemotely(program.command('bmcs'))
    .description('BMCs recorded by discover')
    .option('--json', 'JSON instead of a table')
    .action(
      run(async (options: { json?: boolean }) => {
        {
          const list = await backend().bmcs();
          if (options.json) stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          else
            stdout.write(
              formatTable(
                ['BMC', 'PROTOCOL', 'GUID', 'BMC MAC', 'HOST MACS', 'MACHINE', 'LAST SEEN', 'LAST ERROR'],
                list.map((b) => [
                  b.port === IPMI_PORT ? b.address : `${b.address}:${b.port}`,
                  b.protocol ?? '-',
                  b.guid ?? '-',
                  b.bmcMac ?? '-',
                  b.hostMacs.map((h) => h.mac).join(',') || '-',
                  b.machineId === null ? '-' : String(b.machineId),
                  b.lastSeen === null ? '-' : formatTime(b.lastSeen),
                  b.lastError ?? '',
                ]),
              ),
            );
          return 0;
        }
      }),
    );

  // ---- ip-plan ----
  worksRemotely(program.command('ip-plan'))
    .description('plan (or apply, in one transaction) ordered static IPs for discovered machines (with --server: the server\'s ipmi.ipPlan rule)')
    .option('--rule-file <file>', 'YAML/JSON rule, e.g. {kind: bmc-offset, hostSubnet: 10.99.0.0/24, bmcSubnet: 10.1.0.0/24, offset: 0}')
    .option('--rule <kind>', 'bmc-offset or slot (instead of a rule file)')
    .option('--host-subnet <cidr>', 'the machines\' (provisioning) subnet')
    .option('--bmc-subnet <cidr>', 'bmc-offset: the BMCs\' subnet')
    .option('--offset <n>', 'bmc-offset: host = host base + BMC host part - offset', '0')
    .option('--base <ip>', 'slot: the address of slot 0')
    .option('--step <n>', 'slot: addresses per slot', '1')
    .option('--first <ip>', 'lowest address the rule may give')
    .option('--last <ip>', 'highest address the rule may give')
    .option('--plan', 'print the changes (default)')
    .option('--apply', 'commit the changes; refused when there is any conflict')
    .option('--json', 'JSON instead of a table')
    .action(
      run(
        async (options: {
          ruleFile?: string;
          rule?: string;
          hostSubnet?: string;
          bmcSubnet?: string;
          offset: string;
          base?: string;
          step: string;
          first?: string;
          last?: string;
          plan?: boolean;
          apply?: boolean;
          json?: boolean;
        }) => {
          if (options.plan && options.apply) throw new UsageError('give --plan or --apply, not both');
          const server = remote();
          const ruleFlags = [options.ruleFile, options.rule, options.hostSubnet, options.bmcSubnet, options.base, options.first, options.last].some((v) => v !== undefined);
          if (server && ruleFlags) throw new UsageError(`with --server the plan uses the server's configured rule (ipmi.ipPlan); --rule and --rule-file work on the local data directory only`);
          const rule = server ? null : resolveRule(options, settings().ipRule);
          {
            const progress = options.apply ? startProgress('ip-plan apply', 1, { stream: stderr, env, json: options.json === true, now: clock }) : null;
            const result = await backend().ipPlan(options.apply === true, rule);
            progress?.finish(result.applied ? `applied ${result.plan.changes.length} change(s) in one transaction` : 'not applied');
            const { plan } = result;
            if (options.json) stdout.write(`${JSON.stringify({ ...plan, applied: result.applied }, null, 2)}\n`);
            else {
              stdout.write(planTable(plan.changes));
              const c = plan.counts;
              const summary = `${c.add} to add, ${c.update} to update, ${c.unchanged} unchanged, ${c.skip} skipped, ${c.conflict} in conflict`;
              if (options.apply) stdout.write(result.applied ? `applied: ${summary}\n` : `NOT applied (resolve the conflicts first): ${summary}\n`);
              else stdout.write(`plan: ${summary}${plan.applicable ? '; run with --apply to commit' : ''}\n`);
            }
            return plan.applicable ? 0 : EXIT_FAILED;
          }
        },
      ),
    );

  // ---- power ----
  worksRemotely(program.command('power'))
    .description('power machines on/off/cycle or show their power state over IPMI or Redfish (--pxe: next boot from the network)')
    .argument('<action>', POWER_ACTIONS.join('|'))
    .argument('[machines...]', 'machine names, MACs or IPs, or BMC addresses')
    .option('--all', 'every machine with a known BMC (with --selector: allow more than the bulk limit)')
    .option('--selector <selector>', 'every machine matching a label selector, e.g. rack=r12,role=small')
    .option('--limit <n>', 'with --selector: refuse when more than this many match (default 100)')
    .option('--dry-run', 'with --selector: only list the machines it would power')
    .option('--pxe', 'set the next boot to PXE, read it back and compare, before the power action')
    .option('--efi', 'with --pxe: UEFI boot (default legacy BIOS)')
    .option('--persistent', 'with --pxe: for all future boots (many BMCs ignore it)')
    .option('--soft', 'off: ask the OS to shut down first, hard off after --soft-timeout')
    .option('--soft-timeout <seconds>', 'seconds to wait for a soft off', '60')
    .option('--user <name>', 'BMC user (default: the one discover used, else $RACKBOOT_IPMI_USER, else admin)')
    .option('--password-file <file>', 'file holding the BMC password (default: $RACKBOOT_IPMI_PASSWORD)')
    .option('--concurrency <n>', 'BMCs in flight at once', '16')
    .option('--json', 'JSON instead of a table')
    .option('--yes', 'off and cycle: do not ask (needed when not on a terminal)')
    .action(
      run(
        async (
          action: string,
          refs: string[],
          options: CredentialOptions & { all?: boolean; selector?: string; limit?: string; dryRun?: boolean; pxe?: boolean; efi?: boolean; persistent?: boolean; soft?: boolean; softTimeout: string; concurrency: string; json?: boolean; yes?: boolean },
        ) => {
          if (!(POWER_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`power ${action}: expected one of ${POWER_ACTIONS.join(', ')}`);
          const powerAction = action as PowerAction;
          let names = refs;
          if (options.selector !== undefined) {
            if (refs.length > 0) throw new UsageError('name machines or give --selector, not both');
            names = (await backend().select(options.selector, selectorBounds(options))).map((m) => m.name);
            if (options.dryRun) {
              stdout.write(options.json ? `${JSON.stringify({ applied: false, selector: options.selector, count: names.length, machines: names }, null, 2)}\n` : `${names.length} machine(s) match ${terminalText(options.selector)}; power ${powerAction} would act on:\n${names.map((n) => `  ${n}\n`).join('')}`);
              return 0;
            }
            if (names.length === 0) throw new UsageError(`no machine matches ${options.selector}: nothing to power`);
          }
          const everyMachine = options.all === true && options.selector === undefined;
          if (everyMachine && refs.length > 0) throw new UsageError('name machines or give --all, not both');
          if (!everyMachine && names.length === 0) throw new UsageError('name at least one machine, or give --all or --selector');
          if ((options.efi || options.persistent) && !options.pxe) throw new UsageError('--efi and --persistent go with --pxe');
          if (options.pxe && powerAction === 'status') throw new UsageError('--pxe goes with on, off or cycle');
          if (options.soft && powerAction !== 'off') throw new UsageError('--soft goes with off');
          const server = remote();
          if (server) {
            const localOnly = [options.soft && '--soft', options.efi && '--efi', options.persistent && '--persistent', options.user !== undefined && '--user', options.passwordFile !== undefined && '--password-file'].filter(Boolean);
            if (powerAction === 'status') throw new UsageError('power status reads the BMC directly: run it on the server (the API has no status route)');
            if (localOnly.length > 0) throw new UsageError(`${localOnly.join(', ')}: not with --server (the server powers machines with its own BMC credentials and settings)`);
          }
          if (powerAction === 'off' || powerAction === 'cycle' || (options.selector !== undefined && powerAction !== 'status')) {
            const which = everyMachine ? 'every machine with a known BMC' : options.selector !== undefined ? `${names.length} machine(s) matching ${options.selector} (${nameList(names)})` : names.join(', ');
            await (deps.confirm ?? confirmOrExit)(`Power ${powerAction} ${which}?`, options.yes);
          }
          const concurrency = positiveInt(options.concurrency, '--concurrency', 16);
          if (server && options.selector !== undefined) {
            return remoteBulkPower(server, powerAction as PowerDriverAction, options.selector, names, selectorBounds(options), { pxe: options.pxe === true, json: options.json === true });
          }
          if (server) return remotePower(server, powerAction as PowerDriverAction, everyMachine ? null : names, { pxe: options.pxe === true, concurrency, json: options.json === true });
          const s = settings();
          const softTimeout = positiveInt(options.softTimeout, '--soft-timeout', 60);
          const creds = credentials(options, s);
          const { provisioner, db, close } = openWithProvisioner();
          try {
            const bmcs = new BmcStore(db);
            const targets = resolvePowerTargets(provisioner, bmcs, everyMachine ? null : names, s.port);
            if (targets.problems.length > 0) throw new UsageError('cannot power these', targets.problems);
            const progress = startProgress(`power ${powerAction}`, targets.list.length, { stream: stderr, env, json: options.json === true, now: clock });
            let finished = 0;
            let failed = 0;
            const outcomes = await powerMachines(
              {
                connect: connector(s),
                credentials: (t): BmcCredentials => ({ username: options.user ?? t.username ?? creds.username, password: creds.password }),
                clock,
                onOutcome: (outcome) => {
                  journal(provisioner, outcome, options.pxe === true);
                  finished += 1;
                  if (!outcome.ok) failed += 1;
                  progress.update(finished, `${failed} failed; last ${outcome.label} ${outcome.ok ? 'ok' : 'FAILED'}`);
                },
              },
              targets.list.map((t) => ({ ...t, username: t.username ?? creds.username })),
              { action: powerAction, pxe: options.pxe, efi: options.efi, persistent: options.persistent, soft: options.soft, softTimeoutMs: softTimeout * 1000, concurrency },
            );
            progress.finish(`${outcomes.length - failed} of ${outcomes.length} done${failed > 0 ? `, ${failed} failed` : ''}`);
            if (powerAction !== 'status') {
              provisioner.recordAudit({
                actor: cliActor(),
                action: 'power',
                target: options.selector ?? (everyMachine ? 'all' : nameList(names, 50)),
                before: null,
                after: { action: powerAction, pxe: options.pxe === true, machines: outcomes.length, failed },
                message: `power ${powerAction} on ${outcomes.length} machine(s): ${failed} failed`,
              });
            }
            stdout.write(options.json ? `${JSON.stringify(outcomes, null, 2)}\n` : powerTable(outcomes));
            return outcomes.every((o) => o.ok) ? 0 : EXIT_FAILED;
          } finally {
            close();
          }
        },
      ),
    );
}

/** Quirks for an exact address win over those of the narrowest CIDR block containing it. */
export function quirksFor(table: Readonly<Record<string, IpmiQuirks>> | undefined, address: string): IpmiQuirks | undefined {
  if (!table) return undefined;
  if (table[address]) return table[address];
  let best: { prefix: number; quirks: IpmiQuirks } | undefined;
  for (const [key, quirks] of Object.entries(table)) {
    const cidr = parseCidr(key);
    if (cidr && cidrContains(cidr, address) && (!best || cidr.prefix > best.prefix)) best = { prefix: cidr.prefix, quirks };
  }
  return best?.quirks;
}

/** What `power --server` prints per machine (the server's power driver answers ok and a message). */
interface RemotePowerResult {
  readonly machine: string;
  readonly action: PowerDriverAction;
  readonly ok: boolean;
  readonly code: string | null;
  readonly message: string;
}

/** A power request waits for the BMC (set the boot device, read it back, power): longer than a read. */
const REMOTE_POWER_TIMEOUT_MS = 120_000;
/** POST /bulk/power works through the machines this many at a time (api-lifecycle.ts). */
const BULK_POWER_CONCURRENCY = 8;
const MAX_BULK_POWER_TIMEOUT_MS = 60 * 60_000;

function remotePowerTable(results: readonly RemotePowerResult[]): string {
  return formatTable(['MACHINE', 'ACTION', 'RESULT'], results.map((r) => [r.machine, r.action, `${r.ok ? '' : `FAILED${r.code ? ` [${r.code}]` : ''}: `}${r.message}`]));
}

/** Names of the machines the server says it can power (its power driver knows their BMC). */
async function listRemotePowerable(server: RemoteServer): Promise<string[]> {
  const names: string[] = [];
  let after: string | null = null;
  for (let n = 0; n < 200; n += 1) {
    const page: { machines: Array<{ name: string; power?: { available: boolean } }>; next: string | null } = await call(server, {
      method: 'GET',
      path: `/machines?limit=5000${after === null ? '' : `&after=${encodeURIComponent(after)}`}`,
    });
    names.push(...page.machines.filter((m) => m.power?.available === true).map((m) => m.name));
    if (page.next === null) return names;
    after = page.next;
  }
  return names;
}

function resolveRule(
  options: { ruleFile?: string; rule?: string; hostSubnet?: string; bmcSubnet?: string; offset: string; base?: string; step: string; first?: string; last?: string },
  configured: IpRule | undefined,
): IpRule {
  if (options.ruleFile !== undefined && options.rule !== undefined) throw new UsageError('give --rule-file or --rule, not both');
  let raw: unknown;
  if (options.ruleFile !== undefined) {
    try {
      raw = parseYaml(readFileSync(options.ruleFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`--rule-file ${options.ruleFile}: ${(error as Error).message.split('\n')[0]}`);
    }
  } else if (options.rule !== undefined) {
    const number = (text: string, flag: string): number => {
      const n = Number(text);
      if (!Number.isInteger(n)) throw new UsageError(`${flag} ${text}: expected a whole number`);
      return n;
    };
    raw = Object.fromEntries(
      Object.entries({
        kind: options.rule,
        hostSubnet: options.hostSubnet,
        ...(options.rule === 'bmc-offset' ? { bmcSubnet: options.bmcSubnet, offset: number(options.offset, '--offset') } : {}),
        ...(options.rule === 'slot' ? { base: options.base, step: number(options.step, '--step') } : {}),
        first: options.first,
        last: options.last,
      }).filter(([, v]) => v !== undefined),
    );
  } else if (configured) {
    return configured;
  } else {
    throw new UsageError('no IP rule: give --rule-file <file> or --rule bmc-offset|slot with its flags');
  }
  const parsed = parseIpRule(raw);
  if (!parsed.ok) throw new UsageError('invalid IP rule', parsed.errors);
  return parsed.rule;
}

interface ResolvedTarget extends Omit<PowerTarget, 'username'> {
  readonly username: string | undefined;
}

function resolvePowerTargets(inventory: Pick<Provisioner, 'listMachines' | 'machineByRef'>, bmcs: BmcRegistry, refs: readonly string[] | null, defaultPort: number): { list: ResolvedTarget[]; problems: string[] } {
  const problems: string[] = [];
  const list: ResolvedTarget[] = [];
  const seen = new Set<string>();
  const push = (t: ResolvedTarget) => {
    const key = `${t.bmc.address}:${t.bmc.port}`;
    if (seen.has(key)) return;
    seen.add(key);
    list.push(t);
  };
  const forMachine = (machine: Machine): ResolvedTarget | null => {
    const record = bmcs.byMachine(machine.id) ?? (machine.bmcAddress ? bmcs.byAddress(machine.bmcAddress) : null);
    const address = record?.address ?? machine.bmcAddress;
    if (!address) return null;
    return { label: machine.name, machineId: machine.id, bmc: { address, port: record?.port ?? defaultPort }, username: record?.username ?? undefined };
  };
  if (refs === null) {
    for (const machine of inventory.listMachines()) {
      const t = forMachine(machine);
      if (t) push(t);
    }
    if (list.length === 0) problems.push('no machine has a known BMC (run discover and ip-plan --apply)');
    return { list, problems };
  }
  for (const ref of refs) {
    const machine = inventory.machineByRef(ref);
    if (machine) {
      const t = forMachine(machine);
      if (t) push(t);
      else problems.push(`${ref}: machine ${machine.name} has no known BMC`);
      continue;
    }
    const record = isIpv4(ref) ? bmcs.byAddress(ref) : null;
    if (record) {
      push({ label: ref, machineId: record.machineId, bmc: { address: record.address, port: record.port }, username: record.username ?? undefined });
      continue;
    }
    problems.push(`${ref}: no machine or discovered BMC by that name, MAC or IP`);
  }
  return { list, problems };
}

/** Every power action on a known machine goes to its timeline; the lifecycle moves a PXE power-on to powering-on. */
function journal(provisioner: Provisioner, outcome: PowerOutcome, pxe: boolean): void {
  if (outcome.machineId === null || outcome.action === 'status') return;
  const machine = provisioner.machineById(outcome.machineId);
  if (machine) provisioner.recordPower(machine, powerEvent(outcome, pxe, `BMC ${outcome.address}`));
}

const MAC_SOURCES: Readonly<Record<string, string>> = { fru: 'FRU', 'dell-oem': 'Dell OEM', redfish: 'Redfish' };

const VENDORS: Readonly<Record<number, string>> = { 2: 'IBM', 11: 'HP', 343: 'Intel', 674: 'Dell', 4753: 'MontaVista (ipmi_sim)', 10876: 'Supermicro', 19046: 'Lenovo', 47196: 'HPE' };

function vendor(id: number): string {
  return VENDORS[id] ? `${VENDORS[id]}` : `IANA ${id}`;
}

function discoveryTable(results: readonly DiscoveryResult[]): string {
  const table = formatTable(
    ['BMC', 'STATUS', 'GUID', 'BMC MAC', 'HOST MACS', 'VENDOR', 'PROTOCOL', 'DETAIL'],
    results.map((r) =>
      r.ok
        ? [
            r.address,
            'ok',
            r.guid ?? '-',
            r.lan?.mac ?? '-',
            r.hostMacs.map((h) => `${h.mac} (${MAC_SOURCES[h.source] ?? h.source})`).join(', ') || '-',
            r.device.manufacturerId !== null ? vendor(r.device.manufacturerId) : typeof r.device.detail?.manufacturer === 'string' ? r.device.detail.manufacturer : '-',
            protocolOfSession(r.session.summary) ?? '-',
            `${r.session.summary}, ${r.durationMs} ms${r.warnings.length > 0 ? `; ${r.warnings.join('; ')}` : ''}`,
          ]
        : [r.address, r.error.kind, '-', '-', '-', '-', '-', r.error.message],
    ),
  );
  const ok = results.filter((r) => r.ok).length;
  return `${table}${ok} of ${results.length} BMCs answered\n`;
}

function planTable(changes: readonly PlanChange[]): string {
  return formatTable(
    ['ACTION', 'BMC', 'MACHINE', 'IP', 'DETAIL'],
    changes.map((c) => {
      switch (c.action) {
        case 'add':
          return ['add', c.bmc, c.name, c.ip, `MACs ${c.macs.join(', ')}`];
        case 'update':
          return ['update', c.bmc, c.name, `${c.ipFrom ?? '(none)'} -> ${c.ipTo}`, c.link ? 'link to this BMC' : ''];
        case 'unchanged':
          return ['unchanged', c.bmc, c.name, c.ip, ''];
        case 'skip':
          return ['skip', c.bmc, '-', '-', c.reason];
        case 'conflict':
          return ['CONFLICT', c.bmc, c.name ?? '-', c.ip ?? '-', c.reasons.join('; ')];
      }
    }),
  );
}

function powerTable(outcomes: readonly PowerOutcome[]): string {
  return formatTable(
    ['MACHINE', 'BMC', 'BEFORE', 'AFTER', 'RESULT'],
    outcomes.map((o) => [o.label, o.address, o.before ?? '-', o.after ?? '-', `${o.ok ? '' : 'FAILED: '}${o.message}${o.bootDevice?.warnings.length ? ` (${o.bootDevice.warnings.join('; ')})` : ''}`]),
  );
}
