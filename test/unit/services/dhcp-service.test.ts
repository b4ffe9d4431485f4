/**
 * The DHCP service on loopback: the interfaces guard, rogue-server reports (rate-limited), the
 * counters another engineer exports at /metrics, and the group-committed reply path.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { parseConfig, type Config } from '../../../server/config/config.js';
import { silentLogger } from '../../../server/log.js';
import { BOOTP_REPLY, DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType } from '../../../server/protocol/dhcp/options.js';
import { dhcpScope, dhcpSettings, startDhcpService, type DhcpService } from '../../../server/services/dhcp-service.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const isRoot = process.getuid?.() === 0;

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function config(port: number, extra = ''): Config {
  const r = parseConfig(`
server: { address: 127.0.0.1 }
dhcp:
  listen: 127.0.0.1
  port: ${port}
  subnets:
    - { cidr: 127.0.0.0/8, leaseSeconds: 600 }
    - { cidr: 10.77.0.0/24, leaseSeconds: 600 }
  rogue: { reportIntervalSeconds: 60 }
${extra}`, 'test', process.cwd());
  assert.ok(r.config, r.errors.join('\n'));
  return r.config;
}

describe('dhcp.interfaces at start', () => {
  it('refuses to start when a listed interface is missing', () => {
    const c = config(6767, '  interfaces: [prov9]');
    assert.throws(() => dhcpScope(c, { lo: [] }), /interface prov9 does not exist/);
    assert.equal(dhcpScope(config(6767)), null, 'no list: no filter');
  });
});

describe('the DHCP service on loopback', () => {
  let service: DhcpService;
  let client: Socket;
  let t: ReturnType<typeof testProvisioner>;
  let clock = 1_700_000_000_000;

  before(async () => {
    const port = await freePort();
    // lo is "the provisioning interface": 127/8 is served directly, 10.77.0.0/24 through relays.
    const c = config(port, '  interfaces: [lo]\n  peers: [127.0.0.9]');
    t = testProvisioner({ dhcp: dhcpSettings(c), serverAddress: '127.0.0.1' });
    t.provisioner.registerMachine({ name: 'n1', macs: ['52:54:00:99:00:01'], ip: '127.0.0.21', role: null });
    service = await startDhcpService(c, t.provisioner, silentLogger(), {
      interfaces: { lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] },
      now: () => clock,
    });
    client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  });

  after(async () => {
    client.close();
    await service.close();
  });

  const send = (bytes: Buffer): void => {
    client.send(bytes, service.port, '127.0.0.1');
  };
  async function settle(until: () => boolean): Promise<void> {
    const deadline = Date.now() + 3000;
    while (!until()) {
      assert.ok(Date.now() < deadline, `timed out; stats ${JSON.stringify(service.stats)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('drops a relay from an unconfigured network, counted by reason and type', async () => {
    send(encodeDhcp(requestPacket({ giaddr: '172.16.0.1', hops: 1 })));
    await settle(() => service.stats.ignoredByReason['foreign-relay'] === 1);
    assert.equal(service.stats.byType['DISCOVER']?.ignored, 1);
  });

  it('an unknown MAC is silent and recorded as discovered', async () => {
    send(encodeDhcp(requestPacket({ mac: '52:54:00:99:00:99' })));
    await settle(() => service.stats.ignoredByReason['unknown-mac'] === 1);
    assert.equal(t.store.listDiscovered()[0]?.mac, '52:54:00:99:00:99');
  });

  it('another server\'s OFFER: every sighting counted, one event and one warning per interval', async () => {
    const offer = { ...requestPacket({ type: T.Offer, options: [[54, ipv4Value('127.0.0.66')]] }), op: BOOTP_REPLY, yiaddr: '127.0.0.200' };
    for (let i = 0; i < 3; i++) send(encodeDhcp(offer));
    const peerOffer = { ...offer, options: new Map([[53, Buffer.of(T.Offer)], [54, ipv4Value('127.0.0.9')]]) };
    send(encodeDhcp(peerOffer));
    await settle(() => service.stats.received >= 6);
    await settle(() => service.stats.rogueSightings === 3);
    assert.deepEqual(service.stats.rogueServers, { '127.0.0.66': 3 });
    assert.equal(service.stats.byType['BOOTREPLY']?.ignored, 4);
    const events = () => t.store.listEvents({}).filter((e) => e.type === 'dhcp-rogue-server');
    assert.equal(events().length, 1);
    assert.match(events()[0]?.message ?? '', /another DHCP server 127\.0\.0\.66 sent OFFER of 127\.0\.0\.200/);
    clock += 61_000;
    const request = requestPacket({ type: T.Request, mac: '52:54:00:99:00:99', options: [[54, ipv4Value('127.0.0.66')], [50, ipv4Value('127.0.0.200')]] });
    send(encodeDhcp(request));
    await settle(() => service.stats.rogueSightings === 4);
    assert.equal(events().length, 2, 'reported again after the interval');
  });

  it('answers a relayed known machine: group-committed lease, then the reply at giaddr:67', { skip: isRoot ? false : 'binding port 67 needs root' }, async () => {
    const relay = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => relay.bind(67, '127.0.0.2', resolve));
    try {
      const replies: Buffer[] = [];
      relay.on('message', (m: Buffer) => replies.push(m));
      const select = requestPacket({ type: T.Request, giaddr: '127.0.0.2', hops: 1, options: [[54, ipv4Value('127.0.0.1')], [50, ipv4Value('127.0.0.21')]] });
      for (let i = 0; i < 20; i++) send(encodeDhcp({ ...select, xid: i }));
      await settle(() => replies.length === 20);
      const decoded = decodeDhcp(replies[0] as Buffer);
      assert.ok(decoded.ok && messageType(decoded.packet) === T.Ack && decoded.packet.yiaddr === '127.0.0.21');
      assert.equal(t.store.leaseByMac('52:54:00:99:00:01')?.ip, '127.0.0.21');
      assert.equal(service.stats.sent['ACK'], 20);
      assert.equal(service.stats.byType['REQUEST']?.replied, 20);
    } finally {
      relay.close();
    }
  });

  it('keeps received = malformed + replied + ignored + errors', async () => {
    send(Buffer.from('garbage'));
    await settle(() => service.stats.malformed === 1);
    const s = service.stats;
    assert.equal(s.received, s.malformed + s.replied + s.ignored + s.errors);
  });
});
