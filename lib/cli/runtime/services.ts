/**
 * The runtime commands' way into the built-in runtime: its public API (runtime/index.ts), loaded
 * on first use so that commands that do not need it start without it, and the services of this
 * process's state root (CDK_DOCKER_ROOT, CDK_DOCKER_RUNROOT).
 */
import type * as Runtime from '../../../runtime';

/** The runtime's public API. */
export function loadRuntime(): typeof Runtime {
  return require('../../../runtime') as typeof Runtime;
}

/** The container service for this process's runtime configuration. */
export function containerService(): Runtime.Containers.ContainerService {
  const rt = loadRuntime();
  return new (rt.containers().ContainerService)(rt.runtimeConfig());
}

/** The image service for this process's runtime configuration. */
export function imageService(): Runtime.Images.ImageService {
  const rt = loadRuntime();
  return rt.imageService(rt.runtimeConfig());
}

/** The network store for this process's runtime configuration. */
export function networkStore(): Runtime.Networks.NetworkStore {
  const rt = loadRuntime();
  const config = rt.runtimeConfig();
  return new (rt.networks().NetworkStore)(config.root, undefined, config.network);
}

/** The volume store for this process's runtime configuration. */
export function volumeStore(): Runtime.Volumes.VolumeStore {
  const rt = loadRuntime();
  return new (rt.volumes().VolumeStore)(rt.runtimeConfig().root);
}
