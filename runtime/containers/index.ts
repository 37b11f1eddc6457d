/** The containers half of the built-in runtime: what the CLI and the built-in driver use. */
export { ContainerService, backoffMs, mergeEnv, parseContainerListFilters, signalName } from './service';
export { humanDuration } from '../../lib/core/duration';
export type { ContainerListFilters, CreateOptions, ContainerSummary } from './service';
export { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from './mounts';
export type { MountRequest } from './mounts';
export { checkLogDriver, followLog, LOG_DRIVERS, logSize, parseLog, readLog } from './logs';
export type { LogDriver, LogLine, LogOptions } from './logs';
export { resolveUser } from './user';
export { pidAlive, runcMessage, RuncError } from './runc';
export { endpointsConfig, joinsNetworks } from './network';
export { ContainerCreateError, exitCodeFor } from './conmon';
export type { ContainerRecord, ContainerState, RestartPolicyName } from './types';
export { cpuPercent, statsRow } from './stats';
export type { StatsRow, StatsSample } from './stats';
export { commitContainer, containerChanges, copyFromContainer, copyToContainer, exportContainer, withContainerRoot } from './files';
export type { ContainerRoot } from './files';
export { AttachConnection, DEFAULT_DETACH_KEYS, DetachKeyScanner, attachContainer, parseDetachKeys, resizeTerminal } from './attach';
export type { AttachEnd, AttachOptions, AttachRequest, AttachStreams } from './attach';
