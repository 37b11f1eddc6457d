/** The engines `driverFor` knows, as `--engine` and CDK_DOCKER_ENGINE name them (no driver code loaded). */
export const DRIVER_NAMES = ['builtin', 'docker', 'swarm'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
