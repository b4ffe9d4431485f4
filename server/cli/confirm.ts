/**
 * Confirmation for commands that disrupt machines (reprovision, power off and cycle):
 * asked on a terminal, `--yes` required otherwise, so a script never acts by accident.
 */
import { createInterface } from 'node:readline/promises';
import { CliError, EXIT_FAILED, EXIT_USAGE } from './context.js';

export async function confirmOrExit(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new CliError(`${question} Not a terminal: add --yes to confirm`, EXIT_USAGE);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError('not confirmed: nothing changed', EXIT_FAILED);
  } finally {
    prompt.close();
  }
}
