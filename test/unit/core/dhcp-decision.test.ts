import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientInfo } from '../../../server/core/client-info.js';
import {
  decideDhcp, replyDestination, type DhcpDecision, type DhcpDecisionInput, type DhcpMachine, type DhcpSettings,
} from '../../../server/core/dhcp-decision.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, leaseTime, messageType, serverMessage, uint16Value } from '../../../server/protocol/dhcp/options.js';
import type { DhcpPacket } from '../../../server/protocol/dhcp/packet.js';
import { fixturePacket, loadHexFixture, requestPacket, type RequestShape } from '../../helpers/dhcp-packets.js';

const NOW = 1_700_000_000_000;
const settings: DhcpSettings = {
  serverAddress: '10.98.0.1',
  subnets: [
    { cidr: '10.98.0.0/24', gateway: '10.98.0.1', dns: ['10.98.0.1'], domain: 'rack.test', leaseSeconds: 3600 },
    { cidr: '10.77.0.0/24', dns: [], leaseSeconds: 600 },
  ],
  httpBaseUrl: 'http://10.98.0.1:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: false,
  chainWindowMs: 120_000,
};
const node01: DhcpMachine = { id: 1, name: 'node01', ip: '10.98.0.11', ipxeChainedAt: null };
const node02: DhcpMachine = { id: 2, name: 'node02', ip: '10.98.0.12', ipxeChainedAt: null };
const text = (s: string): Buffer => Buffer.from(s, 'latin1');

function decide(packet: DhcpPacket, over: Partial<Omit<DhcpDecisionInput, 'packet' | 'client'>> = {}): DhcpDecision {
  return decideDhcp({ packet, client: clientInfo(packet), machine: node01, lease: null, settings, now: NOW, ...over });
}

function replyOf(decision: DhcpDecision): Extract<DhcpDecision, { kind: 'reply' }> {
  assert.equal(decision.kind, 'reply', decision.kind === 'ignore' ? `ignored: ${decision.reason}` : '');
  return decision as Extract<DhcpDecision, { kind: 'reply' }>;
}

function ignoredWith(decision: DhcpDecision, reason: RegExp): Extract<DhcpDecision, { kind: 'ignore' }> {
  assert.equal(decision.kind, 'ignore');
  const ignored = decision as Extract<DhcpDecision, { kind: 'ignore' }>;
  assert.match(ignored.reason, reason);
  return ignored;
}

const request = (shape: RequestShape): DhcpPacket => requestPacket({ type: T.Request, ...shape });
const selecting = (extra: RequestShape = {}): DhcpPacket => request({
  ...extra, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')], ...(extra.options ?? [])],
});

describe('DISCOVER -> OFFER', () => {
  it('golden bytes: SeaBIOS iPXE ROM gets its reservation and the boot script URL', () => {
    const d = replyOf(decide(fixturePacket('seabios-ipxe-discover.hex')));
    assert.deepEqual(encodeDhcp(d.packet, { maxSize: d.maxSize }), loadHexFixture('offer-seabios-ipxe.hex'));
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
    assert.equal(d.maxSize, 1444);
    assert.deepEqual(d.effects, { events: [] }, 'an OFFER writes nothing');
  });

  it('golden bytes: OVMF native PXE gets snponly.efi over TFTP, 66/67 because it asked', () => {
    const d = replyOf(decide(fixturePacket('ovmf-x64-discover.hex'), { machine: node02 }));
    assert.deepEqual(encodeDhcp(d.packet), loadHexFixture('offer-ovmf-x64.hex'));
  });

  it('iPXE under EFI: script URL, 175.176 = 1, no 97 when the client sent none', () => {
    const d = replyOf(decide(fixturePacket('ipxe-efi-discover.hex')));
    assert.equal(d.packet.file, 'http://10.98.0.1:8080/boot.ipxe');
    assert.deepEqual(d.packet.options.get(175), Buffer.from('b00101', 'hex'));
    assert.equal(d.packet.options.has(97), false);
    assert.equal(d.packet.flags, 0x8000, 'broadcast flag echoed');
  });

  it('plain dhclient: address and network options, no boot information, no 60/175', () => {
    const d = replyOf(decide(fixturePacket('dhclient-discover.hex')));
    const p = d.packet;
    assert.equal(p.yiaddr, '10.98.0.11');
    assert.equal(p.siaddr, '0.0.0.0');
    assert.equal(p.file, '');
    assert.deepEqual([...p.options.keys()], [53, 54, 51, 58, 59, 1, 28, 3, 6, 15, 12]);
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 }, 'no ARP injection: broadcast');
    assert.equal(d.maxSize, 548);
  });

  it('optional network options are left out when not configured', () => {
    const bare = { ...settings, subnets: [{ cidr: '10.98.0.0/24', dns: [], leaseSeconds: 60 }] };
    const p = replyOf(decide(fixturePacket('dhclient-discover.hex'), { settings: bare })).packet;
    assert.deepEqual([...p.options.keys()], [53, 54, 51, 58, 59, 1, 28, 12]);
    assert.equal(leaseTime(p), 60);
  });

  it('chainloadEmbeddedIpxe: ROM iPXE is handed undionly.kpxe over TFTP (66/67 only when asked)', () => {
    const d = replyOf(decide(fixturePacket('seabios-ipxe-discover.hex'), { settings: { ...settings, chainloadEmbeddedIpxe: true } }));
    assert.equal(d.packet.siaddr, '10.98.0.1');
    assert.equal(d.packet.file, 'undionly.kpxe');
    assert.equal(d.packet.options.get(66)?.toString(), '10.98.0.1');
    assert.equal(d.packet.options.get(67)?.toString(), 'undionly.kpxe');
    const noAsk = requestPacket({ options: [[93, Buffer.of(0, 0)], [60, text('PXEClient:Arch:00000:UNDI:002001')]] });
    const plain = replyOf(decide(noAsk)).packet;
    assert.equal(plain.file, 'undionly.kpxe');
    assert.equal(plain.options.has(66), false);
    assert.equal(plain.options.has(67), false);
  });

  it('UEFI HTTP boot: 60 HTTPClient, URL in file and 67', () => {
    const p = replyOf(decide(requestPacket({ options: [[93, Buffer.of(0, 16)], [60, text('HTTPClient:Arch:00016:UNDI:003001')]] }))).packet;
    assert.equal(p.options.get(60)?.toString(), 'HTTPClient');
    assert.equal(p.file, 'http://10.98.0.1:8080/ipxe/snponly.efi');
    assert.equal(p.options.get(67)?.toString(), 'http://10.98.0.1:8080/ipxe/snponly.efi');
  });

  it('a URL too long for the file field travels in option 67 only', () => {
    const long = { ...settings, httpBaseUrl: `http://${'a'.repeat(120)}.example:8080` };
    const p = replyOf(decide(fixturePacket('seabios-ipxe-discover.hex'), { settings: long })).packet;
    assert.equal(p.file, '');
    assert.equal(p.options.get(67)?.toString(), `${long.httpBaseUrl}/boot.ipxe`);
    assert.doesNotThrow(() => encodeDhcp(p));
  });

  it('PXE client of unknown architecture: address but no boot file', () => {
    const p = replyOf(decide(requestPacket({ options: [[93, Buffer.of(0, 99)], [60, text('PXEClient:Arch:00099:UNDI:003000')]] }))).packet;
    assert.equal(p.yiaddr, '10.98.0.11');
    assert.equal(p.file, '');
    assert.equal(p.options.get(60), undefined, 'no PXEClient in a full-DHCP reply: EDK II would then ask port 4011');
  });

  it('relayed: subnet chosen by giaddr, reply to giaddr:67, 82 echoed last, giaddr and flags kept', () => {
    const relayInfo = Buffer.from('0106000000000001', 'hex');
    const packet = requestPacket({ giaddr: '10.77.0.1', hops: 1, flags: 0x8000, options: [[82, relayInfo], [60, text('PXEClient:Arch:00007:UNDI:003016')]] });
    const d = replyOf(decide(packet, { machine: { ...node01, ip: '10.77.0.50' } }));
    assert.deepEqual(d.destination, { address: '10.77.0.1', port: 67 });
    assert.equal(d.packet.giaddr, '10.77.0.1');
    assert.equal(d.packet.flags, 0x8000);
    assert.equal(d.packet.hops, 0);
    assert.deepEqual([...d.packet.options.keys()].at(-1), 82);
    assert.deepEqual(d.packet.options.get(82), relayInfo);
    assert.equal(leaseTime(d.packet), 600);
    assert.equal(d.packet.options.has(3), false);
  });

  it('broadcast flag off or on: the reply is broadcast either way and echoes the flag', () => {
    for (const flags of [0, 0x8000]) {
      const d = replyOf(decide(requestPacket({ flags })));
      assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
      assert.equal(d.packet.flags, flags);
    }
  });
});

describe('DISCOVER that gets no reply', () => {
  it('unknown MAC: ignored, reported as discovered', () => {
    const packet = fixturePacket('ovmf-x64-discover.hex');
    const d = ignoredWith(decide(packet, { machine: null }), /unknown MAC 52:54:00:99:00:02/);
    assert.deepEqual(d.effects.discovered, clientInfo(packet));
    assert.deepEqual(d.effects.events, []);
  });

  it('reservation outside the subnet the request came from: ignored, with an event for the operator', () => {
    const d = ignoredWith(decide(requestPacket(), { machine: { ...node01, ip: '10.77.0.9' } }), /10\.77\.0\.9 .* outside 10\.98\.0\.0\/24/);
    assert.equal(d.effects.events[0]?.type, 'dhcp-ignored');
    assert.equal(d.effects.events[0]?.machineId, 1);
  });

  it('machine without a reserved IP: ignored', () => {
    ignoredWith(decide(requestPacket(), { machine: { ...node01, ip: null } }), /node01 has no reserved IP/);
  });

  it('server address in no configured subnet: the local network is unknown (DHCP-06)', () => {
    ignoredWith(decide(requestPacket(), { settings: { ...settings, serverAddress: '192.168.1.1' } }), /server address 192\.168\.1\.1 is in no configured subnet/);
    ignoredWith(decide(requestPacket({ giaddr: '172.16.0.1' })), /relay address 172\.16\.0\.1/);
  });

  it('not a client message, too many hops, BOOTP, InfiniBand', () => {
    ignoredWith(decide({ ...requestPacket(), op: 2 }), /op 2 is not a BOOTREQUEST/);
    ignoredWith(decide(requestPacket({ hops: 17 })), /17 hops/);
    const bootp = requestPacket();
    ignoredWith(decide({ ...bootp, options: new Map() }), /plain BOOTP/);
    ignoredWith(decide(fixturePacket('infiniband-discover.hex')), /hardware type 32 .* not Ethernet/);
    ignoredWith(decide(requestPacket({ type: T.Offer })), /OFFER is not a client message/);
  });
});

describe('REQUEST', () => {
  it('SELECTING with our server id and the offered address -> ACK with lease, event and no chain change', () => {
    const d = replyOf(decide(selecting({ options: [[57, uint16Value(1472)]] })));
    assert.equal(messageType(d.packet), T.Ack);
    assert.equal(d.packet.yiaddr, '10.98.0.11');
    assert.equal(leaseTime(d.packet), 3600);
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
    assert.deepEqual(d.effects.lease, { mac: '52:54:00:99:00:01', ip: '10.98.0.11', machineId: 1, expiresAt: NOW + 3_600_000 });
    assert.equal(d.effects.chain, undefined);
    assert.equal(d.effects.events.length, 1);
    const event = d.effects.events[0];
    assert.equal(event?.type, 'dhcp-os', 'a plain DHCP client is an OS, not a network boot');
    assert.equal(event?.machineId, 1);
    assert.equal(event?.mac, '52:54:00:99:00:01');
    assert.deepEqual(event?.data, {
      ip: '10.98.0.11', state: 'selecting', arch: null, firmware: 'unknown', previousLeaseIp: null,
      bootTarget: { kind: 'none', reason: 'not a network-boot client', rule: 'plain-dhcp' },
    });
  });

  it('SELECTING another server -> silence', () => {
    const packet = request({ options: [[54, ipv4Value('10.98.0.254')], [50, ipv4Value('10.98.0.11')]] });
    const d = ignoredWith(decide(packet), /selected server 10\.98\.0\.254/);
    assert.deepEqual(d.effects, { events: [] });
  });

  it('SELECTING us with a different address -> NAK, broadcast, with a message', () => {
    const packet = request({ options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.99')]] });
    const d = replyOf(decide(packet));
    assert.equal(messageType(d.packet), T.Nak);
    assert.equal(d.packet.yiaddr, '0.0.0.0');
    assert.deepEqual([...d.packet.options.keys()], [53, 54, 56]);
    assert.equal(serverMessage(d.packet), '10.98.0.99 is not reserved for this client');
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
    assert.equal(d.effects.events[0]?.type, 'dhcp-nak');
    assert.equal(d.effects.lease, undefined);
  });

  it('INIT-REBOOT with the reserved address -> ACK; from the wrong subnet -> NAK', () => {
    const ok = replyOf(decide(request({ options: [[50, ipv4Value('10.98.0.11')]] })));
    assert.equal(messageType(ok.packet), T.Ack);
    assert.equal(ok.effects.events[0]?.data?.['state'], 'init-reboot');
    const moved = replyOf(decide(request({ options: [[50, ipv4Value('192.168.5.5')]] })));
    assert.equal(messageType(moved.packet), T.Nak);
    assert.equal(serverMessage(moved.packet), '192.168.5.5 is not on this network');
  });

  it('INIT-REBOOT from an unknown client -> silence (discovered)', () => {
    const d = ignoredWith(decide(request({ options: [[50, ipv4Value('10.98.0.40')]] }), { machine: null }), /unknown MAC/);
    assert.ok(d.effects.discovered);
  });

  it('RENEWING (ciaddr, unicast) -> ACK to ciaddr:68, ciaddr echoed, dhcp-os event', () => {
    const d = replyOf(decide(request({ ciaddr: '10.98.0.11' }), { lease: { ip: '10.98.0.11', expiresAt: NOW + 1000 } }));
    assert.equal(messageType(d.packet), T.Ack);
    assert.deepEqual(d.destination, { address: '10.98.0.11', port: 68 });
    assert.equal(d.packet.ciaddr, '10.98.0.11');
    assert.equal(d.effects.events[0]?.type, 'dhcp-os');
    assert.equal(d.effects.events[0]?.data?.['state'], 'renewing');
    assert.equal(d.effects.events[0]?.data?.['previousLeaseIp'], '10.98.0.11');
    assert.ok(d.effects.lease);
  });

  it('REBINDING (ciaddr, broadcast flag) -> ACK to ciaddr:68', () => {
    const d = replyOf(decide(request({ ciaddr: '10.98.0.11', flags: 0x8000 })));
    assert.deepEqual(d.destination, { address: '10.98.0.11', port: 68 });
  });

  it('RENEWING an address that is not the reservation -> NAK, broadcast (never to ciaddr)', () => {
    const d = replyOf(decide(request({ ciaddr: '10.98.0.77' })));
    assert.equal(messageType(d.packet), T.Nak);
    assert.equal(d.packet.ciaddr, '0.0.0.0');
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
  });

  it('relayed NAK goes to the relay with the broadcast bit set (RFC 2131 §4.3.2), 82 echoed', () => {
    const packet = request({ giaddr: '10.77.0.1', options: [[50, ipv4Value('10.77.0.99')], [82, Buffer.from('0103616263', 'hex')]] });
    const d = replyOf(decide(packet, { machine: { ...node01, ip: '10.77.0.50' } }));
    assert.equal(messageType(d.packet), T.Nak);
    assert.deepEqual(d.destination, { address: '10.77.0.1', port: 67 });
    assert.equal(d.packet.flags & 0x8000, 0x8000);
    assert.deepEqual([...d.packet.options.keys()].at(-1), 82);
  });

  it('REQUEST with neither 54, 50 nor ciaddr -> ignored', () => {
    ignoredWith(decide(request({})), /without server id/);
  });

  it('REQUEST from a machine whose reservation was removed -> silence', () => {
    ignoredWith(decide(selecting(), { machine: { ...node01, ip: null } }), /no reserved IP/);
  });
});

describe('ACK effects: the iPXE chain loop-break state', () => {
  const chaining = { ...settings, chainloadEmbeddedIpxe: true };
  const romIpxe = fixturePacket('seabios-ipxe-discover.hex');
  const ipxeRequest: DhcpPacket = {
    ...romIpxe,
    options: new Map([...romIpxe.options, [53, Buffer.of(T.Request)], [54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]]),
  };

  it('ROM iPXE handed rackboot\'s iPXE binary -> chain set, dhcp event', () => {
    const d = replyOf(decide(ipxeRequest, { settings: chaining }));
    assert.equal(d.effects.events[0]?.type, 'dhcp');
    assert.equal(d.packet.file, 'undionly.kpxe');
    assert.equal(d.effects.chain, 'set');
  });

  it('the chained iPXE (identical on the wire) within the window -> script, chain cleared', () => {
    const d = replyOf(decide(ipxeRequest, { settings: chaining, machine: { ...node01, ipxeChainedAt: NOW - 5000 } }));
    assert.equal(d.packet.file, 'http://10.98.0.1:8080/boot.ipxe');
    assert.equal(d.effects.chain, 'clear');
  });

  it('native PXE handed an iPXE binary -> chain set too, so its iPXE is not handed another', () => {
    const ovmf = fixturePacket('ovmf-x64-discover.hex');
    const req: DhcpPacket = { ...ovmf, options: new Map([...ovmf.options, [53, Buffer.of(T.Request)], [54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.12')]]) };
    const d = replyOf(decide(req, { machine: node02 }));
    assert.equal(d.packet.file, 'snponly.efi');
    assert.equal(d.effects.chain, 'set');
  });

  it('iPXE script without prior chain state -> no chain write', () => {
    const d = replyOf(decide(ipxeRequest));
    assert.equal(d.effects.chain, undefined);
    assert.equal((d.effects.events[0]?.data?.['bootTarget'] as { rule: string }).rule, 'ipxe-script');
  });
});

describe('DECLINE, RELEASE, INFORM', () => {
  it('DECLINE -> no reply, event, lease released', () => {
    const d = ignoredWith(decide(requestPacket({ type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]] })), /DECLINE recorded/);
    assert.equal(d.effects.releaseLease, true);
    assert.equal(d.effects.events[0]?.type, 'dhcp-declined');
    assert.match(d.effects.events[0]?.message ?? '', /declined 10\.98\.0\.11/);
  });

  it('DECLINE or RELEASE addressed to another server -> ignored without effects', () => {
    for (const type of [T.Decline, T.Release]) {
      const d = ignoredWith(decide(requestPacket({ type, options: [[54, ipv4Value('10.98.0.9')]] })), /addressed to server 10\.98\.0\.9/);
      assert.deepEqual(d.effects, { events: [] });
    }
  });

  it('RELEASE -> no reply, lease released', () => {
    const d = ignoredWith(decide(requestPacket({ type: T.Release, ciaddr: '10.98.0.11', options: [[54, ipv4Value('10.98.0.1')]] })), /RELEASE recorded/);
    assert.equal(d.effects.releaseLease, true);
    assert.equal(d.effects.events[0]?.type, 'dhcp-release');
  });

  it('INFORM -> ACK to ciaddr:68 with configuration only: no 51, yiaddr 0, no lease write', () => {
    const d = replyOf(decide(requestPacket({ type: T.Inform, ciaddr: '10.98.0.11' })));
    assert.equal(messageType(d.packet), T.Ack);
    assert.equal(d.packet.yiaddr, '0.0.0.0');
    assert.equal(d.packet.ciaddr, '10.98.0.11');
    assert.equal(d.packet.options.has(51), false);
    assert.deepEqual([...d.packet.options.keys()], [53, 54, 1, 28, 3, 6, 15, 12]);
    assert.deepEqual(d.destination, { address: '10.98.0.11', port: 68 });
    assert.deepEqual(d.effects, { events: [] });
  });

  it('INFORM from outside the subnet -> ignored', () => {
    ignoredWith(decide(requestPacket({ type: T.Inform, ciaddr: '172.16.0.5' })), /outside 10\.98\.0\.0\/24/);
  });
});

describe('replyDestination (RFC 2131 §4.1)', () => {
  it('covers each branch', () => {
    assert.deepEqual(replyDestination(requestPacket({ giaddr: '10.77.0.1', ciaddr: '10.77.0.5' }), T.Ack), { address: '10.77.0.1', port: 67 });
    assert.deepEqual(replyDestination(requestPacket({ giaddr: '10.77.0.1' }), T.Nak), { address: '10.77.0.1', port: 67 });
    assert.deepEqual(replyDestination(requestPacket({ ciaddr: '10.98.0.5' }), T.Ack), { address: '10.98.0.5', port: 68 });
    assert.deepEqual(replyDestination(requestPacket({ ciaddr: '10.98.0.5' }), T.Nak), { address: '255.255.255.255', port: 68 });
    assert.deepEqual(replyDestination(requestPacket({ flags: 0x8000 }), T.Offer), { address: '255.255.255.255', port: 68 });
    assert.deepEqual(replyDestination(requestPacket(), T.Offer), { address: '255.255.255.255', port: 68 });
  });
});
