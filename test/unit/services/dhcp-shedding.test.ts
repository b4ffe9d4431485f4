/**
 * Load shedding end to end (issue 18): a burst of DISCOVERs over loopback into a DHCP service with a
 * small queue bound. New MACs beyond the bound are dropped early and counted; every MAC that got an
 * OFFER gets its ACK even while a second burst of new MACs arrives; a shed machine's retransmission
 * is answered once the burst is over. Counts only, no timing: the test sends each burst from the
 * same event loop before the service can read it, so the queue is deep by construction.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../../server/config/config.js';
import { silentLogger } from '../../../server/log.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType } from '../../../server/protocol/dhcp/options.js';
import { dhcpSettings, startDhcpService, type DhcpService } from '../../../server/services/dhcp-service.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';
import { testProvisioner } from '../../helpers/provisioner.js';

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const isRoot = process.getuid?.() === 0;
const RELAY = `127.0.${150 + (process.pid % 100)}.${2 + (process.pid % 200)}`;
const BURST = 200;
const mac = (i: number): string => `52:54:00:5e:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
const ipOf = (i: number): string => `127.0.${10 + (i >> 8)}.${(i & 255) + 1}`;

describe('DHCP load shedding under a burst', { skip: isRoot ? false : 'binding port 67 for the relay needs root' }, () => {
  let service: DhcpService;
  let relay: Socket;
  const replies: Array<{ type: number | null; mac: string | null }> = [];

  before(async () => {
    const r = parseConfig(`
server: { address: 127.0.0.1 }
dhcp:
  listen: 127.0.0.1
  port: ${await freePort()}
  subnets:
    - { cidr: 127.0.0.0/8, leaseSeconds: 600 }
`, 'test', process.cwd());
    assert.ok(r.config, r.errors.join('\n'));
    const t = testProvisioner({ dhcp: dhcpSettings(r.config), serverAddress: '127.0.0.1' });
    t.provisioner.registerMachines(Array.from({ length: 2 * BURST }, (_, i) => ({ name: `s${i}`, macs: [mac(i)], ip: ipOf(i), role: null })));
    service = await startDhcpService(r.config, t.provisioner, silentLogger(), { admission: { queueBound: 8, maxAdmitted: 1000 } });
    relay = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => relay.bind(67, RELAY, resolve));
    relay.on('message', (m: Buffer) => {
      const d = decodeDhcp(m);
      if (d.ok) replies.push({ type: messageType(d.packet), mac: d.packet.mac });
    });
  });

  after(async () => {
    relay.close();
    await service.close();
  });

  const send = (i: number, type: number, extra: Array<readonly [number, Buffer]> = [], xid = i + 1): void => {
    relay.send(encodeDhcp(requestPacket({ mac: mac(i), type, xid, giaddr: RELAY, hops: 1, options: extra })), service.port, '127.0.0.1');
  };
  async function settle(until: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (!until()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}; stats ${JSON.stringify(service.stats)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const answered = (): number => service.stats.replied + service.stats.ignored + service.stats.errors;
  const offered = new Set<string>();

  it('drops new MACs beyond the bound early, counted, and offers the admitted ones', async () => {
    for (let i = 0; i < BURST; i++) send(i, T.Discover);
    await settle(() => answered() + service.stats.malformed === BURST, 'every DISCOVER of the burst to be accounted for');
    await settle(() => replies.length === service.stats.replied, 'the OFFERs to arrive');
    const { shed, admittedMacs } = service.stats.admission;
    assert.ok(shed > 0, 'the queue passed its bound: some new MACs were shed');
    assert.ok(shed < BURST, 'and some were admitted');
    assert.equal(service.stats.ignoredByReason['shed'], shed);
    assert.equal(service.stats.sent['OFFER'], BURST - shed);
    assert.equal(admittedMacs, BURST - shed, 'exactly the offered MACs are admitted');
    for (const reply of replies) if (reply.mac !== null) offered.add(reply.mac);
    assert.equal(offered.size, BURST - shed);
  });

  it('finishes every admitted machine while a second burst of new MACs arrives', async () => {
    const acksBefore = service.stats.sent['ACK'] ?? 0;
    const shedBefore = service.stats.admission.shed;
    const accountedBefore = answered();
    replies.length = 0;
    for (let i = 0; i < BURST; i++) {
      if (offered.has(mac(i))) send(i, T.Request, [[54, ipv4Value('127.0.0.1')], [50, ipv4Value(ipOf(i))]]);
      send(BURST + i, T.Discover);
    }
    const sent = offered.size + BURST;
    await settle(() => answered() - accountedBefore === sent, 'the second burst to be accounted for');
    assert.equal((service.stats.sent['ACK'] ?? 0) - acksBefore, offered.size, 'every machine that got an OFFER got its ACK');
    assert.ok(service.stats.admission.shed > shedBefore, 'new MACs of the second burst were shed');
    assert.ok(service.stats.admission.admittedMacs <= 1000, 'the admitted set stays within maxAdmitted');
  });

  it('answers a shed machine\'s retransmission once the burst is over', async () => {
    const shedMac = Array.from({ length: BURST }, (_, i) => i).find((i) => !offered.has(mac(i)));
    assert.ok(shedMac !== undefined);
    replies.length = 0;
    // over = nothing waits, in JavaScript or in the kernel's receive queue (sampled every 50 ms)
    await settle(() => service.stats.admission.queued === 0, 'the queues to drain');
    // a later try of the firmware (a new xid: the same bytes within 250 ms count as a duplicate delivery)
    send(shedMac, T.Discover, [], 100_000 + shedMac);
    await settle(() => replies.some((r) => r.mac === mac(shedMac)), 'the OFFER to the retransmitted DISCOVER');
    assert.equal(replies.find((r) => r.mac === mac(shedMac))?.type, T.Offer);
  });
});
