import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../core/errors';

/**
 * Where a project's stack commands find a Docker Engine (cdk-docker.json's
 * `"engine": { "docker": { … } }`); every field given overrides the Docker CLI's environment.
 */
export interface DockerEngineConfig {
  /** An engine address, as `DOCKER_HOST` (`unix:///…`, `tcp://host:2376`, `ssh://user@host`). Exclusive with `context`. */
  readonly host?: string;
  /** A Docker CLI context (`docker context ls`). Exclusive with `host`. */
  readonly context?: string;
  /** TLS, verifying the engine's certificate against `ca.pem` (as `DOCKER_TLS_VERIFY`). */
  readonly tlsVerify?: boolean;
  /** The directory of `ca.pem`, `cert.pem` and `key.pem` (as `DOCKER_CERT_PATH`), relative to the project directory. */
  readonly certPath?: string;
}

/** `"engine"` in cdk-docker.json: an engine's name, or Docker (or a Swarm's manager) with where it is. */
export type EngineConfig = string | { readonly docker: DockerEngineConfig } | { readonly swarm: DockerEngineConfig };

/**
 * `"watch"` in cdk-docker.json, as cdk.json's: which of the project's files are the app's sources
 * for `cdk-docker watch` (patterns as in .dockerignore, relative to the project directory). The
 * plans' own input files (build contexts, bind-mounted, env, secret and config files) are
 * watched either way.
 */
export interface WatchConfig {
  /** Only these files are sources. @default - every file of the project */
  readonly include?: readonly string[];
  /** These files are not sources. @default - none (the plans directory, node_modules, .git and dot-files never are) */
  readonly exclude?: readonly string[];
}

/** `cdk-docker.json`, next to a project's stack code (as `cdk.json`). */
export interface ProjectConfig {
  /** Command that runs the app, e.g. `npx tsx main.ts`. */
  readonly app?: string;
  /** Output directory for plans. @default "cdk.out" */
  readonly output?: string;
  /** The engine stack commands talk to (see `resolveEngine`). @default "builtin" */
  readonly engine?: EngineConfig;
  /** What `cdk-docker watch` takes for the app's sources. */
  readonly watch?: WatchConfig;
}

export const CONFIG_FILE = 'cdk-docker.json';

const CONFIG_KEYS: readonly string[] = ['app', 'output', 'engine', 'watch'] satisfies Array<keyof ProjectConfig>;
const DOCKER_KEYS: readonly string[] = ['host', 'context', 'tlsVerify', 'certPath'] satisfies Array<keyof DockerEngineConfig>;
const ENGINE_EXAMPLE = '"builtin", "docker", "swarm" or {"docker": {"host": "tcp://host:2376", "tlsVerify": true}} (or {"swarm": {…}} for a manager)';

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
  if (!isObject(data)) throw new InvalidArgumentError(`${file} must be a JSON object such as {"app": "npx tsx main.ts"}`);
  for (const key of Object.keys(data)) {
    if (!CONFIG_KEYS.includes(key)) throw new InvalidArgumentError(`${file}: unknown key "${key}"; known keys are "app", "output", "engine" and "watch"`);
    if (key === 'watch') checkWatch(file, data[key]);
    else if (key === 'engine' && isObject(data[key])) checkEngine(file, data[key] as Record<string, unknown>);
    else if (typeof data[key] !== 'string' || data[key] === '') {
      throw new InvalidArgumentError(key === 'engine' ? `${file}: "engine" must be ${ENGINE_EXAMPLE}` : `${file}: "${key}" must be a non-empty string`);
    }
  }
  return data as ProjectConfig;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `"watch": { "include": [...], "exclude": [...] }`: lists of non-empty patterns. */
function checkWatch(file: string, watch: unknown): void {
  const example = '{"include": ["main.ts", "lib"], "exclude": ["**/*.test.ts"]}';
  if (!isObject(watch)) throw new InvalidArgumentError(`${file}: "watch" must be an object such as ${example}`);
  for (const [key, value] of Object.entries(watch)) {
    if (key !== 'include' && key !== 'exclude') throw new InvalidArgumentError(`${file}: unknown key "watch.${key}"; known keys are "include" and "exclude", e.g. ${example}`);
    if (!Array.isArray(value) || value.some((p) => typeof p !== 'string' || p.trim() === '')) {
      throw new InvalidArgumentError(`${file}: "watch.${key}" must be a list of patterns (as in .dockerignore), e.g. ${example}`);
    }
  }
}

/** `"engine": { "docker": { … } }` or `{ "swarm": { … } }`: one key, whose fields are known and typed. */
function checkEngine(file: string, engine: Record<string, unknown>): void {
  const keys = Object.keys(engine);
  const other = keys.find((k) => k !== 'docker' && k !== 'swarm');
  if (other !== undefined) throw new InvalidArgumentError(`${file}: unknown key "engine.${other}"; "engine" is ${ENGINE_EXAMPLE}`);
  if (keys.length === 0) throw new InvalidArgumentError(`${file}: "engine" is an empty object; it must be ${ENGINE_EXAMPLE}`);
  if (keys.length > 1) throw new InvalidArgumentError(`${file}: "engine" gives both "docker" and "swarm"; give one`);
  const kind = keys[0];
  const docker = engine[kind];
  if (!isObject(docker)) throw new InvalidArgumentError(`${file}: "engine.${kind}" must be an object with "host", "context", "tlsVerify" or "certPath"`);
  for (const [key, value] of Object.entries(docker)) {
    if (!DOCKER_KEYS.includes(key)) throw new InvalidArgumentError(`${file}: unknown key "engine.${kind}.${key}"; known keys are "host", "context", "tlsVerify" and "certPath"`);
    if (key === 'tlsVerify') {
      if (typeof value !== 'boolean') throw new InvalidArgumentError(`${file}: "engine.${kind}.tlsVerify" must be true or false, not ${JSON.stringify(value)}`);
    } else if (typeof value !== 'string' || value === '') {
      throw new InvalidArgumentError(`${file}: "engine.${kind}.${key}" must be a non-empty string, not ${JSON.stringify(value)}`);
    }
  }
  if (docker.host !== undefined && docker.context !== undefined) {
    throw new InvalidArgumentError(`${file}: "engine.${kind}" gives both "host" and "context"; give one (a context already names its host)`);
  }
}
