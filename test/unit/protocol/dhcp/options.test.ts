import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DhcpOption, IpxeSubOption } from '../../../../server/protocol/dhcp/constants.js';
import {
  broadcastAddress, clientId, dnsServers, domainName, hostName, ipv4ListValue, ipv4Value, leaseTime, maxMessageSize,
  messageType, parameterRequestList, readIpv4List, readText, readUint16, replyMaxSize, requestedIp, routers,
  serverId, subnetMask, textValue, uint16Value, uint32Value, uint8Value, vendorClass,
} from '../../../../server/protocol/dhcp/options.js';
import {
  clientArchitectures, clientMachineId, decodeSubOptions, encodeSubOptions, ipxeHasFeature, ipxeNoProxyDhcpValue,
  ipxeOptions, networkInterfaceId, pxeDiscoveryControlValue, relayAgentInfo, userClasses,
} from '../../../../server/protocol/dhcp/pxe-options.js';
import { fixturePacket, requestPacket } from '../../../helpers/dhcp-packets.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const withOptions = (...options: Array<[number, Buffer]>) => requestPacket({ options });

describe('standard option accessors and builders', () => {
  it('read what the builders write', () => {
    const p = withOptions(
      [50, ipv4Value('10.98.0.11')], [54, ipv4Value('10.98.0.1')], [51, uint32Value(86400)],
      [1, ipv4Value('255.255.255.0')], [3, ipv4ListValue(['10.98.0.1', '10.98.0.2'])],
      [6, ipv4ListValue(['1.1.1.1'])], [15, textValue('rack.test')], [12, textValue('node01')],
      [28, ipv4Value('10.98.0.255')], [57, uint16Value(1472)], [61, hex('01525400990001')],
    );
    assert.equal(messageType(p), 1);
    assert.equal(requestedIp(p), '10.98.0.11');
    assert.equal(serverId(p), '10.98.0.1');
    assert.equal(leaseTime(p), 86400);
    assert.equal(subnetMask(p), '255.255.255.0');
    assert.deepEqual(routers(p), ['10.98.0.1', '10.98.0.2']);
    assert.deepEqual(dnsServers(p), ['1.1.1.1']);
    assert.equal(domainName(p), 'rack.test');
    assert.equal(hostName(p), 'node01');
    assert.equal(broadcastAddress(p), '10.98.0.255');
    assert.equal(maxMessageSize(p), 1472);
    assert.deepEqual(clientId(p), hex('01525400990001'));
    assert.deepEqual(uint8Value(7), Buffer.of(7));
  });

  it('return null for absent or mis-sized values', () => {
    const p = withOptions([50, hex('0a62')], [51, hex('00')], [3, hex('0a620001 0a')]);
    assert.equal(requestedIp(p), null);
    assert.equal(leaseTime(p), null);
    assert.equal(routers(p), null);
    assert.equal(serverId(p), null);
    assert.equal(readUint16(undefined), null);
    assert.equal(readIpv4List(Buffer.alloc(0)), null);
  });

  it('text options drop trailing NULs (some clients send them)', () => {
    assert.equal(readText(Buffer.from('host\0\0')), 'host');
    assert.equal(vendorClass(fixturePacket('ovmf-x64-discover.hex')), 'PXEClient:Arch:00007:UNDI:003000');
  });

  it('parameter request list is a list of codes, empty when absent', () => {
    assert.deepEqual(parameterRequestList(fixturePacket('dhclient-discover.hex')).slice(0, 4), [1, 28, 2, 3]);
    assert.deepEqual(parameterRequestList(requestPacket()), []);
  });

  it('replyMaxSize: option 57 minus IP/UDP headers, never below 576 - 28', () => {
    assert.equal(replyMaxSize(requestPacket()), 548);
    assert.equal(replyMaxSize(withOptions([57, uint16Value(1472)])), 1444);
    assert.equal(replyMaxSize(withOptions([57, uint16Value(300)])), 548);
  });
});

describe('PXE, iPXE and relay options', () => {
  it('77: iPXE raw string and RFC 3004 length-prefixed lists', () => {
    assert.deepEqual(userClasses(fixturePacket('seabios-ipxe-discover.hex')), ['iPXE']);
    assert.deepEqual(userClasses(withOptions([77, Buffer.concat([Buffer.of(4), Buffer.from('iPXE'), Buffer.of(3), Buffer.from('lab')])])), ['iPXE', 'lab']);
    assert.deepEqual(userClasses(withOptions([77, Buffer.from('gPXE')])), ['gPXE']);
    assert.deepEqual(userClasses(requestPacket()), []);
  });

  it('93: list of uint16, odd length rejected', () => {
    assert.deepEqual(clientArchitectures(fixturePacket('ovmf-x64-discover.hex')), [7]);
    assert.deepEqual(clientArchitectures(withOptions([93, hex('0007 000b')])), [7, 11]);
    assert.equal(clientArchitectures(withOptions([93, hex('000700')])), null);
    assert.equal(clientArchitectures(requestPacket()), null);
  });

  it('94: UNDI version', () => {
    assert.deepEqual(networkInterfaceId(fixturePacket('seabios-ipxe-discover.hex')), { type: 1, major: 2, minor: 1 });
    assert.equal(networkInterfaceId(requestPacket()), null);
  });

  it('97: type 0 + 16 bytes -> canonical lower-case UUID', () => {
    assert.equal(clientMachineId(fixturePacket('seabios-ipxe-discover.hex')), '8a2d1c4e-5b6f-4a3c-9d2e-1f0a3b4c5d6e');
    assert.equal(clientMachineId(fixturePacket('ovmf-x64-discover.hex')), '4c4c4544-0010-4d80-8031-b2c04f395032');
    assert.equal(clientMachineId(withOptions([97, Buffer.alloc(17)])), '00000000-0000-0000-0000-000000000000');
    assert.equal(clientMachineId(withOptions([97, Buffer.concat([Buffer.of(1), Buffer.alloc(16)])])), null);
    assert.equal(clientMachineId(withOptions([97, Buffer.alloc(16)])), null);
  });

  it('82: kept raw', () => {
    const raw = hex('0106 000000000001 0204 0a620001');
    assert.deepEqual(relayAgentInfo(withOptions([82, raw])), raw);
    assert.equal(relayAgentInfo(requestPacket()), null);
  });

  it('175: sub-options decoded; feature flags', () => {
    const ipxe = ipxeOptions(fixturePacket('seabios-ipxe-discover.hex'));
    assert.ok(ipxe);
    assert.deepEqual(ipxe.get(IpxeSubOption.BusId), hex('011af41000'));
    assert.deepEqual(ipxe.get(IpxeSubOption.Version), hex('010000'));
    assert.equal(ipxeHasFeature(ipxe, IpxeSubOption.FeatureHttp), true);
    assert.equal(ipxeHasFeature(ipxe, IpxeSubOption.FeatureHttps), false);
    assert.equal(ipxeHasFeature(ipxeOptions(fixturePacket('ipxe-efi-discover.hex')), IpxeSubOption.FeatureEfi), true);
    assert.equal(ipxeOptions(requestPacket()), null);
    assert.equal(ipxeOptions(withOptions([175, hex('1305')])), null, 'malformed sub-option');
  });

  it('175 builder: 176 = 1 (no ProxyDHCP wait)', () => {
    assert.deepEqual(ipxeNoProxyDhcpValue(), hex('b00101'));
  });

  it('43 builder: PXE discovery control with end byte', () => {
    assert.deepEqual(pxeDiscoveryControlValue(8), hex('060108 ff'));
  });

  it('sub-option codec: pad skipped, end honoured, repeats concatenated, 255-byte limit', () => {
    assert.deepEqual([...(decodeSubOptions(hex('00 0101aa 00 0101bb ff 0201cc')) ?? [])], [[1, hex('aabb')]]);
    assert.deepEqual(encodeSubOptions([[6, Buffer.of(8)], [71, hex('80000000')]]), hex('060108 4704 80000000'));
    assert.throws(() => encodeSubOptions([[9, Buffer.alloc(256)]]), RangeError);
    assert.equal(DhcpOption.IpxeEncapsulated, 175);
  });
});
