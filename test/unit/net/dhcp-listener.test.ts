import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../server/log.js';
import { startDhcpListener, type DhcpHandler, type DhcpListener } from '../../../server/net/dhcp-listener.js';
import { DhcpMessageType } from '../../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { messageType } from '../../../server/protocol/dhcp/options.js';
import { replyHeader, type DhcpPacket } from '../../../server/protocol/dhcp/packet.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';

/** xid selects the handler's behaviour, so one listener serves every case. */
const XID_OK = 1;
const XID_SILENT = 2;
const XID_THROW = 3;
const XID_TOO_BIG = 4;

describe('startDhcpListener (loopback)', () => {
  let listener: DhcpListener;
  let client: Socket;
  const seenPorts: number[] = [];

  const handle: DhcpHandler = (packet, source, receivedOn) => {
    seenPorts.push(receivedOn.localPort);
    if (packet.xid === XID_SILENT) return null;
    if (packet.xid === XID_THROW) throw new Error('handler bug');
    const options = new Map([[53, Buffer.of(DhcpMessageType.Offer)]]);
    if (packet.xid === XID_TOO_BIG) options.set(43, Buffer.alloc(600));
    const reply: DhcpPacket = { ...replyHeader(packet), yiaddr: '10.98.0.11', options };
    return { reply, destination: source, maxSize: 548 };
  };

  before(async () => {
    // this suite sends byte-identical requests back to back on purpose: duplicate filtering is tested below
    listener = await startDhcpListener({ address: '127.0.0.1', port: 0, pxePort: 0, logger: silentLogger(), handle, duplicateWindowMs: 0 });
    client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  });

  after(async () => {
    client.close();
    await listener.close();
  });

  async function exchange(xid: number, port = listener.port): Promise<DhcpPacket> {
    client.send(encodeDhcp(requestPacket({ xid })), port, '127.0.0.1');
    const [msg] = (await once(client, 'message')) as [Buffer];
    const decoded = decodeDhcp(msg);
    assert.ok(decoded.ok);
    return decoded.packet;
  }

  /** Sends `bytes`, then a normal request; the normal reply proves `bytes` was fully handled. */
  async function sendThenSync(bytes: Buffer): Promise<void> {
    client.send(bytes, listener.port, '127.0.0.1');
    const reply = await exchange(XID_OK);
    assert.equal(reply.xid, XID_OK);
  }

  it('decodes, calls handle, encodes and sends the reply to the chosen destination', async () => {
    const reply = await exchange(XID_OK);
    assert.equal(messageType(reply), DhcpMessageType.Offer);
    assert.equal(reply.yiaddr, '10.98.0.11');
    assert.equal(reply.xid, XID_OK);
    assert.ok(listener.stats.replied >= 1);
  });

  it('drops and counts malformed packets, and keeps serving', async () => {
    const before = listener.stats.malformed;
    await sendThenSync(Buffer.from('definitely not dhcp'));
    await sendThenSync(Buffer.alloc(240));
    assert.equal(listener.stats.malformed, before + 2);
  });

  it('counts a null answer as ignored', async () => {
    const before = listener.stats.ignored;
    await sendThenSync(encodeDhcp(requestPacket({ xid: XID_SILENT })));
    assert.equal(listener.stats.ignored, before + 1);
  });

  it('survives an exception in handle: logged, counted, no reply', async () => {
    const before = listener.stats.errors;
    await sendThenSync(encodeDhcp(requestPacket({ xid: XID_THROW })));
    assert.equal(listener.stats.errors, before + 1);
  });

  it('does not send a reply larger than the client accepts', async () => {
    const before = { errors: listener.stats.errors, replied: listener.stats.replied };
    await sendThenSync(encodeDhcp(requestPacket({ xid: XID_TOO_BIG })));
    assert.equal(listener.stats.errors, before.errors + 1);
    assert.equal(listener.stats.replied, before.replied + 1, 'only the sync reply went out');
  });

  it('serves the optional PXE port through its own socket and tells handle where it arrived', async () => {
    assert.ok(listener.pxePort !== null && listener.pxePort !== listener.port);
    seenPorts.length = 0;
    const reply = await exchange(XID_OK, listener.pxePort ?? 0);
    assert.equal(reply.xid, XID_OK);
    assert.deepEqual(seenPorts, [listener.pxePort]);
  });

  it('keeps counts consistent', () => {
    const s = listener.stats;
    assert.equal(s.received, s.malformed + s.ignored + s.replied + s.errors);
  });
});

describe('startDhcpListener lifecycle', () => {
  it('close() releases the port; a failed bind rejects and leaks nothing', async () => {
    const first = await startDhcpListener({ address: '127.0.0.1', port: 0, logger: silentLogger(), handle: () => null });
    assert.equal(first.pxePort, null);
    const port = first.port;
    await first.close();
    const again = await startDhcpListener({ address: '127.0.0.1', port, logger: silentLogger(), handle: () => null });
    await again.close();
    await assert.rejects(startDhcpListener({ address: '203.0.113.1', port: 0, logger: silentLogger(), handle: () => null }), /EADDRNOTAVAIL/);
  });
});

describe('startDhcpListener: a packet delivered twice is answered once (issue 17)', () => {
  it('drops the second copy of the same bytes from the same source, counts it, and answers later copies and other packets', async () => {
    let handled = 0;
    const handle: DhcpHandler = (packet, source) => {
      handled += 1;
      return { reply: { ...replyHeader(packet), yiaddr: '10.98.0.11', options: new Map([[53, Buffer.of(DhcpMessageType.Offer)]]) }, destination: source };
    };
    const listener = await startDhcpListener({ address: '127.0.0.1', port: 0, logger: silentLogger(), handle, duplicateWindowMs: 250 });
    const client = createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    const replies: number[] = [];
    client.on('message', (msg: Buffer) => {
      const decoded = decodeDhcp(msg);
      if (decoded.ok) replies.push(decoded.packet.xid);
    });
    try {
      const first = encodeDhcp(requestPacket({ xid: 41 }));
      client.send(first, listener.port, '127.0.0.1');
      client.send(first, listener.port, '127.0.0.1');
      client.send(encodeDhcp(requestPacket({ xid: 42 })), listener.port, '127.0.0.1');
      const deadline = Date.now() + 5000;
      while (replies.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 100)); // a wrong second reply to xid 41 would arrive by now
      assert.deepEqual(replies.sort(), [41, 42]);
      assert.equal(handled, 2);
      assert.equal(listener.stats.ignoredByReason.duplicate, 1);
      assert.equal(listener.stats.received, 3);
      // the same bytes once the window has passed are a retransmission: answered
      await new Promise((r) => setTimeout(r, 400));
      client.send(first, listener.port, '127.0.0.1');
      while (replies.length < 3 && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(replies.sort(), [41, 41, 42]);
    } finally {
      client.close();
      await listener.close();
    }
  });
});
