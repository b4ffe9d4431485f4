/**
 * A boot file the firmware cannot get ends its boot: that must be on the machine's timeline, not a
 * timeline that simply stops (issue 17). TFTP not-found/denied/timeout and UEFI HTTP boot 404s.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApp } from '../../../server/http/app.js';
import { silentLogger } from '../../../server/log.js';
import { testProvisioner } from '../../helpers/provisioner.js';

function setup() {
  const t = testProvisioner();
  const machine = t.provisioner.registerMachine({ name: 'blade-07', macs: ['52:54:00:99:00:07'], ip: '10.99.0.17', role: 'dev' });
  const timeline = () => t.store.listEvents({ machineId: machine.id }).filter((e) => e.type === 'boot-file-failed');
  return { ...t, machine, timeline };
}

const transfer = (result: string, reason?: string) => ({ path: 'ipxe-arm64.efi', clientIp: '10.99.0.17', bytes: 0, durationMs: 3, result, ...(reason ? { reason } : {}) });

test('a missing TFTP boot file is a boot-file-failed event on the machine, once per file per minute', () => {
  const { provisioner, clock, timeline, store, machine } = setup();
  provisioner.tftpTransferEnded(transfer('error', 'not-found: ENOENT'));
  provisioner.tftpTransferEnded(transfer('error', 'not-found: ENOENT'));
  assert.equal(timeline().length, 1);
  assert.match(timeline()[0]?.message ?? '', /^TFTP ipxe-arm64\.efi: not-found: ENOENT \(not on the server: see dhcp\.bootFiles and tftp\.root\)/);
  clock.t += 61_000;
  provisioner.tftpTransferEnded(transfer('error', 'not-found: ENOENT'));
  assert.equal(timeline().length, 2);
  // it is the machine's problem now (dashboard, API)
  assert.equal(store.machineById(machine.id)?.state, 'registered');
});

test('refused files and firmware that stops answering are recorded; aborts (tsize probes) and strangers are not', () => {
  const { provisioner, timeline, store } = setup();
  provisioner.tftpTransferEnded(transfer('aborted', 'client error 8: tsize probe'));
  assert.equal(timeline().length, 0);
  provisioner.tftpTransferEnded({ ...transfer('error', 'denied: resolves outside the root'), path: 'ipxe.efi' });
  provisioner.tftpTransferEnded({ ...transfer('timeout', 'no ACK after 5 retransmissions'), path: 'undionly.kpxe' });
  assert.deepEqual(timeline().map((e) => e.message.split(':')[0]), ['TFTP ipxe.efi', 'TFTP undionly.kpxe']);
  assert.match(timeline()[0]?.message ?? '', /refused by the server/);
  const before = store.listEvents({}).length;
  provisioner.tftpTransferEnded({ ...transfer('error', 'not-found: ENOENT'), clientIp: '10.99.0.250' });
  assert.equal(store.listEvents({}).length, before, 'an address that is no machine writes nothing');
});

test('UEFI HTTP boot: a missing /ipxe/<file> is a 404, a boot-file-failed event and a metric', async () => {
  const { provisioner, timeline } = setup();
  const firmware = mkdtempSync(join(tmpdir(), 'rb-fw-'));
  const app = await buildApp({ provisioner, assetsDir: firmware, firmwareDir: firmware, logger: silentLogger(), operator: { defaultMetrics: false } });
  try {
    const res = await app.inject({ url: '/ipxe/ipxe-arm64.efi', remoteAddress: '10.99.0.17' });
    assert.equal(res.statusCode, 404);
    assert.equal(timeline().length, 1);
    assert.match(timeline()[0]?.message ?? '', /^HTTP \/ipxe\/ipxe-arm64\.efi: not-found/);
    assert.match((await app.inject('/metrics')).body, /^rackboot_http_firmware_not_found_total 1$/m);
  } finally {
    await app.close();
    rmSync(firmware, { recursive: true, force: true });
  }
});
