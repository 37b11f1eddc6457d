/** The images half of the built-in runtime: content store, registry client, layers, archives, progress. */
export { ImageService, parseImageListFilters } from './service';
export type { ImageListFilters, ImageSummary } from './service';
export { Progress } from './progress';
export type { ProgressSink } from './progress';
export { RegistryAuthError, RegistryUnreachableError, RegistryError } from './registry';
export { UnsafeLayerError, DigestMismatchError } from './layers';
export { BadArchiveError } from './archive';
export type { ImageDeletion, ImageRecord, ImageStore, ImageUser, ImageUsers } from './store';
export type { ImageConfig, ImageManifest, ContainerConfig } from './types';
