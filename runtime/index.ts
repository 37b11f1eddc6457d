/**
 * The built-in runtime's public API: the one module of runtime/ that the rest of lib/ imports
 * (test/architecture/layers.test.ts fails the suite on any other). Loading it is cheap — the
 * configuration, host checks, units and locks — and each section of the engine is loaded on
 * first use through its function below (`containers()`, `images()`, …), its types exported
 * here as namespaces, so `synth`, `diff` of a stack without containers, or `--help` never pay
 * for the engine.
 */
import type * as Build from './build';
import type * as Containers from './containers';
import type * as ContainerCore from './containers/core';
import type * as Events from './events';
import type * as Images from './images';
import type * as ImageStoreModule from './images/store';
import type * as Info from './info';
import type * as Networks from './networks';
import type * as Volumes from './volumes';
import type { RuntimeConfig } from './config';

export type { Build, Containers, Events, Images, Info, Networks, Volumes };

export { runtimeConfig } from './config';
export type { RuntimeConfig } from './config';
export { checkHost, cgroupMode, findHelper, fixCommands } from './host';
export type { HostCheck } from './host';
export { bytesSize, humanSize } from './util/units';
export { withLock, lockHolder } from './util/files';
export type { LockHolder, LockOptions } from './util/files';

// The sections, each loaded on first use.
/** Containers: create/start/stop, exec, attach, logs, stats, files (runc + conmon). */
export const containers = (): typeof Containers => require('./containers') as typeof Containers;
/** The part of containers that a listing needs: ContainerService (its other parts loaded on first use), endpointsConfig, pidAlive, containerImageUsers. */
export const containerCore = (): typeof ContainerCore => require('./containers/core') as typeof ContainerCore;
/** Images: the content store, registry pulls and pushes, archives. */
export const images = (): typeof Images => require('./images') as typeof Images;
/** Networks: the store, IPAM and netavark. */
export const networks = (): typeof Networks => require('./networks') as typeof Networks;
/** Volumes: the store and its drivers (local, tmpfs, bind, nfs). */
export const volumes = (): typeof Volumes => require('./volumes') as typeof Volumes;
/** The Dockerfile builder; it brings the container runtime with it. */
export const build = (): typeof Build => require('./build') as typeof Build;
/** The engine's event log (`runtime events`). */
export const events = (): typeof Events => require('./events') as typeof Events;
/** What `runtime info` reports. */
export const info = (): typeof Info => require('./info') as typeof Info;

/** The image service of a state root, knowing which of its containers use which image. */
export function imageService(config: RuntimeConfig): Images.ImageService {
  return new (images().ImageService)(config, containerCore().containerImageUsers(config));
}

/**
 * The image store of a state root, to read from: what an observation needs, without the registry
 * client, archives and builds that come with the service (nor its sweep of interrupted pulls).
 */
export function imageStore(config: RuntimeConfig): Images.ImageStore {
  return new ((require('./images/store') as typeof ImageStoreModule).ImageStore)(config.root);
}
