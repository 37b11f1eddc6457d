import type { ContainerFeature } from './types';

/**
 * What an engine that runs no swarm says of the settings only a Swarm honours (a container's
 * `deploy`, an overlay network): the sentences of its capabilities' `unsupported`.
 */
export function swarmOnly(engine: string): { readonly [F in ContainerFeature]?: string } {
  return {
    deploy: `deploy is a Swarm setting, which the ${engine} engine cannot honour; remove deploy, or apply to a swarm (--engine swarm)`,
    overlay: `an overlay network spans the nodes of a Swarm, which the ${engine} engine cannot make; use driver "bridge", or apply to a swarm (--engine swarm)`,
  };
}
