/**
 * The decision beyond static reservations: T1/T2, proxyDHCP (ports 67 and 4011), the optional
 * dynamic pool, DECLINE quarantine and active-active peers. Golden bytes are hand-written fixtures.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientInfo } from '../../../server/core/client-info.js';
import {
  decideDhcp, type DhcpAddressBook, type DhcpDecision, type DhcpDecisionInput, type DhcpMachine, type DhcpSettings,
} from '../../../server/core/dhcp-decision.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType, readUint32 } from '../../../server/protocol/dhcp/options.js';
import type { DhcpPacket } from '../../../server/protocol/dhcp/packet.js';
import { fixturePacket, loadHexFixture, requestPacket, type RequestShape } from '../../helpers/dhcp-packets.js';

const NOW = 1_700_000_000_000;
const base: DhcpSettings = {
  serverAddress: '10.98.0.1',
  subnets: [
    { cidr: '10.98.0.0/24', gateway: '10.98.0.1', dns: ['10.98.0.1'], domain: 'rack.test', leaseSeconds: 3600 },
    { cidr: '10.77.0.0/24', dns: [], leaseSeconds: 600, pool: { start: '10.77.0.100', end: '10.77.0.102' } },
  ],
  httpBaseUrl: 'http://10.98.0.1:8080',
  bootFiles: { bios: 'undionly.kpxe', efiX64: 'snponly.efi', efiArm64: 'ipxe-arm64.efi' },
  chainloadEmbeddedIpxe: false,
  chainWindowMs: 120_000,
};
const proxy: DhcpSettings = { ...base, mode: 'proxy' };
const node01: DhcpMachine = { id: 1, name: 'node01', ip: '10.98.0.11', ipxeChainedAt: null };
const node02: DhcpMachine = { id: 2, name: 'node02', ip: '10.98.0.12', ipxeChainedAt: null };
const node03: DhcpMachine = { id: 3, name: 'node03', ip: '10.98.0.13', ipxeChainedAt: null };
const text = (s: string): Buffer => Buffer.from(s, 'latin1');
const book = (...taken: string[]): DhcpAddressBook => ({ unavailableFor: () => new Set(taken) });

function decide(packet: DhcpPacket, over: Partial<Omit<DhcpDecisionInput, 'packet' | 'client'>> = {}): DhcpDecision {
  return decideDhcp({ packet, client: clientInfo(packet), machine: node01, lease: null, settings: base, now: NOW, ...over });
}
function replyOf(d: DhcpDecision): Extract<DhcpDecision, { kind: 'reply' }> {
  assert.equal(d.kind, 'reply', d.kind === 'ignore' ? `ignored (${d.code}): ${d.reason}` : '');
  return d as Extract<DhcpDecision, { kind: 'reply' }>;
}
function ignoredAs(d: DhcpDecision, code: string): Extract<DhcpDecision, { kind: 'ignore' }> {
  assert.equal(d.kind, 'ignore', 'expected silence');
  const ignored = d as Extract<DhcpDecision, { kind: 'ignore' }>;
  assert.equal(ignored.code, code, ignored.reason);
  return ignored;
}
const request = (shape: RequestShape): DhcpPacket => requestPacket({ type: T.Request, ...shape });
const with53 = (p: DhcpPacket, type: number, extra: Array<[number, Buffer]> = []): DhcpPacket =>
  ({ ...p, options: new Map([...p.options, [53, Buffer.of(type)], ...extra]) });

describe('T1/T2 (options 58/59)', () => {
  it('OFFER and ACK carry 0.5 and 0.875 of the lease right after 51', () => {
    for (const packet of [requestPacket(), request({ options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]] })]) {
      const p = replyOf(decide(packet)).packet;
      assert.deepEqual([...p.options.keys()].slice(0, 5), [53, 54, 51, 58, 59]);
      assert.equal(readUint32(p.options.get(58)), 1800);
      assert.equal(readUint32(p.options.get(59)), 3150);
    }
  });

  it('odd lease times round down; INFORM and NAK carry none', () => {
    const odd = { ...base, subnets: [{ ...base.subnets[0]!, leaseSeconds: 601 }] };
    const p = replyOf(decide(requestPacket(), { settings: odd })).packet;
    assert.equal(readUint32(p.options.get(58)), 300);
    assert.equal(readUint32(p.options.get(59)), 525);
    const inform = replyOf(decide(requestPacket({ type: T.Inform, ciaddr: '10.98.0.11' }))).packet;
    const nak = replyOf(decide(request({ options: [[50, ipv4Value('10.98.0.99')]] }))).packet;
    for (const reply of [inform, nak]) for (const code of [51, 58, 59]) assert.equal(reply.options.has(code), false);
  });
});

describe('proxyDHCP, port 67 (DHCP-40/41)', () => {
  it('golden bytes: native BIOS PXE gets yiaddr 0, PXEClient, 43 {6:[8]} and the NBP', () => {
    const d = replyOf(decide(fixturePacket('bios-pxe-discover.hex'), { settings: proxy, machine: node03 }));
    assert.deepEqual(encodeDhcp(d.packet, { maxSize: d.maxSize }), loadHexFixture('proxy-offer-bios.hex'));
    assert.deepEqual(d.destination, { address: '255.255.255.255', port: 68 });
    assert.equal(d.effects.chain, 'set', 'BIOS boots the file from this offer: no 4011 step');
    assert.equal(d.effects.events[0]?.type, 'dhcp');
    assert.equal(d.effects.lease, undefined, 'a proxy never leases');
  });

  it('golden bytes: OVMF (UEFI) gets no option 43 and nothing recorded until its 4011 request', () => {
    const d = replyOf(decide(fixturePacket('ovmf-x64-discover.hex'), { settings: proxy, machine: node02 }));
    assert.deepEqual(encodeDhcp(d.packet, { maxSize: d.maxSize }), loadHexFixture('proxy-offer-ovmf-x64.hex'));
    assert.deepEqual(d.effects, { events: [] });
  });

  it('iPXE gets the script URL with 54 and 97 but no addressing options; broadcast flag set even when the client cleared it', () => {
    const d = replyOf(decide(fixturePacket('seabios-ipxe-discover.hex'), { settings: proxy }));
    const p = d.packet;
    assert.equal(p.yiaddr, '0.0.0.0');
    assert.equal(p.flags & 0x8000, 0x8000);
    assert.equal(p.file, 'http://10.98.0.1:8080/boot.ipxe');
    assert.equal(p.siaddr, '10.98.0.1');
    assert.equal(p.options.get(60)?.toString(), 'PXEClient');
    assert.ok(p.options.has(54) && p.options.has(97));
    for (const code of [1, 3, 6, 51, 58, 59, 12]) assert.equal(p.options.has(code), false, `option ${code}`);
  });

  it('relayed: reply to giaddr:67 with 82 last', () => {
    const relayed = { ...fixturePacket('bios-pxe-discover.hex'), giaddr: '10.77.0.1', hops: 1 };
    const packet = with53(relayed, T.Discover, [[82, Buffer.from('0104deadbeef', 'hex')]]);
    const d = replyOf(decide(packet, { settings: proxy, machine: node03 }));
    assert.deepEqual(d.destination, { address: '10.77.0.1', port: 67 });
    assert.equal([...d.packet.options.keys()].at(-1), 82);
  });

  it('stays silent for non-PXE clients, PXE without option 93, REQUESTs (the site server\'s), unknown MACs', () => {
    ignoredAs(decide(fixturePacket('dhclient-discover.hex'), { settings: proxy }), 'proxy-not-pxe');
    ignoredAs(decide(requestPacket({ options: [[60, text('PXEClient:Arch:00000:UNDI:002001')]] }), { settings: proxy }), 'proxy-not-pxe');
    const req = with53(fixturePacket('bios-pxe-discover.hex'), T.Request, [[54, ipv4Value('10.98.0.254')], [50, ipv4Value('10.98.0.77')]]);
    const silent = ignoredAs(decide(req, { settings: proxy, machine: node03 }), 'proxy-not-discover');
    assert.deepEqual(silent.effects, { events: [] });
    const unknown = ignoredAs(decide(fixturePacket('bios-pxe-discover.hex'), { settings: proxy, machine: null }), 'unknown-mac');
    assert.ok(unknown.effects.discovered);
  });

  it('nothing to boot (unsupported architecture): silence, not an empty offer', () => {
    const p = requestPacket({ options: [[93, Buffer.of(0, 2)], [60, text('PXEClient:Arch:00002:UNDI:003000')]] });
    ignoredAs(decide(p, { settings: proxy }), 'no-boot-target');
  });
});

describe('proxyDHCP, port 4011 (DHCP-42)', () => {
  const source = { address: '10.98.0.50', port: 4011 };

  it('golden bytes: OVMF boot-server REQUEST -> ACK with the file, 43.71 echoed, back to its source', () => {
    const d = replyOf(decide(fixturePacket('ovmf-x64-request-4011.hex'), { settings: proxy, machine: node02, localPort: 4011, source }));
    assert.deepEqual(encodeDhcp(d.packet, { maxSize: d.maxSize }), loadHexFixture('proxy-ack-ovmf-4011.hex'));
    assert.deepEqual(d.destination, source);
    assert.equal(d.effects.chain, 'set');
    assert.equal(d.effects.events[0]?.type, 'dhcp');
    assert.equal(d.effects.events[0]?.data?.['ip'], '10.98.0.50');
  });

  it('no 43 in the ACK when the request had no boot item; DISCOVER on 4011 is ignored', () => {
    const plain = fixturePacket('ovmf-x64-request-4011.hex');
    const options = new Map(plain.options);
    options.delete(43);
    const d = replyOf(decide({ ...plain, options }, { settings: proxy, machine: node02, localPort: 4011, source }));
    assert.equal(d.packet.options.has(43), false);
    ignoredAs(decide(with53(plain, T.Discover), { settings: proxy, machine: node02, localPort: 4011, source }), 'proxy-not-discover');
  });
});

describe('dynamic pool (unknown MACs, subnet 10.77.0.0/24 through a relay)', () => {
  const mac = '52:54:00:77:00:01';
  const relayed = (shape: RequestShape = {}): DhcpPacket => requestPacket({ mac, giaddr: '10.77.0.1', ...shape });
  const pool = (packet: DhcpPacket, over: Partial<Omit<DhcpDecisionInput, 'packet' | 'client'>> = {}): DhcpDecision =>
    decide(packet, { machine: null, addresses: book(), ...over });

  it('unknown MAC on a subnet without a pool: silence, discovered (the safe default)', () => {
    const d = ignoredAs(decide(requestPacket({ mac }), { machine: null }), 'unknown-mac');
    assert.ok(d.effects.discovered);
  });

  it('DISCOVER -> the lowest free address, held for 30 s, still reported as discovered, no host name', () => {
    const d = replyOf(pool(relayed(), { addresses: book('10.77.0.100') }));
    assert.equal(messageType(d.packet), T.Offer);
    assert.equal(d.packet.yiaddr, '10.77.0.101');
    assert.deepEqual(d.effects.lease, { mac, ip: '10.77.0.101', machineId: null, expiresAt: NOW + 30_000 });
    assert.ok(d.effects.discovered);
    assert.equal(d.packet.options.has(12), false);
    assert.deepEqual(d.destination, { address: '10.77.0.1', port: 67 });
  });

  it('prefers the client\'s current lease, then its requested address', () => {
    const lease = { ip: '10.77.0.102', expiresAt: NOW + 600_000 };
    const current = replyOf(pool(relayed(), { lease }));
    assert.equal(current.packet.yiaddr, '10.77.0.102');
    assert.equal(current.effects.lease?.expiresAt, lease.expiresAt, 'an OFFER never shortens a lease');
    const asked = replyOf(pool(relayed({ options: [[50, ipv4Value('10.77.0.101')]] })));
    assert.equal(asked.packet.yiaddr, '10.77.0.101');
    const outside = replyOf(pool(relayed({ options: [[50, ipv4Value('10.77.0.7')]] })));
    assert.equal(outside.packet.yiaddr, '10.77.0.100');
  });

  it('exhausted: no reply, a pool-exhausted code (counted and logged by the service), no hang', () => {
    const started = Date.now();
    const d = ignoredAs(pool(relayed(), { addresses: book('10.77.0.100', '10.77.0.101', '10.77.0.102') }), 'pool-exhausted');
    assert.match(d.reason, /pool 10\.77\.0\.100-10\.77\.0\.102 of 10\.77\.0\.0\/24 is exhausted/);
    assert.ok(d.effects.discovered);
    assert.ok(Date.now() - started < 100);
  });

  it('REQUEST (selecting us) -> ACK, full lease written, pool event; another server -> our held offer is freed', () => {
    const lease = { ip: '10.77.0.100', expiresAt: NOW + 30_000 };
    const sel = relayed({ type: T.Request, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.77.0.100')]] });
    const d = replyOf(pool(sel, { lease }));
    assert.equal(messageType(d.packet), T.Ack);
    assert.deepEqual(d.effects.lease, { mac, ip: '10.77.0.100', machineId: null, expiresAt: NOW + 600_000 });
    assert.equal(d.effects.events[0]?.data?.['pool'], true);
    const other = relayed({ type: T.Request, options: [[54, ipv4Value('10.77.0.254')], [50, ipv4Value('10.77.0.55')]] });
    assert.equal(ignoredAs(pool(other, { lease }), 'other-server').effects.releaseLease, true);
    assert.equal(ignoredAs(pool(other, { lease: { ip: '10.77.0.100', expiresAt: NOW + 600_000 } }), 'other-server').effects.releaseLease, undefined, 'a bound lease is kept');
  });

  it('REQUEST for an address someone else holds -> NAK', () => {
    const sel = relayed({ type: T.Request, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.77.0.101')]] });
    assert.equal(messageType(replyOf(pool(sel, { addresses: book('10.77.0.101') })).packet), T.Nak);
  });

  it('INIT-REBOOT / RENEWING: silent without a record, ACK when it matches, NAK when it does not', () => {
    const reboot = relayed({ type: T.Request, options: [[50, ipv4Value('10.77.0.100')]] });
    ignoredAs(pool(reboot), 'not-ours');
    assert.equal(messageType(replyOf(pool(reboot, { lease: { ip: '10.77.0.100', expiresAt: NOW + 1 } })).packet), T.Ack);
    assert.equal(messageType(replyOf(pool(reboot, { lease: { ip: '10.77.0.101', expiresAt: NOW + 1 } })).packet), T.Nak);
    const renew = relayed({ type: T.Request, ciaddr: '10.77.0.100' });
    ignoredAs(pool(renew), 'not-ours');
    const ok = replyOf(pool(renew, { lease: { ip: '10.77.0.100', expiresAt: NOW + 1 } }));
    assert.equal(messageType(ok.packet), T.Ack);
    assert.deepEqual(ok.destination, { address: '10.77.0.1', port: 67 });
  });

  it('DECLINE -> the address is quarantined for declineMs and the lease released; RELEASE frees it', () => {
    const lease = { ip: '10.77.0.100', expiresAt: NOW + 600_000 };
    const decline = relayed({ type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.77.0.100')]] });
    const d = ignoredAs(pool(decline, { lease, settings: { ...base, declineMs: 60_000 } }), 'declined');
    assert.deepEqual(d.effects.decline, { ip: '10.77.0.100', until: NOW + 60_000 });
    assert.equal(d.effects.releaseLease, true);
    assert.equal(d.effects.events[0]?.type, 'dhcp-declined');
    const release = relayed({ type: T.Release, ciaddr: '10.77.0.100', options: [[54, ipv4Value('10.98.0.1')]] });
    assert.equal(ignoredAs(pool(release, { lease }), 'released').effects.releaseLease, true);
    assert.equal(ignoredAs(pool(release), 'released').effects.releaseLease, undefined);
  });

  it('an iPXE client from the pool gets the script, never an iPXE binary (no chain loop without state)', () => {
    const ipxe = fixturePacket('seabios-ipxe-discover.hex');
    const chaining = { ...base, chainloadEmbeddedIpxe: true };
    const d = replyOf(pool({ ...ipxe, giaddr: '10.77.0.1' }, { settings: chaining }));
    assert.equal(d.packet.file, 'http://10.98.0.1:8080/boot.ipxe');
  });
});

describe('DECLINE of a reservation, and active-active peers', () => {
  it('a declined reserved address is quarantined too, with an event for the operator', () => {
    const d = ignoredAs(decide(requestPacket({ type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]] })), 'declined');
    assert.deepEqual(d.effects.decline, { ip: '10.98.0.11', until: NOW + 600_000 });
  });

  it('REQUEST selecting a peer: no reply, but the same lease, chain and event are recorded here', () => {
    const peers = { ...base, peers: ['10.98.0.2'], chainloadEmbeddedIpxe: true };
    const rom = fixturePacket('seabios-ipxe-discover.hex');
    const toPeer = with53(rom, T.Request, [[54, ipv4Value('10.98.0.2')], [50, ipv4Value('10.98.0.11')]]);
    const toUs = with53(rom, T.Request, [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]]);
    const mirrored = ignoredAs(decide(toPeer, { settings: peers }), 'peer-selected');
    const answered = replyOf(decide(toUs, { settings: peers }));
    assert.deepEqual(mirrored.effects.lease, answered.effects.lease);
    assert.equal(mirrored.effects.chain, 'set');
    assert.equal(mirrored.effects.events[0]?.data?.['servedBy'], '10.98.0.2');
    const stranger = ignoredAs(decide(with53(rom, T.Request, [[54, ipv4Value('10.98.0.9')], [50, ipv4Value('10.98.0.11')]]), { settings: peers }), 'other-server');
    assert.deepEqual(stranger.effects, { events: [] });
  });
});

describe('DECLINE budgets (issue 15: 51 DECLINEs from random MACs emptied the pool)', () => {
  // A pool of 50 addresses: 10% is 5 holds.
  const wide: DhcpSettings = {
    ...base,
    subnets: [base.subnets[0]!, { cidr: '10.77.0.0/24', dns: [], leaseSeconds: 600, pool: { start: '10.77.0.100', end: '10.77.0.149' } }],
  };
  const declineFrom = (mac: string, ip: string): DhcpPacket =>
    requestPacket({ mac, giaddr: '10.77.0.1', type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value(ip)]] });
  const holds = (...entries: Array<[string, string | null]>): DhcpAddressBook => ({
    unavailableFor: () => new Set(entries.map(([ip]) => ip)),
    declinedAddresses: () => entries.map(([ip, mac]) => ({ ip, mac })),
  });
  const randomMac = (i: number): string => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const five = Array.from({ length: 5 }, (_, i): [string, string] => [`10.77.0.${100 + i}`, randomMac(i)]);

  it('at most declineMaxPoolPercent of a pool is held: beyond it a DECLINE is counted (its own code), not honoured, and writes no event', () => {
    const under = ignoredAs(decide(declineFrom(randomMac(9), '10.77.0.120'), { machine: null, settings: wide, addresses: holds(...five.slice(0, 4)) }), 'declined');
    assert.equal(under.effects.decline?.ip, '10.77.0.120');
    const over = ignoredAs(decide(declineFrom(randomMac(9), '10.77.0.120'), { machine: null, settings: wide, addresses: holds(...five) }), 'decline-over-budget');
    assert.equal(over.effects.decline, undefined);
    assert.deepEqual(over.effects.events, []);
    assert.match(over.reason, /5 of 50 pool addresses are already held by DECLINEs \(limit 5/);
    const wider = ignoredAs(decide(declineFrom(randomMac(9), '10.77.0.120'), { machine: null, settings: { ...wide, declineMaxPoolPercent: 20 }, addresses: holds(...five) }), 'declined');
    assert.ok(wider.effects.decline);
  });

  it('one hold per MAC: a MAC that already holds an address moves its hold (it does not count against the budget twice)', () => {
    const [first] = five;
    const again = ignoredAs(decide(declineFrom(first![1], '10.77.0.130'), { machine: null, settings: wide, addresses: holds(...five) }), 'declined');
    assert.equal(again.effects.decline?.ip, '10.77.0.130');
  });

  it('a pool of fewer than 10 addresses still honours one hold', () => {
    ignoredAs(decide(declineFrom(randomMac(1), '10.77.0.100'), { machine: null, addresses: holds() }), 'declined');
    ignoredAs(decide(declineFrom(randomMac(2), '10.77.0.101'), { machine: null, addresses: holds(['10.77.0.100', randomMac(1)]) }), 'decline-over-budget');
  });

  it('MACs not in the inventory get shorter holds (declineUnknownMs, never longer than declineMs)', () => {
    const d = ignoredAs(decide(declineFrom(randomMac(1), '10.77.0.120'), { machine: null, settings: wide, addresses: holds() }), 'declined');
    assert.equal(d.effects.decline?.until, NOW + 60_000, 'default 1 minute');
    const custom = ignoredAs(decide(declineFrom(randomMac(1), '10.77.0.120'), { machine: null, settings: { ...wide, declineUnknownMs: 30_000 }, addresses: holds() }), 'declined');
    assert.equal(custom.effects.decline?.until, NOW + 30_000);
    const known = ignoredAs(decide(requestPacket({ type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]] }), { settings: wide }), 'declined');
    assert.equal(known.effects.decline?.until, NOW + 600_000, 'a machine in the inventory keeps declineMs');
  });

  it('a machine in the inventory declining a pool address is bounded the same way; its own reservation never is', () => {
    const poolIp = requestPacket({ type: T.Decline, giaddr: '10.77.0.1', options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.77.0.120')]] });
    ignoredAs(decide(poolIp, { machine: { ...node01, ip: '10.77.0.20' }, settings: wide, addresses: holds(...five) }), 'decline-over-budget');
    const own = requestPacket({ type: T.Decline, options: [[54, ipv4Value('10.98.0.1')], [50, ipv4Value('10.98.0.11')]] });
    ignoredAs(decide(own, { settings: wide, addresses: holds(...five) }), 'declined');
  });

  it('51 DECLINEs from random MACs (replayed against the decision with the holds it creates) leave the pool 90% usable', () => {
    const held = new Map<string, string>();
    for (let i = 0; i < 51; i += 1) {
      const ip = `10.77.0.${100 + (i % 50)}`;
      const d = decide(declineFrom(randomMac(100 + i), ip), { machine: null, settings: wide, addresses: holds(...[...held].map(([a, m]): [string, string] => [a, m])) });
      if (d.effects.decline) held.set(d.effects.decline.ip, randomMac(100 + i));
    }
    assert.equal(held.size, 5);
    const offer = replyOf(decide(requestPacket({ mac: randomMac(999), giaddr: '10.77.0.1' }), { machine: null, settings: wide, addresses: holds(...held) }));
    assert.ok(!held.has(offer.packet.yiaddr));
  });
});
