/**
 * The one core every transport calls: DHCP, TFTP, HTTP, the API and the CLI. It reads the inventory,
 * makes a pure decision and writes the outcome (lease, state, events) in one transaction.
 */
import type { DhcpPacket } from '../protocol/dhcp/packet.js';
import { clientInfo, type ClientInfo } from './client-info.js';
import { decideDhcp, type DhcpDecision, type DhcpEffects, type DhcpSettings } from './dhcp-decision.js';
import { normaliseMac } from './identifiers.js';
import { isIpv4 } from './ipv4.js';
import { isCallbackEvent, stateAfter, type EventType } from './lifecycle.js';
import type { InventoryStore, NewMachine } from './ports.js';
import type { Machine, MachineEvent, MacAddress, NewEvent } from './types.js';

export interface OsImage {
  readonly name: string;
  /** Paths relative to the assets directory. */
  readonly kernel: string;
  readonly initrds: readonly string[];
  readonly args: readonly string[];
}

export interface ProvisionerSettings {
  /** Base URL machines use to reach rackboot's HTTP service, without a trailing slash. */
  readonly publicUrl: string;
  readonly os: OsImage;
  readonly kernelArgs: readonly string[];
  readonly cloudConfig: string;
  /** Present when this process answers DHCP. */
  readonly dhcp?: DhcpSettings;
}

export type BootScriptName = 'chain' | 'machine' | 'unknown';

export interface Renderer {
  bootScript(name: BootScriptName, context: Readonly<Record<string, unknown>>): string;
  cloudConfig(
    name: string,
    context: Readonly<Record<string, unknown>>,
  ): { ok: true; text: string } | { ok: false; errors: readonly string[] };
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

const IPXE_UNSAFE = /[\r\n]/;

export class Provisioner {
  readonly store: InventoryStore;
  private readonly renderer: Renderer;
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
   * The per-machine iPXE script. A new boot token is minted for every script, so URLs from an
   * earlier boot stop working once the machine boots again.
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
      const token = this.newToken();
      this.store.setBootToken(machine.id, token);
      const context = this.bootContext(machine, token);
      const unsafe = Object.entries(context.values).find(([, v]) => IPXE_UNSAFE.test(v));
      if (unsafe) {
        const reason = `value ${unsafe[0]} contains a line break; refusing to render an iPXE script`;
        this.record(machine, 'render-failed', reason);
        return { ok: false, status: 500, message: reason };
      }
      this.record(machine, 'ipxe', `iPXE script served (${this.settings.os.name})`, { clientIp: query.clientIp });
      return { ok: true, value: this.renderer.bootScript('machine', context) };
    });
  }

  private bootContext(machine: Machine, token: string) {
    const base = this.settings.publicUrl;
    const os = this.settings.os;
    const initrds = os.initrds.map((path, index) => ({
      url: `${base}/boot/${token}/initrd/${index}/${basename(path)}`,
      name: basename(path),
    }));
    const args = [
      ...initrds.map((i) => `initrd=${i.name}`),
      ...os.args,
      ...this.settings.kernelArgs,
      `cloud-config-url=${base}/cloud-config/${token}`,
      `rackboot.callback=${base}/callback/${token}`,
    ];
    const values: Record<string, string> = {
      name: machine.name,
      ip: machine.ip ?? '',
      os: os.name,
      kernelUrl: `${base}/boot/${token}/kernel/${basename(os.kernel)}`,
      kernelArgs: args.join(' '),
      ...Object.fromEntries(initrds.map((i, n) => [`initrd${n}`, i.url])),
    };
    return { values, machine: { name: machine.name, ip: machine.ip ?? '' }, os: os.name, kernelUrl: values.kernelUrl, kernelArgs: values.kernelArgs, initrds };
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

  cloudConfig(token: string, clientIp: string): Outcome<string> {
    return this.store.transaction(() => {
      const machine = this.store.machineByBootToken(token);
      if (!machine) return this.refuseToken(token, 'cloud-config');
      const rendered = this.renderer.cloudConfig(this.settings.cloudConfig, {
        machine: { name: machine.name, ip: machine.ip ?? '', role: machine.role ?? '', macs: machine.macs },
        callbackUrl: `${this.settings.publicUrl}/callback/${token}`,
        baseUrl: this.settings.publicUrl,
      });
      if (!rendered.ok) {
        const reason = `cloud-config ${this.settings.cloudConfig} not served: ${rendered.errors.join('; ')}`;
        this.record(machine, 'render-failed', reason, { errors: [...rendered.errors] });
        return { ok: false, status: 500, message: reason };
      }
      this.record(machine, 'configured', `cloud-config ${this.settings.cloudConfig} served`, { clientIp, bytes: rendered.text.length });
      return { ok: true, value: rendered.text };
    });
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

function basename(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] ?? path;
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
