/** Power events in the lifecycle table. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stateAfter } from '../../../server/core/lifecycle.js';

describe('lifecycle: power events', () => {
  it('only a power-on into PXE moves a machine to powering-on', () => {
    assert.equal(stateAfter('power', 'installed', 'memory', { poweredOnIntoPxe: true }), 'powering-on');
    assert.equal(stateAfter('power', 'installed', 'memory'), null);
    assert.equal(stateAfter('power', 'installed', 'memory', { poweredOnIntoPxe: false }), null);
    assert.equal(stateAfter('power-failed', 'installed', 'memory', { poweredOnIntoPxe: true }), null);
  });
});
