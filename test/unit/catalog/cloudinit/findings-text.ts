/** The validator's findings as text, for the tests of server/catalog/cloudinit/. */
import { validateUserData } from '../../../../server/catalog/cloudinit/validate.js';

/** Findings as the validator prints them. */
export function lines(text: string): string[] {
  return validateUserData(text).findings.map((f) => `line ${f.line}: ${f.kind}: ${f.message}`);
}

/** A cloud-config body below the header (so line 2 is the first line of `body`). */
export function cc(body: string): string[] {
  return lines(`#cloud-config\n${body}`);
}
