/** Volumes of the built-in runtime: the store and its types (see ./types for the terms). */
export { VolumeStore, containerVolumeUsers, parseListFilters, parsePruneFilters } from './store';
export { ANONYMOUS_LABEL } from './types';
export type { CreateVolumeOptions, PruneVolumesOptions, PruneVolumesResult, Volume, VolumeListFilters, VolumeRecord, VolumeUsers } from './types';
