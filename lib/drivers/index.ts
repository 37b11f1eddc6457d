/** Drivers: the interface the reconciler calls (./types) and its implementations. */

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

export { driverFor } from './select';
