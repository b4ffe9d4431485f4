/**
 * A DHCP server for real-client tests: the production listener and decision over an in-memory
 * machine table. Run inside a test network namespace, never on a real interface:
 *   node --import tsx test/helpers/dhcp-fixture-server.ts '<json FixtureConfig>'
 * Prints one JSON line per event on stdout: {"ready":port} first, then {"decision":...} per request.
 */
import { clientInfo } from '../../server/core/client-info.js';
import { decideDhcp, type DhcpLeaseRecord, type DhcpMachine, type DhcpSettings } from '../../server/core/dhcp-decision.js';
import { createLogger } from '../../server/log.js';
import { startDhcpListener } from '../../server/net/dhcp-listener.js';
import { messageType } from '../../server/protocol/dhcp/options.js';
import { messageTypeName } from '../../server/protocol/dhcp/constants.js';

export interface FixtureConfig {
  readonly address: string;
  readonly port: number;
  readonly settings: DhcpSettings;
  readonly machines: ReadonlyArray<{ readonly mac: string; readonly name: string; readonly ip: string }>;
}

const config = JSON.parse(process.argv[2] ?? '') as FixtureConfig;
const machines = new Map<string, DhcpMachine & { mac: string }>();
config.machines.forEach((m, i) => machines.set(m.mac.toLowerCase(), { id: i + 1, name: m.name, ip: m.ip, ipxeChainedAt: null, mac: m.mac }));
const leases = new Map<string, DhcpLeaseRecord>();

const emit = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

const listener = await startDhcpListener({
  address: config.address,
  port: config.port,
  logger: createLogger('warn', process.stderr),
  handle: (packet) => {
    const now = Date.now();
    const client = clientInfo(packet);
    const machine = client.mac === null ? null : machines.get(client.mac) ?? null;
    const decision = decideDhcp({
      packet, client, machine, lease: client.mac === null ? null : leases.get(client.mac) ?? null,
      settings: config.settings, now,
    });
    const { effects } = decision;
    if (machine && client.mac) {
      if (effects.lease) leases.set(client.mac, { ip: effects.lease.ip, expiresAt: effects.lease.expiresAt });
      if (effects.releaseLease) leases.delete(client.mac);
      if (effects.chain) machines.set(client.mac, { ...machine, ipxeChainedAt: effects.chain === 'set' ? now : null });
    }
    emit({
      decision: {
        request: messageTypeName(messageType(packet)),
        mac: client.mac,
        vendorClass: client.vendorClass,
        kind: decision.kind,
        ...(decision.kind === 'reply'
          ? { reply: messageTypeName(messageType(decision.packet)), yiaddr: decision.packet.yiaddr, file: decision.packet.file, to: decision.destination }
          : { reason: decision.reason }),
        discovered: effects.discovered !== undefined,
        events: effects.events.map((e) => e.type),
      },
    });
    return decision.kind === 'reply'
      ? { reply: decision.packet, destination: decision.destination, maxSize: decision.maxSize }
      : null;
  },
});
emit({ ready: listener.port });

const stop = (): void => {
  void listener.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
