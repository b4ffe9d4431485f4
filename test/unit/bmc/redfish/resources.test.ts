import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  actionInfoResetTypes,
  blamesOverrideMode,
  bootOverridePatch,
  bootReadBack,
  chooseResetType,
  collectionMembers,
  ethernetInterfaceMac,
  extendedInfoText,
  hostMacsFromInterfaces,
  isSessionLimit,
  managerAddress,
  parseComputerSystem,
  parseManagerInterface,
  parseServiceRoot,
  powerStateOf,
  taskOutcome,
  withoutOverrideMode,
  type BootOverride,
} from '../../../../server/bmc/redfish/resources.js';
import { servicePath } from '../../../../server/bmc/redfish/client.js';

const MOCKUP = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'redfish', 'public-rackmount1');
const mockup = (path: string): unknown => JSON.parse(readFileSync(join(MOCKUP, path, 'index.json'), 'utf8'));

describe('Redfish resources', () => {
  it('reads the service root of the DMTF mockup; something else is not a service root', () => {
    assert.deepEqual(parseServiceRoot(mockup('.')), {
      redfishVersion: '1.15.0',
      vendor: null,
      uuid: '92384634-2938-2342-8820-489239905423',
      systems: '/redfish/v1/Systems',
      managers: '/redfish/v1/Managers',
      sessions: '/redfish/v1/SessionService/Sessions',
    });
    assert.equal(parseServiceRoot({ hello: 'world' }), null);
    assert.equal(parseServiceRoot('<html>'), null);
    assert.equal(parseServiceRoot({ RedfishVersion: '1.0.0', SessionService: { '@odata.id': '/redfish/v1/SessionService' } })?.sessions, '/redfish/v1/SessionService/Sessions');
  });

  it('reads the ComputerSystem: UUID bytes, serial, model, reset action, boot override', () => {
    const system = parseComputerSystem(mockup('Systems/437XR1138R2'), '/redfish/v1/Systems/437XR1138R2');
    assert.equal(Buffer.from(system.uuid ?? []).toString('hex'), '38947555774234483784823347823834');
    assert.deepEqual([system.serialNumber, system.model, system.manufacturer, system.powerState], ['437XR1138R2', '3500', 'Contoso', 'On']);
    assert.equal(system.ethernetInterfaces, '/redfish/v1/Systems/437XR1138R2/EthernetInterfaces');
    assert.equal(system.managedBy, '/redfish/v1/Managers/BMC');
    assert.equal(system.reset?.target, '/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset');
    assert.ok(system.reset?.allowable?.includes('ForceRestart'));
    assert.deepEqual([system.boot.target, system.boot.enabled, system.boot.mode], ['Pxe', 'Once', 'UEFI']);
    const bare = parseComputerSystem({ Id: 'x', UUID: 'not-a-uuid', Actions: { '#ComputerSystem.Reset': { target: 'http://evil/', '@Redfish.ActionInfo': '/x' } } }, '/p');
    assert.equal(bare.uuid, null);
    assert.equal(bare.reset, null, 'a reset target off this service is ignored');
  });

  it('collections are bounded and keep only service paths', () => {
    const members = Array.from({ length: 40 }, (_, i) => ({ '@odata.id': `/redfish/v1/Systems/${i}` }));
    assert.deepEqual(collectionMembers({ Members: members }, 32).ids.length, 32);
    assert.equal(collectionMembers({ Members: members }, 32).truncated, true);
    assert.deepEqual(collectionMembers({ Members: [{ '@odata.id': 'https://elsewhere/x' }, { nope: 1 }, { '@odata.id': '/redfish/v1/A' }] }, 5).ids, ['/redfish/v1/A']);
  });

  it('host MACs: PermanentMACAddress, else MACAddress; the host interface and VLANs are not boot NICs', () => {
    const bodies = ['12446A3B0411', '12446A3B8890', 'VLAN1', 'ToManager'].map((id) => mockup(`Systems/437XR1138R2/EthernetInterfaces/${id}`));
    assert.deepEqual(hostMacsFromInterfaces(bodies), {
      macs: [
        { mac: '12:44:6a:3b:04:11', source: 'redfish', label: '12446A3B0411' },
        { mac: '12:44:6a:3b:88:90', source: 'redfish', label: '12446A3B8890' },
      ],
      warnings: [],
    });
    assert.deepEqual(ethernetInterfaceMac({ Id: 'nic', MACAddress: 'AA-BB-CC-00-11-22' }), { mac: 'aa:bb:cc:00:11:22', label: 'nic', fromPermanent: false });
    assert.equal(ethernetInterfaceMac({ Id: 'nic', PermanentMACAddress: '00:00:00:00:00:00' }), null);
    const fallback = hostMacsFromInterfaces([{ Id: 'a', MACAddress: '52:54:00:00:00:01' }, { Id: 'b', PermanentMACAddress: '52:54:00:00:00:01' }]);
    assert.deepEqual(fallback.macs.map((m) => m.label), ['a'], 'each MAC once');
    assert.deepEqual(fallback.warnings, ['EthernetInterface a: no PermanentMACAddress, used MACAddress']);
  });

  it("the Manager's address: the interface holding the address we reached, else the first with IPv4", () => {
    const eth0 = parseManagerInterface(mockup('Managers/BMC/EthernetInterfaces/eth0'));
    const toHost = parseManagerInterface(mockup('Managers/BMC/EthernetInterfaces/ToHost'));
    assert.deepEqual(eth0, { mac: '23:11:8a:33:cf:ea', ipv4: ['192.168.0.10'] });
    assert.deepEqual(managerAddress([toHost, eth0], '192.168.0.10'), { ip: '192.168.0.10', mac: '23:11:8a:33:cf:ea', warning: null });
    assert.equal(managerAddress([eth0, toHost], '10.0.0.1').ip, '192.168.0.10');
    assert.match(managerAddress([eth0], '10.0.0.1').warning ?? '', /no Manager interface has 10\.0\.0\.1/);
    assert.deepEqual(managerAddress([], '10.0.0.1'), { ip: null, mac: null, warning: 'the Manager reports no IPv4 address' });
  });

  it('reset type: the first preference the system allows; the first preference when it lists none', () => {
    const all = ['On', 'ForceOff', 'GracefulShutdown', 'GracefulRestart', 'ForceRestart', 'Nmi', 'ForceOn', 'PushPowerButton'];
    assert.equal(chooseResetType('on', all), 'On');
    assert.equal(chooseResetType('on', ['ForceOn', 'ForceOff']), 'ForceOn');
    assert.equal(chooseResetType('off', all), 'ForceOff');
    assert.equal(chooseResetType('soft', all), 'GracefulShutdown');
    assert.equal(chooseResetType('cycle', all), 'ForceRestart');
    assert.equal(chooseResetType('cycle', ['PowerCycle', 'ForceRestart']), 'PowerCycle');
    assert.equal(chooseResetType('reset', ['GracefulRestart']), 'GracefulRestart');
    assert.equal(chooseResetType('off', ['On', 'GracefulShutdown']), null, 'never a graceful shutdown for a hard off');
    assert.equal(chooseResetType('on', null), 'On');
    assert.deepEqual(actionInfoResetTypes({ Parameters: [{ Name: 'ResetType', AllowableValues: ['On', 'ForceOff'] }] }), ['On', 'ForceOff']);
    assert.equal(actionInfoResetTypes({ Parameters: [] }), null);
  });

  it('power state: transitions count as not there yet', () => {
    assert.deepEqual(['On', 'Off', 'PoweringOn', 'PoweringOff', null].map(powerStateOf), ['on', 'off', 'off', 'on', 'off']);
  });

  it('boot override: Pxe/Once/mode written when the system has a mode; read back', () => {
    const current: BootOverride = { target: 'None', enabled: 'Disabled', mode: 'UEFI', allowableTargets: ['None', 'Pxe', 'Hdd'] };
    assert.deepEqual(bootOverridePatch({ device: 'pxe', persistent: false, efi: false }, current), {
      ok: true,
      body: { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'Legacy' } },
    });
    assert.deepEqual(bootOverridePatch({ device: 'pxe', persistent: true, efi: true }, { ...current, mode: null }), {
      ok: true,
      body: { Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Continuous' } },
    });
    const refused = bootOverridePatch({ device: 'cdrom', persistent: false, efi: true }, current);
    assert.equal(refused.ok, false);
    assert.match(!refused.ok ? refused.message : '', /does not offer boot target Cd \(it offers None, Pxe, Hdd\)/);

    assert.deepEqual(bootReadBack({ target: 'Pxe', enabled: 'Once', mode: 'UEFI', allowableTargets: null }), {
      device: 'pxe',
      valid: true,
      persistent: false,
      efi: true,
      raw: '{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI"}',
    });
    assert.equal(bootReadBack({ target: 'Pxe', enabled: 'Disabled', mode: 'UEFI', allowableTargets: null }).device, 'none');
    assert.equal(bootReadBack({ target: 'Pxe', enabled: 'Once', mode: null, allowableTargets: null }).valid, false);
    assert.equal(bootReadBack({ target: 'UefiHttp', enabled: 'Once', mode: 'UEFI', allowableTargets: null }).device, 'other');
  });

  it('a refusal that blames BootSourceOverrideMode; the same PATCH without it', () => {
    assert.equal(blamesOverrideMode({ error: { '@Message.ExtendedInfo': [{ RelatedProperties: ['#/Boot/BootSourceOverrideMode'] }] } }), true);
    assert.equal(blamesOverrideMode({ error: { '@Message.ExtendedInfo': [{ RelatedProperties: ['#/Boot/BootSourceOverrideTarget'] }] } }), false);
    assert.deepEqual(withoutOverrideMode({ Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', BootSourceOverrideMode: 'UEFI' } }), {
      Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once' },
    });
  });

  it('error text from @Message.ExtendedInfo, else error.message; session limits recognised', () => {
    const body = {
      error: {
        code: 'Base.1.8.GeneralError',
        message: 'A general error has occurred.',
        '@Message.ExtendedInfo': [
          { MessageId: 'Base.1.8.PropertyValueNotInList', Message: "The value 'Legacy' for the property BootSourceOverrideMode is not in the list of acceptable values." },
          { MessageId: 'Base.1.8.Other' },
        ],
      },
    };
    assert.equal(extendedInfoText(body), "The value 'Legacy' for the property BootSourceOverrideMode is not in the list of acceptable values. (Base.1.8.PropertyValueNotInList); Base.1.8.Other");
    assert.equal(extendedInfoText({ error: { message: 'only this' } }), 'only this');
    assert.equal(extendedInfoText(null), null);
    assert.equal(isSessionLimit({ error: { '@Message.ExtendedInfo': [{ MessageId: 'Base.1.8.SessionLimitExceeded' }] } }), true);
    assert.equal(isSessionLimit(body), false);
  });

  it('task outcome: Completed ends well, Exception/Killed/Cancelled or Critical end badly, the rest goes on', () => {
    assert.deepEqual(taskOutcome({ TaskState: 'Running' }), { done: false });
    assert.deepEqual(taskOutcome({ TaskState: 'Interrupted' }), { done: false });
    assert.deepEqual(taskOutcome({ TaskState: 'Completed', TaskStatus: 'OK' }), { done: true, ok: true });
    assert.deepEqual(taskOutcome({ TaskState: 'Exception', Messages: [{ Message: 'boom' }] }), { done: true, ok: false, message: 'task Exception: boom' });
    assert.equal(taskOutcome({ TaskState: 'Completed', TaskStatus: 'Critical' }).done, true);
    assert.deepEqual(taskOutcome(null), { done: true, ok: true }, 'a final answer that is not a Task: the operation result');
  });

  it('Location headers are followed only on the same BMC', () => {
    assert.equal(servicePath('/redfish/v1/TaskMonitors/1', '10.1.0.5'), '/redfish/v1/TaskMonitors/1');
    assert.equal(servicePath('https://10.1.0.5/redfish/v1/SessionService/Sessions/7', '10.1.0.5'), '/redfish/v1/SessionService/Sessions/7');
    assert.equal(servicePath('https://10.9.9.9/redfish/v1/x', '10.1.0.5'), null);
    assert.equal(servicePath(undefined, '10.1.0.5'), null);
  });
});
