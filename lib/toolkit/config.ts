import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../core/errors';

/** `cdk-docker.json`, next to a project's stack code (as `cdk.json`). */
export interface ProjectConfig {
  /** Command that runs the app, e.g. `npx tsx main.ts`. */
  readonly app?: string;
  /** Output directory for plans. @default "cdk.out" */
  readonly output?: string;
  /** The engine stack commands talk to (see `resolveEngineName`). @default "builtin" */
  readonly engine?: string;
}

export const CONFIG_FILE = 'cdk-docker.json';

const CONFIG_KEYS: readonly string[] = ['app', 'output', 'engine'] satisfies Array<keyof ProjectConfig>;

/** Reads `cdk-docker.json` in `dir`; an absent file is an empty config. */
export function loadConfig(dir: string): ProjectConfig {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${file} is not valid JSON (${(e as Error).message}); fix it, e.g. {"app": "npx tsx main.ts"}`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidArgumentError(`${file} must be a JSON object such as {"app": "npx tsx main.ts"}`);
  }
  const cfg = data as Record<string, unknown>;
  for (const key of Object.keys(cfg)) {
    if (!CONFIG_KEYS.includes(key)) throw new InvalidArgumentError(`${file}: unknown key "${key}"; known keys are "app", "output" and "engine"`);
    if (typeof cfg[key] !== 'string' || cfg[key] === '') throw new InvalidArgumentError(`${file}: "${key}" must be a non-empty string`);
  }
  return cfg as ProjectConfig;
}
