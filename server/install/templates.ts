/**
 * boot-templates/install.sh.hbs and boot-templates/install/*.hbs (the payload files' texts), compiled
 * once with a private Handlebars instance and the catalog's settings (noEscape, strict: a missing
 * value is an error, never an empty string). Every value install.sh.hbs puts on a command line goes
 * through {{sh value}}, which single-quotes it for the shell; file contents go into quoted
 * here-documents whose delimiter the content does not contain (core/root-file.ts).
 */
import Handlebars from 'handlebars';
import { join } from 'node:path';
import { compileDir, compileFile } from '../catalog/catalog.js';
import type { InstallRenderer } from '../core/install-types.js';
import { PAYLOAD_TEMPLATE_NAMES } from '../core/payload-templates.js';
import { packageRoot } from '../paths.js';

export const INSTALL_TEMPLATE = 'install.sh.hbs';
/** Under boot-templates/: one <name>.hbs per PAYLOAD_TEMPLATE_NAMES entry. */
export const PAYLOAD_TEMPLATE_DIR = 'install';
const PAYLOAD_SUFFIX = '.hbs';

export type InstallRendererResult = { readonly ok: true; readonly renderer: InstallRenderer } | { readonly ok: false; readonly errors: readonly string[] };

/** 'it''s' -> 'it'\''s': one shell word whatever the value holds. */
export function shellQuote(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`{{sh}} was given ${value === undefined ? 'a missing value' : typeof value}`);
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

function createInstallHandlebars(): typeof Handlebars {
  const handlebars = Handlebars.create();
  handlebars.registerHelper('sh', (...args: unknown[]) => {
    if (args.length < 2) throw new Error('{{sh}} needs a value');
    return shellQuote(args[0]);
  });
  return handlebars;
}

/**
 * Compiles install.sh.hbs and every payload template from `dir` (boot-templates/). All or nothing:
 * every unreadable, broken or missing template is listed.
 */
export function loadInstallRenderer(dir = join(packageRoot(), 'boot-templates')): InstallRendererResult {
  const errors: string[] = [];
  const handlebars = createInstallHandlebars();
  const script = compileFile(handlebars, join(dir, INSTALL_TEMPLATE), errors);
  const payloadDir = join(dir, PAYLOAD_TEMPLATE_DIR);
  const { templates, found } = compileDir(handlebars, payloadDir, PAYLOAD_SUFFIX, errors);
  for (const name of PAYLOAD_TEMPLATE_NAMES) {
    if (!found.has(name)) errors.push(`${join(payloadDir, `${name}${PAYLOAD_SUFFIX}`)}: missing (rackboot needs it)`);
  }
  if (errors.length > 0 || script === null) return { ok: false, errors };
  return {
    ok: true,
    renderer: {
      installScript: (context) => script(context),
      payloadFile: (name, context) => {
        const template = templates.get(name);
        if (!template) throw new Error(`${join(payloadDir, `${name}${PAYLOAD_SUFFIX}`)} is not loaded`);
        return template(context);
      },
    },
  };
}

/** loadInstallRenderer for start-up: throws with every error, one a line. */
export function loadInstallTemplate(dir = join(packageRoot(), 'boot-templates')): InstallRenderer {
  const result = loadInstallRenderer(dir);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.renderer;
}
