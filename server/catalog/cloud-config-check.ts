/**
 * The checks every rendered cloud-config passes before it is served. This is the structural floor
 * (header, YAML, a mapping at the top); the coreos-cloudinit -validate rule set builds on it.
 */
import { parseDocument } from 'yaml';

export function validateCloudConfig(text: string): string[] {
  const findings: string[] = [];
  const firstLine = text.split('\n', 1)[0] ?? '';
  if (firstLine.trimEnd() !== '#cloud-config') {
    findings.push(`line 1: must be exactly "#cloud-config", found ${JSON.stringify(firstLine.slice(0, 40))}`);
  }
  const document = parseDocument(text, { uniqueKeys: true });
  for (const error of document.errors) {
    findings.push(`YAML: ${error.message.split('\n')[0]}`);
  }
  if (document.errors.length === 0) {
    const value: unknown = document.toJS();
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
      findings.push('the document must be a mapping of keys to values');
    }
  }
  return findings;
}
