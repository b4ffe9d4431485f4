/**
 * A BMC on loopback UDP for the IPMI client's tests: RMCP+ with cipher suites 3 and 17 (ipmi_sim,
 * the real-BMC test peer, has no SHA-256) and IPMI 1.5 with MD5, plus faults on demand (silence,
 * dropped requests, refused suites, downgrades). Built from rackboot's own codecs; the codecs'
 * bytes are checked independently in test/unit/protocol.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { AuthType, PayloadType } from '../../../../server/protocol/ipmi/constants.js';
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
} from '../../../../server/protocol/ipmi/crypto.js';
import { decodeRequestMessage, encodeResponseMessage, type IpmiRequestFrame } from '../../../../server/protocol/ipmi/message.js';
import { decodePacket, encodeV15Packet, encodeV20Packet } from '../../../../server/protocol/ipmi/packet.js';
import { decodeOpenSessionRequest, decodeRakp1, decodeRakp3, encodeOpenSessionResponse, encodeRakp2, encodeRakp4 } from '../../../../server/protocol/ipmi/rakp.js';

export interface FakeRmcpBmcOptions {
  username?: string;
  password?: string;
  /** Cipher suites it accepts (default 3 and 17). */
  suites?: CipherSuiteId[];
  /** Answers an accepted Open Session with no authentication at all (a downgrade to suite 0). */
  downgrade?: boolean;
  /** Reports IPMI 2.0 support (default true). */
  ipmi20?: boolean;
  /** IPMI 1.5 auth types it offers (default md5). */
  authTypes?: Array<'none' | 'md5' | 'password'>;
  /** An old BMC: Get Channel Auth Capabilities with the v2.0 bit set fails with CC 0xCC. */
  rejectV20Bit?: boolean;
  /** Drops the first N copies of each IPMI command request. */
  dropFirst?: number;
  /** Never answers anything. */
  silent?: boolean;
  /** Read FRU Data requests larger than this fail with CC 0xCA. */
  fruMaxChunk?: number;
  fru?: Buffer;
  /** Boot parameter 0 (set in progress) unsupported: CC 0x80. */
  noSetInProgress?: boolean;
  /** An impostor: it does not know the password, so its RAKP 2 auth code is random bytes. */
  forgeRakp2?: boolean;
}

interface Rmcp20Session {
  kind: '2.0';
  consoleSessionId: number;
  bmcSessionId: number;
  suite: CipherSuite;
  rm?: Buffer;
  rc: Buffer;
  role?: number;
  username?: Buffer;
  keys?: SessionKeys;
  sequence: number;
}

interface V15Session {
  kind: '1.5';
  sessionId: number;
  challenge: Buffer;
  active: boolean;
  sequence: number;
}

export interface FakeBmcLog {
  /** "name rqSeq=n seq=n" per IPMI command that was answered or dropped. */
  readonly commands: Array<{ cmd: string; rqSeq: number; sessionSeq: number; dropped: boolean }>;
  readonly proposals: number[];
  closes: number;
  abandoned: number;
  datagrams: number;
  /** Every RAKP 3 received: its status and the length of its auth code (a password-derived HMAC when non-empty). */
  readonly rakp3: Array<{ status: number; authCodeLength: number }>;
  /** IPMI 1.5 packets that carried an MD5 auth code (derived from the password). */
  md5AuthCodes: number;
}

export const FAKE_GUID = Buffer.from('5a1e0000000040008000000000000099', 'hex');

export class FakeRmcpBmc {
  readonly log: FakeBmcLog = { commands: [], proposals: [], closes: 0, abandoned: 0, datagrams: 0, rakp3: [], md5AuthCodes: 0 };
  power: 'on' | 'off' = 'off';
  bootFlags = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00]);
  readonly #socket: Socket;
  readonly #options: FakeRmcpBmcOptions;
  readonly #v20 = new Map<number, Rmcp20Session>();
  readonly #v15 = new Map<number, V15Session>();
  readonly #drops = new Map<string, number>();

  private constructor(socket: Socket, options: FakeRmcpBmcOptions) {
    this.#socket = socket;
    this.#options = options;
    socket.on('message', (msg, remote) => {
      this.log.datagrams += 1;
      if (!options.silent) this.#onDatagram(msg, remote);
    });
  }

  static async start(options: FakeRmcpBmcOptions = {}): Promise<FakeRmcpBmc> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeRmcpBmc(socket, options);
  }

  get port(): number {
    return this.#socket.address().port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  get #password(): string {
    return this.#options.password ?? 'password';
  }

  #send(packet: Buffer, remote: RemoteInfo): void {
    this.#socket.send(packet, remote.port, remote.address);
  }

  #onDatagram(msg: Buffer, remote: RemoteInfo): void {
    // Peek at the RMCP+ session ID to find the keys before decoding.
    const sessionId = msg.length >= 10 && msg[4] === AuthType.rmcpPlus ? msg.readUInt32LE(6) : 0;
    const session = this.#v20.get(sessionId);
    const decoded = decodePacket(msg, session?.keys ?? null);
    if (!decoded.ok) return;
    const p = decoded.packet;
    if (p.kind === 'v20') {
      if (p.payloadType === PayloadType.openSessionRequest) return this.#openSession(p.payload, remote);
      if (p.payloadType === PayloadType.rakp1) return this.#rakp1(p.payload, remote);
      if (p.payloadType === PayloadType.rakp3) return this.#rakp3(p.payload, remote);
      if (p.payloadType === PayloadType.ipmi && session?.keys) {
        return this.#command(p.payload, p.sequence, (response) => {
          session.sequence += 1;
          this.#send(
            encodeV20Packet({ payloadType: PayloadType.ipmi, sessionId: session.consoleSessionId, sequence: session.sequence, payload: response, keys: session.keys, iv: randomBytes(16) }),
            remote,
          );
        });
      }
      return;
    }
    if (p.kind !== 'v15') return;
    if (p.authType === AuthType.none && p.sessionId === 0) {
      return this.#command(p.message, 0, (response) => this.#send(encodeV15Packet({ authType: 0, sequence: 0, sessionId: 0, authCode: null, message: response }), remote));
    }
    const v15 = this.#v15.get(p.sessionId);
    if (p.authType === AuthType.md5 && p.authCode) this.log.md5AuthCodes += 1;
    if (!v15 || p.authType !== AuthType.md5 || !p.authCode) return;
    const pw16 = passwordKey(this.#password, 16);
    // A wrong auth code gets silence, as from real BMCs.
    if (!p.authCode.equals(md5AuthCode(pw16, p.sessionId, p.message, p.sequence))) return;
    this.#command(p.message, p.sequence, (response) => {
      const sequence = v15.active ? ++v15.sequence : 0;
      this.#send(encodeV15Packet({ authType: AuthType.md5, sequence, sessionId: p.sessionId, authCode: md5AuthCode(pw16, p.sessionId, response, sequence), message: response }), remote);
    });
  }

  #openSession(payload: Buffer, remote: RemoteInfo): void {
    const request = decodeOpenSessionRequest(payload);
    const suite = ([3, 17] as const).map((id) => CIPHER_SUITES[id]).find(
      (s) => s.authenticationAlgorithm === request.authenticationAlgorithm && s.integrityAlgorithm === request.integrityAlgorithm,
    );
    this.log.proposals.push(suite?.id ?? -1);
    const accepted = suite && (this.#options.suites ?? [3, 17]).includes(suite.id);
    if (!suite || !accepted) {
      const response = encodeOpenSessionResponse({ tag: request.tag, status: 0x04, privilege: 0, consoleSessionId: request.consoleSessionId, bmcSessionId: 0, authenticationAlgorithm: null, integrityAlgorithm: null, confidentialityAlgorithm: null });
      return this.#send(encodeV20Packet({ payloadType: PayloadType.openSessionResponse, sessionId: 0, sequence: 0, payload: response }), remote);
    }
    const bmcSessionId = randomBytes(4).readUInt32LE(0) || 7;
    this.#v20.set(bmcSessionId, { kind: '2.0', consoleSessionId: request.consoleSessionId, bmcSessionId, suite, rc: randomBytes(16), sequence: 0 });
    const algorithms = this.#options.downgrade ? { authenticationAlgorithm: 0, integrityAlgorithm: 0, confidentialityAlgorithm: 0 } : request;
    const response = encodeOpenSessionResponse({
      tag: request.tag,
      status: 0,
      privilege: request.privilege,
      consoleSessionId: request.consoleSessionId,
      bmcSessionId,
      authenticationAlgorithm: algorithms.authenticationAlgorithm,
      integrityAlgorithm: algorithms.integrityAlgorithm,
      confidentialityAlgorithm: algorithms.confidentialityAlgorithm,
    });
    this.#send(encodeV20Packet({ payloadType: PayloadType.openSessionResponse, sessionId: 0, sequence: 0, payload: response }), remote);
  }

  #exchange(s: Rmcp20Session): RakpExchange {
    return {
      consoleSessionId: s.consoleSessionId,
      bmcSessionId: s.bmcSessionId,
      consoleRandom: s.rm as Buffer,
      bmcRandom: s.rc,
      bmcGuid: FAKE_GUID,
      role: s.role as number,
      username: s.username as Buffer,
    };
  }

  #rakp1(payload: Buffer, remote: RemoteInfo): void {
    const r = decodeRakp1(payload);
    const s = this.#v20.get(r.bmcSessionId);
    if (!s) return;
    s.rm = Buffer.from(r.consoleRandom);
    s.role = r.role;
    s.username = Buffer.from(r.username);
    const known = s.username.toString() === (this.#options.username ?? 'admin');
    const genuine = known ? rakp2AuthCode(s.suite, passwordKey(this.#password), this.#exchange(s)) : Buffer.alloc(0);
    const authCode = this.#options.forgeRakp2 ? randomBytes(genuine.length) : genuine;
    const rakp2 = encodeRakp2({ tag: r.tag, status: known ? 0 : 0x0d, consoleSessionId: s.consoleSessionId, bmcRandom: s.rc, bmcGuid: FAKE_GUID, authCode });
    this.#send(encodeV20Packet({ payloadType: PayloadType.rakp2, sessionId: 0, sequence: 0, payload: rakp2 }), remote);
  }

  #rakp3(payload: Buffer, remote: RemoteInfo): void {
    const r = decodeRakp3(payload);
    this.log.rakp3.push({ status: r.status, authCodeLength: r.authCode.length });
    const s = this.#v20.get(r.bmcSessionId);
    if (!s) return;
    if (r.status !== 0) {
      this.log.abandoned += 1;
      this.#v20.delete(s.bmcSessionId);
      return;
    }
    const kuid = passwordKey(this.#password);
    const ok = Buffer.from(r.authCode).equals(rakp3AuthCode(s.suite, kuid, this.#exchange(s)));
    const keys = deriveSessionKeys(s.suite, kuid, this.#exchange(s));
    if (ok) s.keys = keys;
    const rakp4 = encodeRakp4({ tag: r.tag, status: ok ? 0 : 0x0f, consoleSessionId: s.consoleSessionId, integrityCheckValue: ok ? rakp4CheckValue(s.suite, keys.sik, this.#exchange(s)) : Buffer.alloc(0) });
    this.#send(encodeV20Packet({ payloadType: PayloadType.rakp4, sessionId: 0, sequence: 0, payload: rakp4 }), remote);
  }

  #command(message: Buffer, sessionSeq: number, reply: (response: Buffer) => void): void {
    let request: Required<IpmiRequestFrame>;
    try {
      request = decodeRequestMessage(message);
    } catch {
      return;
    }
    const name = `${request.netFn.toString(16)}/${request.cmd.toString(16)}`;
    const key = `${name}/${request.rqSeq}`;
    const seen = this.#drops.get(key) ?? 0;
    this.#drops.set(key, seen + 1);
    const dropped = seen < (this.#options.dropFirst ?? 0);
    this.log.commands.push({ cmd: name, rqSeq: request.rqSeq, sessionSeq, dropped });
    if (dropped) return;
    const [cc, data] = this.#answer(request);
    reply(encodeResponseMessage(request, cc, Buffer.from(data)));
  }

  #answer(r: Required<IpmiRequestFrame>): [number, number[] | Buffer] {
    const d = r.data;
    const types = this.#options.authTypes ?? ['md5'];
    switch (`${r.netFn}/${r.cmd}`) {
      case '6/56': {
        // Get Channel Authentication Capabilities
        if (this.#options.rejectV20Bit && ((d[0] as number) & 0x80) !== 0) return [0xcc, []];
        const ipmi20 = this.#options.ipmi20 ?? true;
        const mask = (types.includes('none') ? 0x01 : 0) | (types.includes('md5') ? 0x04 : 0) | (types.includes('password') ? 0x10 : 0);
        return [0, [0x01, (ipmi20 ? 0x80 : 0) | mask, 0x04, ipmi20 ? 0x03 : 0x00, 0, 0, 0, 0]];
      }
      case '6/57': {
        // Get Session Challenge
        const name = d.subarray(1).toString().replace(/\0+$/, '');
        if (name !== (this.#options.username ?? 'admin')) return [0x81, []];
        const sessionId = randomBytes(4).readUInt32LE(0) || 9;
        const challenge = randomBytes(16);
        this.#v15.set(sessionId, { kind: '1.5', sessionId, challenge, active: false, sequence: 0 });
        return [0, Buffer.concat([Buffer.from([sessionId & 0xff, (sessionId >>> 8) & 0xff, (sessionId >>> 16) & 0xff, sessionId >>> 24]), challenge])];
      }
      case '6/58': {
        // Activate Session: the challenge must come back
        const session = [...this.#v15.values()].find((s) => s.challenge.equals(d.subarray(2, 18)));
        if (!session) return [0x85, []];
        session.active = true;
        session.sequence = 100;
        return [0, [0x02, session.sessionId & 0xff, (session.sessionId >>> 8) & 0xff, (session.sessionId >>> 16) & 0xff, session.sessionId >>> 24, 100, 0, 0, 0, d[1] as number]];
      }
      case '6/59':
        return [0, [d[0] as number]];
      case '6/60':
        this.log.closes += 1;
        return [0, []];
      case '6/1':
        return [0, [0x20, 0x81, 0x02, 0x10, 0x02, 0xbf, 0xa2, 0x02, 0x00, 0x00, 0x01]];
      case '6/55':
        return [0, FAKE_GUID];
      case '6/66':
        return [0, [0x01, 0x04, 0x01, 0x81, 0xa2, 0x02, 0x00, 0, 0]];
      case '12/2':
        if (d[1] === 3) return [0, [0x11, 10, 1, 0, 11]];
        if (d[1] === 5) return [0, [0x11, 0x52, 0x54, 0x00, 0xaa, 0x00, 0x11]];
        return [0x80, []];
      case '10/16':
        return this.#options.fru ? [0, [this.#options.fru.length & 0xff, this.#options.fru.length >> 8, 0]] : [0xcb, []];
      case '10/17': {
        const fru = this.#options.fru;
        if (!fru) return [0xcb, []];
        const offset = (d[1] as number) | ((d[2] as number) << 8);
        const count = d[3] as number;
        if (count > (this.#options.fruMaxChunk ?? 255)) return [0xca, []];
        const chunk = fru.subarray(offset, offset + count);
        return [0, [chunk.length, ...chunk]];
      }
      case '0/1':
        return [0, [this.power === 'on' ? 0x01 : 0x00, 0x00, 0x00]];
      case '0/2':
        this.power = d[0] === 0x01 || d[0] === 0x02 ? 'on' : 'off';
        return [0, []];
      case '0/8':
        if (d[0] === 0 && this.#options.noSetInProgress) return [0x80, []];
        if (d[0] === 5) this.bootFlags = Buffer.from(d.subarray(1, 6));
        return [0, []];
      case '0/9':
        return [0, Buffer.concat([Buffer.from([0x01, 0x05]), this.bootFlags])];
      default:
        return [0xc1, []];
    }
  }
}
