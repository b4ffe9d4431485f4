import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../server/config/config.js';
import { createProvisioner } from '../../server/main.js';
import { SqliteStore } from '../../server/store/sqlite-store.js';

const MAC = '52:54:00:99:00:31';

/** Leases vouch for a machine's address only when this process answers DHCP (docs/security/tokens.md). */
test('createProvisioner: rackboot\'s leases count for the token binding only while DHCP is enabled', () => {
  for (const enabled of [false, true]) {
    const dir = mkdtempSync(join(tmpdir(), 'rb-main-'));
    const parsed = parseConfig(`dataDir: ${dir}\nserver: { address: 10.99.0.1 }\ndhcp: { enabled: ${enabled}, subnets: [{ cidr: 10.99.0.0/24 }] }\n`, 'test', dir);
    assert.ok(parsed.config, parsed.errors.join('\n'));
    const { provisioner, db, close } = createProvisioner(parsed.config);
    try {
      provisioner.registerMachine({ name: 'pool-01', macs: [MAC], ip: null, role: 'dev' });
      new SqliteStore(db).putLease({ mac: MAC, ip: '10.99.0.150', machineId: null, expiresAt: Date.now() + 600_000, updatedAt: Date.now() });
      const script = provisioner.machineScript({ mac: MAC, clientIp: '10.99.0.150' });
      assert.ok(script.ok);
      assert.equal(script.value.includes('/boot/'), enabled, `dhcp.enabled: ${enabled}`);
    } finally {
      close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
