import * as path from 'node:path';
import { DRIVER_NAMES } from '../drivers/names';
import type { Driver, DriverName } from '../drivers';
import { InvalidArgumentError } from '../core/errors';
import { CONFIG_FILE, DockerEngineConfig, loadConfig } from './config';

/**
 * Which engine a stack command talks to, and what the toolkit needs of it. The name comes from
 * `--engine`, else `CDK_DOCKER_ENGINE`, else `"engine"` in cdk-docker.json, else `builtin` (for
 * Docker, where the engine is comes from cdk-docker.json's `{ "docker": … }` and the environment); the
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

/** An engine chosen for a command: its name and, for Docker, where it is (from cdk-docker.json). */
export interface EngineChoice {
  readonly name: EngineName;
  /**
   * For `docker`: cdk-docker.json's `"engine": { "docker": { … } }` (a relative `certPath`
   * resolved against the project directory); what it leaves out comes from the environment
   * (DOCKER_HOST, DOCKER_CONTEXT, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), as the Docker CLI's.
   */
  readonly docker?: DockerEngineConfig;
  /** For `swarm`: cdk-docker.json's `"engine": { "swarm": { … } }`, a manager's endpoint, as `docker`'s. */
  readonly swarm?: DockerEngineConfig;
}

/** The engine's name, checked; an unknown one is an error naming where it came from. */
export function resolveEngineName(options: EngineNameOptions = {}): EngineName {
  return resolveEngine(options).name;
}

/**
 * The engine a command talks to: the name from `--engine`, else CDK_DOCKER_ENGINE, else
 * cdk-docker.json, else `builtin`; for `docker`, the endpoint settings of cdk-docker.json's
 * `{ "docker": { … } }` whichever of the three chose Docker.
 */
export function resolveEngine(options: EngineNameOptions = {}): EngineChoice {
  const dir = path.resolve(options.dir ?? process.cwd());
  const env = options.env ?? process.env;
  const configured = loadConfig(dir).engine;
  const fromConfig = typeof configured === 'object' ? ('swarm' in configured ? 'swarm' : 'docker') : configured;
  let name: string;
  let from: string;
  if (options.engine !== undefined) [name, from] = [options.engine, '--engine'];
  else if (env.CDK_DOCKER_ENGINE) [name, from] = [env.CDK_DOCKER_ENGINE, 'CDK_DOCKER_ENGINE'];
  else if (fromConfig !== undefined) [name, from] = [fromConfig, `"engine" in ${path.join(dir, CONFIG_FILE)}`];
  else return { name: 'builtin' };
  if (!(ENGINES as readonly string[]).includes(name)) {
    throw new InvalidArgumentError(`unknown engine "${name}" (${from}); the supported engines are: ${ENGINES.join(', ')}`);
  }
  if (typeof configured !== 'object') return { name: name as EngineName };
  // The endpoint settings go with the engine they were given for.
  const kind = 'swarm' in configured ? 'swarm' : 'docker';
  if (name !== kind) return { name: name as EngineName };
  const given = 'swarm' in configured ? configured.swarm : configured.docker;
  const endpoint = given.certPath === undefined ? given : { ...given, certPath: path.resolve(dir, given.certPath) };
  return kind === 'swarm' ? { name: 'swarm', swarm: endpoint } : { name: 'docker', docker: endpoint };
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
