/** Drivers: the interface the reconciler calls (./types) and its implementations. */
import { InvalidArgumentError } from '../core/errors';
import { builtinDriver } from './builtin';
import type { Driver } from './types';

export * from './types';
export { ContainerConditionError, UnsupportedError } from './errors';
export { BUILTIN_CAPABILITIES, BuiltinDriver, builtinDriver } from './builtin';

/** The names `driverFor` knows. */
export type DriverName = 'builtin';

/**
 * The driver called `name`, configured from `env` (for the built-in runtime: CDK_DOCKER_ROOT and
 * CDK_DOCKER_RUNROOT).
 */
export function driverFor(name: DriverName, env: NodeJS.ProcessEnv = process.env): Driver {
  if (name === 'builtin') return builtinDriver(env);
  throw new InvalidArgumentError(`unknown driver "${String(name)}"; use "builtin"`);
}
