/** Loads and checks menus/*.yaml: schema, unique ids, known roles and actions. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ipxeTextProblem } from '../core/ipxe-text.js';
import type { Menu, MenuEntry } from '../core/menu.js';
import { BOOT_MODES, ROLES } from '../core/roles.js';

// iPXE prints labels on one line and reads ids as tokens: no control characters, no spaces in ids,
// nothing iPXE would expand or split into another command (core/ipxe-text.ts).
const label = z
  .string()
  .min(1)
  .max(76)
  .superRefine((text, ctx) => {
    const problem = ipxeTextProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: `a menu label ${problem}` });
  });
const id = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lower-case letters, digits and hyphens');

const entrySchema = z.union([
  z.strictObject({ section: label }),
  z.strictObject({ id, label, role: z.enum(ROLES), mode: z.enum(BOOT_MODES) }),
  z.strictObject({ id, label, action: z.enum(['local-disk', 'debug']) }),
]);

const menuSchema = z.strictObject({ title: label, entries: z.array(entrySchema).min(1) });

export function loadMenus(dir: string, errors: string[]): Map<string, Menu> {
  const menus = new Map<string, Menu>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
  } catch (error) {
    errors.push(`${dir}: cannot read: ${(error as Error).message}`);
    return menus;
  }
  for (const file of files) {
    const path = join(dir, file);
    const document = parseDocument(readFileSync(path, 'utf8'), { uniqueKeys: true });
    if (document.errors.length > 0) {
      for (const e of document.errors) errors.push(`${path}: YAML: ${e.message.split('\n')[0]}`);
      continue;
    }
    const parsed = menuSchema.safeParse(document.toJS());
    if (!parsed.success) {
      for (const issue of parsed.error.issues) errors.push(`${path}: ${issue.path.map(String).join('.') || '(top level)'}: ${issue.message}`);
      continue;
    }
    const entries: MenuEntry[] = parsed.data.entries.map((e) =>
      'section' in e
        ? { kind: 'section', label: e.section }
        : 'role' in e
          ? { kind: 'role', id: e.id, label: e.label, role: e.role, mode: e.mode }
          : { kind: 'action', id: e.id, label: e.label, action: e.action },
    );
    const seen = new Set<string>();
    for (const entry of entries) {
      if (entry.kind === 'section') continue;
      if (seen.has(entry.id)) errors.push(`${path}: entry id ${entry.id} is used twice`);
      seen.add(entry.id);
    }
    const name = file.slice(0, -'.yaml'.length);
    menus.set(name, { name, title: parsed.data.title, entries });
  }
  return menus;
}
