/**
 * The fastest lock-step TFTP sender Node's dgram can run: a reference for bench/tftp/run.ts, not a
 * server. It measures what the runtime costs per datagram, so the benchmark can tell rackboot's
 * own overhead apart from Node's. Every DATA packet is prebuilt; there are no timers, no
 * retransmissions, no limits, no path checks and no windowsize: loopback, lossless, one client
 * at a time. It answers `blksize` (capped at 1468) and `tsize` with an OACK, as rackboot does.
 * Prints `{"port":N,"pid":N}` when listening; exits on SIGTERM.
 *
 *   node --import tsx bench/tftp/floor.ts --root DIR [--address 127.0.0.1] [--port 0]
 */
import { createSocket, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string' },
    address: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
  },
});
if (values.root === undefined) {
  process.stderr.write('usage: floor.ts --root DIR [--address A] [--port P]\n');
  process.exit(2);
}
const root = values.root;
const literal = (host: string, _o: unknown, cb: (e: null, a: string, f: number) => void): void => cb(null, host, 4);

/** Every DATA packet of a file at one blksize, prebuilt. */
const packetCache = new Map<string, Buffer[]>();
function packetsOf(name: string, data: Buffer, blksize: number): Buffer[] {
  const key = `${name}|${blksize}`;
  const hit = packetCache.get(key);
  if (hit) return hit;
  const packets: Buffer[] = [];
  const blocks = Math.floor(data.length / blksize) + 1;
  for (let n = 1; n <= blocks; n += 1) {
    const payload = data.subarray((n - 1) * blksize, Math.min(n * blksize, data.length));
    const packet = Buffer.allocUnsafe(4 + payload.length);
    packet.writeUInt16BE(3, 0);
    packet.writeUInt16BE(n & 0xffff, 2);
    payload.copy(packet, 4);
    packets.push(packet);
  }
  packetCache.set(key, packets);
  return packets;
}

function error(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, 0, code]), Buffer.from(`${message}\0`, 'latin1')]);
}

function serve(socket: Socket, packets: Buffer[], oack: Buffer | null): void {
  let acked = oack === null ? 0 : -1;
  socket.on('message', (msg) => {
    if (msg.length < 4 || msg[1] !== 4) {
      socket.close();
      return;
    }
    const expected = acked === -1 ? 0 : (acked + 1) & 0xffff;
    if (msg.readUInt16BE(2) !== expected) return;
    acked += 1;
    if (acked === packets.length) {
      socket.close();
      return;
    }
    socket.send(packets[acked] as Buffer);
  });
  socket.send(oack ?? (packets[0] as Buffer));
}

const listener = createSocket({ type: 'udp4', lookup: literal });
listener.on('message', (msg, rinfo) => {
  const fields = msg.subarray(2).toString('latin1').split('\0');
  const [name = '', , ...rest] = fields;
  let data: Buffer;
  try {
    if (msg[1] !== 1 || name.includes('..') || name.startsWith('/')) throw new Error('refused');
    data = readFileSync(join(root, name));
  } catch {
    listener.send(error(1, 'File not found'), rinfo.port, rinfo.address);
    return;
  }
  let blksize = 512;
  const answered: string[] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const option = (rest[i] ?? '').toLowerCase();
    const value = Number(rest[i + 1]);
    if (option === 'blksize' && value >= 8) {
      blksize = Math.min(value, 1468);
      answered.push('blksize', String(blksize));
    } else if (option === 'tsize') {
      answered.push('tsize', String(data.length));
    }
  }
  const oack = answered.length > 0 ? Buffer.concat([Buffer.from([0, 6]), Buffer.from(`${answered.join('\0')}\0`, 'latin1')]) : null;
  const packets = packetsOf(name, data, blksize);
  const socket = createSocket({ type: 'udp4', lookup: literal });
  socket.bind(0, values.address, () => socket.connect(rinfo.port, rinfo.address, () => serve(socket, packets, oack)));
});
listener.bind(Number(values.port), values.address, () => {
  process.stdout.write(`${JSON.stringify({ port: listener.address().port, pid: process.pid })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
