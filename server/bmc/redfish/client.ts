/**
 * A Redfish session behind the BMC port: the service root (no credentials), a SessionService session
 * (X-Auth-Token, DELETEd on close) or basic auth when the service cannot make one (session limit,
 * no SessionService), then the ComputerSystem for identity, power (ComputerSystem.Reset) and the
 * one-time boot override (PATCH with If-Match, one retry on 412). 202 answers are followed through
 * their task monitor to the end, bounded in time. What to read and write is decided in resources.ts.
 */
import type { BmcCredentials, BmcIdentity, BmcSession, BootDeviceReadBack, BootDeviceRequest, PowerRequest, PowerState, SessionInfo } from '../port.js';
import { RedfishAuthError, RedfishCommandError, RedfishProtocolError, RedfishUnsupportedError } from './errors.js';
import {
  actionInfoResetTypes,
  blamesOverrideMode,
  bootOverridePatch,
  bootReadBack,
  chooseResetType,
  collectionMembers,
  extendedInfoText,
  hostMacsFromInterfaces,
  isObject,
  isSessionLimit,
  managerAddress,
  odataId,
  parseComputerSystem,
  parseManagerInterface,
  parseServiceRoot,
  powerStateOf,
  taskOutcome,
  withoutOverrideMode,
  type ComputerSystem,
  type Json,
  type ServiceRoot,
} from './resources.js';
import { redfishRequest, type RedfishEndpoint, type RedfishRequest, type RedfishResponse, type TransportOptions } from './transport.js';

export interface RedfishClientOptions extends TransportOptions {
  /** Most members read from any collection (systems, interfaces); default 32. */
  readonly maxMembers?: number;
  /** How long a 202 task may run before we stop following it (default 120 s). */
  readonly taskTimeoutMs?: number;
  readonly taskPollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RedfishSessionInfo extends SessionInfo {
  readonly protocol: 'redfish';
  readonly scheme: 'https' | 'http';
  readonly auth: 'session' | 'basic';
}

const SERVICE_ROOT = '/redfish/v1/';
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A path on this service from a Location header or link; null for another host (never followed). */
export function servicePath(location: string | undefined | null, address: string): string | null {
  if (!location) return null;
  if (location.startsWith('/')) return location;
  try {
    const url = new URL(location);
    return url.hostname === address || url.hostname === `[${address}]` ? `${url.pathname}${url.search}` : null;
  } catch {
    return null;
  }
}

function etagOf(response: RedfishResponse): string | null {
  const header = response.headers.etag;
  if (typeof header === 'string' && header !== '') return header;
  const inBody = isObject(response.body) ? response.body['@odata.etag'] : undefined;
  return typeof inBody === 'string' && inBody !== '' ? inBody : null;
}

export class RedfishClient implements BmcSession {
  readonly address: string;
  #auth: Record<string, string>;
  #sessionPath: string | null;
  #closed = false;
  #systemPath: string | null = null;
  #onClose: Array<() => void> = [];

  private constructor(
    readonly endpoint: RedfishEndpoint,
    readonly root: ServiceRoot,
    readonly session: RedfishSessionInfo,
    auth: Record<string, string>,
    sessionPath: string | null,
    readonly options: RedfishClientOptions,
  ) {
    this.address = endpoint.address;
    this.#auth = auth;
    this.#sessionPath = sessionPath;
  }

  /** Reads the service root, then logs in; rejects with a Redfish*Error. */
  static async open(endpoint: RedfishEndpoint, credentials: BmcCredentials, options: RedfishClientOptions = {}): Promise<RedfishClient> {
    const rootResponse = await redfishRequest(endpoint, { method: 'GET', path: SERVICE_ROOT }, options);
    if (rootResponse.status !== 200) {
      throw new RedfishCommandError(`no Redfish service root at ${endpoint.scheme}://${endpoint.address}:${endpoint.port}${SERVICE_ROOT} (HTTP ${rootResponse.status})`, endpoint.address, rootResponse.status, { redfishAbsent: true });
    }
    const root = parseServiceRoot(rootResponse.body);
    if (!root) throw new RedfishCommandError(`${endpoint.address}: ${SERVICE_ROOT} is not a Redfish service root`, endpoint.address, 200, { redfishAbsent: true });

    const basic = { Authorization: `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}` };
    const notes: string[] = [];
    let auth: Record<string, string> = basic;
    let sessionPath: string | null = null;
    const sessions = root.sessions ?? '/redfish/v1/SessionService/Sessions';
    const created = await redfishRequest(endpoint, { method: 'POST', path: sessions, body: { UserName: credentials.username, Password: credentials.password } }, options);
    const token = created.headers['x-auth-token'];
    if ((created.status === 201 || created.status === 200) && typeof token === 'string' && token !== '') {
      auth = { 'X-Auth-Token': token };
      sessionPath = servicePath(typeof created.headers.location === 'string' ? created.headers.location : odataId(created.body), endpoint.address);
      if (sessionPath === null) notes.push('the session has no Location: it cannot be deleted and will expire on the BMC');
    } else if (created.status === 401 || created.status === 403) {
      throw new RedfishAuthError(`login refused (HTTP ${created.status})${extendedInfoText(created.body) ? `: ${extendedInfoText(created.body)}` : ''}`, endpoint.address);
    } else {
      const why = isSessionLimit(created.body) ? 'session limit reached' : `no session (HTTP ${created.status}${extendedInfoText(created.body) ? `: ${extendedInfoText(created.body)}` : ''})`;
      notes.push(`${why}: using basic auth`);
    }
    const info: RedfishSessionInfo = {
      protocol: 'redfish',
      scheme: endpoint.scheme,
      auth: auth === basic ? 'basic' : 'session',
      summary: `redfish ${endpoint.scheme} ${auth === basic ? 'basic auth' : 'session'}`,
      notes,
    };
    const client = new RedfishClient(endpoint, root, info, auth, sessionPath, options);
    // Basic auth is only proven by a request that needs it.
    if (auth === basic) await client.#systemCollection();
    return client;
  }

  async #send(request: RedfishRequest): Promise<RedfishResponse> {
    return redfishRequest(this.endpoint, { ...request, headers: { ...this.#auth, ...request.headers } }, this.options);
  }

  #failure(response: RedfishResponse, what: string): Error {
    const info = extendedInfoText(response.body);
    const message = `${what}: HTTP ${response.status}${info ? `: ${info}` : ''}`;
    if (response.status === 401 || response.status === 403) return new RedfishAuthError(message, this.address);
    return new RedfishCommandError(message, this.address, response.status);
  }

  async #get(path: string): Promise<RedfishResponse> {
    const response = await this.#send({ method: 'GET', path });
    if (response.status !== 200) throw this.#failure(response, `GET ${path}`);
    if (!isObject(response.body)) throw new RedfishProtocolError(`GET ${path}: not a JSON object`, this.address);
    return response;
  }

  async #systemCollection(): Promise<string[]> {
    if (!this.root.systems) throw new RedfishUnsupportedError('the service root has no Systems', this.address);
    const { ids } = collectionMembers((await this.#get(this.root.systems)).body, this.options.maxMembers ?? 32);
    return ids;
  }

  async #systemPathOnce(warnings?: string[]): Promise<string> {
    if (this.#systemPath) return this.#systemPath;
    const ids = await this.#systemCollection();
    const first = ids[0];
    if (!first) throw new RedfishUnsupportedError('the service lists no ComputerSystem', this.address);
    if (ids.length > 1) warnings?.push(`${ids.length} systems behind this BMC: using ${first}`);
    this.#systemPath = first;
    return first;
  }

  async #system(): Promise<{ system: ComputerSystem; etag: string | null; path: string }> {
    const path = await this.#systemPathOnce();
    const response = await this.#get(path);
    return { system: parseComputerSystem(response.body, path), etag: etagOf(response), path };
  }

  async identify(): Promise<BmcIdentity> {
    const warnings: string[] = [];
    const max = this.options.maxMembers ?? 32;
    const path = await this.#systemPathOnce(warnings);
    const system = parseComputerSystem((await this.#get(path)).body, path);
    if (!system.uuid) warnings.push('the ComputerSystem has no UUID');

    const interfaces: unknown[] = [];
    if (system.ethernetInterfaces) {
      const { ids, truncated } = collectionMembers((await this.#get(system.ethernetInterfaces)).body, max);
      if (truncated) warnings.push(`more than ${max} EthernetInterfaces: read the first ${max}`);
      for (const id of ids) interfaces.push((await this.#get(id)).body);
    } else {
      warnings.push('the ComputerSystem has no EthernetInterfaces: no host MACs');
    }
    const hosts = hostMacsFromInterfaces(interfaces);
    warnings.push(...hosts.warnings);

    let firmware: string | null = null;
    let managerModel: string | null = null;
    let lan: BmcIdentity['lan'] = null;
    const managerPath = system.managedBy ?? (this.root.managers ? collectionMembers((await this.#get(this.root.managers)).body, 1).ids[0] : undefined) ?? null;
    if (managerPath) {
      const manager = (await this.#get(managerPath)).body as Json;
      firmware = typeof manager.FirmwareVersion === 'string' ? manager.FirmwareVersion : null;
      managerModel = typeof manager.Model === 'string' ? manager.Model : null;
      const nics = odataId(manager.EthernetInterfaces);
      if (nics) {
        const { ids } = collectionMembers((await this.#get(nics)).body, max);
        const parsed = [];
        for (const id of ids) parsed.push(parseManagerInterface((await this.#get(id)).body));
        const found = managerAddress(parsed, this.address);
        if (found.warning) warnings.push(`Manager: ${found.warning}`);
        lan = { channel: null, ip: found.ip, mac: found.mac };
      }
    } else {
      warnings.push('no Manager found: no BMC MAC');
    }
    const detail = Object.fromEntries(
      Object.entries({ vendor: this.root.vendor, manufacturer: system.manufacturer, model: system.model, managerModel, system: path }).filter(([, v]) => v !== null),
    );
    return {
      product: { manufacturerId: null, productId: null, firmwareRevision: firmware, protocolVersion: this.root.redfishVersion, detail },
      systemGuid: system.uuid,
      serialNumber: system.serialNumber,
      lan,
      hostMacs: hosts.macs,
      warnings,
    };
  }

  async powerState(): Promise<PowerState> {
    return powerStateOf((await this.#system()).system.powerState);
  }

  async power(request: PowerRequest): Promise<void> {
    const { system } = await this.#system();
    if (!system.reset) throw new RedfishUnsupportedError('the ComputerSystem has no ComputerSystem.Reset action', this.address);
    let allowable = system.reset.allowable;
    if (allowable === null && system.reset.actionInfo) allowable = actionInfoResetTypes((await this.#get(system.reset.actionInfo)).body);
    const resetType = chooseResetType(request, allowable);
    if (resetType === null) throw new RedfishUnsupportedError(`no reset type for "${request}" among ${allowable?.join(', ') || 'none'}`, this.address);
    const response = await this.#send({ method: 'POST', path: system.reset.target, body: { ResetType: resetType } });
    await this.#settle(response, `ComputerSystem.Reset ${resetType}`);
  }

  async setBootDevice(request: BootDeviceRequest): Promise<void> {
    let current = await this.#system();
    const patch = bootOverridePatch(request, current.system.boot);
    if (!patch.ok) throw new RedfishUnsupportedError(patch.message, this.address);
    let body = patch.body;
    let retriedEtag = false;
    let retriedMode = false;
    for (let attempt = 0; attempt < 3; attempt++) {
      const response = await this.#send({ method: 'PATCH', path: current.path, body, headers: current.etag ? { 'If-Match': current.etag } : {} });
      // 412: someone changed the system since our GET; read it again and retry once.
      if (response.status === 412 && !retriedEtag) {
        retriedEtag = true;
        current = await this.#system();
        continue;
      }
      // The mode is sent because some BMCs reset it when it is left out; others refuse to write
      // it (read-only). When it already is what we want, the write without it is the same.
      const wantedMode = isObject(body.Boot) ? body.Boot.BootSourceOverrideMode : undefined;
      if (response.status === 400 && !retriedMode && wantedMode !== undefined && current.system.boot.mode === wantedMode && blamesOverrideMode(response.body)) {
        retriedMode = true;
        body = withoutOverrideMode(body);
        current = await this.#system();
        continue;
      }
      await this.#settle(response, `PATCH ${current.path} Boot`);
      return;
    }
  }

  async getBootDevice(): Promise<BootDeviceReadBack> {
    return bootReadBack((await this.#system()).system.boot);
  }

  /** 200/204 are done; 202 is followed through its task monitor; anything else is the error. */
  async #settle(response: RedfishResponse, what: string): Promise<void> {
    if (response.status === 200 || response.status === 204) return;
    if (response.status !== 202) throw this.#failure(response, what);
    const monitor = servicePath(typeof response.headers.location === 'string' ? response.headers.location : odataId(response.body), this.address);
    if (!monitor) return; // accepted without a monitor: the caller's read-back decides
    const sleep = this.options.sleep ?? defaultSleep;
    const pollMs = this.options.taskPollMs ?? 1000;
    const rounds = Math.max(1, Math.ceil((this.options.taskTimeoutMs ?? 120_000) / pollMs));
    for (let round = 0; round < rounds; round++) {
      await sleep(pollMs);
      const poll = await this.#send({ method: 'GET', path: monitor });
      if (poll.status === 202) {
        const outcome = taskOutcome(poll.body);
        if (outcome.done && !outcome.ok) throw new RedfishCommandError(`${what}: ${outcome.message}`, this.address, poll.status);
        continue;
      }
      // A monitor that is gone after the task ended leaves the result to the read-back.
      if (poll.status === 404 || poll.status === 410) return;
      if (poll.status >= 400) throw this.#failure(poll, `${what} (task ${monitor})`);
      const outcome = taskOutcome(poll.body);
      if (!outcome.done) continue;
      if (!outcome.ok) throw new RedfishCommandError(`${what}: ${outcome.message}`, this.address, poll.status);
      return;
    }
    throw new RedfishProtocolError(`${what}: task ${monitor} still running after ${rounds} polls`, this.address);
  }

  onClose(callback: () => void): void {
    this.#onClose.push(callback);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      if (this.#sessionPath) await this.#send({ method: 'DELETE', path: this.#sessionPath }).catch(() => undefined);
    } finally {
      for (const callback of this.#onClose.splice(0)) callback();
    }
  }
}
