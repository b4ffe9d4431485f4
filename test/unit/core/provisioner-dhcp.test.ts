import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DhcpSettings } from '../../../server/core/dhcp-decision.js';
import { DhcpMessageType, DhcpOption } from '../../../server/protocol/dhcp/constants.js';
import { chaddrFromMac, type DhcpPacket } from '../../../server/protocol/dhcp/packet.js';
import { fixturePacket } from '../../helpers/dhcp-packets.js';
import { TEST_DHCP, testProvisioner } from '../../helpers/provisioner.js';

const MAC = '52:54:00:99:00:01';
const SETTINGS: DhcpSettings = TEST_DHCP;

function as(packet: DhcpPacket, mac: string, type: number, extra: Array<[number, Buffer]> = []): DhcpPacket {
  const options = new Map(packet.options);
  options.set(DhcpOption.MessageType, Buffer.of(type));
  for (const [code, value] of extra) options.set(code, value);
  return { ...packet, mac, chaddr: chaddrFromMac(mac), options };
}

function setup() {
  const t = testProvisioner({ dhcp: SETTINGS });
  const machine = t.provisioner.registerMachine({ name: 'blade-01', macs: [MAC], ip: '10.99.0.11', role: null });
  return { ...t, machine };
}

test('ROM iPXE is chained to rackboot undionly.kpxe once, then the chained iPXE gets the script URL', () => {
  const { provisioner, store, machine, clock } = setup();
  const rom = fixturePacket('seabios-ipxe-discover.hex');
  const serverId: [number, Buffer] = [DhcpOption.ServerId, Buffer.from([10, 99, 0, 1])];
  const requested: [number, Buffer] = [DhcpOption.RequestedIp, Buffer.from([10, 99, 0, 11])];

  const offer = provisioner.handleDhcp(as(rom, MAC, DhcpMessageType.Discover));
  assert.equal(offer.kind, 'reply');
  assert.equal(offer.kind === 'reply' && offer.packet.yiaddr, '10.99.0.11');
  assert.equal(offer.kind === 'reply' && offer.packet.file, 'undionly.kpxe');
  assert.equal(store.leaseByMac(MAC), null, 'an OFFER writes no lease');

  const ack = provisioner.handleDhcp(as(rom, MAC, DhcpMessageType.Request, [serverId, requested]));
  assert.equal(ack.kind === 'reply' && ack.packet.file, 'undionly.kpxe');
  assert.equal(store.leaseByMac(MAC)?.ip, '10.99.0.11', 'the ACK is preceded by a durable lease');
  assert.equal(store.machineById(machine.id)?.ipxeChainedAt, clock.t);
  assert.equal(store.machineById(machine.id)?.state, 'dhcp');

  clock.t += 5_000; // the chained undionly.kpxe asks again, identical on the wire
  const second = provisioner.handleDhcp(as(rom, MAC, DhcpMessageType.Discover));
  assert.equal(second.kind === 'reply' && second.packet.file, 'http://10.99.0.1:8080/boot.ipxe');
  const secondAck = provisioner.handleDhcp(as(rom, MAC, DhcpMessageType.Request, [serverId, requested]));
  assert.equal(secondAck.kind === 'reply' && secondAck.packet.file, 'http://10.99.0.1:8080/boot.ipxe');
  assert.equal(store.machineById(machine.id)?.ipxeChainedAt, null, 'the next boot chains again');
  const dhcpEvents = store.listEvents({ machineId: machine.id }).filter((e) => e.type === 'dhcp');
  assert.equal(dhcpEvents.length, 2, 'one event per ACK, none per OFFER');
});

test('an unknown MAC gets no answer and is recorded as discovered once, with its firmware facts', () => {
  const { provisioner, store } = setup();
  const uefi = fixturePacket('ovmf-x64-discover.hex');
  const stranger = '52:54:00:99:00:99';
  for (let i = 0; i < 3; i++) {
    const decision = provisioner.handleDhcp(as(uefi, stranger, DhcpMessageType.Discover));
    assert.equal(decision.kind, 'ignore');
  }
  const discovered = store.listDiscovered();
  assert.equal(discovered.length, 1);
  assert.equal(discovered[0]?.sightings, 3);
  assert.equal(discovered[0]?.facts.firmware, 'uefi');
  assert.equal(store.listEvents({}).filter((e) => e.type === 'discovered').length, 1);
});

test('the booted OS renewing its lease does not look like a new PXE boot', () => {
  const { provisioner, store, machine } = setup();
  const plain = fixturePacket('dhclient-discover.hex');
  store.setState(machine.id, 'ready', 1);
  const offer = provisioner.handleDhcp(as(plain, MAC, DhcpMessageType.Discover));
  assert.equal(offer.kind, 'reply');
  const ack = provisioner.handleDhcp(
    as(plain, MAC, DhcpMessageType.Request, [
      [DhcpOption.ServerId, Buffer.from([10, 99, 0, 1])],
      [DhcpOption.RequestedIp, Buffer.from([10, 99, 0, 11])],
    ]),
  );
  assert.equal(ack.kind === 'reply' && ack.packet.yiaddr, '10.99.0.11');
  assert.equal(store.machineById(machine.id)?.state, 'ready');
  assert.equal(store.listEvents({ machineId: machine.id }).at(-1)?.type, 'dhcp-os');
});

test('a discovered UUID is the one iPXE sends as ${uuid}: adding a machine with it makes /ipxe?uuid= find that machine', () => {
  const { provisioner, store } = setup();
  const stranger = '52:54:00:99:00:98';
  // SMBIOS UUID 12345678-1234-5678-9abc-def012345678 in option 97: type 0, first three fields little-endian
  const option97 = Buffer.from('00' + '78563412' + '3412' + '7856' + '9abcdef012345678', 'hex');
  provisioner.handleDhcp(as(fixturePacket('ovmf-x64-discover.hex'), stranger, DhcpMessageType.Discover, [[DhcpOption.ClientMachineId, option97]]));
  const uuid = store.listDiscovered().find((d) => d.mac === stranger)?.facts.uuid;
  assert.equal(uuid, '12345678-1234-5678-9abc-def012345678');

  const machine = provisioner.registerMachine({ name: 'by-uuid', macs: ['52:54:00:99:00:97'], ip: '10.99.0.50', role: null, uuid: uuid as string });
  const script = provisioner.machineScript({ uuid: '12345678-1234-5678-9abc-def012345678', clientIp: '10.99.0.50' });
  assert.equal(script.ok, true);
  assert.doesNotMatch(script.ok ? script.value : '', /no machine/);
  assert.equal(store.listEvents({ machineId: machine.id }).at(-1)?.type, 'ipxe');
});

test('a UUID match on an unregistered MAC is a hint, never the registered machine (issue 17)', () => {
  const { provisioner, store } = setup();
  const uuid = '12345678-1234-5678-9abc-def012345678';
  const machine = provisioner.registerMachine({ name: 'owner', macs: ['52:54:00:99:00:97'], ip: '10.99.0.50', role: 'dev', uuid });
  const before = store.listEvents({ machineId: machine.id }).length;
  // a cloned UUID, or the machine's unregistered first NIC, even from the machine's own address
  const script = provisioner.machineScript({ mac: '52:54:00:99:00:66', uuid, clientIp: '10.99.0.50' });
  assert.equal(script.ok, true);
  assert.match(script.ok ? script.value : '', /no machine with MAC 52:54:00:99:00:66/);
  assert.doesNotMatch(script.ok ? script.value : '', /boot\/|kernel|cloud-config/);
  assert.equal(store.machineById(machine.id)?.bootToken ?? null, null);
  assert.equal(store.listEvents({ machineId: machine.id }).length, before);
  const event = store.listEvents({}).filter((e) => e.machineId === null).at(-1);
  assert.match(event?.message ?? '', /its UUID matches owner: if this NIC is that machine's, add the MAC to it/);
  // the registered NIC still boots
  const own = provisioner.machineScript({ mac: '52:54:00:99:00:97', uuid, clientIp: '10.99.0.50' });
  assert.match(own.ok ? own.value : '', /kernel/);
});
