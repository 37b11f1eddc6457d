/** Drivers: the interface the reconciler calls (./types) and its implementations. */
import { InvalidArgumentError } from '../core/errors';
import { builtinDriver } from './builtin';
import { dockerDriver } from './docker/driver';
import { swarmDriver } from './swarm/driver';
import type { DockerEndpointOptions } from './docker/endpoint';
import type { Driver } from './types';

export * from './types';
export { ContainerConditionError, UnsupportedError } from './errors';
export { BUILTIN_CAPABILITIES, BuiltinDriver, builtinDriver } from './builtin';
export { DOCKER_CAPABILITIES, DockerDriver, dockerDriver } from './docker/driver';
export type { DockerDriverOptions } from './docker/driver';
export { SWARM_CAPABILITIES, ServiceConvergenceError, SwarmDriver, swarmDriver } from './swarm/driver';
export type { SwarmDriverOptions } from './swarm/driver';
export { lastOutput } from './output';

import { DRIVER_NAMES } from './names';

export { DRIVER_NAMES };
export type { DriverName } from './names';

/**
 * The driver of the engine called `name`, configured from `env` (for the built-in runtime:
 * CDK_DOCKER_ROOT and CDK_DOCKER_RUNROOT; for Docker: DOCKER_HOST, DOCKER_CONTEXT,
 * DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, as the Docker CLI reads them; for Swarm the same, naming a
 * manager) and cdk-docker.json's `{ "engine": { "docker": … } }` (`options.docker`) or
 * `{ "engine": { "swarm": … } }` (`options.swarm`). An unknown name is
 * refused, naming the known ones.
 */
export function driverFor(name: string, env: NodeJS.ProcessEnv = process.env, options: { readonly docker?: DockerEndpointOptions; readonly swarm?: DockerEndpointOptions } = {}): Driver {
  if (name === 'builtin') return builtinDriver(env);
  if (name === 'docker') return dockerDriver(env, options.docker);
  if (name === 'swarm') return swarmDriver(env, options.swarm);
  throw new InvalidArgumentError(`unknown engine "${name}"; the engines are: ${DRIVER_NAMES.join(', ')}`);
}
