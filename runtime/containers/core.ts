/**
 * What a listing of containers needs (`ps`, an apply's observation): the service and the record
 * helpers it reads with, without the rest of the containers section (runtime/containers/index.ts
 * loads every part: attach, files, stats …). The service loads its other parts on first use.
 */
export { ContainerService } from './service';
export { endpointsConfig, joinsNetworks } from './network';
export { pidAlive } from './runc';
export { containerImageUsers } from './store';
