import * as fs from 'node:fs';
import { InvalidArgumentError } from './errors';

/**
 * Docker's env-file format: one `KEY=VALUE` per line, `#` comments and blank lines skipped,
 * leading blanks dropped, a bare `KEY` taking its value from `env` (or dropped when unset).
 * Returns `KEY=VALUE` strings in file order.
 */
export function readEnvFile(file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read env file ${file}: ${(e as Error).message}`);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l) => {
      const line = l.replace(/^\s+/, '');
      // Docker's env-file parser refuses this; runc would fail later with a raw error.
      if (line.startsWith('=')) throw new InvalidArgumentError(`env file ${file}: no variable name on line '${line}'; write NAME=VALUE`);
      return expandEnv(line, env);
    })
    .filter((l): l is string => l !== undefined);
}

/** `KEY=VALUE` as is; a bare `KEY` becomes `KEY=<value in env>`, or undefined when unset. */
export function expandEnv(entry: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // Docker's opts.ValidateEnv: a variable needs a name.
  if (entry === '' || entry.startsWith('=')) throw new InvalidArgumentError(`invalid environment variable: ${entry}`);
  if (entry.includes('=')) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}
