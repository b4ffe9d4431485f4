import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeDhcp } from '../../../../server/protocol/dhcp/decode.js';
import type { DhcpPacket } from '../../../../server/protocol/dhcp/packet.js';
import { fixturePacket, loadHexFixture } from '../../../helpers/dhcp-packets.js';

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

function assertHeader(p: DhcpPacket, expected: Partial<DhcpPacket>): void {
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(p[key as keyof DhcpPacket], value, `header field ${key}`);
  }
}

describe('decodeDhcp: realistic client packets', () => {
  it('SeaBIOS iPXE ROM DISCOVER: every header field and option', () => {
    const p = fixturePacket('seabios-ipxe-discover.hex');
    assertHeader(p, {
      op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x3c8f2a71, secs: 0, flags: 0,
      ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
      mac: '52:54:00:99:00:01', sname: '', file: '',
    });
    assert.deepEqual(p.chaddr, hex('525400990001 00000000000000000000'));
    assert.deepEqual([...p.options.keys()], [53, 57, 93, 94, 60, 77, 55, 175, 61, 97]);
    assert.deepEqual(p.options.get(53), hex('01'));
    assert.deepEqual(p.options.get(57), hex('05c0'));
    assert.deepEqual(p.options.get(93), hex('0000'));
    assert.deepEqual(p.options.get(94), hex('010201'));
    assert.deepEqual(p.options.get(60), ascii('PXEClient:Arch:00000:UNDI:002001'));
    assert.deepEqual(p.options.get(77), ascii('iPXE'));
    assert.deepEqual(p.options.get(55), hex('0103 0607 0c0f 111a 2b3c 4243 7780 8182 8384 8586 87af cb'));
    assert.equal(p.options.get(175)?.length, 39);
    assert.deepEqual(p.options.get(175)?.subarray(0, 12), hex('b105011af41000 eb03010000'));
    assert.deepEqual(p.options.get(61), hex('01525400990001'));
    assert.deepEqual(p.options.get(97), hex('00 8a2d1c4e5b6f4a3c9d2e1f0a3b4c5d6e'));
  });

  it('OVMF x64 PXE DISCOVER: broadcast flag, secs, 93=7, 94, 97', () => {
    const p = fixturePacket('ovmf-x64-discover.hex');
    assertHeader(p, { xid: 0xa1b2c3d4, secs: 4, flags: 0x8000, mac: '52:54:00:99:00:02' });
    assert.deepEqual([...p.options.keys()], [53, 57, 55, 97, 94, 93, 60]);
    assert.deepEqual(p.options.get(93), hex('0007'));
    assert.deepEqual(p.options.get(94), hex('010300'));
    assert.equal(p.options.get(55)?.length, 35);
    assert.deepEqual(p.options.get(60), ascii('PXEClient:Arch:00007:UNDI:003000'));
    assert.deepEqual(p.options.get(97), hex('00 4c4c4544 0010 4d80 8031 b2c04f395032'));
  });

  it('iPXE under EFI DISCOVER', () => {
    const p = fixturePacket('ipxe-efi-discover.hex');
    assertHeader(p, { xid: 0x5e117a09, flags: 0x8000, mac: '52:54:00:99:00:03' });
    assert.deepEqual(p.options.get(93), hex('0007'));
    assert.deepEqual(p.options.get(77), ascii('iPXE'));
    assert.equal(p.options.get(175)?.length, 27);
    assert.equal(p.options.has(97), false);
  });

  it('dhclient DISCOVER: trailing zero padding after the end option is ignored', () => {
    const buf = loadHexFixture('dhclient-discover.hex');
    assert.equal(buf.length, 300);
    const p = fixturePacket('dhclient-discover.hex');
    assertHeader(p, { xid: 0x0d1f3e5a, flags: 0, mac: '52:54:00:99:00:04' });
    assert.deepEqual([...p.options.keys()], [53, 12, 55]);
    assert.deepEqual(p.options.get(12), ascii('host4'));
    assert.deepEqual([...(p.options.get(55) ?? [])], [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42]);
  });
});

describe('decodeDhcp: option encoding corner cases', () => {
  it('skips pad bytes one at a time, including before option 53', () => {
    const p = fixturePacket('pad-bytes-discover.hex');
    assert.deepEqual([...p.options.keys()], [53, 93, 60]);
    assert.deepEqual(p.options.get(53), hex('01'));
    assert.deepEqual(p.options.get(93), hex('0000'));
    assert.equal(p.options.has(0), false);
  });

  it('option overload 52=3 reads options from file, then sname, and concatenates a split 55', () => {
    const p = fixturePacket('overload-discover.hex');
    assert.deepEqual([...p.options.keys()], [53, 52, 55, 60, 12]);
    assert.deepEqual(p.options.get(55), hex('010306 4243'));
    assert.deepEqual(p.options.get(60), ascii('PXEClient'));
    assert.deepEqual(p.options.get(12), ascii('snam1'));
    assert.equal(p.file, '', 'an overloaded file field is not a file name');
    assert.equal(p.sname, '');
  });

  it('concatenates repeated options (RFC 3396), also across non-adjacent instances', () => {
    const p = fixturePacket('split-option-discover.hex');
    assert.deepEqual(p.options.get(60), ascii('PXEClient:Arch:00007:UNDI:003016'));
    const big = p.options.get(250);
    assert.equal(big?.length, 300);
    assert.deepEqual(big, Buffer.concat([Buffer.alloc(255, 0x41), Buffer.alloc(45, 0x42)]));
    assert.deepEqual([...p.options.keys()], [53, 60, 93, 250]);
  });

  it('InfiniBand (htype 32, hlen 0) decodes with mac null and chaddr kept raw', () => {
    const p = fixturePacket('infiniband-discover.hex');
    assertHeader(p, { htype: 32, hlen: 0, mac: null, flags: 0x8000 });
    assert.deepEqual(p.chaddr, Buffer.alloc(16));
    assert.deepEqual(p.options.get(61)?.subarray(0, 1), hex('ff'));
  });

  it('reads sname and file up to the first NUL', () => {
    const buf = loadHexFixture('dhclient-discover.hex');
    buf.write('pxe-server\0junk', 44, 'latin1');
    buf.write('boot/undionly.kpxe', 108, 'latin1');
    const r = decodeDhcp(buf);
    assert.ok(r.ok);
    assert.equal(r.packet.sname, 'pxe-server');
    assert.equal(r.packet.file, 'boot/undionly.kpxe');
  });

  it('tolerates a missing end option', () => {
    const buf = loadHexFixture('pad-bytes-discover.hex');
    const r = decodeDhcp(buf.subarray(0, buf.length - 1));
    assert.ok(r.ok);
    assert.equal(r.packet.options.get(60)?.length, 32);
  });
});

describe('decodeDhcp: unusable input is an error, never a throw', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /truncated: 0 bytes/],
    ['header cut at 150 bytes', loadHexFixture('seabios-ipxe-discover.hex').subarray(0, 150), /truncated: 150/],
    ['cookie missing (239 bytes)', loadHexFixture('seabios-ipxe-discover.hex').subarray(0, 239), /truncated/],
    ['option length past the end', loadHexFixture('truncated-option.hex'), /option 60 .* claims 32 bytes but only 3 remain/],
    ['option code without length byte', Buffer.concat([loadHexFixture('truncated-option.hex').subarray(0, 243), hex('3c')]), /option 60 .* no length byte/],
    ['bad magic cookie', Buffer.concat([Buffer.alloc(236), hex('63825364 ff')]), /bad magic cookie 0x63825364/],
    ['hlen 17', (() => { const b = loadHexFixture('dhclient-discover.hex'); b[2] = 17; return b; })(), /hlen 17/],
  ];
  for (const [name, buf, error] of cases) {
    it(name, () => {
      const r = decodeDhcp(buf);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, error);
    });
  }

  it('random garbage never throws', () => {
    let seed = 42;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const base = loadHexFixture('seabios-ipxe-discover.hex');
    for (let i = 0; i < 2000; i += 1) {
      const buf = i % 2 === 0 ? Buffer.alloc(next() % 700) : Buffer.from(base);
      // Half pure noise, half a real packet with its options scrambled.
      const from = i % 2 === 0 ? 0 : 240;
      for (let j = from; j < buf.length; j += 1) if (i % 2 === 0 || next() % 8 === 0) buf[j] = next() & 0xff;
      const r = decodeDhcp(buf);
      assert.equal(typeof r.ok, 'boolean');
    }
  });
});
