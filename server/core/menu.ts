/** The boot menu a machine without a role is shown (menus/*.yaml, checked at load by the catalog). */
import type { BootMode, Role } from './roles.js';

export type MenuAction = 'local-disk' | 'debug';

export type MenuEntry =
  | { readonly kind: 'section'; readonly label: string }
  | { readonly kind: 'role'; readonly id: string; readonly label: string; readonly role: Role; readonly mode: BootMode }
  | { readonly kind: 'action'; readonly id: string; readonly label: string; readonly action: MenuAction };

export interface Menu {
  readonly name: string;
  readonly title: string;
  readonly entries: readonly MenuEntry[];
}

export type MenuChoice = Exclude<MenuEntry, { kind: 'section' }>;

export function findChoice(menu: Menu, id: string): MenuChoice | null {
  for (const entry of menu.entries) if (entry.kind !== 'section' && entry.id === id) return entry;
  return null;
}
