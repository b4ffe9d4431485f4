import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalGuid, compareUuids, formatUuid, swapUuidFields, uuidBytes } from '../../../server/core/uuid-match.js';

// One machine's identity as different sources report it.
const rfc4122 = '00112233-4455-6677-8899-aabbccddeeff';
const smbiosOrder = '33221100-5544-7766-8899-aabbccddeeff'; // first three fields little-endian
const reversed = 'ffeeddcc-bbaa-9988-7766-554433221100'; // "LS byte first" over all 16 bytes

describe('BMC GUID <-> PXE option 97 UUID', () => {
  it('matches the same bytes, the SMBIOS-swapped fields and the fully reversed order, both ways', () => {
    assert.equal(compareUuids(rfc4122, rfc4122), 'match');
    assert.equal(compareUuids(rfc4122, smbiosOrder), 'match');
    assert.equal(compareUuids(smbiosOrder, rfc4122), 'match');
    assert.equal(compareUuids(rfc4122, reversed), 'match');
    assert.equal(compareUuids(reversed, rfc4122), 'match');
    assert.equal(compareUuids(Buffer.from('00112233445566778899aabbccddeeff', 'hex'), smbiosOrder), 'match');
    assert.equal(compareUuids('{00112233-4455-6677-8899-AABBCCDDEEFF}', '00112233445566778899aabbccddeeff'), 'match');
  });

  it('does not match a different machine', () => {
    assert.equal(compareUuids(rfc4122, '00112233-4455-6677-8899-aabbccddee00'), 'mismatch');
    assert.equal(compareUuids(rfc4122, '33221100-5544-7766-9988-aabbccddeeff'), 'mismatch', 'the last two fields are never swapped');
  });

  it('treats all-zero, all-FF, missing and malformed values as unknown', () => {
    assert.equal(compareUuids(rfc4122, '00000000-0000-0000-0000-000000000000'), 'unknown');
    assert.equal(compareUuids('ffffffff-ffff-ffff-ffff-ffffffffffff', rfc4122), 'unknown');
    assert.equal(compareUuids(rfc4122, null), 'unknown');
    assert.equal(compareUuids(undefined, rfc4122), 'unknown');
    assert.equal(compareUuids(rfc4122, 'not-a-uuid'), 'unknown');
    assert.equal(compareUuids(Buffer.alloc(15), rfc4122), 'unknown');
  });

  it('formats and swaps', () => {
    const bytes = uuidBytes(rfc4122) as Uint8Array;
    assert.equal(formatUuid(swapUuidFields(bytes)), smbiosOrder);
    assert.equal(formatUuid(swapUuidFields(swapUuidFields(bytes))), rfc4122);
    assert.equal(canonicalGuid(bytes), rfc4122);
    assert.equal(canonicalGuid(new Uint8Array(16)), null);
  });
});
