/**
 * boot-templates/install.sh.hbs: compiled once with a private Handlebars instance (noEscape, strict:
 * a missing value is an error, never an empty string). Every value the template puts on a command
 * line goes through {{sh value}}, which single-quotes it for the shell; file contents go into
 * quoted here-documents whose delimiter the content does not contain (core/install.ts).
 */
import Handlebars from 'handlebars';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InstallRenderer, InstallScriptContext } from '../core/install.js';
import { packageRoot } from '../paths.js';

export const INSTALL_TEMPLATE = 'install.sh.hbs';

/** 'it''s' -> 'it'\''s': one shell word whatever the value holds. */
export function shellQuote(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`{{sh}} was given ${value === undefined ? 'a missing value' : typeof value}`);
  return `'${String(value).replace(/'/g, `'\\''`)}'`;
}

export function compileInstallTemplate(source: string): InstallRenderer {
  const handlebars = Handlebars.create();
  handlebars.registerHelper('sh', (...args: unknown[]) => {
    if (args.length < 2) throw new Error('{{sh}} needs a value');
    return shellQuote(args[0]);
  });
  handlebars.precompile(source, { noEscape: true, strict: true });
  const template = handlebars.compile<InstallScriptContext>(source, { noEscape: true, strict: true });
  return { installScript: (context) => template(context) };
}

/** Loads boot-templates/install.sh.hbs from the package (or `dir`). Throws with the file name on a syntax error. */
export function loadInstallTemplate(dir = join(packageRoot(), 'boot-templates')): InstallRenderer {
  const path = join(dir, INSTALL_TEMPLATE);
  try {
    return compileInstallTemplate(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`, { cause: error });
  }
}
