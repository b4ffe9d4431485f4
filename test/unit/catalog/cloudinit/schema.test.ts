/** The schema's value patterns. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WINDOW_LENGTH } from '../../../../server/catalog/cloudinit/schema.js';

describe('the window_length pattern', () => {
  it('accepts exactly what the Go expression accepts', () => {
    const go = /^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$/; // fine in JavaScript on short inputs
    const alphabet = '01.hm+-x ';
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const length = Math.floor(random() * 7);
      for (let j = 0; j < length; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      assert.equal(WINDOW_LENGTH.test(s), go.test(s), JSON.stringify(s));
    }
  });
  it('does not backtrack exponentially', () => {
    const started = Date.now();
    assert.equal(WINDOW_LENGTH.test(`${'1a'.repeat(20000)}!`), false);
    assert.equal(WINDOW_LENGTH.test(`${'a'.repeat(50000)}1`), false);
    assert.ok(Date.now() - started < 1000);
  });
});
