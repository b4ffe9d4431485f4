/**
 * The dashboard's power driver over the power workflow (bmc/power-service.ts) with a fake
 * BMC: the BMC comes from discovery or the machine's bmcAddress, PXE is set and read back, the
 * action lands on the timeline and a PXE power-on moves the machine to powering-on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ipmiPowerDriver } from '../../../server/bmc/power-service.js';
import { BmcStore } from '../../../server/store/bmc-store.js';
import { testProvisioner } from '../../helpers/provisioner.js';
import { FakeBmc, fakeConnector } from './fake-bmc.js';

test('power on with PXE through the machine BMC, journaled; no BMC: unavailable with a reason', async () => {
  const t = testProvisioner();
  const withBmc = t.provisioner.registerMachine({ name: 'blade-01', macs: ['52:54:00:dd:00:01'], ip: '10.99.0.11', role: 'dev', bmcAddress: '10.1.0.11' });
  const without = t.provisioner.registerMachine({ name: 'blade-02', macs: ['52:54:00:dd:00:02'], ip: '10.99.0.12', role: 'dev' });
  const bmc = new FakeBmc('10.1.0.11', { power: 'off' });
  const driver = ipmiPowerDriver({
    journal: t.provisioner,
    bmcs: new BmcStore(t.db),
    connect: fakeConnector({ '10.1.0.11': bmc }).connect,
    credentials: { username: 'admin', password: 'pw' },
    defaultPort: 623,
    clock: () => t.clock.now(),
  });
  assert.equal(driver.unavailableReason(withBmc), null);
  assert.match(driver.unavailableReason(without) ?? '', /blade-02 has no known BMC/);

  const result = await driver.power(withBmc, 'on', { pxe: true });
  assert.equal(result.ok, true, result.message);
  assert.equal(bmc.power, 'on');
  assert.equal(bmc.boot.device, 'pxe');
  const machine = t.store.machineById(withBmc.id)!;
  assert.equal(machine.state, 'powering-on');
  const last = t.store.listEvents({ machineId: withBmc.id }).at(-1)!;
  assert.equal(last.type, 'power');
  assert.match(last.message, /power on --pxe via BMC 10\.1\.0\.11 \(dashboard\/API\)/);
});
