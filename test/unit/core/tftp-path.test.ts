import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normaliseTftpPath } from '../../../server/core/tftp-path.js';

const accepted: Array<[string, string]> = [
  ['pxelinux.0', 'pxelinux.0'],
  ['/pxelinux.0', 'pxelinux.0'],
  ['//boot//x64/ipxe.efi', 'boot/x64/ipxe.efi'],
  ['\\boot\\x64\\snponly.efi', 'boot/x64/snponly.efi'],
  ['boot\\grub/grub.cfg', 'boot/grub/grub.cfg'],
  ['./boot/./undionly.kpxe', 'boot/undionly.kpxe'],
  ['/etc/passwd', 'etc/passwd'], // mapped under the root, never the host's /etc
  ['pxelinux.cfg/01-52-54-00-12-34-56', 'pxelinux.cfg/01-52-54-00-12-34-56'],
  ['...', '...'],
  ['a..b/..c/d..', 'a..b/..c/d..'],
  ['100%.txt', '100%.txt'],
  ['%41.bin', '%41.bin'], // only dots, separators and controls are refused when encoded
  ['dir/', 'dir'],
];

const refused: Array<[string, string]> = [
  ['', 'empty filename'],
  ['/', 'empty filename'],
  ['\\', 'empty filename'],
  ['./.', 'empty filename'],
  ['../x', 'parent directory segment'],
  ['a/../../x', 'parent directory segment'],
  ['a/..', 'parent directory segment'],
  ['..\\..\\windows\\win.ini', 'parent directory segment'],
  ['/../etc/passwd', 'parent directory segment'],
  ['a\0b', 'NUL in filename'],
  ['a\nb', 'control character in filename'],
  ['a\tb', 'control character in filename'],
  ['a\x7fb', 'control character in filename'],
  ['caf\u00e9.efi', 'non-ASCII filename'],
  ['\u00ff', 'non-ASCII filename'],
  ['%2e%2e/etc/passwd', 'percent-encoded dot, separator or control character'],
  ['%2E%2E%2Fetc', 'percent-encoded dot, separator or control character'],
  ['..%2fetc', 'percent-encoded dot, separator or control character'],
  ['a%5c..%5cb', 'percent-encoded dot, separator or control character'],
  ['a%00b', 'percent-encoded dot, separator or control character'],
  ['a%0ab', 'percent-encoded dot, separator or control character'],
  ['x'.repeat(1025), 'filename too long'],
];

describe('tftp path normalisation', () => {
  for (const [raw, path] of accepted) {
    it(`accepts ${JSON.stringify(raw)} as ${JSON.stringify(path)}`, () => {
      assert.deepEqual(normaliseTftpPath(raw), { ok: true, path });
    });
  }
  for (const [raw, reason] of refused) {
    it(`refuses ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 20)}...` : raw)}: ${reason}`, () => {
      assert.deepEqual(normaliseTftpPath(raw), { ok: false, reason });
    });
  }
});
