/**
 * Two rackboot instances over the same inventory answer alike, byte for byte, so they can run
 * active-active (docs/dhcp.md). With different server addresses only option 54, siaddr and 66 differ,
 * and `dhcp.peers` keeps their state (the iPXE chain mark) in step.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DhcpDecision, DhcpSettings } from '../../../server/core/dhcp-decision.js';
import { DhcpMessageType as T, DhcpOption } from '../../../server/protocol/dhcp/constants.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value } from '../../../server/protocol/dhcp/options.js';
import { chaddrFromMac, type DhcpPacket } from '../../../server/protocol/dhcp/packet.js';
import { fixturePacket } from '../../helpers/dhcp-packets.js';
import { testProvisioner } from '../../helpers/provisioner.js';

const SETTINGS: DhcpSettings = {
  serverAddress: '10.99.0.1',
  subnets: [{ cidr: '10.99.0.0/24', gateway: '10.99.0.1', dns: ['10.99.0.1'], domain: 'rack.test', leaseSeconds: 3600 }],
  httpBaseUrl: 'http://boot.rack.test:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: true,
  chainWindowMs: 300_000,
};
const CLIENTS: Array<{ fixture: string; mac: string; ip: string }> = [
  { fixture: 'seabios-ipxe-discover.hex', mac: '52:54:00:99:00:01', ip: '10.99.0.11' },
  { fixture: 'ovmf-x64-discover.hex', mac: '52:54:00:99:00:02', ip: '10.99.0.12' },
  { fixture: 'bios-pxe-discover.hex', mac: '52:54:00:99:00:03', ip: '10.99.0.13' },
  { fixture: 'dhclient-discover.hex', mac: '52:54:00:99:00:04', ip: '10.99.0.14' },
  { fixture: 'ipxe-efi-discover.hex', mac: '52:54:00:99:00:05', ip: '10.99.0.15' },
];

function instance(settings: DhcpSettings) {
  const t = testProvisioner({ dhcp: settings, serverAddress: settings.serverAddress });
  CLIENTS.forEach((c, i) => t.provisioner.registerMachine({ name: `node-${i + 1}`, macs: [c.mac], ip: c.ip, role: null }));
  return t;
}

function as(fixture: string, mac: string, type: number, extra: Array<[number, Buffer]> = []): DhcpPacket {
  const p = fixturePacket(fixture);
  return { ...p, mac, chaddr: chaddrFromMac(mac), options: new Map([...p.options, [DhcpOption.MessageType, Buffer.of(type)], ...extra]) };
}

function bytes(d: DhcpDecision, mask = false): Buffer | string {
  if (d.kind === 'ignore') return `ignore:${d.code}`;
  if (!mask) return encodeDhcp(d.packet);
  // The instance's own address: server id, siaddr (its TFTP), and 66 when the client asked for it.
  const options = new Map(d.packet.options);
  options.set(DhcpOption.ServerId, ipv4Value('0.0.0.0'));
  if (options.has(DhcpOption.TftpServerName)) options.set(DhcpOption.TftpServerName, Buffer.from('self'));
  return encodeDhcp({ ...d.packet, siaddr: '0.0.0.0', options });
}

describe('active-active: two instances, one inventory', () => {
  it('identical configuration: every OFFER, ACK and NAK is byte-identical, whatever each instance saw before', () => {
    const a = instance(SETTINGS);
    const b = instance(SETTINGS);
    for (const c of CLIENTS) {
      const discover = as(c.fixture, c.mac, T.Discover);
      assert.deepEqual(bytes(a.provisioner.handleDhcp(discover)), bytes(b.provisioner.handleDhcp(discover)), `OFFER to ${c.fixture}`);
      const select = as(c.fixture, c.mac, T.Request, [[54, ipv4Value('10.99.0.1')], [50, ipv4Value(c.ip)]]);
      assert.deepEqual(bytes(a.provisioner.handleDhcp(select)), bytes(b.provisioner.handleDhcp(select)), `ACK to ${c.fixture}`);
      const wrong = as(c.fixture, c.mac, T.Request, [[50, ipv4Value('10.99.0.200')]]);
      assert.deepEqual(bytes(a.provisioner.handleDhcp(wrong)), bytes(b.provisioner.handleDhcp(wrong)), `NAK to ${c.fixture}`);
    }
    // A sees a renewal B never saw: a lease refresh changes no later answer.
    const renew = as('dhclient-discover.hex', '52:54:00:99:00:04', T.Request);
    a.provisioner.handleDhcp({ ...renew, ciaddr: '10.99.0.14' });
    const again = as('dhclient-discover.hex', '52:54:00:99:00:04', T.Discover);
    assert.deepEqual(bytes(a.provisioner.handleDhcp(again)), bytes(b.provisioner.handleDhcp(again)));
  });

  it('different server addresses with dhcp.peers: answers differ only in the server\'s own address (54, siaddr, 66), and the chain state follows the client\'s choice', () => {
    const a = instance({ ...SETTINGS, serverAddress: '10.99.0.1', peers: ['10.99.0.2'] });
    const b = instance({ ...SETTINGS, serverAddress: '10.99.0.2', peers: ['10.99.0.1'] });
    const rom = CLIENTS[0]!;
    const discover = as(rom.fixture, rom.mac, T.Discover);
    const offerA = a.provisioner.handleDhcp(discover);
    const offerB = b.provisioner.handleDhcp(discover);
    assert.deepEqual(bytes(offerA, true), bytes(offerB, true));
    assert.equal(offerA.kind === 'reply' && offerA.packet.file, 'undionly.kpxe');

    // The client picks A. B stays silent but records the same outcome.
    const select = as(rom.fixture, rom.mac, T.Request, [[54, ipv4Value('10.99.0.1')], [50, ipv4Value(rom.ip)]]);
    assert.equal(a.provisioner.handleDhcp(select).kind, 'reply');
    const silent = b.provisioner.handleDhcp(select);
    assert.equal(silent.kind === 'ignore' && silent.code, 'peer-selected');
    assert.equal(b.store.leaseByMac(rom.mac)?.ip, rom.ip);

    // The chained iPXE asks again: both hand it the script (without peers B would chain it again).
    a.clock.t += 5000;
    b.clock.t += 5000;
    const next = as(rom.fixture, rom.mac, T.Discover);
    const nextA = a.provisioner.handleDhcp(next);
    const nextB = b.provisioner.handleDhcp(next);
    assert.equal(nextA.kind === 'reply' && nextA.packet.file, 'http://boot.rack.test:8080/boot.ipxe');
    assert.deepEqual(bytes(nextA, true), bytes(nextB, true));
  });
});
