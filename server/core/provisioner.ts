/**
 * The one core every transport calls: DHCP, TFTP, HTTP, the API and the CLI. It reads the inventory,
 * makes a pure decision and writes the outcome (lease, state, events) in one transaction.
 */
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import { findIpxeUnsafe, menuScriptContext, osScriptContext, planBoot, type MenuSettings, type OsImage } from './boot-plan.js';
import { clientInfo, type ClientInfo } from './client-info.js';
import { buildCloudConfigContext, type ClusterSettings } from './cloud-config-context.js';
import { decideDhcp, type DhcpDecision, type DhcpEffects, type DhcpSettings, type DhcpSubnet } from './dhcp-decision.js';
import { normaliseMac } from './identifiers.js';
import { isIpv4 } from './ipv4.js';
import { isCallbackEvent, stateAfter, type EventType } from './lifecycle.js';
import type { InventoryStore, NewMachine } from './ports.js';
import { findChoice, type Menu } from './menu.js';
import type { BootMode, Role } from './render-context.js';
import type { Machine, MachineEvent, MacAddress, NewEvent } from './types.js';

export type { OsImage } from './boot-plan.js';

export interface ProvisionerSettings {
  /** Base URL machines use to reach rackboot's HTTP service, without a trailing slash. */
  readonly publicUrl: string;
  readonly serverAddress: string;
  readonly os: OsImage;
  readonly kernelArgs: readonly string[];
  /** cloud-config template for machines booted without a role (the menu's debug entry). */
  readonly cloudConfig: string;
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
  readonly cloudConfig: Rendered;
}

export interface Clock {
  now(): number;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; message: string };

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
}

export class Provisioner {
  readonly store: InventoryStore;
  private renderer: Renderer;
  private readonly settings: ProvisionerSettings;
  private readonly clock: Clock;
  private readonly newToken: () => string;

  constructor(deps: ProvisionerDeps) {
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

  registerMachine(input: NewMachine): Machine {
    const now = this.clock.now();
    return this.store.transaction(() => {
      const machine = this.store.addMachine(input, now);
      this.record(machine, 'registered', `registered with ${machine.macs.join(', ')}${machine.ip ? ` -> ${machine.ip}` : ''}`);
      return this.store.machineById(machine.id) as Machine;
    });
  }

  /**
   * One DHCP packet: read the machine and its lease, decide, write the outcome, all in one
   * transaction, so the lease is durable before the reply leaves and two packets never interleave.
   */
  handleDhcp(packet: DhcpPacket): DhcpDecision {
    const settings = this.settings.dhcp;
    if (!settings) throw new Error('DHCP is not configured');
    const now = this.clock.now();
    const client = clientInfo(packet);
    return this.store.transaction(() => {
      const machine = client.mac === null ? null : this.store.machineByMac(client.mac);
      const lease = client.mac === null ? null : this.store.leaseByMac(client.mac);
      const decision = decideDhcp({
        packet,
        client,
        machine: machine && { id: machine.id, name: machine.name, ip: machine.ip, ipxeChainedAt: machine.ipxeChainedAt },
        lease: lease && { ip: lease.ip, expiresAt: lease.expiresAt },
        settings,
        now,
      });
      this.applyDhcpEffects(decision.effects, machine, client, now);
      return decision;
    });
  }

  private applyDhcpEffects(effects: DhcpEffects, machine: Machine | null, client: ClientInfo, now: number): void {
    if (effects.lease) this.store.putLease({ ...effects.lease, updatedAt: now });
    if (effects.releaseLease && client.mac !== null) this.store.deleteLease(client.mac);
    if (machine && effects.chain) this.store.setIpxeChainedAt(machine.id, effects.chain === 'set' ? now : null);
    for (const event of effects.events) this.recordNew(machine, event);
    if (effects.discovered?.mac) {
      const facts = discoveredFacts(effects.discovered);
      if (this.store.noteDiscovered(effects.discovered.mac, facts, now)) {
        this.record(null, 'discovered', `DHCP from unknown MAC ${effects.discovered.mac} (${facts.firmware}, arch ${facts.archName})`, facts, effects.discovered.mac);
      }
    }
  }

  private recordNew(machine: Machine | null, event: NewEvent): void {
    this.record(machine, event.type as EventType, event.message, event.data ? { ...event.data } : undefined, event.mac ?? undefined);
  }

  /** Appends an event and moves the machine's state when the event implies a new one. */
  record(machine: Machine | null, type: EventType, message: string, data?: Record<string, unknown>, mac?: MacAddress): MachineEvent {
    const now = this.clock.now();
    const event = this.store.appendEvent(
      { machineId: machine?.id ?? null, mac: mac ?? machine?.macs[0] ?? null, type, message, ...(data ? { data } : {}) },
      now,
    );
    if (machine) {
      const current = this.store.machineById(machine.id);
      const next = current ? stateAfter(type, current.state) : null;
      if (next) this.store.setState(machine.id, next, now);
    }
    return event;
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
      const machine = (mac && this.store.machineByMac(mac)) || (query.uuid ? this.store.machineByUuid(query.uuid) : null);
      if (!machine) {
        const message = `no machine with MAC ${query.mac ?? '?'} / UUID ${query.uuid ?? '?'} in the inventory`;
        this.record(null, 'discovered', `iPXE script requested by unknown machine: ${message}`, { clientIp: query.clientIp }, mac ?? undefined);
        return { ok: true, value: this.renderer.bootScript('unknown', { mac: mac ?? 'unknown', message }) };
      }
      const plan = planBoot(machine);
      if (plan.kind === 'local-disk') {
        this.record(machine, 'ipxe', `local disk boot: ${plan.reason}`, { clientIp: query.clientIp, plan: plan.kind });
        return { ok: true, value: this.localDiskScript(machine) };
      }
      const bootToken = this.newToken();
      this.store.setBootToken(machine.id, bootToken);
      if (plan.kind === 'menu') return this.menuScript(machine, bootToken, query.clientIp);
      return this.osScript(machine, bootToken, false, query.clientIp);
    });
  }

  private localDiskScript(machine: Machine): string {
    return this.renderer.bootScript('local-disk', { machine: { name: machine.name, ip: machine.ip ?? '' } });
  }

  private menuScript(machine: Machine, bootToken: string, clientIp: string): Outcome<string> {
    const menu = this.renderer.menu(this.settings.menu.name);
    if (!menu) return this.renderFailed(machine, `menu ${this.settings.menu.name} is not in the catalog`);
    const context = menuScriptContext({ baseUrl: this.settings.publicUrl, menu, settings: this.settings.menu, machine, bootToken });
    this.record(machine, 'ipxe', `boot menu shown (default ${this.settings.menu.defaultItem} after ${this.settings.menu.timeoutSeconds} s)`, { clientIp, plan: 'menu' });
    return { ok: true, value: this.renderer.bootScript('menu', context) };
  }

  private osScript(machine: Machine, bootToken: string, debug: boolean, clientIp: string | null): Outcome<string> {
    const configToken = this.newToken();
    const context = osScriptContext({
      baseUrl: this.settings.publicUrl,
      os: this.settings.os,
      kernelArgs: this.settings.kernelArgs,
      machine,
      bootToken,
      configToken,
      debug,
    });
    const unsafe = findIpxeUnsafe(context.values);
    if (unsafe) return this.renderFailed(machine, `value ${unsafe} contains a line break; refusing to render an iPXE script`);
    if (clientIp !== null) {
      this.store.setConfigToken(machine.id, configToken);
      const what = debug ? 'debug boot' : `${machine.role ?? 'no role'} (${machine.bootMode})`;
      this.record(machine, 'ipxe', `iPXE script served: ${this.settings.os.name}, ${what}`, { clientIp, plan: debug ? 'debug' : 'os' });
    }
    return { ok: true, value: this.renderer.bootScript('machine', context) };
  }

  private renderFailed<T>(machine: Machine, reason: string): Outcome<T> {
    this.record(machine, 'render-failed', reason);
    return { ok: false, status: 500, message: reason };
  }

  /** The item a machine picked from the boot menu: remembered (role and mode) unless it is one-shot. */
  menuChoice(bootToken: string, itemId: string, clientIp: string): Outcome<string> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(bootToken);
      if (!machine) return this.refuseToken(bootToken, 'menu choice');
      const menu = this.renderer.menu(this.settings.menu.name);
      const choice = menu ? findChoice(menu, itemId) : null;
      if (!choice) return { ok: false, status: 404, message: `no menu entry ${itemId}` };
      this.record(machine, 'menu-choice', `chose "${choice.label}" at the boot menu`, { item: choice.id, clientIp });
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
  assignRole(machine: Machine, role: Role | null, mode: BootMode): Machine {
    return this.store.transaction(() => {
      this.store.setRole(machine.id, role, mode);
      this.record(machine, 'role-assigned', role === null ? 'role cleared: the next boot shows the menu' : `role ${role} (${mode}) assigned`, { role, mode });
      return this.store.machineById(machine.id) as Machine;
    });
  }

  /** The machine's cloud-config now, rendered and validated; writes nothing. */
  renderCloudConfig(machine: Machine, bootToken: string): Rendered {
    const built = buildCloudConfigContext(
      {
        machine,
        inventory: this.store.listMachines(),
        subnets: this.settings.subnets,
        baseUrl: this.settings.publicUrl,
        serverAddress: this.settings.serverAddress,
        cluster: this.settings.cluster,
        bootToken,
      },
      this.settings.cloudConfig,
    );
    if (!built.ok) return { ok: false, errors: built.errors };
    const rendered = this.renderer.cloudConfig(built.template, built.context as unknown as Record<string, unknown>);
    if (!rendered.ok) return { ok: false, errors: rendered.errors.map((e) => `${built.template}: ${e}`) };
    return { ok: true, text: rendered.text, template: built.template, warnings: built.warnings };
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
        : { ok: false, status: 500, message: `menu ${this.settings.menu.name} is not in the catalog` };
    } else script = this.osScript(machine, token, false, null);
    const planText = plan.kind === 'local-disk' ? `local disk (${plan.reason})` : plan.kind === 'menu' ? 'boot menu' : `${machine.role} in ${plan.mode === 'memory' ? 'memory' : 'install mode'}`;
    return { machine, plan: planText, script, cloudConfig: this.renderCloudConfig(machine, token) };
  }

  /** Resolves /boot/<token>/kernel|initrd/... to an asset path and records that the machine is booting. */
  bootAsset(token: string, kind: 'kernel' | 'initrd', index: number): Outcome<BootAsset> {
    const machine = this.store.machineByBootToken(token);
    if (!machine) return this.refuseToken(token, `boot ${kind}`);
    const path = kind === 'kernel' ? this.settings.os.kernel : this.settings.os.initrds[index];
    if (path === undefined) return { ok: false, status: 404, message: `no initrd number ${index}` };
    return { ok: true, value: { machine, path } };
  }

  assetServed(asset: BootAsset, kind: 'kernel' | 'initrd', bytes: number): void {
    if (kind !== 'kernel') return;
    this.store.transaction(() =>
      this.record(asset.machine, 'booting', `kernel fetched (${asset.path})`, { path: asset.path, bytes }),
    );
  }

  /**
   * The cloud-config, once per boot (its token is one-time) and only to the machine's own address:
   * it carries secrets. A config that fails validation is never served.
   */
  cloudConfig(configToken: string, clientIp: string): Outcome<string> {
    return this.store.transaction(() => {
      const machine = this.store.machineByConfigToken(configToken);
      if (!machine) return this.refuseToken(configToken, 'cloud-config (unknown, expired or already used token)');
      if (!this.isMachineAddress(machine, clientIp)) {
        this.record(machine, 'token-refused', `cloud-config requested from ${clientIp}, not from ${machine.name}'s address ${machine.ip ?? '(none)'}`, { clientIp });
        return { ok: false, status: 403, message: 'this token belongs to another machine' };
      }
      const rendered = this.renderCloudConfig(machine, machine.bootToken ?? '');
      if (!rendered.ok) return this.renderFailed(machine, `cloud-config not served: ${rendered.errors.join('; ')}`);
      this.store.setConfigToken(machine.id, null);
      for (const warning of rendered.warnings) this.record(machine, 'warning', warning);
      this.record(machine, 'configured', `cloud-config ${rendered.template} served`, { clientIp, template: rendered.template, bytes: rendered.text.length });
      return { ok: true, value: rendered.text };
    });
  }

  private isMachineAddress(machine: Machine, ip: string): boolean {
    const address = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
    if (machine.ip === address) return true;
    const lease = this.store.leaseByIp(address);
    return lease !== null && lease.machineId === machine.id;
  }

  callback(token: string, body: { event?: unknown; message?: unknown }, clientIp: string): Outcome<MachineEvent> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(token);
      if (!machine) return this.refuseToken(token, 'callback');
      const event = typeof body.event === 'string' ? body.event : '';
      if (!isCallbackEvent(event)) {
        return { ok: false, status: 400, message: `event must be one of booted, progress, installing, installed, ready, failed; got ${JSON.stringify(body.event)}` };
      }
      const message = typeof body.message === 'string' ? body.message.slice(0, 4000) : event;
      return { ok: true, value: this.record(machine, event, message, { clientIp }) };
    });
  }

  /** A TFTP transfer finished: a completed download of a boot file means the firmware loaded it. */
  tftpTransferEnded(summary: { path: string; clientIp: string; bytes: number; durationMs: number; result: string; reason?: string }): void {
    this.store.transaction(() => {
      const machine = this.machineForIp(summary.clientIp);
      if (!machine) return;
      if (summary.result === 'complete') {
        this.record(machine, 'firmware-loaded', `TFTP ${summary.path}: ${summary.bytes} bytes in ${summary.durationMs} ms`, {
          path: summary.path,
          bytes: summary.bytes,
          durationMs: summary.durationMs,
        });
      }
    });
  }

  private machineForIp(ip: string): Machine | null {
    const lease = this.store.leaseByIp(ip);
    if (lease?.machineId != null) return this.store.machineById(lease.machineId);
    return this.store.machineByIp(ip);
  }

  private refuseToken<T>(token: string, what: string): Outcome<T> {
    this.record(null, 'token-refused', `${what} requested with an unknown or expired token`, { token: token.slice(0, 6) });
    return { ok: false, status: 403, message: 'unknown or expired boot token' };
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
