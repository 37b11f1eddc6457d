import { Construct, IConstruct } from 'constructs';
import type { VolumeResource, VolumeSpec } from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { tmpfsOptionProblem } from '../core/limits';
import { checkName } from '../core/names';
import type { ResourceClaims } from './private/claims';
import { PlanRefs, StackResource, at } from './private/resource';
import { checkLabels, defaultName } from './private/util';

const VOLUME_SYMBOL = Symbol.for('cdk-docker.Volume');

/** A named volume. */
export interface IVolume extends IConstruct {
  /** The volume's name in the runtime. */
  readonly volumeName: string;
}

/** Properties of a Volume. */
export interface VolumeProps {
  /**
   * Volume name.
   * @default - `<stack>-<path>`
   */
  readonly name?: string;
  /**
   * Volume driver.
   * @default "local"
   * @see https://docs.docker.com/engine/storage/volumes/
   */
  readonly driver?: string;
  /**
   * Driver options (`docker volume create --opt`).
   * @default {}
   */
  readonly driverOpts?: { readonly [key: string]: string };
  /**
   * Labels.
   * @default {}
   */
  readonly labels?: { readonly [key: string]: string };
  /**
   * What `destroy` does with the volume and its data.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy | `${RemovalPolicy}`;
}

/** A named volume managed by the stack. Its data outlives containers, and by default the stack. */
export class Volume extends StackResource implements IVolume {
  /** True when `x` is a Volume, even from another copy of this library. */
  public static isVolume(x: unknown): x is Volume {
    return x !== null && typeof x === 'object' && VOLUME_SYMBOL in x;
  }

  /** A volume that exists already and is not managed by this stack. */
  public static fromName(scope: Construct, id: string, name: string): IVolume {
    class Imported extends Construct implements IVolume {
      public readonly volumeName = name;
    }
    const v = new Imported(scope, id);
    const problem = checkName('volume', name);
    if (problem) throw new InvalidArgumentError(at(v, problem));
    return v;
  }

  public readonly resourceType = 'volume' as const;
  public readonly volumeName: string;
  /** The plan's spec, checked and with its defaults, parsed once from the props. */
  private readonly spec: VolumeSpec;

  constructor(scope: Construct, id: string, props: VolumeProps = {}) {
    super(scope, id);
    Object.defineProperty(this, VOLUME_SYMBOL, { value: true });
    this.volumeName = props.name ?? defaultName(this);
    const problem = checkName('volume', this.volumeName);
    if (problem) throw new InvalidArgumentError(at(this, problem));
    if (props.removalPolicy !== undefined && !Object.values(RemovalPolicy).includes(props.removalPolicy as RemovalPolicy)) {
      throw new InvalidArgumentError(at(this, `removalPolicy "${props.removalPolicy}" is not one of "retain", "destroy"`));
    }
    if (props.driver !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/.test(props.driver)) {
      throw new InvalidArgumentError(at(this, `driver "${props.driver}" is not a valid driver name`));
    }
    checkLabels(this, props.labels);
    // A tmpfs volume's mount options reach the kernel only when a container starts: check them now.
    const opts = props.driverOpts ?? {};
    if (opts.type === 'tmpfs') {
      for (const o of (opts.o ?? '').split(',').filter(Boolean)) {
        const optionProblem = tmpfsOptionProblem(o);
        if (optionProblem) throw new InvalidArgumentError(at(this, `driverOpts.o "${opts.o}": ${optionProblem}`));
      }
    }
    this.spec = {
      driver: props.driver ?? 'local',
      driverOpts: { ...opts },
      labels: { ...(props.labels ?? {}) },
      removalPolicy: (props.removalPolicy ?? RemovalPolicy.RETAIN) as RemovalPolicy,
    };
  }

  /** @internal */
  public _claims(): ResourceClaims {
    return { names: [{ kind: 'volume', name: this.volumeName }], hostPorts: [], startsAfter: [] };
  }

  /** @internal */
  public _toPlan(_ctx: unknown, refs: PlanRefs): VolumeResource {
    const spec = this.spec;
    return { type: 'volume', path: refs.pathOf(this), name: this.volumeName, dependsOn: [], spec: { ...spec, driverOpts: { ...spec.driverOpts }, labels: { ...spec.labels } } };
  }
}

/** What `destroy` does with a volume. */
export enum RemovalPolicy {
  /** Keep the volume and its data (the default, as Compose's `down` does). */
  RETAIN = 'retain',
  /** Remove the volume and its data. */
  DESTROY = 'destroy',
}
