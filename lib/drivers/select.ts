import { InvalidArgumentError } from '../core/errors';
import type { DockerEndpointOptions } from './docker/endpoint';
import { DRIVER_NAMES } from './names';
import type { Driver } from './types';

/**
 * The driver of the engine called `name`, configured from `env` (for the built-in runtime:
 * CDK_DOCKER_ROOT and CDK_DOCKER_RUNROOT; for Docker: DOCKER_HOST, DOCKER_CONTEXT,
 * DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, as the Docker CLI reads them; for Swarm the same, naming a
 * manager) and cdk-docker.json's `{ "engine": { "docker": … } }` (`options.docker`) or
 * `{ "engine": { "swarm": … } }` (`options.swarm`). An unknown name is
 * refused, naming the known ones. Only the chosen driver's modules are loaded (the Docker
 * client is ~30 modules a built-in command never needs).
 */
export function driverFor(name: string, env: NodeJS.ProcessEnv = process.env, options: { readonly docker?: DockerEndpointOptions; readonly swarm?: DockerEndpointOptions } = {}): Driver {
  if (name === 'builtin') return (require('./builtin') as typeof import('./builtin')).builtinDriver(env);
  if (name === 'docker') return (require('./docker/driver') as typeof import('./docker/driver')).dockerDriver(env, options.docker);
  if (name === 'swarm') return (require('./swarm/driver') as typeof import('./swarm/driver')).swarmDriver(env, options.swarm);
  throw new InvalidArgumentError(`unknown engine "${name}"; the engines are: ${DRIVER_NAMES.join(', ')}`);
}
