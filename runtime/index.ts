/**
 * The built-in runtime's public API. `lib/` (the CLI and the built-in driver) uses only this.
 */
export { runtimeConfig } from './config';
export type { RuntimeConfig } from './config';
export { ImageService, parseImageListFilters } from './images/service';
export type { ImageListFilters, ImageSummary } from './images/service';
export { Progress } from './images/progress';
export { bytesSize, humanSize } from './util/units';
export { RegistryAuthError, RegistryUnreachableError, RegistryError } from './images/registry';
export { UnsafeLayerError, DigestMismatchError } from './images/layers';
export { BadArchiveError } from './images/archive';
export type { ImageRecord } from './images/store';
export type { ImageConfig, ImageManifest, ContainerConfig } from './images/types';
export { checkHost, findHelper, cgroupMode } from './host';
export * as networks from './networks';
export type { HostCheck } from './host';
export { withLock, lockHolder } from './util/files';
export type { LockHolder, LockOptions } from './util/files';
export type { BuildOptions, BuildResult, BuildStep, BuildService, BuildError, DockerfileError } from './build';

/**
 * The Dockerfile builder's module (`BuildService`, its errors), loaded on first use: it brings
 * the container runtime with it, which commands that only read images or take a lock should
 * not pay for.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const builder = (): typeof import('./build') => require('./build') as typeof import('./build');
