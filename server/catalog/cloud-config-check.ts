/**
 * The checks every rendered cloud-config passes before it is served. Flatcar's installer runs
 * `coreos-cloudinit -validate` and aborts on any entry, warnings included, so rackboot serves a
 * document only when the re-implemented validator (cloudinit/validate.ts) has nothing to say, and
 * only a cloud-config: rackboot renders nothing else (no scripts, Ignition or multipart documents).
 */
import { validateUserData } from './cloudinit/validate.js';

/** Every finding as `line N: <error|warning>: <message>`, sorted by line; empty when the document may be served. */
export function validateCloudConfig(text: string): string[] {
  const report = validateUserData(text);
  const findings = report.findings.map((finding) => `line ${finding.line}: ${finding.kind}: ${finding.message}`);
  if (report.kind !== 'cloud-config' && report.kind !== 'invalid') {
    // an empty document, a script, Ignition or multipart is valid user-data, but not a cloud-config
    findings.unshift(`line 1: error: rackboot serves only cloud-configs; this is ${describeKind(report.kind)}, which must start with "#cloud-config"`);
  }
  return findings;
}

function describeKind(kind: string): string {
  switch (kind) {
    case 'empty':
      return 'an empty document';
    case 'script':
      return 'a script ("#!")';
    case 'ignition':
      return 'an Ignition config';
    default:
      return 'a multipart MIME document';
  }
}
