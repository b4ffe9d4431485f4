/**
 * The configuration file's JSON Schema (for editors) is generated from the zod schema; the committed
 * copy must be the generated one, and `rackboot config schema` (source and built CLI) prints it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONFIG_SCHEMA_FILE, configJsonSchema, configJsonSchemaText } from '../../../server/config/json-schema.js';
import { configSchema } from '../../../server/config/config.js';
import { builtRackboot } from '../../helpers/built-cli.js';
import { rackboot } from '../../helpers/cli.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('the committed schema file is the one the zod schema generates (run `rackboot config schema > schema/rackboot-config.schema.json`)', () => {
  assert.equal(readFileSync(join(ROOT, CONFIG_SCHEMA_FILE), 'utf8'), configJsonSchemaText());
});

test('the schema describes every section, refuses unknown keys and gives the defaults as optional', () => {
  const schema = configJsonSchema() as { $schema: string; properties: Record<string, { properties?: Record<string, { enum?: string[] }> }>; additionalProperties: boolean; required?: string[] };
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(configSchema.shape).sort());
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.required ?? [], [], 'an empty file is a valid config (every field has a default)');
  assert.deepEqual(schema.properties.log?.properties?.format?.enum, ['auto', 'json', 'pretty', 'journal']);
});

test('`rackboot config schema` prints it, from source and from the built CLI', () => {
  const source = rackboot(['config', 'schema']);
  assert.equal(source.code, 0, source.stderr);
  assert.equal(source.stdout, configJsonSchemaText());
  const built = builtRackboot(['config', 'schema']);
  assert.equal(built.code, 0, built.stderr);
  assert.equal(built.stdout, configJsonSchemaText());
});

test('docs/configuration.md tells editors where the schema is (yaml-language-server modeline)', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  assert.match(doc, /# yaml-language-server: \$schema=\S*rackboot-config\.schema\.json/);
  assert.ok(doc.includes('rackboot config schema'));
});
