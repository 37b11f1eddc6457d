import type { IConstruct } from 'constructs';
import type { PortMapping } from '../../plan/types';

/** The engine namespaces in which a name can be taken once. */
export type ClaimKind = 'container' | 'network' | 'volume';

/**
 * What a resource takes on the engine it is applied to, declared by the resource itself so the
 * App checks names, host ports and start order across constructs (and across stacks, which share
 * one engine) without knowing any resource type.
 * @internal
 */
export interface ResourceClaims {
  /** Names it takes, each unique within its kind on one engine. */
  readonly names: ReadonlyArray<{ readonly kind: ClaimKind; readonly name: string }>;
  /** Host addresses and ports it publishes; a hostPort of 0 (a free port at apply) takes none. */
  readonly hostPorts: readonly PortMapping[];
  /** Constructs that must be up before this one (dependsOn, volumesFrom); a cycle is an error. */
  readonly startsAfter: readonly IConstruct[];
}

/** The claims of a resource that takes no name, port or start order (an image). @internal */
export const NO_CLAIMS: ResourceClaims = Object.freeze({ names: [], hostPorts: [], startsAfter: [] });
