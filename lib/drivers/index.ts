/** Drivers: the interface the reconciler calls (./types) and its implementations. */
import { InvalidArgumentError } from '../core/errors';
import { builtinDriver } from './builtin';
import type { Driver } from './types';

export * from './types';
export { ContainerConditionError, UnsupportedError } from './errors';
export { BUILTIN_CAPABILITIES, BuiltinDriver, builtinDriver } from './builtin';
export { lastOutput } from './output';

/** The engines `driverFor` knows, as `--engine` and CDK_DOCKER_ENGINE name them. */
export const DRIVER_NAMES = ['builtin'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/**
 * The driver of the engine called `name`, configured from `env` (for the built-in runtime:
 * CDK_DOCKER_ROOT and CDK_DOCKER_RUNROOT). An unknown name is refused, naming the known ones.
 */
export function driverFor(name: string, env: NodeJS.ProcessEnv = process.env): Driver {
  if (name === 'builtin') return builtinDriver(env);
  throw new InvalidArgumentError(`unknown engine "${name}"; the engines are: ${DRIVER_NAMES.join(', ')}`);
}
