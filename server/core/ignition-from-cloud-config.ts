/**
 * The Ignition path, end to end and pure: a role's rendered, validated cloud-config -> the
 * format-neutral machine config -> Ignition 3.3.0 -> rackboot's Ignition check. Any finding at any
 * step: nothing to serve. The Provisioner serves the result; the tests render every role through it.
 */
import { parse as parseYaml } from 'yaml';
import { checkIgnition } from './ignition-check.js';
import { renderIgnition, type IgnitionResult } from './ignition.js';
import { machineConfigFromCloudConfig, type DigestLookup } from './machine-config.js';
import type { EtcdContext } from './render-context.js';

export function ignitionFromCloudConfig(cloudConfig: string, etcd: EtcdContext | null, digestOf: DigestLookup): IgnitionResult {
  let doc: unknown;
  try {
    doc = parseYaml(cloudConfig);
  } catch (error) {
    return { ok: false, errors: [`the cloud-config is not YAML: ${(error as Error).message}`] };
  }
  const model = machineConfigFromCloudConfig(doc, etcd, digestOf);
  if (!model.ok) return model;
  const ignition = renderIgnition(model.config);
  if (!ignition.ok) return ignition;
  const findings = checkIgnition(ignition.text);
  return findings.length > 0 ? { ok: false, errors: findings } : ignition;
}
