import { Construct, IConstruct } from 'constructs';
import type { Plan, Resource } from '../plan/types';
import { PLAN_VERSION } from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { validateName } from '../core/names';
import { logicalIdFromPath } from './private/logical-id';
import { PlanRefs, StackResource, at } from './private/resource';
import type { SynthContext } from './private/synth-context';

const STACK_SYMBOL = Symbol.for('cdk-docker.Stack');

/** Properties of a Stack. */
export interface StackProps {
  /**
   * Name of the stack: the value of the `io.cdk-docker.stack` label on its resources and the
   * prefix of default resource names. Must be a valid Docker name.
   * @default - the construct id
   */
  readonly stackName?: string;
}

/**
 * A unit of deployment: the resources `apply` converges together and `destroy` removes
 * together, like a Compose project or a Terraform workspace.
 */
export class Stack extends Construct {
  /** True when `x` is a Stack, even from another copy of this library. */
  public static isStack(x: unknown): x is Stack {
    return x !== null && typeof x === 'object' && STACK_SYMBOL in x;
  }

  /** The stack that `construct` belongs to. */
  public static of(construct: IConstruct): Stack {
    for (let c: IConstruct | undefined = construct; c; c = c.node.scope) {
      if (Stack.isStack(c)) return c;
    }
    throw new InvalidArgumentError(`[${construct.node.path}] is not inside a Stack: create it with a Stack (or a construct in one) as its scope`);
  }

  /** Name of the stack. */
  public readonly stackName: string;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id);
    Object.defineProperty(this, STACK_SYMBOL, { value: true });
    this.stackName = props.stackName ?? id;
    try {
      validateName('stack', this.stackName);
    } catch (e) {
      throw new InvalidArgumentError(at(this, `${(e as Error).message}; set stackName to a valid name`));
    }
  }

  /** Path of `c` relative to this stack (`web`, `db/primary`). */
  public relativePath(c: IConstruct): string {
    const prefix = this.node.path === '' ? '' : `${this.node.path}/`;
    return c.node.path.startsWith(prefix) ? c.node.path.slice(prefix.length) : c.node.path;
  }

  /** The logical id of a construct in this stack: stable, derived from its path only. */
  public getLogicalId(c: IConstruct): string {
    return logicalIdFromPath(this.relativePath(c).split('/'));
  }

  /** The resources of this stack, in tree order. */
  public get resources(): StackResource[] {
    return this.node.findAll().filter((c): c is StackResource => StackResource.isStackResource(c) && Stack.of(c) === this);
  }

  /**
   * Renders the plan of this stack. Problems are reported to `ctx`.
   * @internal
   */
  public _toPlan(ctx: SynthContext): Plan {
    const refs: PlanRefs = {
      stackName: this.stackName,
      pathOf: (c) => this.relativePath(c),
      logicalIdOf: (from, target, what) => {
        if (!StackResource.isStackResource(target)) return undefined;
        if (Stack.of(target) !== this) {
          ctx.error(from, `${what} ${target.node.path} is in another stack; stacks are applied separately, so define it in stack ${this.node.path} or refer to it by name with fromName()`);
          return undefined;
        }
        return this.getLogicalId(target);
      },
    };
    const resources: Record<string, Resource> = {};
    for (const r of this.resources) {
      resources[this.getLogicalId(r)] = r._toPlan(ctx, refs);
    }
    return { version: PLAN_VERSION, stack: this.stackName, resources };
  }
}
