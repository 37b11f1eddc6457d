/** The Dockerfile builder of the built-in runtime (`runtime build`; the built-in driver's image builds). */
export { BuildService, BuildError, PROXY_ARGS } from './builder';
export type { BuildOptions, BuildResult, BuildStep } from './builder';
export { DockerfileError, parseDockerfile } from './dockerfile';
export type { Instruction, ParsedDockerfile, Stage } from './dockerfile';
export { BuildContext, ContextError } from './context';
