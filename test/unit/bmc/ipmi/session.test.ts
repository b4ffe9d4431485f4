/** The IPMI mapping to the port: boot flags, power requests, identity (serial, product, session summary). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootReadBack, ipmiBmcSession } from '../../../../server/bmc/ipmi/session.js';
import { encodeFru, parseFru } from '../../../../server/protocol/ipmi/fru.js';
import { FakeBmc } from '../fake-bmc.js';

describe('IPMI behind the BMC port', () => {
  it('maps boot flags to the port, keeping the selector and the IPMI name as detail', () => {
    const flags = { selector: 0x20, valid: true, persistent: false, efi: true, parameterLocked: false, raw: Buffer.from([0xa0, 0x20, 0, 0, 0]) };
    assert.deepEqual(bootReadBack({ ...flags, device: 'remote-cdrom' }), { device: 'cdrom', valid: true, persistent: false, efi: true, raw: 'a020000000', detail: 'selector 0x20, remote-cdrom' });
    assert.equal(bootReadBack({ ...flags, device: 'pxe', selector: 4 }).detail, 'selector 0x4');
  });

  it('power requests are chassis control actions; identity carries the serial from the FRU', async () => {
    const fake = new FakeBmc('a', { power: 'on', fru: parseFru(encodeFru({ board: { manufacturer: 'Lab', serialNumber: 'SN-42', extras: ['MAC0=52:54:00:99:00:01'] } })) });
    const session = ipmiBmcSession(fake);
    await session.power('soft');
    assert.ok(fake.calls.includes('chassisControl:soft'));
    const identity = await session.identify();
    assert.equal(identity.serialNumber, 'SN-42');
    assert.equal(identity.product.manufacturerId, 674);
    assert.equal(session.session.summary, 'rmcp+ suite 17');
  });
});
