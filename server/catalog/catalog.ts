/**
 * Loads boot-templates/ and cloud-configs/, compiles every template with a private Handlebars
 * instance (noEscape: iPXE and YAML are not HTML; strict: a missing variable is an error, never an
 * empty string) and reports every problem at once. The Catalog is the core's Renderer.
 */
import Handlebars from 'handlebars';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BootScriptName, Renderer } from '../core/provisioner.js';
import { validateCloudConfig } from './cloud-config-check.js';

type Template = (context: unknown) => string;

export const REQUIRED_BOOT_SCRIPTS: readonly BootScriptName[] = ['chain', 'machine', 'unknown'];

export interface CatalogDirs {
  readonly bootTemplates: string;
  readonly cloudConfigs: string;
}

export type CatalogResult = { ok: true; catalog: Catalog } | { ok: false; errors: readonly string[] };

export class Catalog implements Renderer {
  private readonly bootScripts: ReadonlyMap<string, Template>;
  private readonly cloudConfigs: ReadonlyMap<string, Template>;

  private constructor(bootScripts: Map<string, Template>, cloudConfigs: Map<string, Template>) {
    this.bootScripts = bootScripts;
    this.cloudConfigs = cloudConfigs;
  }

  static load(dirs: CatalogDirs, options: { requiredCloudConfigs?: readonly string[] } = {}): CatalogResult {
    const errors: string[] = [];
    const handlebars = createHandlebars();
    const { templates: bootScripts, found: bootFiles } = compileDir(handlebars, dirs.bootTemplates, '.ipxe.hbs', errors);
    const { templates: cloudConfigs, found: cloudFiles } = compileDir(handlebars, dirs.cloudConfigs, '.yaml.hbs', errors);
    for (const name of REQUIRED_BOOT_SCRIPTS) {
      if (!bootFiles.has(name)) errors.push(`${join(dirs.bootTemplates, `${name}.ipxe.hbs`)}: missing (rackboot needs it)`);
    }
    for (const name of options.requiredCloudConfigs ?? []) {
      if (!cloudFiles.has(name)) errors.push(`${join(dirs.cloudConfigs, `${name}.yaml.hbs`)}: missing (named in the config)`);
    }
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, catalog: new Catalog(bootScripts, cloudConfigs) };
  }

  bootScript(name: BootScriptName, context: Readonly<Record<string, unknown>>): string {
    const template = this.bootScripts.get(name);
    if (!template) throw new Error(`boot script ${name} is not in the catalog`);
    return template(context);
  }

  cloudConfig(
    name: string,
    context: Readonly<Record<string, unknown>>,
  ): { ok: true; text: string } | { ok: false; errors: readonly string[] } {
    const template = this.cloudConfigs.get(name);
    if (!template) return { ok: false, errors: [`no cloud-config template named ${name}`] };
    let text: string;
    try {
      text = template(context);
    } catch (error) {
      return { ok: false, errors: [`rendering failed: ${(error as Error).message}`] };
    }
    const findings = validateCloudConfig(text);
    if (findings.length > 0) return { ok: false, errors: findings };
    return { ok: true, text };
  }
}

function createHandlebars(): typeof Handlebars {
  const instance = Handlebars.create();
  // JSON strings are valid YAML scalars: any value lands quoted and escaped, never as YAML syntax.
  instance.registerHelper('yaml', (value: unknown) => JSON.stringify(value ?? null));
  instance.registerHelper('json', (value: unknown) => JSON.stringify(value ?? null));
  return instance;
}

/** Compiles every `*<suffix>` file in dir; `found` also names the files that failed to compile. */
function compileDir(
  handlebars: typeof Handlebars,
  dir: string,
  suffix: string,
  errors: string[],
): { templates: Map<string, Template>; found: Set<string> } {
  const templates = new Map<string, Template>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(suffix)).sort();
  } catch (error) {
    errors.push(`${dir}: cannot read: ${(error as Error).message}`);
    return { templates, found: new Set() };
  }
  for (const file of names) {
    const path = join(dir, file);
    try {
      const source = readFileSync(path, 'utf8');
      // precompile now so syntax errors surface at load, not at a machine's first boot
      handlebars.precompile(source, { noEscape: true, strict: true });
      templates.set(file.slice(0, -suffix.length), handlebars.compile(source, { noEscape: true, strict: true }));
    } catch (error) {
      errors.push(`${path}: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
    }
  }
  return { templates, found: new Set(names.map((file) => file.slice(0, -suffix.length))) };
}
