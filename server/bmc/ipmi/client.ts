/**
 * IPMI over LAN (UDP 623): one session with one BMC. It owns the session (RMCP+ with cipher suite
 * 17, else 3; IPMI 1.5 with MD5 only when the BMC has no 2.0 and the operator allowed 1.5 for it),
 * sequence numbers, retransmits and
 * timeouts, and offers the IPMI commands of operations.ts; session.ts maps them to the BMC port.
 * The bytes are built and checked by server/protocol/ipmi.
 *
 * Retries: each request is sent up to `attempts` times, `timeoutMs` apart. A retransmit keeps the
 * IPMI request sequence number (rqSeq), so a BMC that did execute the first copy can recognise the
 * duplicate, but takes the next session sequence number, since BMCs reject a session sequence number
 * they have already seen.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  AuthType,
  CHANNEL_MEDIUM_LAN,
  CURRENT_CHANNEL,
  IPMI_PORT,
  LanParam,
  PayloadType,
  Privilege,
  RAKP_NAME_ONLY_LOOKUP,
  type PrivilegeLevel,
} from '../../protocol/ipmi/constants.js';
import {
  describeCompletionCode,
  describeRmcpPlusStatus,
  hex2,
  isCipherSuiteRefusal,
  isCredentialRefusal,
  RmcpPlusStatus,
  type CommandFamily,
} from '../../protocol/ipmi/completion-codes.js';
import {
  CIPHER_SUITES,
  deriveSessionKeys,
  md5AuthCode,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4CheckValue,
  type CipherSuite,
  type CipherSuiteId,
  type RakpExchange,
  type SessionKeys,
} from '../../protocol/ipmi/crypto.js';
import { IpmiDecodeError } from '../../protocol/ipmi/decode-error.js';
import { decodeResponseMessage, encodeRequestMessage, type IpmiRequest, type IpmiResponseFrame } from '../../protocol/ipmi/message.js';
import { decodePacket, encodeV15Packet, encodeV20Packet, type IpmiPacket } from '../../protocol/ipmi/packet.js';
import { decodeOpenSessionResponse, decodeRakp2, decodeRakp4, encodeOpenSessionRequest, encodeRakp1, encodeRakp3 } from '../../protocol/ipmi/rakp.js';
import * as cmd from '../../protocol/ipmi/commands.js';
import {
  decodeBootFlags,
  getBootFlags,
  setBootFlagValidClearing,
  setBootFlags,
  setBootInfoAcknowledge,
  setBootSetInProgress,
  type ReadBootFlags,
} from '../../protocol/ipmi/boot-options.js';
import { parseFru, type Fru } from '../../protocol/ipmi/fru.js';
import {
  decodeDellMacRecord,
  decodeDellMacTableLength,
  dellHostMacs,
  dellMacRecordRequest,
  dellMacTableLengthRequest,
  DELL_MAC_RECORD_LENGTH,
  DELL_MAX_RECORDS,
} from '../../protocol/ipmi/dell-oem.js';
import type { BmcCredentials, BmcTarget, HostMac, PowerState } from '../port.js';
import { commandName } from './command-names.js';
import { IpmiAuthError, IpmiCommandError, IpmiProtocolError, IpmiTimeoutError, IpmiUnsupportedError } from './errors.js';
import type { IpmiBootRequest, IpmiOperations, IpmiSessionInfo } from './operations.js';
import { Transport } from './transport.js';

/** Per-BMC workarounds for firmware that bends the spec. All default to off. */
export interface IpmiQuirks {
  /** The BMC lacks boot parameter 0 (set in progress): don't bracket boot-option writes. */
  readonly noBootSetInProgress?: boolean;
  /** The BMC lacks boot parameter 3 (e.g. OpenBMC): don't ask it to keep the valid bit past 60 s. */
  readonly noBootFlagValidClearing?: boolean;
  /** Bytes per Read FRU Data request to start with (default 32; shrunk on C7h/C8h/CAh anyway). */
  readonly fruChunkSize?: number;
  /** The BMC's LAN channel, skipping Get Channel Info. */
  readonly lanChannel?: number;
  /** Send RAKP1's role without the name-only-lookup bit (user looked up by name and privilege). */
  readonly noNameOnlyLookup?: boolean;
}

export interface IpmiClientOptions {
  /** Per try; default 1000 ms. */
  readonly timeoutMs?: number;
  /** Tries per request; default 4. */
  readonly attempts?: number;
  /** Session privilege; default administrator (operator is enough for power and boot device). */
  readonly privilege?: PrivilegeLevel;
  /** In order of preference; default [17, 3]. Suite 0 (no authentication) is never used. */
  readonly cipherSuites?: readonly CipherSuiteId[];
  /**
   * 'auto' (default) uses IPMI 1.5 only when the BMC reports no IPMI 2.0 support and
   * `allowIpmi15` is set; '1.5' asks for it explicitly (an opt-in of its own).
   */
  readonly ipmiVersion?: 'auto' | '2.0' | '1.5';
  /**
   * May an 'auto' session fall back to IPMI 1.5 with MD5? Default false: the MD5 auth code of
   * Activate Session lets whoever answers as the BMC test passwords offline (config `ipmi.allowIpmi15`).
   */
  readonly allowIpmi15?: boolean;
  /** The BMC key KG (hex or text) when the BMC has one set; default: KG = the user's password. */
  readonly bmcKey?: string;
  readonly quirks?: IpmiQuirks;
  /** Per-BMC quirks, looked up by address (overrides `quirks`). */
  readonly quirksFor?: (target: BmcTarget) => IpmiQuirks | undefined;
  /** Local address to bind (default: any). */
  readonly bindAddress?: string;
  /** Source of random bytes (tests). */
  readonly random?: (size: number) => Buffer;
}

const DEFAULT_TIMEOUT_MS = 1000;
const DEFAULT_ATTEMPTS = 4;
const FRU_MIN_CHUNK = 8;
const FRU_MAX_BYTES = 8192;


type Session =
  | { readonly kind: 'none' }
  | { readonly kind: 'rmcp+'; readonly consoleSessionId: number; readonly bmcSessionId: number; readonly keys: SessionKeys; sequence: number }
  | { readonly kind: 'ipmi-1.5'; readonly sessionId: number; readonly password16: Buffer; sequence: number };

const NO_SESSION: Session = { kind: 'none' };

export class IpmiClient implements IpmiOperations {
  readonly address: string;
  readonly port: number;
  #transport: Transport;
  #options: Required<Pick<IpmiClientOptions, 'timeoutMs' | 'attempts' | 'privilege'>> & IpmiClientOptions;
  #random: (size: number) => Buffer;
  #session: Session = NO_SESSION;
  #sessionInfo: IpmiSessionInfo | undefined;
  #rqSeq = 0;
  #tag = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closing: Promise<void> | undefined;
  #onClose: Array<() => void> = [];
  #lanChannel: number | undefined;

  private constructor(target: BmcTarget, transport: Transport, options: IpmiClientOptions) {
    this.address = target.address;
    this.port = target.port;
    this.#transport = transport;
    this.#options = {
      ...options,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      attempts: Math.max(1, options.attempts ?? DEFAULT_ATTEMPTS),
      privilege: options.privilege ?? Privilege.administrator,
    };
    this.#random = options.random ?? randomBytes;
  }

  /** Opens a session; on failure nothing stays open. */
  static async open(target: BmcTarget, credentials: BmcCredentials, options: IpmiClientOptions = {}): Promise<IpmiClient> {
    const port = target.port || IPMI_PORT;
    const transport = await Transport.open(target.address, port, options.bindAddress);
    const client = new IpmiClient({ address: target.address, port }, transport, options);
    try {
      await client.#establish(credentials);
      return client;
    } catch (error) {
      await client.close();
      throw error;
    }
  }

  get session(): IpmiSessionInfo {
    if (!this.#sessionInfo) throw new Error('no session');
    return this.#sessionInfo;
  }

  onClose(listener: () => void): void {
    this.#onClose.push(listener);
  }

  // ---- Session establishment ----

  async #establish(credentials: BmcCredentials): Promise<void> {
    const privilege = this.#options.privilege;
    const caps = await this.#authCapabilities(privilege);
    const version = this.#options.ipmiVersion ?? 'auto';
    const use20 = version === '2.0' || (version === 'auto' && caps.supportsIpmi20);
    if (use20) await this.#openRmcpPlus(credentials, privilege);
    else if (version === 'auto' && this.#options.allowIpmi15 !== true) throw this.#ipmi15Refused(caps);
    else await this.#openIpmi15(credentials, privilege, caps, version === '1.5' ? 'IPMI 1.5 requested' : 'the BMC reports no IPMI 2.0');
    const granted = cmd.decodeSetSessionPrivilege(
      await this.#command(cmd.setSessionPrivilege(privilege), 'setSessionPrivilege').catch((error: unknown) => {
        if (error instanceof IpmiCommandError && error.completionCode >= 0x80 && error.completionCode <= 0x81) {
          throw new IpmiAuthError(`${this.#where()}: user ${credentials.username} may not have ${privilegeName(privilege)} privilege (${error.message})`, this.address);
        }
        throw error;
      }),
    );
    this.#sessionInfo = { ...(this.#sessionInfo as IpmiSessionInfo), privilege: granted };
  }

  /** Before anything derived from the password is sent: a BMC (or an impostor) claiming 1.5 only learns nothing. */
  #ipmi15Refused(caps: cmd.ChannelAuthCapabilities): IpmiUnsupportedError {
    const offered = Object.entries(caps.authTypes).filter(([, on]) => on).map(([name]) => name);
    return new IpmiUnsupportedError(
      `${this.#where()}: the BMC reports no IPMI 2.0 (IPMI 1.5, offers ${offered.join(', ') || 'nothing'}); IPMI 1.5 is off: ` +
        'its MD5 auth code lets whoever answers as this BMC test passwords offline. If this BMC really is 1.5-only, ' +
        `add ${this.address} (or its range) to ipmi.allowIpmi15 in the config`,
      this.address,
    );
  }

  async #authCapabilities(privilege: number): Promise<cmd.ChannelAuthCapabilities> {
    try {
      return cmd.decodeChannelAuthCapabilities(await this.#command(cmd.getChannelAuthCapabilities(privilege, true)));
    } catch (error) {
      // An IPMI 1.5-only BMC may reject the "v2.0 data" bit; ask again the 1.5 way.
      if (error instanceof IpmiCommandError) return cmd.decodeChannelAuthCapabilities(await this.#command(cmd.getChannelAuthCapabilities(privilege, false)));
      throw error;
    }
  }

  async #openRmcpPlus(credentials: BmcCredentials, privilege: number): Promise<void> {
    const preferences = this.#options.cipherSuites ?? [17, 3];
    const notes: string[] = [];
    for (const id of preferences) {
      const suite = CIPHER_SUITES[id];
      if (!suite) throw new IpmiUnsupportedError(`cipher suite ${String(id)} is not supported by rackboot (use 17 or 3)`, this.address);
      const consoleSessionId = this.#random(4).readUInt32LE(0) || 1;
      const tag = this.#nextTag();
      const response = await this.#sessionSetup(
        PayloadType.openSessionRequest,
        encodeOpenSessionRequest({ tag, privilege, consoleSessionId, suite }),
        PayloadType.openSessionResponse,
        (p) => {
          const r = decodeOpenSessionResponse(p);
          return r.tag === tag ? r : undefined;
        },
        'Open Session',
      );
      if (response.status !== RmcpPlusStatus.ok) {
        if (isCipherSuiteRefusal(response.status)) {
          notes.push(`cipher suite ${id} refused: ${describeRmcpPlusStatus(response.status)}`);
          continue;
        }
        if (isCredentialRefusal(response.status)) {
          throw new IpmiAuthError(`${this.#where()}: Open Session refused: ${describeRmcpPlusStatus(response.status)}`, this.address);
        }
        throw new IpmiProtocolError(`${this.#where()}: Open Session refused: ${describeRmcpPlusStatus(response.status)}`, this.address);
      }
      if (response.consoleSessionId !== consoleSessionId) throw new IpmiProtocolError(`${this.#where()}: Open Session Response for another session`, this.address);
      if (
        response.authenticationAlgorithm !== suite.authenticationAlgorithm ||
        response.integrityAlgorithm !== suite.integrityAlgorithm ||
        response.confidentialityAlgorithm !== suite.confidentialityAlgorithm
      ) {
        // Never accept a downgrade (e.g. to suite 0, no authentication) the BMC picked on its own.
        throw new IpmiUnsupportedError(`${this.#where()}: the BMC answered cipher suite ${id} with other algorithms; refusing`, this.address);
      }
      await this.#rakp(credentials, suite, consoleSessionId, response.bmcSessionId, privilege);
      this.#sessionInfo = { protocol: 'rmcp+', cipherSuite: id, privilege, notes };
      return;
    }
    throw new IpmiUnsupportedError(
      `${this.#where()}: the BMC accepts none of cipher suites ${preferences.join(', ')} (${notes.join('; ')}); rackboot never uses suite 0`,
      this.address,
    );
  }

  async #rakp(credentials: BmcCredentials, suite: CipherSuite, consoleSessionId: number, bmcSessionId: number, privilege: number): Promise<void> {
    const username = Buffer.from(credentials.username, 'utf8');
    if (username.length > 16) throw new IpmiAuthError(`${this.#where()}: user name longer than 16 bytes`, this.address);
    let kuid: Buffer;
    try {
      kuid = passwordKey(credentials.password);
    } catch (error) {
      throw new IpmiAuthError(`${this.#where()}: ${(error as Error).message}`, this.address);
    }
    const kg = this.#options.bmcKey ? passwordKey(bmcKeyBytes(this.#options.bmcKey)) : kuid;
    const role = privilege | (this.#options.quirks?.noNameOnlyLookup ? 0 : RAKP_NAME_ONLY_LOOKUP);
    const consoleRandom = this.#random(16);
    const tag1 = this.#nextTag();
    const rakp2 = await this.#sessionSetup(
      PayloadType.rakp1,
      encodeRakp1({ tag: tag1, bmcSessionId, consoleRandom, role, username }),
      PayloadType.rakp2,
      (p) => {
        const r = decodeRakp2(p);
        return r.tag === tag1 ? r : undefined;
      },
      'RAKP 1',
    );
    if (rakp2.status !== RmcpPlusStatus.ok) {
      await this.#abandonRakp(bmcSessionId);
      const reason = describeRmcpPlusStatus(rakp2.status);
      if (isCredentialRefusal(rakp2.status)) {
        throw new IpmiAuthError(`${this.#where()}: user ${credentials.username} refused: ${reason}`, this.address);
      }
      throw new IpmiProtocolError(`${this.#where()}: RAKP 2 status ${hex2(rakp2.status)}: ${reason}`, this.address);
    }
    if (rakp2.consoleSessionId !== consoleSessionId) throw new IpmiProtocolError(`${this.#where()}: RAKP 2 for another session`, this.address);
    const exchange: RakpExchange = { consoleSessionId, bmcSessionId, consoleRandom, bmcRandom: rakp2.bmcRandom, bmcGuid: rakp2.bmcGuid, role, username };
    const expected = rakp2AuthCode(suite, kuid, exchange);
    if (rakp2.authCode.length !== expected.length || !timingSafeEqual(rakp2.authCode, expected)) {
      // No RAKP 3 auth code here: it is an HMAC of the password over values the BMC chose, which
      // an impostor that cannot prove the password would test dictionaries against offline.
      await this.#abandonRakp(bmcSessionId);
      throw new IpmiAuthError(
        `${this.#where()}: wrong password for user ${credentials.username} (the BMC's RAKP 2 auth code does not match)`,
        this.address,
      );
    }
    const keys = deriveSessionKeys(suite, kg, exchange);
    const tag3 = this.#nextTag();
    const rakp4 = await this.#sessionSetup(
      PayloadType.rakp3,
      encodeRakp3({ tag: tag3, status: 0, bmcSessionId, authCode: rakp3AuthCode(suite, kuid, exchange) }),
      PayloadType.rakp4,
      (p) => {
        const r = decodeRakp4(p);
        return r.tag === tag3 ? r : undefined;
      },
      'RAKP 3',
    );
    if (rakp4.status !== RmcpPlusStatus.ok) {
      const reason = describeRmcpPlusStatus(rakp4.status);
      if (isCredentialRefusal(rakp4.status)) throw new IpmiAuthError(`${this.#where()}: RAKP 4 refused: ${reason}`, this.address);
      throw new IpmiProtocolError(`${this.#where()}: RAKP 4 status ${hex2(rakp4.status)}: ${reason}`, this.address);
    }
    const icv = rakp4CheckValue(suite, keys.sik, exchange);
    if (rakp4.integrityCheckValue.length < icv.length || !timingSafeEqual(rakp4.integrityCheckValue.subarray(0, icv.length), icv)) {
      throw new IpmiProtocolError(
        `${this.#where()}: RAKP 4 integrity check value mismatch (a BMC key (KG) set on the BMC but not given to rackboot?)`,
        this.address,
      );
    }
    this.#session = { kind: 'rmcp+', consoleSessionId, bmcSessionId, keys, sequence: 0 };
  }

  /** Tells the BMC to drop a half-open session (RAKP 3 with an error status); no answer is awaited. */
  async #abandonRakp(bmcSessionId: number, authCode: Buffer = Buffer.alloc(0)): Promise<void> {
    const payload = encodeRakp3({ tag: this.#nextTag(), status: RmcpPlusStatus.invalidIntegrityCheckValue, bmcSessionId, authCode });
    await this.#transport.send(encodeV20Packet({ payloadType: PayloadType.rakp3, sessionId: 0, sequence: 0, payload })).catch(() => {});
  }

  async #sessionSetup<T>(
    requestType: number,
    payload: Buffer,
    responseType: number,
    accept: (payload: Buffer) => T | undefined,
    what: string,
  ): Promise<T> {
    const packet = encodeV20Packet({ payloadType: requestType, sessionId: 0, sequence: 0, payload });
    return this.#exchange(
      () => packet,
      (p) => (p.kind === 'v20' && p.payloadType === responseType ? accept(p.payload) : undefined),
      what,
      null,
    );
  }

  async #openIpmi15(credentials: BmcCredentials, privilege: number, caps: cmd.ChannelAuthCapabilities, why: string): Promise<void> {
    if (!caps.authTypes.md5) {
      const offered = Object.entries(caps.authTypes)
        .filter(([, on]) => on)
        .map(([name]) => name);
      throw new IpmiUnsupportedError(
        `${this.#where()}: IPMI 1.5 only, without MD5 (offers ${offered.join(', ') || 'nothing'}); rackboot never uses none or straight-password authentication`,
        this.address,
      );
    }
    let password16: Buffer;
    try {
      password16 = passwordKey(credentials.password, 16);
    } catch (error) {
      throw new IpmiAuthError(`${this.#where()}: ${(error as Error).message} (IPMI 1.5 limit)`, this.address);
    }
    const challenge = cmd.decodeSessionChallenge(
      await this.#command(cmd.getSessionChallenge(AuthType.md5, credentials.username), 'getSessionChallenge').catch((error: unknown) => {
        if (error instanceof IpmiCommandError && (error.completionCode === 0x81 || error.completionCode === 0x82)) {
          throw new IpmiAuthError(`${this.#where()}: user ${credentials.username} refused (${error.message})`, this.address);
        }
        throw error;
      }),
    );
    // Activate Session is the first authenticated message: temporary session ID, sequence 0.
    this.#session = { kind: 'ipmi-1.5', sessionId: challenge.temporarySessionId, password16, sequence: 0 };
    const outbound = this.#random(4).readUInt32LE(0) || 1;
    let activated: ReturnType<typeof cmd.decodeActivateSession>;
    try {
      activated = cmd.decodeActivateSession(
        // A wrong password gets silence, not an error: don't spend the full retry budget on it.
        await this.#command(cmd.activateSession(AuthType.md5, privilege, challenge.challenge, outbound), 'activateSession', {
          fixedSequence: 0,
          attempts: Math.min(2, this.#options.attempts),
        }),
      );
    } catch (error) {
      this.#session = NO_SESSION;
      if (error instanceof IpmiTimeoutError) {
        // The BMC answered the challenge, so it is there: silence now means the auth code was wrong.
        throw new IpmiAuthError(`${this.#where()}: no answer to Activate Session: wrong password for user ${credentials.username}?`, this.address);
      }
      throw error;
    }
    this.#session = { kind: 'ipmi-1.5', sessionId: activated.sessionId, password16, sequence: activated.initialInboundSequence || 1 };
    this.#sessionInfo = { protocol: 'ipmi-1.5', cipherSuite: null, privilege, notes: [`${why}: IPMI 1.5 with MD5 authentication`] };
  }

  // ---- Request/response ----

  #nextTag(): number {
    this.#tag = (this.#tag + 1) & 0xff;
    return this.#tag;
  }

  #nextRqSeq(): number {
    this.#rqSeq = (this.#rqSeq % 63) + 1;
    return this.#rqSeq;
  }

  #where(): string {
    return `BMC ${this.address}:${this.port}`;
  }

  /** Sends `build(attempt)` up to `attempts` times and returns the first packet `accept` takes. */
  async #exchange<T>(
    build: (attempt: number) => Buffer,
    accept: (packet: IpmiPacket) => T | undefined,
    what: string,
    keys: SessionKeys | null,
    attempts = this.#options.attempts,
  ): Promise<T> {
    let lastProblem = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const pending = this.#transport.receive((datagram) => {
        const decoded = decodePacket(datagram, keys);
        if (!decoded.ok) {
          lastProblem = decoded.reason;
          return undefined;
        }
        try {
          return accept(decoded.packet);
        } catch (error) {
          // Runs inside the socket's message event: a bad packet must never become an uncaught error.
          lastProblem = (error as Error).message;
          return undefined;
        }
      }, this.#options.timeoutMs);
      let packet: Buffer;
      try {
        packet = build(attempt);
      } catch (error) {
        pending.cancel();
        throw error;
      }
      try {
        await this.#transport.send(packet);
      } catch (error) {
        // e.g. EHOSTUNREACH: count it as a try that got no answer.
        lastProblem = (error as Error).message;
      }
      const result = await pending.result;
      if (result !== undefined) return result;
    }
    throw new IpmiTimeoutError(
      `${this.#where()}: no answer to ${what} after ${attempts} tries of ${this.#options.timeoutMs} ms${lastProblem ? ` (last problem: ${lastProblem})` : ''}`,
      this.address,
    );
  }

  /** One command; resolves with the response data after a zero completion code. */
  #command(request: IpmiRequest, family?: CommandFamily, opts: { fixedSequence?: number; attempts?: number } = {}): Promise<Buffer> {
    const run = async () => {
      const rqSeq = this.#nextRqSeq();
      const message = encodeRequestMessage({ ...request, rqSeq });
      const what = commandName(request);
      const session = this.#session;
      const keys = session.kind === 'rmcp+' ? session.keys : null;
      const frame = await this.#exchange(
        () => this.#wrap(message, opts.fixedSequence),
        (packet) => this.#acceptResponse(packet, request, rqSeq),
        what,
        keys,
        opts.attempts,
      );
      if (frame.completionCode !== 0) {
        throw new IpmiCommandError(
          `${this.#where()}: ${what} failed with completion code ${hex2(frame.completionCode)}: ${describeCompletionCode(frame.completionCode, family)}`,
          this.address,
          frame.completionCode,
          request.netFn,
          request.cmd,
        );
      }
      return frame.data;
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #wrap(message: Buffer, fixedSequence?: number): Buffer {
    const s = this.#session;
    switch (s.kind) {
      case 'none':
        return encodeV15Packet({ authType: AuthType.none, sequence: 0, sessionId: 0, authCode: null, message });
      case 'rmcp+':
        s.sequence = (s.sequence + 1) >>> 0 || 1;
        return encodeV20Packet({ payloadType: PayloadType.ipmi, sessionId: s.bmcSessionId, sequence: s.sequence, payload: message, keys: s.keys, iv: this.#random(16) });
      case 'ipmi-1.5': {
        let sequence: number;
        if (fixedSequence !== undefined) sequence = fixedSequence;
        else {
          sequence = s.sequence;
          s.sequence = (s.sequence + 1) >>> 0 || 1;
        }
        const authCode = md5AuthCode(s.password16, s.sessionId, message, sequence);
        return encodeV15Packet({ authType: AuthType.md5, sequence, sessionId: s.sessionId, authCode, message });
      }
    }
  }

  #acceptResponse(packet: IpmiPacket, request: IpmiRequest, rqSeq: number): IpmiResponseFrame | undefined {
    const s = this.#session;
    let message: Buffer;
    if (packet.kind === 'v20') {
      if (packet.payloadType !== PayloadType.ipmi) return undefined;
      if (s.kind === 'rmcp+') {
        if (packet.sessionId !== s.consoleSessionId || !packet.authenticated || !packet.encrypted) return undefined;
      } else if (packet.sessionId !== 0) return undefined;
      message = packet.payload;
    } else if (packet.kind === 'v15') {
      if (s.kind === 'rmcp+') return undefined;
      if (s.kind === 'ipmi-1.5' && packet.authType !== AuthType.none) {
        const expected = md5AuthCode(s.password16, packet.sessionId, packet.message, packet.sequence);
        if (!packet.authCode || !packet.authCode.equals(expected)) throw new IpmiDecodeError('IPMI 1.5 response auth code mismatch');
      }
      message = packet.message;
    } else {
      return undefined;
    }
    const frame = decodeResponseMessage(message);
    if (frame.rqSeq !== rqSeq || frame.cmd !== request.cmd || frame.netFn !== (request.netFn | 1)) return undefined;
    return frame;
  }

  // ---- IPMI operations ----

  async deviceId(): Promise<cmd.DeviceId> {
    return cmd.decodeDeviceId(await this.#command(cmd.getDeviceId()));
  }

  async systemGuid(): Promise<Uint8Array> {
    return cmd.decodeSystemGuid(await this.#command(cmd.getSystemGuid()));
  }

  async lanAddress(): Promise<{ channel: number; ip: string | null; mac: string | null }> {
    const channel = await this.#lanChannelNumber();
    const read = async <T>(parameter: number, decode: (d: Buffer) => T): Promise<T | null> => {
      try {
        return decode(await this.#command(cmd.getLanConfigParameters(channel, parameter), 'parameter'));
      } catch (error) {
        if (error instanceof IpmiCommandError) return null;
        throw error;
      }
    };
    const ip = await read(LanParam.ipAddress, cmd.decodeLanIpAddress);
    const mac = await read(LanParam.macAddress, cmd.decodeLanMacAddress);
    return { channel, ip, mac };
  }

  /** The channel this session arrived on (Get Channel Info for "this channel"), else the first 802.3 channel, else 1. */
  async #lanChannelNumber(): Promise<number> {
    if (this.#options.quirks?.lanChannel !== undefined) return this.#options.quirks.lanChannel;
    if (this.#lanChannel !== undefined) return this.#lanChannel;
    const info = async (channel: number): Promise<cmd.ChannelInfo | null> => {
      try {
        return cmd.decodeChannelInfo(await this.#command(cmd.getChannelInfo(channel)));
      } catch (error) {
        if (error instanceof IpmiCommandError) return null;
        throw error;
      }
    };
    const current = await info(CURRENT_CHANNEL);
    if (current && current.medium === CHANNEL_MEDIUM_LAN) return (this.#lanChannel = current.channel);
    for (let channel = 1; channel <= 11; channel++) {
      const candidate = await info(channel);
      if (candidate?.medium === CHANNEL_MEDIUM_LAN) return (this.#lanChannel = channel);
    }
    return (this.#lanChannel = 1);
  }

  async readFru(): Promise<Fru | null> {
    let areaInfo: { size: number; accessByWords: boolean };
    try {
      areaInfo = cmd.decodeFruInventoryAreaInfo(await this.#command(cmd.getFruInventoryAreaInfo(0)));
    } catch (error) {
      if (error instanceof IpmiCommandError) return null;
      throw error;
    }
    if (areaInfo.size < 8) return null;
    const unit: 1 | 2 = areaInfo.accessByWords ? 2 : 1;
    let chunk = Math.max(FRU_MIN_CHUNK, this.#options.quirks?.fruChunkSize ?? 32);
    const readRange = async (start: number, end: number): Promise<Buffer> => {
      const parts: Buffer[] = [];
      let at = start;
      // Each round either advances or shrinks the chunk, so this ends.
      for (let guard = 0; at < end && guard < 4096; guard++) {
        const want = Math.min(chunk, end - at);
        try {
          const count = Math.max(1, Math.floor(want / unit));
          const data = cmd.decodeReadFruData(await this.#command(cmd.readFruData(0, Math.floor(at / unit), count), 'readFruData'), unit);
          if (data.length === 0) break;
          parts.push(data);
          at += data.length;
        } catch (error) {
          // Too much for this BMC's buffers: halve the request size and try again.
          if (error instanceof IpmiCommandError && [0xc7, 0xc8, 0xca].includes(error.completionCode) && chunk > FRU_MIN_CHUNK) {
            chunk = Math.max(FRU_MIN_CHUNK, chunk >> 1);
            continue;
          }
          throw error;
        }
      }
      return Buffer.concat(parts);
    };
    const size = Math.min(areaInfo.size, FRU_MAX_BYTES);
    const header = await readRange(0, 8);
    if (header.length < 8) return null;
    // Read only up to the end of the last info area (chassis, board, product), not the whole device.
    const offsets = [header[2], header[3], header[4]].map((o) => (o ?? 0) * 8).filter((o) => o > 0 && o + 2 <= size);
    let end = 8;
    if (offsets.length > 0) {
      const last = Math.max(...offsets);
      const lengthBytes = await readRange(last, last + 2);
      end = Math.min(size, last + (lengthBytes[1] ?? 0) * 8);
    }
    const image = Buffer.concat([header, await readRange(8, end)]);
    try {
      return parseFru(image);
    } catch (error) {
      if (error instanceof IpmiDecodeError) throw new IpmiProtocolError(`${this.#where()}: FRU data: ${error.message}`, this.address);
      throw error;
    }
  }

  async dellHostMacs(): Promise<HostMac[]> {
    const lengthData = cmd.decodeSystemInfoParameters(await this.#command(dellMacTableLengthRequest(), 'parameter')).data;
    const count = Math.min(DELL_MAX_RECORDS, Math.floor(decodeDellMacTableLength(lengthData) / DELL_MAC_RECORD_LENGTH));
    const records = [];
    for (let i = 0; i < count; i++) {
      const data = cmd.decodeSystemInfoParameters(await this.#command(dellMacRecordRequest(i), 'parameter')).data;
      try {
        records.push(decodeDellMacRecord(data));
      } catch (error) {
        if (error instanceof IpmiDecodeError) throw new IpmiProtocolError(`${this.#where()}: Dell MAC record ${i}: ${error.message}`, this.address);
        throw error;
      }
    }
    return dellHostMacs(records).map((r) => ({ mac: r.mac, source: 'dell-oem', label: `NIC${r.nic}` }));
  }

  async powerState(): Promise<PowerState> {
    return cmd.decodeChassisStatus(await this.#command(cmd.getChassisStatus())).powerOn ? 'on' : 'off';
  }

  async chassisControl(action: cmd.ChassisAction): Promise<void> {
    await this.#command(cmd.chassisControl(action));
  }

  async setBootDevice(request: IpmiBootRequest): Promise<void> {
    const quirks = this.#options.quirks ?? {};
    const optional = async (req: IpmiRequest): Promise<boolean> => {
      try {
        await this.#command(req, 'parameter');
        return true;
      } catch (error) {
        if (error instanceof IpmiCommandError) return false;
        throw error;
      }
    };
    // Parameter 0 brackets the change where the BMC has it; many do not, and that is fine.
    const bracketed = !quirks.noBootSetInProgress && (await optional(setBootSetInProgress('inProgress')));
    try {
      if (!quirks.noBootFlagValidClearing) await optional(setBootFlagValidClearing());
      await optional(setBootInfoAcknowledge());
      await this.#command(setBootFlags({ device: request.device, valid: true, persistent: request.persistent, efi: request.efi }), 'parameter');
    } finally {
      if (bracketed) await optional(setBootSetInProgress('complete'));
    }
  }

  async getBootDevice(): Promise<ReadBootFlags> {
    return decodeBootFlags(await this.#command(getBootFlags(), 'parameter'));
  }

  /** Closes the session (best effort, bounded) and the socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const s = this.#session;
      try {
        if (s.kind === 'rmcp+' || s.kind === 'ipmi-1.5') {
          const id = s.kind === 'rmcp+' ? s.bmcSessionId : s.sessionId;
          await this.#command(cmd.closeSession(id), undefined, { attempts: Math.min(this.#options.attempts, 2) }).catch(() => {});
        }
      } finally {
        this.#session = NO_SESSION;
        this.#transport.close();
        for (const listener of this.#onClose) listener();
      }
    })();
    return this.#closing;
  }
}

function privilegeName(level: number): string {
  return ['', 'callback', 'user', 'operator', 'administrator'][level] ?? `level ${level}`;
}

function bmcKeyBytes(text: string): Buffer {
  return /^(0x)?[0-9a-f]{40}$/i.test(text) ? Buffer.from(text.replace(/^0x/i, ''), 'hex') : Buffer.from(text, 'utf8');
}

