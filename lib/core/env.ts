import * as fs from 'node:fs';
import { InvalidArgumentError } from './errors';

/**
 * Docker's env-file format: one `KEY=VALUE` per line, `#` comments and blank lines skipped,
 * leading blanks dropped, a bare `KEY` taking its value from `env` (or dropped when unset).
 * Returns `KEY=VALUE` strings in file order.
 */
export function readEnvFile(file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read env file ${file}: ${(e as Error).message}`);
  }
  // As Docker's opts.ParseEnvFile: valid UTF-8, a BOM dropped, names without blanks.
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new InvalidArgumentError(`env file ${file} contains invalid utf8 bytes; save it as UTF-8`);
  }
  const out: string[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.replace(/\r$/, '').replace(/^\s+/, '');
      if (line === '' || line.startsWith('#')) return;
      const where = `env file ${file} line ${i + 1}`;
      if (line.includes('\0')) throw new InvalidArgumentError(`${where} contains a NUL byte, which no environment variable can hold; remove it`);
      const eq = line.indexOf('=');
      const name = (eq < 0 ? line : line.slice(0, eq)).replace(/^[ \t]+/, '');
      if (/[ \t]/.test(name)) throw new InvalidArgumentError(`${where}: poorly formatted environment: variable ${JSON.stringify(name)} contains whitespaces; write NAME=VALUE`);
      if (name === '') throw new InvalidArgumentError(`${where}: poorly formatted environment: no variable name on line ${JSON.stringify(line)}; write NAME=VALUE`);
      const entry = expandEnv(eq < 0 ? name : `${name}=${line.slice(eq + 1)}`, env);
      if (entry !== undefined) out.push(entry);
    });
  return out;
}

/** `KEY=VALUE` as is; a bare `KEY` becomes `KEY=<value in env>`, or undefined when unset. */
export function expandEnv(entry: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // Docker's opts.ValidateEnv: a variable needs a name.
  if (entry === '' || entry.startsWith('=')) throw new InvalidArgumentError(`invalid environment variable: ${entry}`);
  if (entry.includes('=')) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

/** Env merged by key: later entries win, order of first appearance kept. */
export function mergeEnv(base: string[], overrides: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...overrides]) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...out.values()].filter((e) => e.includes('='));
}
