import { Construct, IConstruct } from 'constructs';
import type { Resource, ResourceType } from '../../plan/types';
import { InvalidArgumentError } from '../../core/errors';
import type { ResourceClaims } from './claims';
import type { SynthContext } from './synth-context';

const RESOURCE_SYMBOL = Symbol.for('cdk-docker.StackResource');
/** Stack's brand (stack.ts imports this file, so Stack.isStack cannot be imported here). */
const STACK_SYMBOL = Symbol.for('cdk-docker.Stack');

/**
 * Base of every construct that becomes a plan resource (image, container, network, volume).
 * @internal
 */
export abstract class StackResource extends Construct {
  public static isStackResource(x: unknown): x is StackResource {
    return x !== null && typeof x === 'object' && RESOURCE_SYMBOL in x;
  }

  public abstract readonly resourceType: ResourceType;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    Object.defineProperty(this, RESOURCE_SYMBOL, { value: true });
    checkPathIds(this);
  }

  /**
   * Renders this resource in canonical form. Called once per synth.
   * @internal
   */
  public abstract _toPlan(ctx: SynthContext, refs: PlanRefs): Resource;

  /**
   * The names, host ports and start order this resource takes on its engine, for the App's
   * checks across constructs. Read at synth, after every mutator.
   * @internal
   */
  public abstract _claims(): ResourceClaims;
}

/** Resolves references between resources while rendering. @internal */
export interface PlanRefs {
  readonly stackName: string;
  /** Path of `c` relative to its stack (`web`, `db/primary`). */
  pathOf(c: IConstruct): string;
  /** Logical id of a managed resource in the same stack; reports an error otherwise. */
  logicalIdOf(from: IConstruct, target: IConstruct, what: string): string | undefined;
}

const PATH_ID = /^[A-Za-z0-9_.-]+$/;

/**
 * The ids on the path from the stack to a resource become its `path` in the plan and its
 * `io.cdk-docker.path` label, so they are kept to letters, digits, "_", "." and "-".
 */
function checkPathIds(resource: IConstruct): void {
  const ids: string[] = [];
  for (let c: IConstruct | undefined = resource; c; c = c.node.scope) {
    if (STACK_SYMBOL in c) {
      const bad = ids.reverse().find((i) => !PATH_ID.test(i));
      if (bad !== undefined) {
        const example = bad.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'resource';
        throw new InvalidArgumentError(at(resource, `construct id "${bad}" cannot be part of a resource path; use letters, digits, "_", "." or "-" (for example "${example}")`));
      }
      return;
    }
    ids.push(c.node.id);
  }
}

/** `[stack/path] message`, the prefix every validation message carries. */
export function at(scope: IConstruct, message: string): string {
  return `[${scope.node.path}] ${message}`;
}
