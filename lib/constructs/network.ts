import { Construct, IConstruct } from 'constructs';
import type { NetworkResource, NetworkSpec } from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { contains, isIpv4, parseCidr, tryParseIp, within } from '../core/ip';
import { checkName } from '../core/names';
import type { ResourceClaims } from './private/claims';
import { PlanRefs, StackResource, at } from './private/resource';
import { checkLabels, defaultName } from './private/util';

const NETWORK_SYMBOL = Symbol.for('cdk-docker.Network');

/** A network containers can join. */
export interface INetwork extends IConstruct {
  /** The network's name in the runtime. */
  readonly networkName: string;
}

/** Properties of a Network. */
export interface NetworkProps {
  /**
   * Network name.
   * @default - `<stack>-<path>`
   */
  readonly name?: string;
  /**
   * Network driver: `bridge` on one machine, `overlay` on Swarm.
   * @default NetworkDriver.BRIDGE
   * @see https://docs.docker.com/engine/network/drivers/
   */
  readonly driver?: NetworkDriver | `${NetworkDriver}`;
  /**
   * Subnet in CIDR form.
   * @default - a free subnet chosen by the runtime
   */
  readonly subnet?: string;
  /**
   * Gateway address inside the subnet (needs `subnet`).
   * @default - the first address of the subnet
   */
  readonly gateway?: string;
  /**
   * Range inside the subnet that containers get addresses from (needs `subnet`).
   * @default - the whole subnet
   */
  readonly ipRange?: string;
  /**
   * No route to the outside: containers reach only each other.
   * @default false
   */
  readonly internal?: boolean;
  /**
   * Let standalone containers join an overlay network.
   * @default false
   */
  readonly attachable?: boolean;
  /**
   * Overlay networks only: encrypt the traffic between Swarm nodes (IPsec).
   * @default false
   * @see https://docs.docker.com/engine/network/drivers/overlay/#encrypt-traffic-on-an-overlay-network
   */
  readonly encrypted?: boolean;
  /**
   * Labels.
   * @default {}
   */
  readonly labels?: { readonly [key: string]: string };
}

/** A user-defined network: its containers reach each other by name and by alias. */
export class Network extends StackResource implements INetwork {
  /** True when `x` is a Network, even from another copy of this library. */
  public static isNetwork(x: unknown): x is Network {
    return x !== null && typeof x === 'object' && NETWORK_SYMBOL in x;
  }

  /** A network that exists already and is not managed by this stack. */
  public static fromName(scope: Construct, id: string, name: string): INetwork {
    class Imported extends Construct implements INetwork {
      public readonly networkName = name;
    }
    const n = new Imported(scope, id);
    const problem = checkName('network', name);
    if (problem) throw new InvalidArgumentError(at(n, problem));
    return n;
  }

  public readonly resourceType = 'network' as const;
  public readonly networkName: string;
  /** The plan's spec, checked and with its defaults, parsed once from the props. */
  private readonly spec: NetworkSpec;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    Object.defineProperty(this, NETWORK_SYMBOL, { value: true });
    this.networkName = props.name ?? defaultName(this);
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    const problem = checkName('network', this.networkName);
    if (problem) fail(problem);
    if (['bridge', 'host', 'none', 'default'].includes(this.networkName)) {
      fail(`network name "${this.networkName}" is reserved by the runtime; choose another name`);
    }
    if (props.driver !== undefined && !Object.values(NetworkDriver).includes(props.driver as NetworkDriver)) {
      fail(`driver "${props.driver}" is not one of "bridge", "overlay"`);
    }
    if (props.encrypted !== undefined && typeof props.encrypted !== 'boolean') fail(`encrypted ${JSON.stringify(props.encrypted)} must be true or false`);
    if (props.encrypted && props.driver !== NetworkDriver.OVERLAY) fail('encrypted needs driver "overlay" (a bridge never leaves its host); set driver to "overlay" or remove encrypted');
    checkLabels(this, props.labels);
    let subnet;
    if (props.subnet !== undefined) {
      subnet = parseCidr(props.subnet);
      if (typeof subnet === 'string') fail(`subnet ${subnet}`);
    }
    for (const [key, value] of [['gateway', props.gateway], ['ipRange', props.ipRange]] as const) {
      if (value === undefined) continue;
      if (!subnet || typeof subnet === 'string') fail(`${key} needs a subnet; set subnet too`);
      if (key === 'gateway') {
        if (!isIpv4(value)) fail(`gateway "${value}" is not an IPv4 address`);
        if (!contains(subnet as Exclude<typeof subnet, string | undefined>, tryParseIp(value) as number)) fail(`gateway ${value} is outside subnet ${props.subnet}`);
      } else {
        const range = parseCidr(value);
        if (typeof range === 'string') fail(`ipRange ${range}`);
        const r = range as Exclude<typeof range, string>;
        const s = subnet as Exclude<typeof subnet, string | undefined>;
        if (!within(r, s)) fail(`ipRange ${value} is outside subnet ${props.subnet}`);
      }
    }
    this.spec = {
      driver: (props.driver ?? NetworkDriver.BRIDGE) as NetworkDriver,
      subnet: props.subnet,
      gateway: props.gateway,
      ipRange: props.ipRange,
      internal: props.internal ?? false,
      attachable: props.attachable ?? false,
      ...(props.encrypted ? { encrypted: true as const } : {}),
      labels: { ...(props.labels ?? {}) },
    };
  }

  /** @internal */
  public _claims(): ResourceClaims {
    return { names: [{ kind: 'network', name: this.networkName }], hostPorts: [], startsAfter: [] };
  }

  /** @internal */
  public _toPlan(_ctx: unknown, refs: PlanRefs): NetworkResource {
    return { type: 'network', path: refs.pathOf(this), name: this.networkName, dependsOn: [], spec: { ...this.spec, labels: { ...this.spec.labels } } };
  }
}

/** Network drivers. */
export enum NetworkDriver {
  /** A bridge on one host. */
  BRIDGE = 'bridge',
  /** A VXLAN overlay across Swarm nodes. */
  OVERLAY = 'overlay',
}
