import * as path from 'node:path';
import { DRIVER_NAMES } from '../drivers';
import type { Driver, DriverName } from '../drivers';
import { InvalidArgumentError } from '../core/errors';
import { CONFIG_FILE, loadConfig } from './config';

/**
 * Which engine a stack command talks to, and what the toolkit needs of it. The name comes from
 * `--engine`, else `CDK_DOCKER_ENGINE`, else `"engine"` in cdk-docker.json, else `builtin`; the
 * engine itself (driver, stack lock, plan key) is made by the caller and handed in, so a
 * toolkit function can run against any engine, or a test's.
 */

/** The engines there are; a name not here is refused before anything runs. */
export const ENGINES: readonly DriverName[] = DRIVER_NAMES;
export type EngineName = DriverName;

export interface EngineNameOptions {
  /** The `--engine` flag. */
  readonly engine?: string;
  /** Project directory (where cdk-docker.json is). @default process.cwd() */
  readonly dir?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** The engine's name, checked; an unknown one is an error naming where it came from. */
export function resolveEngineName(options: EngineNameOptions = {}): EngineName {
  const dir = path.resolve(options.dir ?? process.cwd());
  const env = options.env ?? process.env;
  let name: string;
  let from: string;
  if (options.engine !== undefined) [name, from] = [options.engine, '--engine'];
  else if (env.CDK_DOCKER_ENGINE) [name, from] = [env.CDK_DOCKER_ENGINE, 'CDK_DOCKER_ENGINE'];
  else {
    const configured = loadConfig(dir).engine;
    if (configured === undefined) return 'builtin';
    [name, from] = [configured, `"engine" in ${path.join(dir, CONFIG_FILE)}`];
  }
  if (!(ENGINES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`unknown engine "${name}" (${from}); the supported engines are: ${ENGINES.join(', ')}`);
  }
  return name as EngineName;
}

/** What the commands that change a stack need of an engine. */
export interface StackEngine {
  readonly driver: Driver;
  /** Runs `fn` holding `stack`'s lock; a second holder fails at once, naming the first. */
  stackLocked<T>(stack: string, fn: () => Promise<T>): Promise<T>;
  /** The key that signs saved plans (`diff --out`) and authenticates them (`apply --plan`). */
  planKey(): Buffer;
}

/** A value, or how to make it when it is first needed (an engine's modules load while the app runs). */
export type Lazy<T> = T | (() => Promise<T>);

export async function resolveLazy<T>(value: Lazy<T>): Promise<T> {
  return typeof value === 'function' ? (value as () => Promise<T>)() : value;
}
