/**
 * A Redfish BMC for tests and the lab: serves DMTF's public-rackmount1 mockup (a copy in
 * test/fixtures/redfish/, GET from the tree) over HTTPS (or HTTP), and keeps what a client changes
 * in memory, per instance: sessions (X-Auth-Token, DELETE), the ComputerSystem's PowerState and
 * Boot override (PATCH with ETags and If-Match), ComputerSystem.Reset. Variants reproduce vendor
 * quirks rackboot handles. `onReset` and `readPower` let the lab drive a QEMU VM from it
 * (redfish-bmc-main.ts); tests use it through test/helpers/redfish-emulator.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

/** The mockup copy in the checkout (DMTF, BSD 3-Clause: LICENSE.md beside it). */
export const MOCKUP_DIR = join(packageRoot(), 'test', 'fixtures', 'redfish', 'public-rackmount1');
export const SYSTEM_PATH = '/redfish/v1/Systems/437XR1138R2';
const RESET_TARGET = `${SYSTEM_PATH}/Actions/ComputerSystem.Reset`;
const SESSIONS = '/redfish/v1/SessionService/Sessions';
const MONITORS = '/redfish/v1/TaskService/TaskMonitors';

export interface RedfishEmulatorOptions {
  /** Default MOCKUP_DIR. */
  readonly mockupDir?: string;
  readonly username: string;
  readonly password: string;
  /** PEM key and certificate; without them, plain HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string };
  readonly host?: string;
  readonly port?: number;
  readonly powerState?: 'On' | 'Off';
  /** Overrides the system's UUID (lab blades: the VM's SMBIOS UUID). */
  readonly uuid?: string;
  /** Overrides the host NIC MACs (lab blades: the VM's NIC). */
  readonly hostMacs?: readonly string[];
  /** Quirk: EthernetInterfaces carry only MACAddress. */
  readonly noPermanentMac?: boolean;
  /** Quirk: the first PATCH finds the system changed since the client's GET (412). */
  readonly staleEtagOnce?: boolean;
  /** Quirk: PATCH and Reset answer 202 with a task monitor that finishes after this many polls. */
  readonly asyncTaskPolls?: number;
  /** With asyncTaskPolls: the task ends in Exception with this message, changing nothing. */
  readonly taskFails?: string;
  /** Most open sessions; 0: every session request fails with SessionLimitExceeded. */
  readonly maxSessions?: number;
  /** Overrides ResetType@Redfish.AllowableValues. */
  readonly resetTypes?: readonly string[];
  /** Quirk (bmcweb): the reset types are only in a ResetActionInfo resource linked by @Redfish.ActionInfo. */
  readonly actionInfo?: boolean;
  /** Only UEFI boot override accepted (Legacy is refused with a Message). */
  readonly uefiOnly?: boolean;
  /** Quirk: BootSourceOverrideMode is read-only; a PATCH naming it is refused (400). */
  readonly modeReadOnly?: boolean;
  /** Called on every accepted Reset, before the new PowerState shows. */
  readonly onReset?: (resetType: string, before: 'On' | 'Off') => Promise<void> | void;
  /** The real power state (lab: the VM), read before every request that shows or changes it. */
  readonly readPower?: () => Promise<'On' | 'Off'>;
  /** The Manager's own address and MAC (its first EthernetInterface), instead of the mockup's. */
  readonly manager?: { readonly ip: string; readonly mac: string };
}

interface Pending {
  polls: number;
  apply: () => Promise<void>;
  failed?: string;
}

export interface RedfishLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly auth: 'token' | 'basic' | 'none';
  readonly ifMatch?: string;
}

/** A throwaway self-signed certificate for `ip` (also usable as its own CA file). */
export function makeTestCertificate(dir: string, ip: string, name = 'bmc'): { key: string; cert: string; keyFile: string; certFile: string } {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${ip}`, '-addext', `subjectAltName=IP:${ip}`], { stdio: 'ignore' });
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8'), keyFile, certFile };
}

function redfishError(messageId: string, message: string): unknown {
  return { error: { code: 'Base.1.15.GeneralError', message: 'A general error has occurred. See ExtendedInfo for more information.', '@Message.ExtendedInfo': [{ MessageId: messageId, Message: message, Severity: 'Warning', Resolution: 'See the message.' }] } };
}

export class RedfishEmulator {
  readonly log: RedfishLogEntry[] = [];
  readonly sessions = new Map<string, string>();
  sessionsCreated = 0;
  sessionsDeleted = 0;
  powerState: 'On' | 'Off';
  boot: Record<string, unknown>;
  readonly resets: string[] = [];
  #version = 0;
  #staleArmed: boolean;
  #pending = new Map<string, Pending>();
  #nextId = 1;
  #server!: Server;
  port = 0;

  private constructor(readonly options: RedfishEmulatorOptions) {
    this.powerState = options.powerState ?? 'Off';
    const system = this.#file(SYSTEM_PATH) as { Boot: Record<string, unknown> };
    this.boot = { ...system.Boot, BootSourceOverrideEnabled: 'Disabled', BootSourceOverrideTarget: 'None' };
    this.#staleArmed = options.staleEtagOnce === true;
  }

  static async start(options: RedfishEmulatorOptions): Promise<RedfishEmulator> {
    const emulator = new RedfishEmulator(options);
    const handler = (req: IncomingMessage, res: ServerResponse) => void emulator.#handle(req, res);
    emulator.#server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createHttpServer(handler);
    await new Promise<void>((resolve) => emulator.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
    emulator.port = (emulator.#server.address() as AddressInfo).port;
    return emulator;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Another client changed the system: the ETag a client holds is stale. */
  touch(): void {
    this.#version += 1;
  }

  #file(path: string): Record<string, unknown> | null {
    const relative = path.replace(/^\/redfish\/v1\/?/, '').replace(/\/$/, '');
    if (relative.split('/').some((part) => part === '..' || part.startsWith('.'))) return null;
    try {
      return JSON.parse(readFileSync(join(this.options.mockupDir ?? MOCKUP_DIR, relative, 'index.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return null;
    }
  }

  #resetTypes(): readonly string[] {
    return this.options.resetTypes ?? ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton'];
  }

  #system(): Record<string, unknown> {
    const system = this.#file(SYSTEM_PATH)!;
    const actions = system.Actions as Record<string, Record<string, unknown>>;
    return {
      ...system,
      ...(this.options.uuid ? { UUID: this.options.uuid } : {}),
      PowerState: this.powerState,
      Boot: { ...this.boot },
      Actions: {
        ...actions,
        '#ComputerSystem.Reset': this.options.actionInfo
          ? { target: RESET_TARGET, '@Redfish.ActionInfo': `${SYSTEM_PATH}/ResetActionInfo` }
          : { target: RESET_TARGET, 'ResetType@Redfish.AllowableValues': this.#resetTypes() },
      },
    };
  }

  #etag(): string {
    return `W/"${createHash('sha256').update(`${this.#version}:${JSON.stringify(this.#system())}`).digest('hex').slice(0, 16)}"`;
  }

  #resource(path: string): Record<string, unknown> | null {
    const clean = path.replace(/\/$/, '') || '/';
    if (clean === SYSTEM_PATH) return this.#system();
    if (clean === `${SYSTEM_PATH}/ResetActionInfo` && this.options.actionInfo) {
      return { '@odata.id': clean, Id: 'ResetActionInfo', Parameters: [{ Name: 'ResetType', Required: true, DataType: 'String', AllowableValues: this.#resetTypes() }] };
    }
    if (clean === SESSIONS) return { '@odata.id': SESSIONS, Members: [...this.sessions.values()].map((id) => ({ '@odata.id': `${SESSIONS}/${id}` })), 'Members@odata.count': this.sessions.size };
    const body = this.#file(clean === '/redfish' ? '/redfish/v1' : clean);
    if (!body) return null;
    const macs = this.options.hostMacs;
    if (clean.startsWith(`${SYSTEM_PATH}/EthernetInterfaces/`)) {
      if (macs) {
        const index = ['12446A3B0411', '12446A3B8890'].indexOf(clean.split('/').pop()!);
        if (index === -1 || macs[index] === undefined) return { ...body, PermanentMACAddress: undefined, MACAddress: undefined };
        body.PermanentMACAddress = macs[index];
        body.MACAddress = macs[index];
      }
      if (this.options.noPermanentMac) delete body.PermanentMACAddress;
    }
    const manager = this.options.manager;
    if (manager && clean === '/redfish/v1/Managers/BMC/EthernetInterfaces/eth0') {
      return { ...body, PermanentMACAddress: manager.mac, MACAddress: manager.mac, IPv4Addresses: [{ Address: manager.ip, SubnetMask: '255.255.255.0', AddressOrigin: 'Static' }] };
    }
    return body;
  }

  #authorised(req: IncomingMessage): 'token' | 'basic' | null {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string' && this.sessions.has(token)) return 'token';
    const basic = req.headers.authorization;
    if (typeof basic === 'string' && basic.startsWith('Basic ')) {
      const [user, ...rest] = Buffer.from(basic.slice(6), 'base64').toString('utf8').split(':');
      if (user === this.options.username && rest.join(':') === this.options.password) return 'basic';
    }
    return null;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > 65_536) return this.#send(req, res, 413, null, 'none');
      chunks.push(chunk as Buffer);
    }
    let body: Record<string, unknown> = {};
    try {
      body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>) : {};
    } catch {
      return this.#send(req, res, 400, redfishError('Base.1.15.MalformedJSON', 'The request body submitted was malformed JSON.'), 'none');
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const method = req.method ?? 'GET';
    if (this.options.readPower && path.startsWith(SYSTEM_PATH)) {
      try {
        this.powerState = await this.options.readPower();
      } catch (error) {
        return this.#send(req, res, 500, redfishError('Base.1.15.InternalError', `power state unknown: ${(error as Error).message}`), 'none');
      }
    }
    if (method === 'GET' && (path === '/redfish/v1' || path === '/redfish/v1/' || path === '/redfish')) {
      return this.#send(req, res, 200, path === '/redfish' ? { v1: '/redfish/v1/' } : this.#resource('/redfish/v1'), 'none');
    }
    if (method === 'POST' && path === SESSIONS) return this.#createSession(req, res, body);
    const auth = this.#authorised(req);
    if (!auth) return this.#send(req, res, 401, redfishError('Base.1.15.NoValidSession', 'There is no valid session established with the implementation.'), 'none');

    if (method === 'DELETE' && path.startsWith(`${SESSIONS}/`)) {
      const id = path.slice(SESSIONS.length + 1);
      const token = [...this.sessions].find(([, sid]) => sid === id)?.[0];
      if (!token) return this.#send(req, res, 404, redfishError('Base.1.15.ResourceMissingAtURI', `The resource at the URI ${path} was not found.`), auth);
      this.sessions.delete(token);
      this.sessionsDeleted += 1;
      return this.#send(req, res, 204, null, auth);
    }
    if (method === 'GET' && path.startsWith(`${MONITORS}/`)) return this.#monitor(req, res, path, auth);
    if (method === 'GET') {
      const resource = this.#resource(path);
      if (!resource) return this.#send(req, res, 404, redfishError('Base.1.15.ResourceMissingAtURI', `The resource at the URI ${path} was not found.`), auth);
      return this.#send(req, res, 200, resource, auth, path.replace(/\/$/, '') === SYSTEM_PATH ? { ETag: this.#etag() } : {});
    }
    if (method === 'PATCH' && path.replace(/\/$/, '') === SYSTEM_PATH) return this.#patch(req, res, body, auth);
    if (method === 'POST' && path === RESET_TARGET) return this.#reset(req, res, body, auth);
    return this.#send(req, res, 405, redfishError('Base.1.15.OperationNotAllowed', `${method} is not allowed on ${path}.`), auth);
  }

  #createSession(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    if (body.UserName !== this.options.username || body.Password !== this.options.password) {
      return this.#send(req, res, 401, redfishError('Base.1.15.ResourceAtUriUnauthorized', 'While accessing the resource at /redfish/v1/SessionService/Sessions, the service received an authorization error.'), 'none');
    }
    if (this.sessions.size >= (this.options.maxSessions ?? 8)) {
      return this.#send(req, res, 503, redfishError('Base.1.15.SessionLimitExceeded', 'The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.'), 'none');
    }
    const token = randomBytes(16).toString('hex');
    const id = String(this.#nextId++);
    this.sessions.set(token, id);
    this.sessionsCreated += 1;
    this.#send(req, res, 201, { '@odata.id': `${SESSIONS}/${id}`, Id: id, UserName: body.UserName }, 'none', { 'X-Auth-Token': token, Location: `${SESSIONS}/${id}` });
  }

  #patch(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, auth: 'token' | 'basic'): void {
    if (this.#staleArmed) {
      this.#staleArmed = false;
      this.touch();
    }
    const ifMatch = req.headers['if-match'];
    if (typeof ifMatch === 'string' && ifMatch !== this.#etag()) {
      return this.#send(req, res, 412, redfishError('Base.1.15.PreconditionFailed', 'The ETag supplied did not match the ETag required to change this resource.'), auth);
    }
    const keys = Object.keys(body);
    const boot = body.Boot as Record<string, unknown> | undefined;
    if (keys.some((k) => k !== 'Boot') || typeof boot !== 'object' || boot === null) {
      return this.#send(req, res, 400, redfishError('Base.1.15.PropertyUnknown', `The property ${keys.find((k) => k !== 'Boot') ?? 'Boot'} is not in the list of valid properties for the resource.`), auth);
    }
    const allowed: Record<string, readonly string[]> = {
      BootSourceOverrideTarget: (this.boot['BootSourceOverrideTarget@Redfish.AllowableValues'] as string[]) ?? [],
      BootSourceOverrideEnabled: ['Once', 'Continuous', 'Disabled'],
      BootSourceOverrideMode: this.options.uefiOnly ? ['UEFI'] : ['UEFI', 'Legacy'],
    };
    if (this.options.modeReadOnly && 'BootSourceOverrideMode' in boot) {
      const refused = redfishError('Emulator.1.0.ReadOnlyDependent', 'Unable to modify the attribute because it is read-only and depends on other attributes.') as { error: { '@Message.ExtendedInfo': Array<Record<string, unknown>> } };
      refused.error['@Message.ExtendedInfo'][0]!.RelatedProperties = ['#/Boot/BootSourceOverrideMode'];
      return this.#send(req, res, 400, refused, auth);
    }
    for (const [key, value] of Object.entries(boot)) {
      const values = allowed[key];
      if (!values) return this.#send(req, res, 400, redfishError('Base.1.15.PropertyUnknown', `The property ${key} is not in the list of valid properties for the resource.`), auth);
      if (typeof value !== 'string' || !values.includes(value)) {
        return this.#send(req, res, 400, redfishError('Base.1.15.PropertyValueNotInList', `The value '${String(value)}' for the property ${key} is not in the list of acceptable values.`), auth);
      }
    }
    const apply = async () => {
      this.boot = { ...this.boot, ...boot };
      this.touch();
    };
    this.#accept(req, res, auth, apply);
  }

  #reset(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>, auth: 'token' | 'basic'): void {
    const type = body.ResetType;
    if (typeof type !== 'string' || !this.#resetTypes().includes(type)) {
      return this.#send(req, res, 400, redfishError('Base.1.15.ActionParameterValueNotInList', `The value '${String(type)}' for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values.`), auth);
    }
    const apply = async () => {
      const before = this.powerState;
      this.resets.push(type);
      await this.options.onReset?.(type, before);
      if (type === 'On' || type === 'ForceOn') this.powerState = 'On';
      else if (type === 'ForceOff' || type === 'GracefulShutdown') this.powerState = 'Off';
      else if (type === 'PushPowerButton') this.powerState = before === 'On' ? 'Off' : 'On';
      else if (type === 'PowerCycle' || type.endsWith('Restart')) this.powerState = 'On';
      // A reset consumes a one-time boot override, as firmware does at the next boot.
      if (this.powerState === 'On' && this.boot.BootSourceOverrideEnabled === 'Once') this.boot = { ...this.boot, BootSourceOverrideEnabled: 'Disabled' };
      this.touch();
    };
    this.#accept(req, res, auth, apply);
  }

  /** Applies now (204), or with asyncTaskPolls answers 202 + a task monitor that applies when done. */
  #accept(req: IncomingMessage, res: ServerResponse, auth: 'token' | 'basic', apply: () => Promise<void>): void {
    if (this.options.asyncTaskPolls === undefined) {
      void apply().then(
        () => this.#send(req, res, 204, null, auth),
        (error: Error) => this.#send(req, res, 500, redfishError('Base.1.15.InternalError', error.message), auth),
      );
      return;
    }
    const id = String(this.#nextId++);
    this.#pending.set(id, { polls: this.options.asyncTaskPolls, apply });
    this.#send(req, res, 202, { '@odata.id': `/redfish/v1/TaskService/Tasks/${id}`, Id: id, TaskState: 'New' }, auth, { Location: `${MONITORS}/${id}` });
  }

  async #monitor(req: IncomingMessage, res: ServerResponse, path: string, auth: 'token' | 'basic'): Promise<void> {
    const id = path.slice(MONITORS.length + 1);
    const task = this.#pending.get(id);
    if (!task) return this.#send(req, res, 404, redfishError('Base.1.15.ResourceMissingAtURI', `The resource at the URI ${path} was not found.`), auth);
    if (task.polls > 0) {
      task.polls -= 1;
      return this.#send(req, res, 202, { Id: id, TaskState: 'Running', PercentComplete: 50 }, auth, { Location: path });
    }
    this.#pending.delete(id);
    if (this.options.taskFails !== undefined) {
      return this.#send(req, res, 200, { Id: id, TaskState: 'Exception', TaskStatus: 'Critical', Messages: [{ MessageId: 'Emulator.1.0.TaskFailed', Message: this.options.taskFails }] }, auth);
    }
    try {
      await task.apply();
      this.#send(req, res, 200, { Id: id, TaskState: 'Completed', TaskStatus: 'OK', Messages: [] }, auth);
    } catch (error) {
      this.#send(req, res, 200, { Id: id, TaskState: 'Exception', TaskStatus: 'Critical', Messages: [{ MessageId: 'Base.1.15.InternalError', Message: (error as Error).message }] }, auth);
    }
  }

  #send(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, auth: 'token' | 'basic' | 'none', headers: Record<string, string> = {}): void {
    const ifMatch = req.headers['if-match'];
    if (this.log.length >= 10_000) this.log.splice(0, 1000);
    this.log.push({ method: req.method ?? '?', path: (req.url ?? '/').split('?')[0]!, status, auth, ...(typeof ifMatch === 'string' ? { ifMatch } : {}) });
    const payload = body === null ? '' : JSON.stringify(body);
    res.writeHead(status, { ...(payload ? { 'Content-Type': 'application/json' } : {}), 'OData-Version': '4.0', ...headers });
    res.end(payload);
  }
}
