/** Who the audit log says made a change from this machine's CLI (local mode; remotely the server names the API token). */
import { userInfo } from 'node:os';

/** The OS user (and, under sudo, who ran sudo). */
export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? 'unknown';
  }
  const sudo = process.env.SUDO_USER;
  return sudo && sudo !== user ? `cli:${user}(sudo:${sudo})` : `cli:${user}`;
}
