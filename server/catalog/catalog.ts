/**
 * Loads boot-templates/ and cloud-configs/, compiles every template with a private Handlebars
 * instance (noEscape: iPXE and YAML are not HTML; strict: a missing variable is an error, never an
 * empty string) and reports every problem at once. The Catalog is the core's Renderer.
 */
import Handlebars from 'handlebars';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findChoice, type Menu } from '../core/menu.js';
import type { BootScriptName, Renderer } from '../core/provisioner.js';
import { roleSpec } from '../core/roles.js';
import { validateCloudConfig } from './cloud-config-check.js';
import { loadMenus } from './menu-loader.js';

export type Template = (context: unknown) => string;

export const REQUIRED_BOOT_SCRIPTS: readonly BootScriptName[] = ['chain', 'machine', 'unknown', 'menu', 'local-disk'];

export interface CatalogDirs {
  readonly bootTemplates: string;
  readonly cloudConfigs: string;
  readonly menus: string;
}

export interface CatalogRequirements {
  /** Templates the config names (e.g. boot.cloudConfig). */
  readonly requiredCloudConfigs?: readonly string[];
  /** The menu machines without a role are shown, and its default entry. */
  readonly menu?: { readonly name: string; readonly defaultItem: string };
}

export type CatalogResult = { ok: true; catalog: Catalog } | { ok: false; errors: readonly string[] };

export class Catalog implements Renderer {
  private readonly bootScripts: ReadonlyMap<string, Template>;
  private readonly cloudConfigs: ReadonlyMap<string, Template>;
  private readonly menus: ReadonlyMap<string, Menu>;

  private constructor(bootScripts: Map<string, Template>, cloudConfigs: Map<string, Template>, menus: Map<string, Menu>) {
    this.bootScripts = bootScripts;
    this.cloudConfigs = cloudConfigs;
    this.menus = menus;
  }

  static load(dirs: CatalogDirs, options: CatalogRequirements = {}): CatalogResult {
    const errors: string[] = [];
    const handlebars = createHandlebars();
    const { templates: bootScripts, found: bootFiles } = compileDir(handlebars, dirs.bootTemplates, '.ipxe.hbs', errors);
    const partialsDir = join(dirs.cloudConfigs, 'partials');
    const partials = existsSync(partialsDir) ? readSources(partialsDir, '.yaml.hbs', errors) : new Map<string, string>();
    for (const [name, source] of partials) handlebars.registerPartial(name, source);
    const { templates: cloudConfigs, found: cloudFiles } = compileDir(handlebars, dirs.cloudConfigs, '.yaml.hbs', errors);
    checkPartialReferences(dirs.cloudConfigs, partials, errors);
    for (const name of REQUIRED_BOOT_SCRIPTS) {
      if (!bootFiles.has(name)) errors.push(`${join(dirs.bootTemplates, `${name}.ipxe.hbs`)}: missing (rackboot needs it)`);
    }
    for (const name of options.requiredCloudConfigs ?? []) {
      if (!cloudFiles.has(name)) errors.push(`${join(dirs.cloudConfigs, `${name}.yaml.hbs`)}: missing (named in the config)`);
    }
    const menus = loadMenus(dirs.menus, errors);
    checkMenus(dirs, menus, cloudFiles, options.menu, errors);
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, catalog: new Catalog(bootScripts, cloudConfigs, menus) };
  }

  menu(name: string): Menu | null {
    return this.menus.get(name) ?? null;
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
  // Strict mode does not check helper arguments, so the helpers refuse a missing value themselves.
  const quote = (helper: string) => (...args: unknown[]) => {
    const value = args[0];
    if (args.length < 2 || value === undefined) throw new Error(`{{${helper}}} was given a missing value`);
    return JSON.stringify(value);
  };
  instance.registerHelper('yaml', quote('yaml'));
  instance.registerHelper('json', quote('json'));
  return instance;
}

/** Compiles every `*<suffix>` file in dir; `found` also names the files that failed to compile. */
export function compileDir(
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
    const template = compileFile(handlebars, join(dir, file), errors);
    if (template) templates.set(file.slice(0, -suffix.length), template);
  }
  return { templates, found: new Set(names.map((file) => file.slice(0, -suffix.length))) };
}

/** One template file (noEscape, strict); null, with the error in `errors`, when it cannot be read or compiled. */
export function compileFile(handlebars: typeof Handlebars, path: string, errors: string[]): Template | null {
  try {
    const source = readFileSync(path, 'utf8');
    // precompile now so syntax errors surface at load, not at a machine's first boot
    handlebars.precompile(source, { noEscape: true, strict: true });
    return handlebars.compile(source, { noEscape: true, strict: true });
  } catch (error) {
    errors.push(`${path}: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`);
    return null;
  }
}

function readSources(dir: string, suffix: string, errors: string[]): Map<string, string> {
  const sources = new Map<string, string>();
  try {
    for (const file of readdirSync(dir).filter((n) => n.endsWith(suffix)).sort()) {
      sources.set(file.slice(0, -suffix.length), readFileSync(join(dir, file), 'utf8'));
    }
  } catch (error) {
    errors.push(`${dir}: cannot read: ${(error as Error).message}`);
  }
  return sources;
}

/** A `{{> name}}` that names no file in partials/ is an error at load, not at a machine's boot. */
function checkPartialReferences(dir: string, partials: ReadonlyMap<string, string>, errors: string[]): void {
  const sources = new Map<string, string>();
  for (const [name, text] of readSources(dir, '.yaml.hbs', [])) sources.set(join(dir, `${name}.yaml.hbs`), text);
  for (const [name, text] of partials) sources.set(join(dir, 'partials', `${name}.yaml.hbs`), text);
  for (const [path, text] of sources) {
    for (const match of text.matchAll(/\{\{~?>\s*([A-Za-z0-9_-]+)/g)) {
      const partial = match[1] as string;
      if (!partials.has(partial)) errors.push(`${path}: uses partial ${partial}, but ${join(dir, 'partials', `${partial}.yaml.hbs`)} does not exist`);
    }
  }
}

/** Cross-file rules: the configured menu and default entry exist; every role a menu offers has a template. */
function checkMenus(
  dirs: CatalogDirs,
  menus: ReadonlyMap<string, Menu>,
  cloudFiles: ReadonlySet<string>,
  wanted: CatalogRequirements['menu'],
  errors: string[],
): void {
  for (const menu of menus.values()) {
    for (const entry of menu.entries) {
      if (entry.kind !== 'role') continue;
      const template = roleSpec(entry.role).template;
      if (!cloudFiles.has(template)) {
        errors.push(`${join(dirs.menus, `${menu.name}.yaml`)}: entry ${entry.id} boots role ${entry.role}, but ${join(dirs.cloudConfigs, `${template}.yaml.hbs`)} does not exist`);
      }
    }
  }
  if (!wanted) return;
  const menu = menus.get(wanted.name);
  if (!menu) {
    errors.push(`${join(dirs.menus, `${wanted.name}.yaml`)}: missing (boot.menu.name names it)`);
    return;
  }
  if (!findChoice(menu, wanted.defaultItem)) {
    errors.push(`${join(dirs.menus, `${wanted.name}.yaml`)}: has no entry ${wanted.defaultItem} (boot.menu.defaultItem)`);
  }
}
