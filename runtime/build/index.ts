/** The Dockerfile builder of the built-in runtime (`runtime build`; the built-in driver's image builds). */
export { BuildService, BuildError, BuildInterruptedError, PROXY_ARGS } from './builder';
export { BUILD_LABEL, BUILD_OWNER_LABEL } from './leftovers';
export type { CollectedBuilds } from './leftovers';
export type { BuildOptions, BuildResult, BuildStep } from './builder';
export { DockerfileError, parseDockerfile } from '../dockerfile/dockerfile';
export type { Instruction, ParsedDockerfile, Stage } from '../dockerfile/dockerfile';
export { BuildContext, ContextError } from './context';
