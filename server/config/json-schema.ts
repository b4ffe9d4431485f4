/**
 * The configuration file's JSON Schema, generated from the zod schema that validates it (so it
 * cannot drift): editors use it for completion and checks (docs/configuration.md). The committed copy
 * is schema/rackboot-config.schema.json; `rackboot config schema` prints it.
 */
import { z } from 'zod';
import { configSchema } from './config.js';

export const CONFIG_SCHEMA_FILE = 'schema/rackboot-config.schema.json';

export function configJsonSchema(): Record<string, unknown> {
  // input: what a file may say (fields with defaults are optional), not what parsing returns
  const generated = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    title: 'rackboot configuration',
    description: 'The YAML configuration file of rackboot (docs/configuration.md). Cross-field rules (overlapping subnets, served roots) are checked by `rackboot config`, not here.',
    ...rest,
  };
}

/** The committed file's text: stable key order, two-space indent, a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
