/**
 * Fuzz on loopback: 5,000 mutated and random datagrams through the real listener, the Provisioner
 * and SQLite, then a well-formed DORA still completes and every counter adds up. (The 20k version
 * with a real client runs in test/real/dhcp-network.test.ts.)
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import type { DhcpSettings } from '../../../server/core/dhcp-decision.js';
import { silentLogger } from '../../../server/log.js';
import { startDhcpListener, type DhcpListener } from '../../../server/net/dhcp-listener.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType } from '../../../server/protocol/dhcp/options.js';
import { fuzzPacket, prng, seedPackets } from '../../helpers/dhcp-fuzz.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';
import { testProvisioner } from '../../helpers/provisioner.js';
import { SLOW } from '../../helpers/slow.js';

const COUNT = 5000;
const SETTINGS: DhcpSettings = {
  serverAddress: '10.98.0.1',
  subnets: [{ cidr: '10.98.0.0/24', gateway: '10.98.0.1', dns: ['10.98.0.1'], leaseSeconds: 600, pool: { start: '10.98.0.200', end: '10.98.0.220' } }],
  httpBaseUrl: 'http://10.98.0.1:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: true,
  chainWindowMs: 60_000,
};

describe('fuzzing the listener on loopback', { skip: SLOW }, () => {
  let listener: DhcpListener;
  let client: Socket;
  const t = testProvisioner({ dhcp: SETTINGS });
  for (let i = 1; i <= 5; i++) t.provisioner.registerMachine({ name: `n${i}`, macs: [`52:54:00:99:00:0${i}`], ip: `10.98.0.1${i}`, role: null });

  before(async () => {
    listener = await startDhcpListener({
      address: '127.0.0.1', port: 0, logger: silentLogger(),
      // The production path, with replies sent back to the sender (loopback has no broadcast).
      handle: (packet, source) => {
        const d = t.provisioner.handleDhcp(packet, { source });
        return d.kind === 'reply' ? { reply: d.packet, destination: source, maxSize: d.maxSize } : { ignore: d.code };
      },
    });
    client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  });
  after(async () => {
    client.close();
    await listener.close();
  });

  async function caughtUp(sent: number): Promise<void> {
    const deadline = Date.now() + 2000;
    while (listener.stats.received < sent && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  }

  it(`survives ${COUNT} mutated and random datagrams, then still completes a DORA`, { timeout: 60_000 }, async () => {
    const rand = prng(20261122);
    const seeds = seedPackets();
    for (let i = 0; i < COUNT; i++) {
      const bytes = fuzzPacket(rand, seeds);
      const decoded = decodeDhcp(bytes);
      assert.ok(decoded.ok || !decoded.error.startsWith('decoder failure'), `decoder bug on packet ${i}: ${decoded.ok ? '' : decoded.error}`);
      client.send(bytes, listener.port, '127.0.0.1');
      if (i % 50 === 49) await caughtUp(i + 1); // flow control: the kernel never drops, so every datagram counts
    }
    const deadline = Date.now() + 20_000;
    while (listener.stats.received < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(listener.stats.received, COUNT, 'every datagram was read');
    assert.equal(listener.stats.errors, 0, `no handler or encoder failure: ${JSON.stringify(listener.stats)}`);

    const replies: Buffer[] = [];
    client.removeAllListeners('message');
    client.on('message', (m: Buffer) => replies.push(m));
    client.send(encodeDhcp(requestPacket({ mac: '52:54:00:99:00:03', xid: 77 })), listener.port, '127.0.0.1');
    client.send(encodeDhcp(requestPacket({ mac: '52:54:00:99:00:03', xid: 78, type: T.Request, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.13')]] })), listener.port, '127.0.0.1');
    const until = Date.now() + 5000;
    let ack: ReturnType<typeof decodeDhcp> | undefined;
    while (Date.now() < until) {
      ack = replies.map((m) => decodeDhcp(m)).find((d) => d.ok && d.packet.xid === 78);
      if (ack) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(ack?.ok, 'the ACK arrived');
    assert.equal(messageType(ack.packet), T.Ack);
    assert.equal(ack.packet.yiaddr, '10.98.0.13');
    const s = listener.stats;
    assert.equal(s.received, s.malformed + s.replied + s.ignored + s.errors);
  });
});
