/**
 * The one core every transport calls: DHCP, TFTP, HTTP, the API and the CLI. It reads the inventory,
 * makes a pure decision and writes the outcome (lease, state, events) in one transaction.
 */
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import { splitAssetPath, type AssetIndex } from './assets.js';
import { isMachineSource, RefusalLog, sourceAddress, type RefusalReason, type RefusedRoute } from './boot-binding.js';
import { ipxeSafeText } from './ipxe-text.js';
import { findIpxeUnsafe, menuScriptContext, osScriptContext, planBoot, type MenuSettings, type OsImage } from './boot-plan.js';
import { clientInfo, type ClientInfo } from './client-info.js';
import { configFormatFor, type ConfigFormat, type ConfigFormatSettings } from './config-format.js';
import { ignitionFromCloudConfig } from './ignition-from-cloud-config.js';
import { machinelessSource, type MachinelessEvents } from './machineless-events.js';
import { buildCloudConfigContext, type ClusterSettings } from './cloud-config-context.js';
import { decideDhcp, type DhcpDecision, type DhcpEffects, type DhcpSettings, type DhcpSubnet } from './dhcp-decision.js';
import type { RogueSighting } from './dhcp-guard.js';
import { isValidMachineName, normaliseMac, normaliseUuid } from './identifiers.js';
import { isIpv4 } from './ipv4.js';
import type { IpPlan } from './ip-policy.js';
import { buildInstallContext } from './install.js';
import type { InstallExtension, InstallRenderer, InstallScriptContext } from './install-types.js';
import { isCallbackEvent, stateAfter, type EventFacts, type EventType } from './lifecycle.js';
import type { AuditEntry, AuditQuery, InventoryStore, NewAuditEntry, NewMachine } from './ports.js';
import { decodeInventory, rowOf, validateRow, type InventoryFormat, type InventoryRow } from './inventory-file.js';
import { describeChanges, desiredFromImport, planInventory, type FieldChange, type Plan, type PlanError, type PlannedChange } from './inventory-plan.js';
import { bulkLimit, labelProblems, matchesSelector, parseSelector, sortedLabels } from './labels.js';
import type { EtcdContext } from './render-context.js';
import { findChoice, type Menu } from './menu.js';
import { clusterRoles, etcdMembers, ROLE_TABLE, type BootMode, type Role } from './roles.js';
import { computeEtcd, type EtcdCertificateRequest, type EtcdClusterPlan, type EtcdCredentials, type RenderMembership } from './cluster.js';
import { etcdctlPath, PLACEHOLDER_CREDENTIALS } from './cloud-config-context.js';
import { RackbootError, type ErrorCode } from '../errors.js';
import type { DiscoveredClient, DiscoveredQuery, EventQuery, MachinePageQuery } from './ports.js';
import type { Endpoint, Machine, MachineEvent, MacAddress, NewEvent } from './types.js';

export type { OsImage } from './boot-plan.js';

export interface ProvisionerSettings {
  /** Base URL machines use to reach rackboot's HTTP service, without a trailing slash. */
  readonly publicUrl: string;
  readonly serverAddress: string;
  readonly os: OsImage;
  readonly kernelArgs: readonly string[];
  /** cloud-config template for machines booted without a role (the menu's debug entry). */
  readonly cloudConfig: string;
  /** cloud-config or Ignition, per role (boot.configFormat); absent: cloud-config for all. */
  readonly configFormat?: ConfigFormatSettings;
  readonly menu: MenuSettings;
  /** Network facts (prefix, gateway, DNS, domain) for the static configuration of each machine. */
  readonly subnets: readonly DhcpSubnet[];
  readonly cluster: ClusterSettings;
  /** Present when this process answers DHCP. */
  readonly dhcp?: DhcpSettings;
}

export type BootScriptName = 'chain' | 'machine' | 'unknown' | 'menu' | 'local-disk';

export interface Renderer {
  bootScript(name: BootScriptName, context: Readonly<Record<string, unknown>>): string;
  cloudConfig(
    name: string,
    context: Readonly<Record<string, unknown>>,
  ): { ok: true; text: string } | { ok: false; errors: readonly string[] };
  menu(name: string): Menu | null;
}

export type Rendered = { ok: true; text: string; template: string; warnings: readonly string[] } | { ok: false; errors: readonly string[] };

export interface Preview {
  readonly machine: Machine;
  readonly plan: string;
  readonly script: Outcome<string>;
  /** The format the machine's config is served in, and that config (`cloudConfig` holds either format). */
  readonly configFormat: ConfigFormat;
  readonly cloudConfig: Rendered;
}

export interface Clock {
  now(): number;
}

/** A coded failure: transports map the code to their own status (HTTP: ERROR_CODES[code].status). */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode; message: string };

export interface BootAsset {
  readonly machine: Machine;
  /** Path relative to the assets directory. */
  readonly path: string;
}

export interface ProvisionerDeps {
  readonly store: InventoryStore;
  readonly renderer: Renderer;
  readonly settings: ProvisionerSettings;
  readonly clock: Clock;
  readonly newToken: () => string;
  /** Counts events from unknown sources instead of writing a row each (rackboot serve); absent: every event is a row. */
  readonly machineless?: MachinelessEvents;
  /** The offline mirror's manifests: the checksums of files Ignition fetches. Absent: no file is verifiable. */
  readonly assets?: AssetIndex;
  /** rackboot's etcd CA (install/etcd-pki.ts); absent: renders carry placeholders instead of certificates. */
  readonly etcd?: EtcdPort;
}

export interface EtcdPort {
  credentials(request: EtcdCertificateRequest): EtcdCredentials;
}

/** A cluster as the health view sees it: the plan and whether every member boots in memory. */
export interface EtcdClusterFacts {
  readonly plan: EtcdClusterPlan;
  readonly allMemory: boolean;
  readonly members: readonly Machine[];
  /** A member has fetched its config (or got further): the cluster may exist on the network. */
  readonly booted: boolean;
}

const BOOTED_STATES: ReadonlySet<string> = new Set(['configured', 'booted', 'installing', 'installed', 'ready']);

export class Provisioner {
  private readonly store: InventoryStore;
  private renderer: Renderer;
  private readonly settings: ProvisionerSettings;
  private readonly clock: Clock;
  private readonly newToken: () => string;
  private install: InstallExtension | null = null;
  private readonly machineless: MachinelessEvents | null;
  private readonly assets: AssetIndex | null;
  /** Boot-token refusals: counted for /metrics, reported at most once a minute per machine. */
  private readonly refusals = new RefusalLog();
  private readonly etcd: EtcdPort | null;
  /** The membership adapter's decision per machine id for its next render (one entry per machine). */
  private readonly etcdDecisions = new Map<number, RenderMembership>();

  constructor(deps: ProvisionerDeps) {
    this.machineless = deps.machineless ?? null;
    this.assets = deps.assets ?? null;
    this.etcd = deps.etcd ?? null;
    this.store = deps.store;
    this.renderer = deps.renderer;
    this.settings = deps.settings;
    this.clock = deps.clock;
    this.newToken = deps.newToken;
  }

  /** Swaps in a reloaded catalog; the caller keeps the old one when a reload fails. */
  setRenderer(renderer: Renderer): void {
    this.renderer = renderer;
  }

  /** `actor`: who asked (CLI: the OS user, API: the token's name); given, the write is in the audit log. */
  registerMachine(input: NewMachine, actor?: string): Machine {
    return this.store.transaction(() => {
      const machine = this.addMachine(input);
      if (actor !== undefined) this.audit({ actor, action: 'machine.add', target: machine.name, before: null, after: { ...rowOf(machine) }, message: `added ${machine.name}` });
      return machine;
    });
  }

  /** Many machines in one transaction: all are registered, or (on any conflict) none. */
  registerMachines(inputs: readonly NewMachine[]): Machine[] {
    return this.store.transaction(() => inputs.map((input) => this.addMachine(input)));
  }

  private addMachine(input: NewMachine): Machine {
    // names reach hostnames, unit files, shell comments and iPXE echo lines unquoted: the one gate for every caller
    if (!isValidMachineName(input.name)) {
      throw new RackbootError('RACKBOOT_ERR_INVALID_INPUT', `machine name ${JSON.stringify(input.name)}: use lower-case letters, digits and hyphens (a host name)`);
    }
    const labelIssues = labelProblems(input.labels ?? {});
    if (labelIssues.length > 0) throw new RackbootError('RACKBOOT_ERR_INVALID_INPUT', `machine ${input.name}: ${labelIssues.join('; ')}`, { details: labelIssues });
    const machine = this.store.addMachine({ ...input, ...(input.labels ? { labels: sortedLabels(input.labels) } : {}) }, this.clock.now());
    this.append(machine, 'registered', `registered with ${machine.macs.join(', ')}${machine.ip ? ` -> ${machine.ip}` : ''}`);
    return this.store.machineById(machine.id) as Machine;
  }

  /**
   * One DHCP packet: read the machine and its lease, decide, write the outcome, all in one
   * transaction, so the lease is durable before the reply leaves and two packets never interleave.
   */
  handleDhcp(packet: DhcpPacket, via: { readonly localPort?: number; readonly source?: Endpoint } = {}): DhcpDecision {
    const settings = this.settings.dhcp;
    if (!settings) throw new Error('DHCP is not configured');
    return this.store.transaction(() => this.dhcpInTransaction(settings, packet, via));
  }

  private dhcpInTransaction(settings: DhcpSettings, packet: DhcpPacket, via: { readonly localPort?: number; readonly source?: Endpoint }): DhcpDecision {
    const now = this.clock.now();
    const client = clientInfo(packet);
    const machine = client.mac === null ? null : this.store.machineByMac(client.mac);
    const lease = client.mac === null ? null : this.store.leaseByMac(client.mac);
    const decision = decideDhcp({
      packet,
      client,
      machine: machine && { id: machine.id, name: machine.name, ip: machine.ip, ipxeChainedAt: machine.ipxeChainedAt },
      lease: lease && { ip: lease.ip, expiresAt: lease.expiresAt },
      settings,
      now,
      ...(via.localPort === undefined ? {} : { localPort: via.localPort }),
      ...(via.source === undefined ? {} : { source: via.source }),
      addresses: {
        unavailableFor: (mac) => this.store.unavailableAddresses(mac, now),
        declinedAddresses: () => this.store.activeDeclines(now),
      },
    });
    this.applyDhcpEffects(decision.effects, machine, client, now);
    return decision;
  }

  /**
   * Group commit: several DHCP packets in one transaction. Every lease is durable once this returns,
   * before any of the replies is sent. Should one packet throw, the whole batch rolls back and each
   * packet is retried in a transaction of its own, so the failure stays that packet's (its Error).
   */
  handleDhcpBatch(requests: ReadonlyArray<{ readonly packet: DhcpPacket; readonly via?: { readonly localPort?: number; readonly source?: Endpoint } }>): Array<DhcpDecision | Error> {
    const settings = this.settings.dhcp;
    if (!settings) throw new Error('DHCP is not configured');
    try {
      return this.store.transaction(() => requests.map((request) => this.dhcpInTransaction(settings, request.packet, request.via ?? {})));
    } catch {
      return requests.map((request) => {
        try {
          return this.handleDhcp(request.packet, request.via);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      });
    }
  }

  /** Another DHCP server answers on the segment (the caller rate-limits): an event for the operator. */
  dhcpServerSeen(sighting: RogueSighting): void {
    const how = sighting.via === 'reply' ? `sent ${sighting.messageType}${sighting.yiaddr && sighting.yiaddr !== '0.0.0.0' ? ` of ${sighting.yiaddr}` : ''}` : 'was selected in a client REQUEST';
    this.store.transaction(() =>
      this.append(null, 'dhcp-rogue-server', `another DHCP server ${sighting.serverId} ${how} (seen from ${sighting.source}${sighting.mac ? `, client ${sighting.mac}` : ''})`, { ...sighting }, sighting.mac ?? undefined),
    );
  }

  private applyDhcpEffects(effects: DhcpEffects, machine: Machine | null, client: ClientInfo, now: number): void {
    if (effects.lease) this.store.putLease({ ...effects.lease, updatedAt: now });
    if (effects.releaseLease && client.mac !== null) this.store.deleteLease(client.mac);
    if (effects.decline) this.store.declineAddress(effects.decline.ip, client.mac, effects.decline.until, now);
    if (machine && effects.chain) this.store.setIpxeChainedAt(machine.id, effects.chain === 'set' ? now : null);
    for (const event of effects.events) this.recordNew(machine, event);
    if (effects.discovered?.mac) {
      const facts = discoveredFacts(effects.discovered);
      if (this.store.noteDiscovered(effects.discovered.mac, facts, now)) {
        this.append(null, 'discovered', `DHCP from unknown MAC ${effects.discovered.mac} (${facts.firmware}, arch ${facts.archName})`, facts, effects.discovered.mac);
      }
    }
  }

  private recordNew(machine: Machine | null, event: NewEvent): void {
    this.append(machine, event.type as EventType, event.message, event.data ? { ...event.data } : undefined, event.mac ?? undefined);
  }

  /** Appends an event (in a transaction of its own) and moves the machine's state when the event implies a new one. */
  record(machine: Machine | null, type: EventType, message: string, data?: Record<string, unknown>, mac?: MacAddress): MachineEvent {
    return this.store.transaction(() => this.append(machine, type, message, data, mac));
  }

  /** `record` inside the caller's transaction. */
  private append(machine: Machine | null, type: EventType, message: string, data?: Record<string, unknown>, mac?: MacAddress, facts: EventFacts = {}): MachineEvent {
    const now = this.clock.now();
    if (machine === null && this.machineless?.handles(type) && this.machineless.admit(type, machinelessSource(data, mac)) === 'counted') {
      // counted into the next summary (flushMachinelessEvents); id 0: no row was written
      return { id: 0, at: now, machineId: null, mac: mac ?? null, type, message, ...(data ? { data } : {}) };
    }
    const event = this.store.appendEvent(
      { machineId: machine?.id ?? null, mac: mac ?? machine?.macs[0] ?? null, type, message, ...(data ? { data } : {}) },
      now,
    );
    if (machine) {
      const current = this.store.machineById(machine.id);
      const next = current ? stateAfter(type, current.state, current.bootMode, facts) : null;
      if (next) this.store.setState(machine.id, next, now);
    }
    return event;
  }

  /** Ends the machineless interval: its summaries (none while writes are shed) become events. */
  flushMachinelessEvents(): MachineEvent[] {
    const summaries = this.machineless?.drain(this.clock.now()) ?? [];
    if (summaries.length === 0) return [];
    const now = this.clock.now();
    return this.store.transaction(() =>
      summaries.map((s) => this.store.appendEvent({ machineId: null, mac: null, type: s.type, message: s.message, data: { ...s.data } }, now)),
    );
  }

  /** The first script every iPXE gets: it chains to the per-machine script with its identity. */
  chainScript(): string {
    return this.renderer.bootScript('chain', { baseUrl: this.settings.publicUrl });
  }

  /**
   * The per-machine iPXE script: the local disk for installed machines, the menu for machines
   * without a role, else the role's OS. A new boot token is minted for every script, so URLs from
   * an earlier boot stop working once the machine boots again.
   */
  machineScript(query: { mac?: string; uuid?: string; clientIp: string }): Outcome<string> {
    const mac = query.mac === undefined ? null : normaliseMac(query.mac);
    return this.store.transaction(() => {
      // A registered MAC is the identity that gets secrets; a UUID alone (no MAC sent) still needs the
      // machine's own address. A known UUID on an unknown NIC is only a hint (issue 17: a cloned
      // SMBIOS UUID, or a second NIC of the machine).
      const byUuid = query.uuid ? this.store.machineByUuid(query.uuid) : null;
      const machine = mac ? this.store.machineByMac(mac) : byUuid;
      if (!machine) {
        const hint = byUuid ? `; its UUID matches ${byUuid.name}: if this NIC is that machine's, add the MAC to it` : '';
        const message = `no machine with MAC ${query.mac ?? '?'} / UUID ${query.uuid ?? '?'} in the inventory${hint}`;
        this.append(null, 'discovered', `iPXE script requested by unknown machine: ${message}`, { clientIp: query.clientIp, ...(byUuid ? { uuidMatches: byUuid.name } : {}) }, mac ?? undefined);
        // sites that keep their own DHCP see unknown machines only here
        if (mac) this.store.noteDiscovered(mac, { source: 'ipxe', uuid: query.uuid === undefined ? null : normaliseUuid(query.uuid), clientIp: query.clientIp }, this.clock.now());
        return { ok: true, value: this.renderer.bootScript('unknown', { mac: mac ?? 'unknown', message: ipxeSafeText(message) }) };
      }
      // another address asking for this machine's script gets no secrets, and the live tokens stay
      if (!this.isMachineAddress(machine, query.clientIp)) {
        this.noteWrongAddress(machine, query.clientIp, 'ipxe', 'iPXE script');
        const message = `MAC ${machine.macs[0]} is registered, but this request comes from ${sourceAddress(query.clientIp)}, not from the machine's own address; boot secrets are served only to the machine`;
        return { ok: true, value: this.renderer.bootScript('unknown', { mac: machine.macs[0], message }) };
      }
      const plan = planBoot(machine);
      if (plan.kind === 'local-disk') {
        this.append(machine, 'ipxe', `local disk boot: ${plan.reason}`, { clientIp: query.clientIp, plan: plan.kind });
        return { ok: true, value: this.localDiskScript(machine) };
      }
      const bootToken = this.newToken();
      this.store.setBootToken(machine.id, bootToken);
      // the NIC that asked boots, and the OS configures that one (a machine may have several registered)
      const bootMac = mac !== null && machine.macs.includes(mac) ? mac : null;
      if (plan.kind === 'menu') return this.menuScript(machine, bootToken, query.clientIp, bootMac);
      return this.osScript(machine, bootToken, false, query.clientIp, bootMac);
    });
  }

  private localDiskScript(machine: Machine): string {
    return this.renderer.bootScript('local-disk', { machine: { name: machine.name, ip: machine.ip ?? '' } });
  }

  private menuScript(machine: Machine, bootToken: string, clientIp: string, bootMac: MacAddress | null): Outcome<string> {
    const menu = this.renderer.menu(this.settings.menu.name);
    if (!menu) return this.renderFailed(machine, `menu ${this.settings.menu.name} is not in the catalog`);
    const context = menuScriptContext({ baseUrl: this.settings.publicUrl, menu, settings: this.settings.menu, machine, bootToken });
    this.append(machine, 'ipxe', `boot menu shown (default ${this.settings.menu.defaultItem} after ${this.settings.menu.timeoutSeconds} s)`, { clientIp, plan: 'menu' }, bootMac ?? undefined);
    return { ok: true, value: this.renderer.bootScript('menu', context) };
  }

  private osScript(machine: Machine, bootToken: string, debug: boolean, clientIp: string | null, bootMac: MacAddress | null = this.bootMac(machine)): Outcome<string> {
    const configToken = this.newToken();
    const context = osScriptContext({
      baseUrl: this.settings.publicUrl,
      os: this.settings.os,
      kernelArgs: this.settings.kernelArgs,
      machine,
      bootToken,
      configToken,
      debug,
      configFormat: this.configFormat(machine),
      ...(bootMac === null ? {} : { bootMac }),
    });
    const unsafe = findIpxeUnsafe(context.values);
    if (unsafe) return this.renderFailed(machine, `value ${unsafe.key} ${unsafe.problem}; refusing to render an iPXE script`);
    if (clientIp !== null) {
      this.store.setConfigToken(machine.id, configToken);
      const what = debug ? 'debug boot' : `${machine.role ?? 'no role'} (${machine.bootMode})`;
      const format = this.configFormat(machine);
      this.append(machine, 'ipxe', `iPXE script served: ${this.settings.os.name}, ${what}, ${format}`, { clientIp, plan: debug ? 'debug' : 'os', configFormat: format }, bootMac ?? undefined);
    }
    return { ok: true, value: this.renderer.bootScript('machine', context) };
  }

  /** The registered MAC that asked for this boot's script (its `ipxe` event), or null before any. */
  private bootMac(machine: Machine): MacAddress | null {
    const recent = this.store.listEvents({ machineId: machine.id, limit: 50, newest: true });
    for (let i = recent.length - 1; i >= 0; i -= 1) {
      const event = recent[i];
      if (event?.type === 'ipxe' && event.mac !== null && machine.macs.includes(event.mac)) return event.mac;
    }
    return null;
  }

  private renderFailed<T>(machine: Machine, reason: string): Outcome<T> {
    this.append(machine, 'render-failed', reason);
    return { ok: false, code: 'RACKBOOT_ERR_RENDER', message: reason };
  }

  /** The item a machine picked from the boot menu: remembered (role and mode) unless it is one-shot. */
  menuChoice(bootToken: string, itemId: string, clientIp: string): Outcome<string> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(bootToken);
      if (!machine) return this.refuseToken(bootToken, 'menu choice', 'menu');
      if (!this.isMachineAddress(machine, clientIp)) return this.refuseAddress(machine, clientIp, 'menu', 'menu choice');
      const menu = this.renderer.menu(this.settings.menu.name);
      const choice = menu ? findChoice(menu, itemId) : null;
      if (!choice) return { ok: false, code: 'RACKBOOT_ERR_NOT_FOUND', message: `no menu entry ${itemId}` };
      this.append(machine, 'menu-choice', `chose "${choice.label}" at the boot menu`, { item: choice.id, clientIp });
      if (choice.kind === 'action') {
        if (choice.action === 'local-disk') return { ok: true, value: this.localDiskScript(machine) };
        return this.osScript(machine, bootToken, true, clientIp);
      }
      this.store.setRole(machine.id, choice.role, choice.mode);
      const updated = this.store.machineById(machine.id) as Machine;
      return this.osScript(updated, bootToken, false, clientIp);
    });
  }

  /** `rackboot assign`: set a role (and how it boots); the machine boots it on its next PXE boot. */
  assignRole(machine: Machine, role: Role | null, mode: BootMode, actor?: string): Machine {
    return this.store.transaction(() => {
      const before = this.store.machineById(machine.id) ?? machine;
      this.store.setRole(machine.id, role, mode);
      this.append(machine, 'role-assigned', role === null ? 'role cleared: the next boot shows the menu' : `role ${role} (${mode}) assigned`, { role, mode });
      if (actor !== undefined) {
        this.audit({ actor, action: 'machine.assign', target: machine.name, before: { role: before.role, bootMode: before.bootMode }, after: { role, bootMode: mode }, message: role === null ? 'role cleared' : `role ${role} (${mode})` });
      }
      return this.store.machineById(machine.id) as Machine;
    });
  }

  /** The machine's own config format (null: its role's or the default), from its next PXE boot on. */
  setConfigFormat(machine: Machine, format: ConfigFormat | null): Machine {
    return this.store.transaction(() => {
      this.store.setConfigFormat(machine.id, format);
      const updated = this.store.machineById(machine.id) as Machine;
      const effective = this.configFormat(updated);
      const message = format === null ? `config format: the role's or the default (${effective})` : `config format ${format}`;
      this.append(machine, 'role-assigned', `${message}, from the next PXE boot`, { configFormat: format, effective });
      return updated;
    });
  }

  /**
   * Sends a machine back to `registered`: an installed machine boots its disk until this is done,
   * and its next PXE boot after it installs its role again. Records who-asked-what on the timeline.
   */
  reprovision(machine: Machine, reason = 'requested by the operator', actor?: string): Machine {
    return this.store.transaction(() => {
      if (actor !== undefined) this.audit({ actor, action: 'machine.reprovision', target: machine.name, before: { state: machine.state }, after: { state: 'registered' }, message: `reprovision ${reason}` });
      const current = this.store.machineById(machine.id) ?? machine;
      const next = current.role === null ? 'the next PXE boot shows the boot menu' : `the next PXE boot ${current.bootMode === 'memory' ? 'boots' : 'installs'} ${current.role} again`;
      // the running OS's boot token dies with it: a late callback must not undo the reprovision
      this.store.setBootToken(current.id, null);
      this.store.setConfigToken(current.id, null);
      this.append(current, 'registered', `reprovision ${reason} (was ${current.state}): ${next}`, { reprovision: true, previousState: current.state });
      return this.store.machineById(machine.id) as Machine;
    });
  }

  /**
   * The machines a render depends on: the machine's own cluster (its etcd members and gateways),
   * not the whole inventory, so a render costs the same with 10 or 10,000 machines registered.
   */
  private clusterInventory(machine: Machine): Machine[] {
    const roles = clusterRoles(machine.role);
    return roles.length === 0 ? [machine] : this.store.listMachinesWithRoles(roles);
  }

  private cloudConfigContext(machine: Machine, bootToken: string, inventory: readonly Machine[]) {
    const { subnets, publicUrl: baseUrl, serverAddress, cluster, cloudConfig } = this.settings;
    const etcd = this.etcd;
    const decided = this.etcdDecisions.get(machine.id);
    const bootMac = this.bootMac(machine);
    return buildCloudConfigContext(
      {
        machine, inventory, subnets, baseUrl, serverAddress, cluster, bootToken,
        ...(bootMac === null ? {} : { bootMac }),
        ...(etcd ? { etcdCredentials: (request: EtcdCertificateRequest) => etcd.credentials(request) } : {}),
        ...(decided ? { etcdMembership: decided } : {}),
      },
      cloudConfig,
    );
  }

  /**
   * For the etcd membership adapter, before it decides: the machine behind a cloud-config (memory
   * mode) or install (install mode) token, when the request comes from the machine's own address and
   * its role holds etcd members. Reads only; anything else is null and the route refuses as usual.
   */
  etcdTarget(token: string, clientIp: string, route: 'cloud-config' | 'install'): { machine: Machine; plan: EtcdClusterPlan } | null {
    const machine = route === 'cloud-config' ? this.store.machineByConfigToken(token) : this.store.machineByBootToken(token);
    if (!machine || machine.ip === null || !this.isMachineAddress(machine, clientIp)) return null;
    if (machine.bootMode !== (route === 'cloud-config' ? 'memory' : 'install')) return null;
    const plan = this.etcdPlan(machine, this.clusterInventory(machine));
    return plan && plan.memberRoleMachine ? { machine, plan } : null;
  }

  /** What the adapter decided for the machine's next render (null: the static bootstrap). */
  setEtcdMembership(machine: Machine, decided: RenderMembership | null): void {
    if (decided === null) this.etcdDecisions.delete(machine.id);
    else this.etcdDecisions.set(machine.id, decided);
  }

  /** An etcd membership event in the machine's timeline: a `warning`, which moves no state. */
  noteEtcd(machine: Machine, message: string, data: Record<string, unknown>): void {
    this.store.transaction(() => this.append(machine, 'warning', message, data));
  }

  /** Every etcd cluster the inventory defines (one per cluster role with members), for the health view. */
  etcdClusters(): EtcdClusterFacts[] {
    const out: EtcdClusterFacts[] = [];
    for (const spec of ROLE_TABLE) {
      const holders = etcdMembers(spec.name);
      if (holders === null || holders.role !== spec.name) continue;
      const machines = this.store.listMachinesWithRoles([spec.name]);
      const first = machines.find((m) => m.ip !== null);
      if (!first) continue;
      const plan = this.etcdPlan(first, machines);
      if (!plan) continue;
      const members = machines.filter((m) => plan.members.some((p) => p.name === m.name));
      out.push({ plan, members, allMemory: members.every((m) => m.bootMode === 'memory'), booted: members.some((m) => BOOTED_STATES.has(m.state)) });
    }
    return out;
  }

  private etcdPlan(machine: Machine, inventory: readonly Machine[]): EtcdClusterPlan | null {
    const { publicUrl, cluster } = this.settings;
    const result = computeEtcd({
      machine: { name: machine.name, ip: machine.ip, role: machine.role },
      inventory: inventory.map((m) => ({ name: m.name, ip: m.ip, role: m.role })),
      clusterName: cluster.name,
      binaryUrl: `${publicUrl}/assets/${cluster.etcdBinary}`,
      etcdctlUrl: `${publicUrl}/assets/${etcdctlPath(cluster.etcdBinary)}`,
      credentials: () => PLACEHOLDER_CREDENTIALS,
    });
    return result.ok ? result.plan : null;
  }

  /** The machine's cloud-config now, rendered and validated; writes nothing. */
  renderCloudConfig(machine: Machine, bootToken: string): Rendered {
    const rendered = this.renderRoleCloudConfig(machine, bootToken);
    return rendered.ok ? { ok: true, text: rendered.text, template: rendered.template, warnings: rendered.warnings } : rendered;
  }

  /** The validated cloud-config and the etcd settings it was rendered with. */
  private renderRoleCloudConfig(machine: Machine, bootToken: string): (Rendered & { ok: true; etcd: EtcdContext | null }) | { ok: false; errors: readonly string[] } {
    const built = this.cloudConfigContext(machine, bootToken, this.clusterInventory(machine));
    if (!built.ok) return { ok: false, errors: built.errors };
    const rendered = this.renderer.cloudConfig(built.template, built.context as unknown as Record<string, unknown>);
    if (!rendered.ok) return { ok: false, errors: rendered.errors.map((e) => `${built.template}: ${e}`) };
    return { ok: true, text: rendered.text, template: built.template, warnings: built.warnings, etcd: built.context.etcd };
  }

  /** The format the machine's config is served in: its own, its role's, or the default. */
  configFormat(machine: Machine): ConfigFormat {
    return configFormatFor(machine, this.settings.configFormat);
  }

  /**
   * The machine's Ignition config now: its role's cloud-config rendered and validated, read into the
   * format-neutral machine config (core/machine-config.ts), rendered as Ignition and checked
   * (core/ignition-check.ts). Any finding at any step: nothing to serve. Writes nothing.
   */
  renderIgnitionConfig(machine: Machine, bootToken: string): Rendered {
    const cloud = this.renderRoleCloudConfig(machine, bootToken);
    if (!cloud.ok) return cloud;
    return this.ignitionFromCloudConfig(cloud.text, cloud.etcd, cloud.template, cloud.warnings);
  }

  private ignitionFromCloudConfig(text: string, etcd: EtcdContext | null, template: string, warnings: readonly string[]): Rendered {
    const ignition = ignitionFromCloudConfig(text, etcd, (url) => this.mirrorDigest(url));
    if (!ignition.ok) return { ok: false, errors: ignition.errors.map((e) => `${template} (Ignition): ${e}`) };
    return { ok: true, text: ignition.text, template, warnings };
  }

  /** The mirror manifest's SHA-512 of an /assets/ URL of this server, or null. */
  private mirrorDigest(url: string): string | null {
    const prefix = `${this.settings.publicUrl}/assets/`;
    const assets = this.assets ?? this.install?.assets ?? null;
    if (!assets || !url.startsWith(prefix)) return null;
    const split = splitAssetPath(url.slice(prefix.length));
    if (!split) return null;
    return assets.manifest(split.kind, split.version)?.files[split.file]?.sha512 ?? null;
  }

  /** The machine's config in its format (cloud-config or Ignition), rendered and validated; writes nothing. */
  renderMachineConfig(machine: Machine, bootToken: string): Rendered {
    return this.configFormat(machine) === 'ignition' ? this.renderIgnitionConfig(machine, bootToken) : this.renderCloudConfig(machine, bootToken);
  }

  /** `rackboot preview`: what the machine would get now, without booting it or writing anything. */
  preview(machine: Machine): Preview {
    const plan = planBoot(machine);
    const token = 'PREVIEW-TOKEN';
    let script: Outcome<string>;
    if (plan.kind === 'local-disk') script = { ok: true, value: this.localDiskScript(machine) };
    else if (plan.kind === 'menu') {
      const menu = this.renderer.menu(this.settings.menu.name);
      script = menu
        ? { ok: true, value: this.renderer.bootScript('menu', menuScriptContext({ baseUrl: this.settings.publicUrl, menu, settings: this.settings.menu, machine, bootToken: token })) }
        : { ok: false, code: 'RACKBOOT_ERR_RENDER', message: `menu ${this.settings.menu.name} is not in the catalog` };
    } else script = this.osScript(machine, token, false, null);
    const planText = plan.kind === 'local-disk' ? `local disk (${plan.reason})` : plan.kind === 'menu' ? 'boot menu' : `${machine.role} in ${plan.mode === 'memory' ? 'memory' : 'install mode'}`;
    return { machine, plan: planText, script, configFormat: this.configFormat(machine), cloudConfig: this.renderMachineConfig(machine, token) };
  }

  /** Resolves /boot/<token>/kernel|initrd/... to an asset path and records that the machine is booting. */
  bootAsset(token: string, kind: 'kernel' | 'initrd', index: number, clientIp: string): Outcome<BootAsset> {
    const machine = this.store.machineByBootToken(token);
    if (!machine) return this.refuseToken(token, `boot ${kind}`, 'boot-asset');
    if (!this.isMachineAddress(machine, clientIp)) return this.store.transaction(() => this.refuseAddress(machine, clientIp, 'boot-asset', `boot ${kind}`));
    const path = kind === 'kernel' ? this.settings.os.kernel : this.settings.os.initrds[index];
    if (path === undefined) return { ok: false, code: 'RACKBOOT_ERR_NOT_FOUND', message: `no initrd number ${index}` };
    return { ok: true, value: { machine, path } };
  }

  assetServed(asset: BootAsset, kind: 'kernel' | 'initrd', bytes: number): void {
    if (kind !== 'kernel') return;
    this.store.transaction(() =>
      this.append(asset.machine, 'booting', `kernel fetched (${asset.path})`, { path: asset.path, bytes }),
    );
  }

  /**
   * The cloud-config, once per boot (its token is one-time) and only to the machine's own address:
   * it carries secrets. A config that fails validation is never served.
   */
  cloudConfig(configToken: string, clientIp: string): Outcome<string> {
    return this.machineConfig(configToken, clientIp, 'cloud-config');
  }

  /** The Ignition config: the same one-time token, address binding and validation as the cloud-config. */
  ignitionConfig(configToken: string, clientIp: string): Outcome<string> {
    return this.machineConfig(configToken, clientIp, 'ignition');
  }

  private machineConfig(configToken: string, clientIp: string, format: ConfigFormat): Outcome<string> {
    const route = format === 'ignition' ? 'ignition' : 'cloud-config';
    const what = format === 'ignition' ? 'Ignition config' : 'cloud-config';
    return this.store.transaction(() => {
      const machine = this.store.machineByConfigToken(configToken);
      if (!machine) return this.refuseToken(configToken, `${what} (unknown, expired or already used token)`, route);
      if (!this.isMachineAddress(machine, clientIp)) return this.refuseAddress(machine, clientIp, route, what);
      const expected = this.configFormat(machine);
      if (expected !== format) {
        // the token stays valid: the OS may still fetch the format its kernel arguments name
        return { ok: false, code: 'RACKBOOT_ERR_CONFLICT', message: `${machine.name} boots with ${expected === 'ignition' ? 'Ignition' : 'a cloud-config'}; its config is at /${expected}/<token>` };
      }
      const rendered = this.renderMachineConfig(machine, machine.bootToken ?? '');
      if (!rendered.ok) return this.renderFailed(machine, `${what} not served: ${rendered.errors.join('; ')}`);
      this.store.setConfigToken(machine.id, null);
      for (const warning of rendered.warnings) this.append(machine, 'warning', warning);
      this.append(machine, 'configured', `${what} ${rendered.template} served`, { clientIp, template: rendered.template, format, bytes: rendered.text.length });
      return { ok: true, value: rendered.text };
    });
  }

  /** The binding rule of core/boot-binding.ts: the reserved IP, or (full-mode DHCP) the machine's live lease. */
  private isMachineAddress(machine: Machine, clientIp: string): boolean {
    const source = sourceAddress(clientIp);
    const ownsAddressing = this.settings.dhcp !== undefined && (this.settings.dhcp.mode ?? 'full') === 'full';
    // the reserved IP settles it without a lease lookup (every boot route of every machine asks this)
    const leaseAtSource = ownsAddressing && machine.ip !== source ? this.store.leaseByIp(source) : null;
    return isMachineSource({ machine, source, leaseAtSource, ownsAddressing, now: this.clock.now() });
  }

  private refuseAddress<T>(machine: Machine, clientIp: string, route: RefusedRoute, what: string): Outcome<T> {
    this.noteWrongAddress(machine, clientIp, route, what);
    return { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'this token belongs to another machine' };
  }

  /** A `token-refused` event, at most one per machine per interval (the count in between rides on the next). */
  private noteWrongAddress(machine: Machine, clientIp: string, route: RefusedRoute, what: string): void {
    const source = sourceAddress(clientIp);
    const { report, suppressed } = this.refusals.refuse(`machine ${machine.id}`, route, 'wrong-address', this.clock.now());
    if (!report) return;
    const more = suppressed > 0 ? ` (${suppressed} more refused since the last report)` : '';
    this.append(machine, 'token-refused', `${what} requested from ${source}, not from ${machine.name}'s address ${machine.ip ?? '(none)'}${more}`, { clientIp: source, route, suppressed });
  }

  /** Boot-token refusals since start, by route and reason (for /metrics). */
  tokenRefusals(): Array<{ route: RefusedRoute; reason: RefusalReason; count: number }> {
    return this.refusals.totals();
  }

  callback(token: string, body: { event?: unknown; message?: unknown }, clientIp: string): Outcome<MachineEvent> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(token);
      if (!machine) return this.refuseToken(token, 'callback', 'callback');
      if (!this.isMachineAddress(machine, clientIp)) return this.refuseAddress(machine, clientIp, 'callback', 'callback');
      const event = typeof body.event === 'string' ? body.event : '';
      if (!isCallbackEvent(event)) {
        return { ok: false, code: 'RACKBOOT_ERR_INVALID_INPUT', message: `event must be one of booted, progress, installing, installed, ready, failed; got ${JSON.stringify(body.event)}` };
      }
      const message = typeof body.message === 'string' ? body.message.slice(0, 4000) : event;
      // a repeated installed/ready (a retried POST, a second first boot) changes nothing
      const duplicate = this.duplicateCallback(machine, event);
      if (duplicate) return { ok: true, value: duplicate };
      // progress keeps the state but restarts its stuck timer (install.stuck.timeouts)
      if (event === 'progress' && machine.state === 'installing') this.store.setState(machine.id, 'installing', this.clock.now());
      return { ok: true, value: this.append(machine, event, message, { clientIp }) };
    });
  }

  /**
   * A TFTP transfer finished: a completed download of a boot file means the firmware loaded it; a
   * missing or refused file, or firmware that stopped answering, is where its boot ends (issue 17:
   * the timeline must not simply stop). Aborts are normal (iPXE probes tsize, then aborts).
   */
  tftpTransferEnded(summary: { path: string; clientIp: string; bytes: number; durationMs: number; result: string; reason?: string }): void {
    this.store.transaction(() => {
      const machine = this.machineForIp(summary.clientIp);
      if (!machine) return;
      if (summary.result === 'complete') {
        this.append(machine, 'firmware-loaded', `TFTP ${summary.path}: ${summary.bytes} bytes in ${summary.durationMs} ms`, {
          path: summary.path,
          bytes: summary.bytes,
          durationMs: summary.durationMs,
        });
      } else if (summary.result === 'timeout' || summary.result === 'error') {
        this.noteBootFileFailed(machine, 'tftp', summary.path, summary.reason ?? summary.result);
      }
    });
  }

  /** A boot file requested over HTTP (UEFI HTTP boot) that is not served: on the timeline of the machine at that address. */
  bootFileFailed(clientIp: string, via: 'tftp' | 'http', path: string, reason: string): void {
    this.store.transaction(() => {
      const machine = this.machineForIp(sourceAddress(clientIp));
      if (machine) this.noteBootFileFailed(machine, via, path, reason);
    });
  }

  /** A boot file the machine could not get: once per file per minute on its timeline (firmware retries fast). */
  private noteBootFileFailed(machine: Machine, via: 'tftp' | 'http', path: string, reason: string): void {
    const [last] = this.store.listEvents({ machineId: machine.id, limit: 1, newest: true });
    const now = this.clock.now();
    if (last?.type === 'boot-file-failed' && last.data?.['path'] === path && now - last.at < 60_000) return;
    const hint = /not-found/.test(reason) ? ' (not on the server: see dhcp.bootFiles and tftp.root)' : /denied/.test(reason) ? ' (refused by the server)' : '';
    this.append(machine, 'boot-file-failed', `${via.toUpperCase()} ${path}: ${reason}${hint}`, { path, via, reason });
  }

  private machineForIp(ip: string): Machine | null {
    const lease = this.store.leaseByIp(ip);
    if (lease?.machineId != null) return this.store.machineById(lease.machineId);
    return this.store.machineByIp(ip);
  }

  private refuseToken<T>(token: string, what: string, route: RefusedRoute): Outcome<T> {
    this.refusals.refuse('unknown token', route, 'unknown-token', this.clock.now());
    this.append(null, 'token-refused', `${what} requested with an unknown or expired token`, { token: token.slice(0, 6) });
    return { ok: false, code: 'RACKBOOT_ERR_TOKEN', message: 'unknown or expired boot token' };
  }

  // --- install mode: the per-machine install script, idempotent callbacks, stuck states ---------

  /** Install mode's settings, template, mirror manifests and cluster secrets (server/install/enable.ts). */
  setInstall(extension: InstallExtension | null): void {
    this.install = extension;
  }

  /** True once install mode is on (`rackboot serve`). */
  get installEnabled(): boolean {
    return this.install !== null;
  }

  /** A reloaded install.sh template (SIGHUP); ignored when install mode is off. */
  setInstallRenderer(renderer: InstallRenderer): void {
    if (this.install !== null) this.install = { ...this.install, renderer };
  }

  /**
   * GET /install/<bootToken>: the machine's install script, only to its own address (it carries the
   * cluster's secrets) and only in install mode. A version that is not imported or a payload that
   * cannot render is never served: the machine gets `render-failed` and the operator sees why.
   */
  installScript(bootToken: string, clientIp: string, options: { dryRun?: boolean } = {}): Outcome<string> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(bootToken);
      if (!machine) return this.refuseToken(bootToken, 'install script', 'install');
      if (!this.isMachineAddress(machine, clientIp)) return this.refuseAddress(machine, clientIp, 'install', 'install script');
      if (machine.bootMode !== 'install') return { ok: false, code: 'RACKBOOT_ERR_CONFLICT', message: `${machine.name} boots its role in memory; there is nothing to install` };
      const rendered = this.renderInstallScript(machine, bootToken, options);
      if (!rendered.ok) return this.renderFailed(machine, `install script not served: ${rendered.errors.join('; ')}`);
      const c = rendered.context;
      this.append(machine, 'installing', `install script served: ${c.image.mirror} ${c.image.version}, ${c.payload.summary}${c.allowWipe ? ', may overwrite a used disk (reprovision)' : ''}${c.dryRun ? ', dry run' : ''}`, {
        clientIp,
        version: c.image.version,
        payload: c.payload.kind,
        allowWipe: c.allowWipe,
        dryRun: c.dryRun,
      });
      return { ok: true, value: rendered.text };
    });
  }

  /** The install script as it would be rendered now; writes nothing. */
  renderInstallScript(
    machine: Machine,
    bootToken: string,
    options: { dryRun?: boolean } = {},
  ): { ok: true; text: string; context: InstallScriptContext } | { ok: false; errors: readonly string[] } {
    const extension = this.install;
    if (!extension) return { ok: false, errors: ['install mode is not enabled in this rackboot process'] };
    // DC/OS masters can come from any role, so the install script sees the whole inventory
    // (it is rendered once per install; the per-boot cloud-config reads only the cluster).
    const inventory = this.store.listMachines();
    const built = this.cloudConfigContext(machine, bootToken, inventory);
    if (!built.ok) return { ok: false, errors: built.errors };
    // the third render stage: the role as the installed system runs it (no installer)
    const userData = this.renderer.cloudConfig(built.template, { ...built.context, installScriptUrl: '' } as unknown as Record<string, unknown>);
    if (!userData.ok) return { ok: false, errors: userData.errors.map((e) => `installed ${built.template} cloud-config: ${e}`) };
    let ignition: string | null = null;
    if (this.configFormat(machine) === 'ignition') {
      // the installed system boots with Ignition too: the same role, from the same render
      const installed = ignitionFromCloudConfig(userData.text, built.context.etcd, (url) => this.mirrorDigest(url));
      if (!installed.ok) return { ok: false, errors: installed.errors.map((e) => `installed ${built.template} Ignition config: ${e}`) };
      ignition = installed.text;
    }
    const result = buildInstallContext({
      machine,
      inventory,
      cloud: built.context,
      settings: extension.settings,
      baseUrl: this.settings.publicUrl,
      assets: extension.assets,
      templates: extension.renderer,
      kubernetes: extension.kubernetes,
      userData: userData.text.endsWith('\n') ? userData.text : `${userData.text}\n`,
      ignition,
      allowWipe: this.wipeAllowed(machine),
      dryRun: options.dryRun ?? false,
    });
    if (!result.ok) return result;
    try {
      return { ok: true, text: extension.renderer.installScript(result.context), context: result.context };
    } catch (error) {
      return { ok: false, errors: [`install.sh: ${(error as Error).message}`] };
    }
  }

  /** A reprovision (`registered` with data.reprovision) after the last `installed`: the script may overwrite a used disk. */
  private wipeAllowed(machine: Machine): boolean {
    let installed = 0;
    let reprovision = 0;
    this.scanEvents(machine.id, (event) => {
      if (event.type === 'installed') installed = event.id;
      else if (event.type === 'registered' && event.data?.reprovision === true) reprovision = event.id;
    });
    return reprovision > installed;
  }

  /** The earlier event when `installed` or `ready` repeats what the machine already is. */
  private duplicateCallback(machine: Machine, event: string): MachineEvent | null {
    const repeat = (event === 'installed' && (machine.state === 'installed' || machine.state === 'ready')) || (event === 'ready' && machine.state === 'ready');
    if (!repeat) return null;
    let found: MachineEvent | null = null;
    this.scanEvents(machine.id, (e) => {
      if (e.type === event) found = e;
    });
    return found;
  }

  private scanEvents(machineId: number, visit: (event: MachineEvent) => void): void {
    let afterId = 0;
    for (let page = 0; page < 1000; page++) {
      const events = this.store.listEvents({ machineId, afterId, limit: 5000 });
      for (const event of events) visit(event);
      const last = events.at(-1);
      if (!last || events.length < 5000) return;
      afterId = last.id;
    }
  }

  /**
   * The periodic check (rackboot serve): a machine that has made no progress in a state for longer
   * than install.stuck.timeouts[state] becomes `stuck`, with the reason as the event.
   */
  checkStuck(): MachineEvent[] {
    const timeouts = this.install?.settings.stuck.timeouts;
    if (!timeouts) return [];
    const now = this.clock.now();
    return this.store.transaction(() => {
      const events: MachineEvent[] = [];
      for (const machine of this.store.listMachines()) {
        const limit = timeouts[machine.state];
        if (limit === undefined || limit <= 0) continue;
        // without a role the iPXE step ends at the menu (or the local disk it chose): nothing follows
        if (machine.role === null && machine.state === 'ipxe') continue;
        const idle = Math.floor((now - machine.stateChangedAt) / 1000);
        if (idle <= limit) continue;
        events.push(
          this.append(machine, 'stuck', `no progress in state ${machine.state} for ${idle} s (install.stuck.timeouts.${machine.state} is ${limit} s)`, {
            state: machine.state,
            idleSeconds: idle,
            timeoutSeconds: limit,
          }),
        );
      }
      return events;
    });
  }

  // --- reads for the operator surfaces (API, dashboard, CLI): the store itself stays private ---

  listMachines(): Machine[] {
    return this.store.listMachines();
  }

  machineById(id: number): Machine | null {
    return this.store.machineById(id);
  }

  listEvents(query: EventQuery): MachineEvent[] {
    return this.store.listEvents(query);
  }

  listDiscovered(): DiscoveredClient[] {
    return this.store.listDiscovered();
  }

  listDiscoveredPage(query: DiscoveredQuery): DiscoveredClient[] {
    return this.store.listDiscoveredPage(query);
  }

  listMachinesPage(query: MachinePageQuery): Machine[] {
    return this.store.listMachinesPage(query);
  }

  /** A machine (or, when the address is nobody's, no machine) fetched an asset that fails its checksum. */
  assetRefused(clientIp: string, message: string): MachineEvent {
    const address = sourceAddress(clientIp);
    return this.store.transaction(() => this.append(this.machineByRef(address), 'warning', `asset refused: ${message}`, { clientIp: address }));
  }

  /**
   * A power action on a machine: its `power` or `power-failed` event, and the state the lifecycle
   * gives it (powering-on only after a power-on into PXE).
   */
  recordPower(machine: Machine, outcome: { ok: boolean; message: string; data: Record<string, unknown>; poweredOnIntoPxe: boolean }): MachineEvent {
    const type = outcome.ok ? 'power' : 'power-failed';
    return this.store.transaction(() => this.append(machine, type, outcome.message, outcome.data, undefined, { poweredOnIntoPxe: outcome.poweredOnIntoPxe }));
  }

  /**
   * ip-plan --apply, the machine side: new reserved addresses (every moving address is freed
   * before any is taken, so a swap never trips the unique index), machines registered from their
   * BMC, and an event for each. `link` ties a BMC to a machine in the BMC registry; the caller's
   * transaction (runIpPlan) holds the plan and its application together.
   */
  applyIpPlan(plan: IpPlan, link: (bmc: string, machineId: number) => void): void {
    this.store.transaction(() => {
      const updates = plan.changes.flatMap((c) => (c.action === 'update' ? [c] : []));
      for (const u of updates) if (u.ipFrom !== u.ipTo) this.store.setIp(u.machineId, null);
      for (const u of updates) {
        this.store.setIp(u.machineId, u.ipTo);
        if (u.link) link(u.bmc, u.machineId);
        const what = [u.ipFrom !== u.ipTo ? `reserved IP ${u.ipFrom ?? '(none)'} -> ${u.ipTo}` : null, u.link ? `linked to BMC ${u.bmc}` : null].filter(Boolean).join(', ');
        this.append(this.store.machineById(u.machineId), 'ip-plan', `ip-plan: ${what}`, { bmc: u.bmc, from: u.ipFrom, to: u.ipTo }, undefined);
      }
      for (const change of plan.changes) {
        if (change.action === 'add') {
          const machine = this.store.addMachine({ name: change.name, macs: change.macs, ip: change.ip, role: null, uuid: change.uuid, bmcAddress: change.bmc }, this.clock.now());
          link(change.bmc, machine.id);
          this.append(machine, 'registered', `registered by ip-plan from BMC ${change.bmc}: ${change.macs.join(', ')} -> ${change.ip}`, { bmc: change.bmc, ip: change.ip, macs: [...change.macs] });
        } else if (change.action === 'unchanged') link(change.bmc, change.machineId);
      }
    });
  }

  // --- the inventory's lifecycle: edit, board replacement, delete, bulk actions, import, audit ---

  /** Changes operator fields of a machine, checked like an add (uniqueness, IP in a subnet); an `edited` event and an audit entry. */
  editMachine(machine: Machine, patch: MachinePatch, actor: string): Outcome<Machine> {
    return this.store.transaction(() => {
      const current = this.store.machineById(machine.id);
      if (!current) return notFound(machine.name);
      const validated = validateRow({ ...rowOf(current), ...patch });
      if (!validated.ok) return { ok: false, code: 'RACKBOOT_ERR_INVALID_INPUT', message: `cannot edit ${current.name}: ${validated.problems.join('; ')}` };
      const plan = this.planRows([{ id: current.id, row: validated.row, line: 0 }]);
      if (plan.errors.length > 0) return planRefusal(`cannot edit ${current.name}`, plan.errors);
      this.applyChanges(plan.changes, actor, 'machine.edit');
      return { ok: true, value: this.store.machineById(current.id) as Machine };
    });
  }

  /**
   * RMA: a new board in the machine's slot. Name, IP, role and labels stay; MACs, UUID and BMC are
   * the new board's; the install state starts again (`registered`, boot tokens and leases gone, the
   * old BMC record unlinked); the timeline keeps going with a `board-replaced` event.
   */
  replaceBoard(machine: Machine, board: { macs: readonly string[]; uuid?: string | null; bmcAddress?: string | null }, actor: string): Outcome<Machine> {
    return this.store.transaction(() => {
      const current = this.store.machineById(machine.id);
      if (!current) return notFound(machine.name);
      const validated = validateRow({ ...rowOf(current), macs: [...board.macs], uuid: board.uuid ?? null, bmcAddress: board.bmcAddress ?? null });
      if (!validated.ok) return { ok: false, code: 'RACKBOOT_ERR_INVALID_INPUT', message: `cannot replace ${current.name}'s board: ${validated.problems.join('; ')}` };
      const plan = this.planRows([{ id: current.id, row: validated.row, line: 0 }]);
      if (plan.errors.length > 0) return planRefusal(`cannot replace ${current.name}'s board`, plan.errors);
      const change = plan.changes[0];
      const changes = change?.action === 'update' ? change.changes : [];
      this.writeRow(current, validated.row, changes);
      this.store.setBootToken(current.id, null);
      this.store.setConfigToken(current.id, null);
      this.store.setIpxeChainedAt(current.id, null);
      this.store.deleteMachineLeases(current.id);
      this.store.unlinkBmcs(current.id);
      const what = changes.length > 0 ? describeChanges(changes) : 'same MACs, UUID and BMC';
      const replaced = this.store.machineById(current.id) as Machine;
      this.append(replaced, 'board-replaced', `board replaced (was ${current.state}): ${what}; name ${current.name} and IP ${current.ip ?? '(none)'} kept, install state reset`, {
        previousState: current.state,
        changes: changes.map((c) => ({ ...c })),
      });
      this.audit({ actor, action: 'machine.replace', target: current.name, ...beforeAfter(changes), message: `board replaced: ${what}` });
      return { ok: true, value: this.store.machineById(current.id) as Machine };
    });
  }

  /** Removes a machine: its name, IP and MACs are free again; its events stay (a `deleted` event says what it was). */
  deleteMachine(machine: Machine, actor: string): Outcome<{ name: string }> {
    return this.store.transaction(() => {
      const current = this.store.machineById(machine.id);
      if (!current) return notFound(machine.name);
      const row = rowOf(current);
      this.append(null, 'deleted', `machine ${current.name} deleted (${current.macs.join(', ') || 'no MAC'} -> ${current.ip ?? 'no IP'}, was ${current.state})`, { machine: { ...row }, machineId: current.id }, current.macs[0]);
      this.store.deleteMachine(current.id);
      this.audit({ actor, action: 'machine.delete', target: current.name, before: { ...row }, after: null, message: `deleted ${current.name}` });
      return { ok: true, value: { name: current.name } };
    });
  }

  /**
   * The machines a label selector matches, by name; refused when they are more than the bulk limit
   * (default BULK_DEFAULT_LIMIT; `all`: up to BULK_MAX).
   */
  selectMachines(selectorText: string, bounds: BulkBounds = {}): Outcome<Machine[]> {
    const parsed = parseSelector(selectorText);
    if (!parsed.ok) return { ok: false, code: 'RACKBOOT_ERR_INVALID_INPUT', message: parsed.message };
    const limit = bulkLimit(bounds);
    const matched = this.store.listMachines().filter((m) => matchesSelector(m, parsed.selector));
    if (matched.length > limit) {
      const how = bounds.all ? 'the hard maximum' : 'the bulk limit (raise it with --limit / "limit", or --all / "all")';
      return { ok: false, code: 'RACKBOOT_ERR_TOO_MANY', message: `selector ${parsed.selector.text} matches ${matched.length} machines, more than ${how} of ${limit}` };
    }
    return { ok: true, value: matched };
  }

  /** Assigns a role to every machine a selector matches, in one transaction (dryRun: only which). */
  bulkAssignRole(selectorText: string, role: Role | null, mode: BootMode, actor: string, bounds: BulkBounds & { dryRun?: boolean } = {}): Outcome<BulkResult> {
    return this.bulk(selectorText, bounds, (m) => this.assignRole(m, role, mode, actor));
  }

  /** Reprovisions every machine a selector matches, in one transaction (dryRun: only which). */
  bulkReprovision(selectorText: string, actor: string, bounds: BulkBounds & { dryRun?: boolean } = {}): Outcome<BulkResult> {
    return this.bulk(selectorText, bounds, (m) => this.reprovision(m, `requested by ${actor} for selector ${selectorText.trim()}`, actor));
  }

  /** `change` on every machine a selector matches, in one transaction (dryRun: only which). */
  private bulk(selectorText: string, bounds: BulkBounds & { dryRun?: boolean }, change: (machine: Machine) => Machine): Outcome<BulkResult> {
    return this.store.transaction(() => {
      const selected = this.selectMachines(selectorText, bounds);
      if (!selected.ok) return selected;
      if (bounds.dryRun) return { ok: true, value: { applied: false, machines: selected.value } };
      return { ok: true, value: { applied: true, machines: selected.value.map(change) } };
    });
  }

  /**
   * An inventory file: decoded, planned against the inventory (rows match machines by name; machines
   * not in the file stay), and applied in one transaction only when `apply` and no row has an error.
   */
  importInventory(text: string, format: InventoryFormat, options: { apply: boolean; actor: string }): ImportResult {
    return this.store.transaction(() => {
      const decoded = decodeInventory(text, format);
      const plan = this.planRows(desiredFromImport(this.store.listMachines(), decoded.rows));
      const errors = [...decoded.errors, ...plan.errors].sort((a, b) => a.line - b.line);
      const changes = plan.changes;
      if (!options.apply || errors.length > 0) return { applied: false, changes, errors };
      this.applyChanges(changes, options.actor, 'inventory.import');
      const added = changes.filter((c) => c.action === 'add').length;
      const updated = changes.filter((c) => c.action === 'update').length;
      this.audit({ actor: options.actor, action: 'inventory.import', target: null, before: null, after: { added, updated, rows: changes.length }, message: `imported ${format}: ${added} added, ${updated} updated, ${changes.length - added - updated} unchanged` });
      return { applied: true, changes, errors };
    });
  }

  /** A write the Provisioner does not make itself (power through a BMC, an API token rotation) in the audit log. */
  recordAudit(entry: NewAuditEntry): AuditEntry {
    return this.store.transaction(() => this.audit(entry));
  }

  listAudit(query: AuditQuery): AuditEntry[] {
    return this.store.listAudit(query);
  }

  private audit(entry: NewAuditEntry): AuditEntry {
    return this.store.appendAudit({ ...entry, actor: entry.actor.slice(0, 200), message: entry.message.slice(0, 4000) }, this.clock.now());
  }

  private planRows(desired: Parameters<typeof planInventory>[1]): Plan {
    return planInventory(this.store.listMachines(), desired, this.settings.subnets.map((s) => s.cidr));
  }

  /**
   * Writes a checked plan: first every changing name, IP, UUID, BMC address and MAC list is freed,
   * then the new values are written, then new machines are added, so a swap between two machines
   * never trips a unique index.
   */
  private applyChanges(changes: readonly PlannedChange[], actor: string, action: string): void {
    const updates = changes.flatMap((c) => (c.action === 'update' ? [c] : []));
    const olds = new Map(updates.map((u) => [u.id, this.store.machineById(u.id) as Machine]));
    for (const u of updates) {
      const old = olds.get(u.id) as Machine;
      const moved = new Set(u.changes.map((c) => c.field));
      this.store.updateMachine(u.id, {
        ...rowOf(old),
        name: moved.has('name') ? `~${u.id}` : old.name,
        ip: moved.has('ip') ? null : old.ip,
        uuid: moved.has('uuid') ? null : old.uuid,
        bmcAddress: moved.has('bmcAddress') ? null : old.bmcAddress,
      });
      if (moved.has('macs')) this.store.setMacs(u.id, []);
    }
    for (const u of updates) {
      const old = olds.get(u.id) as Machine;
      this.writeRow(old, u.row, u.changes);
      const updated = this.store.machineById(u.id) as Machine;
      this.append(updated, 'edited', `edited: ${describeChanges(u.changes)}`, { changes: u.changes.map((c) => ({ ...c })), actor });
      this.audit({ actor, action, target: old.name, ...beforeAfter(u.changes), message: describeChanges(u.changes) });
    }
    for (const c of changes) {
      if (c.action !== 'add') continue;
      const machine = this.addMachine({ ...c.row, macs: [...c.row.macs] });
      this.audit({ actor, action: action === 'machine.edit' ? 'machine.add' : action, target: machine.name, before: null, after: { ...c.row }, message: `added ${machine.name}` });
    }
  }

  private writeRow(old: Machine, row: InventoryRow, changes: readonly FieldChange[]): void {
    const moved = new Set(changes.map((c) => c.field));
    this.store.updateMachine(old.id, { name: row.name, ip: row.ip, role: row.role, bootMode: row.bootMode, uuid: row.uuid, bmcAddress: row.bmcAddress, labels: row.labels });
    if (moved.has('macs')) this.store.setMacs(old.id, row.macs);
    // leases of old MACs or of the old address would point the machine at what it no longer has
    if (moved.has('macs') || moved.has('ip')) this.store.deleteMachineLeases(old.id);
  }

  machineByRef(ref: string): Machine | null {
    const mac = normaliseMac(ref);
    if (mac) return this.store.machineByMac(mac);
    if (isIpv4(ref)) return this.store.machineByIp(ref);
    return this.store.machineByName(ref);
  }
}

function discoveredFacts(client: ClientInfo): Record<string, unknown> {
  return {
    firmware: client.firmware,
    arch: client.arch,
    archName: client.archName,
    uuid: client.uuid,
    vendorClass: client.vendorClass,
    userClass: client.userClass,
    ipxe: client.isIpxe,
  };
}

/** What an edit may change (absent fields stay); `labels` replaces the whole map. */
export type MachinePatch = Partial<{ -readonly [K in keyof InventoryRow]: InventoryRow[K] }>;

/** How many machines a bulk action may touch: see core/labels.ts bulkLimit. */
export interface BulkBounds {
  readonly all?: boolean;
  readonly limit?: number;
}

export interface BulkResult {
  /** False on a dry run: `machines` is who would be affected. */
  readonly applied: boolean;
  readonly machines: readonly Machine[];
}

export interface ImportResult {
  readonly applied: boolean;
  readonly changes: readonly PlannedChange[];
  readonly errors: readonly PlanError[];
}

function notFound<T>(name: string): Outcome<T> {
  return { ok: false, code: 'RACKBOOT_ERR_NOT_FOUND', message: `no machine ${name}` };
}

function planRefusal<T>(what: string, errors: readonly PlanError[]): Outcome<T> {
  const code = errors.some((e) => e.conflict) ? 'RACKBOOT_ERR_CONFLICT' : 'RACKBOOT_ERR_INVALID_INPUT';
  return { ok: false, code, message: `${what}: ${errors.map((e) => e.message).join('; ')}` };
}

function beforeAfter(changes: readonly FieldChange[]): { before: Record<string, unknown>; after: Record<string, unknown> } {
  return {
    before: Object.fromEntries(changes.map((c) => [c.field, c.from])),
    after: Object.fromEntries(changes.map((c) => [c.field, c.to])),
  };
}
