/**
 * DHCP on its worker thread (issue 18), over loopback and a real WAL database file: the worker's
 * in-memory index follows inventory changes committed on other connections (the main thread's
 * Provisioner, and a raw connection standing in for another process), its events reach the main
 * thread's timeline, an ACK leaves only once its lease is committed, and a dead worker is restarted
 * with its counters carried over. Replies go to a relay address on port 67 (root).
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseConfig, type Config } from '../../../server/config/config.js';
import { startDhcpWorker, type DhcpWorkerService } from '../../../server/dhcp-worker/supervisor.js';
import { silentLogger } from '../../../server/log.js';
import { createProvisioner, databasePath } from '../../../server/main.js';
import type { Provisioner } from '../../../server/core/provisioner.js';
import { DhcpMessageType as T } from '../../../server/protocol/dhcp/constants.js';
import { decodeDhcp } from '../../../server/protocol/dhcp/decode.js';
import { encodeDhcp } from '../../../server/protocol/dhcp/encode.js';
import { ipv4Value, messageType } from '../../../server/protocol/dhcp/options.js';
import { requestPacket } from '../../helpers/dhcp-packets.js';

const isRoot = process.getuid?.() === 0;
const RELAY = `127.0.${100 + (process.pid % 100)}.${2 + (process.pid % 200)}`;
const SERVER = '127.0.0.1';
/** server.address (DHCP refuses a loopback one): the server id the replies carry. */
const SERVER_ID = '10.231.0.1';

async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, SERVER, resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function config(dataDir: string, port: number): Config {
  const r = parseConfig(`
dataDir: ${dataDir}
server: { address: ${SERVER_ID} }
dhcp:
  enabled: true
  listen: ${SERVER}
  port: ${port}
  subnets:
    - { cidr: 127.0.0.0/8, leaseSeconds: 600 }
    - { cidr: 10.231.0.0/24, leaseSeconds: 600 }
`, 'test', process.cwd());
  assert.ok(r.config, r.errors.join('\n'));
  return r.config;
}

describe('DHCP on a worker thread', { skip: isRoot ? false : 'binding port 67 for the relay needs root' }, () => {
  let dir: string;
  let service: DhcpWorkerService;
  let main: { provisioner: Provisioner; close(): void };
  let relay: Socket;
  let other: Database.Database;
  const replies: Buffer[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rackboot-dhcpworker-'));
    const c = config(dir, await freePort());
    main = createProvisioner(c);
    main.provisioner.registerMachine({ name: 'w1', macs: ['52:54:00:77:00:01'], ip: '127.0.0.21', role: null });
    other = new Database(databasePath(c));
    relay = createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve) => relay.bind(67, RELAY, resolve));
    relay.on('message', (m: Buffer) => replies.push(m));
    service = await startDhcpWorker(c, { databasePath: databasePath(c), logger: silentLogger(), statsIntervalMs: 20, restartWindowMs: 60_000 });
  });

  after(async () => {
    relay.close();
    await service.close();
    other.close();
    main.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function settle(until: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!until()) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}; stats ${JSON.stringify(service.stats)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  let xid = 1;
  /** One request through the relay; the reply (decoded) or null once the worker counted it ignored. */
  async function exchange(mac: string, type: number, extra: Array<readonly [number, Buffer]> = []) {
    const id = xid++;
    const before = service.stats.ignored;
    replies.length = 0;
    const packet = requestPacket({ mac, type, xid: id, giaddr: RELAY, hops: 1, options: [...extra] });
    relay.send(encodeDhcp(packet), service.port, SERVER);
    await settle(() => replies.length > 0 || service.stats.ignored > before, `an answer to xid ${id}`);
    if (replies.length === 0) return null;
    const decoded = decodeDhcp(replies[0] as Buffer);
    assert.ok(decoded.ok);
    assert.equal(decoded.packet.xid, id);
    return decoded.packet;
  }

  it('offers a reserved machine, and ACKs only a lease the database already holds', async () => {
    const offer = await exchange('52:54:00:77:00:01', T.Discover);
    assert.equal(offer && messageType(offer), T.Offer);
    assert.equal(offer?.yiaddr, '127.0.0.21');
    const ack = await exchange('52:54:00:77:00:01', T.Request, [[54, ipv4Value(SERVER_ID)], [50, ipv4Value('127.0.0.21')]]);
    assert.equal(ack && messageType(ack), T.Ack);
    // read on another connection once the ACK is in hand: committed, not just written
    const lease = other.prepare('SELECT ip FROM leases WHERE mac = ?').get('52:54:00:77:00:01') as { ip: string } | undefined;
    assert.equal(lease?.ip, '127.0.0.21');
  });

  it('writes its events where the main thread reads the timeline', async () => {
    const machine = main.provisioner.machineByRef('w1');
    assert.ok(machine);
    await settle(() => main.provisioner.listEvents({ machineId: machine.id }).some((e) => e.type.startsWith('dhcp')), 'the dhcp event');
  });

  it('follows inventory changes made on the main thread and on other connections', async () => {
    assert.equal(await exchange('52:54:00:77:00:02', T.Discover), null, 'unknown MAC: silent (and now cached as unknown)');
    main.provisioner.registerMachine({ name: 'w2', macs: ['52:54:00:77:00:02'], ip: '127.0.0.22', role: null });
    assert.equal((await exchange('52:54:00:77:00:02', T.Discover))?.yiaddr, '127.0.0.22', 'registered on the main thread');

    other.prepare('UPDATE machines SET ip = ? WHERE name = ?').run('127.0.0.23', 'w2');
    assert.equal((await exchange('52:54:00:77:00:02', T.Discover))?.yiaddr, '127.0.0.23', 'address changed by another connection');

    other.prepare('DELETE FROM leases WHERE mac = ?').run('52:54:00:77:00:02');
    other.prepare('DELETE FROM interfaces WHERE mac = ?').run('52:54:00:77:00:02');
    assert.equal(await exchange('52:54:00:77:00:02', T.Discover), null, 'MAC removed by another connection: silent again');
  });

  it('restarts a dead worker; the ACKed lease survives and the counters carry over', async () => {
    const repliedBefore = service.stats.replied;
    assert.ok(repliedBefore >= 2);
    await service.terminateWorker();
    await service.whenRestarted(0, 10_000);
    assert.equal(service.stats.workerRestarts, 1);
    const again = await exchange('52:54:00:77:00:01', T.Request, [[50, ipv4Value('127.0.0.21')]]);
    assert.equal(again && messageType(again), T.Ack, 'INIT-REBOOT of the leased address: ACK from the new worker');
    // the new worker's counters arrive with its next report; the dead one's are added, not lost
    await settle(() => service.stats.replied === repliedBefore + 1, 'the counters of both workers');
  });
});
