import type { DeployMode, DeploySpec, EndpointMode, RestartCondition, UpdateFailureAction, UpdateOrder, UpdateSpec } from '../plan/types';
import { DEFAULT_DEPLOY, DEFAULT_ROLLBACK, DEFAULT_UPDATE } from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { MAX_COUNT, MAX_CPUS, MAX_REPLICAS, MAX_TIMER_MS, MIN_CPUS } from '../core/limits';
import { Duration } from './duration';
import { Size } from './size';

/**
 * How a Swarm rolls out a change of a service, or rolls it back.
 * @see https://docs.docker.com/reference/compose-file/deploy/#update_config
 */
export interface UpdateConfig {
  /**
   * Tasks changed at once; 0 changes them all at once.
   * @default 1
   */
  readonly parallelism?: number;
  /**
   * Time between two batches.
   * @default 0s
   */
  readonly delay?: Duration | string;
  /**
   * `stop-first` stops an old task before its new one starts; `start-first` starts the new one
   * first (no gap, briefly both).
   * @default "stop-first"
   */
  readonly order?: 'stop-first' | 'start-first';
  /**
   * What the swarm does when a task of the update fails: roll the service back to what it was,
   * pause the update, or go on.
   * @default "rollback" for updates ("pause" for rollbacks)
   */
  readonly failureAction?: 'rollback' | 'pause' | 'continue';
  /**
   * How long each new task is watched for failure.
   * @default 5s
   */
  readonly monitor?: Duration | string;
  /**
   * Fraction of tasks (0–1) that may fail during the update before the failure action.
   * @default 0
   */
  readonly maxFailureRatio?: number;
}

/** Where a Swarm may run a service's tasks. */
export interface PlacementOptions {
  /**
   * Conditions a node must meet, all of them: `node.role == manager`, `node.labels.zone == a`,
   * `node.hostname != n3`.
   * @default []
   * @see https://docs.docker.com/reference/cli/docker/service/create/#constraint
   */
  readonly constraints?: string[];
  /**
   * Spread the tasks evenly over the values of node labels, in order: `{ spread: 'node.labels.zone' }`.
   * @default []
   */
  readonly preferences?: Array<{ readonly spread: string }>;
  /**
   * At most this many tasks of the service on one node.
   * @default - no limit
   */
  readonly maxReplicasPerNode?: number;
}

/** Resources a Swarm sets aside for each task on its node (the limits are the container's `memory` and `cpus`). */
export interface ResourceOptions {
  readonly reservations?: {
    /**
     * CPUs reserved, e.g. 0.5.
     * @default - none
     */
    readonly cpus?: number;
    /**
     * Memory reserved: `Size.mebibytes(64)` or `"64m"`.
     * @default - none
     */
    readonly memory?: Size | string;
  };
}

/** When and how a Swarm restarts a service's tasks (instead of the container's `restart`). */
export interface SwarmRestartPolicy {
  /**
   * `none`, `on-failure` (non-zero exit) or `any`.
   * @default "any"
   */
  readonly condition?: 'none' | 'on-failure' | 'any';
  /**
   * Time between two restarts.
   * @default 5s
   */
  readonly delay?: Duration | string;
  /**
   * Restarts tried before giving up; 0 = no limit.
   * @default 0
   */
  readonly maxAttempts?: number;
  /**
   * Window over which restarts count against maxAttempts.
   * @default - unbounded
   */
  readonly window?: Duration | string;
}

/**
 * How a Swarm runs a container as a service. Only a Swarm honours these: the built-in and Docker
 * engines refuse a stack that sets them (`replicas`, `memory` and `cpus` stay on the container
 * and work everywhere).
 * @see https://docs.docker.com/reference/compose-file/deploy/
 */
export interface DeployOptions {
  /**
   * `replicated`: `replicas` tasks; `global`: one task on every node that meets the placement.
   * @default "replicated"
   */
  readonly mode?: 'replicated' | 'global';
  /**
   * Constraints and preferences for the nodes that run the tasks.
   * @default - any node
   */
  readonly placement?: PlacementOptions;
  /**
   * How a change rolls out.
   * @default - one task at a time, stop-first, a failed update rolled back
   */
  readonly updateConfig?: UpdateConfig;
  /**
   * How a rollback rolls out.
   * @default - one task at a time, stop-first, pause when it fails
   */
  readonly rollbackConfig?: UpdateConfig;
  /**
   * Reservations.
   * @default - none
   */
  readonly resources?: ResourceOptions;
  /**
   * The swarm's restart policy.
   * @default - from the container's `restart` (no → none, always → any, on-failure:N → on-failure, N attempts)
   */
  readonly restartPolicy?: SwarmRestartPolicy;
  /**
   * `vip`: one virtual address for the service, balanced over its tasks; `dnsrr`: its name
   * resolves to every task's address (no published ports through the routing mesh).
   * @default "vip"
   */
  readonly endpointMode?: 'vip' | 'dnsrr';
}

const ORDERS: readonly UpdateOrder[] = ['stop-first', 'start-first'];
const ACTIONS: readonly UpdateFailureAction[] = ['rollback', 'pause', 'continue'];
const CONDITIONS: readonly RestartCondition[] = ['none', 'on-failure', 'any'];
const MODES: readonly DeployMode[] = ['replicated', 'global'];
const ENDPOINT_MODES: readonly EndpointMode[] = ['vip', 'dnsrr'];
/** `node.labels.zone == a`: a field, an operator, a value. */
const CONSTRAINT = /^([A-Za-z0-9_.-]+) *(==|!=) *([^ ].*)$/;

/**
 * `deploy` props in the plan's canonical form (every default filled in). A `deploy` of defaults
 * only stays in the plan: it says the container is meant for a Swarm, which other engines refuse
 * (and a Swarm treats like no `deploy`). `fail` throws with the construct's path.
 * @internal
 */
export function deployToPlan(d: DeployOptions | undefined, fail: (message: string) => never): DeploySpec | undefined {
  if (d === undefined) return undefined;
  if (d === null || typeof d !== 'object') return fail('deploy must be an object such as { mode: "replicated", placement: { constraints: ["node.role == worker"] } }');
  const oneOf = <T extends string>(what: string, value: unknown, allowed: readonly T[], dflt: T): T => {
    if (value === undefined) return dflt;
    if (!(allowed as readonly unknown[]).includes(value)) fail(`${what} "${String(value)}" is not one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
    return value as T;
  };
  const ms = (what: string, value: Duration | string | undefined, dflt: number): number => {
    if (value === undefined) return dflt;
    let v: number;
    try {
      v = Duration.of(value).toMilliseconds();
    } catch (e) {
      if (e instanceof InvalidArgumentError) return fail(`${what}: ${e.message}`);
      throw e;
    }
    if (v > MAX_TIMER_MS) fail(`${what} ${typeof value === 'string' ? `"${value}"` : value.toString()} is longer than ${Duration.millis(MAX_TIMER_MS).toString()}; use a shorter one such as "10s"`);
    return v;
  };
  const count = (what: string, value: number | undefined, dflt: number, min: number, max: number): number => {
    if (value === undefined) return dflt;
    if (!Number.isInteger(value) || value < min || value > max) fail(`${what} ${value} must be a whole number from ${min} to ${max}`);
    return value;
  };
  const update = (what: string, u: UpdateConfig | undefined, dflt: UpdateSpec): UpdateSpec => {
    if (u === undefined) return dflt;
    const ratio = u.maxFailureRatio ?? dflt.maxFailureRatio;
    if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) fail(`${what}.maxFailureRatio ${ratio} must be a fraction from 0 to 1, such as 0.2`);
    return {
      parallelism: count(`${what}.parallelism`, u.parallelism, dflt.parallelism, 0, MAX_COUNT),
      delayMs: ms(`${what}.delay`, u.delay, dflt.delayMs),
      order: oneOf(`${what}.order`, u.order, ORDERS, dflt.order),
      failureAction: oneOf(`${what}.failureAction`, u.failureAction, ACTIONS, dflt.failureAction),
      monitorMs: ms(`${what}.monitor`, u.monitor, dflt.monitorMs),
      maxFailureRatio: ratio,
    };
  };

  const placement = d.placement ?? {};
  const constraints = (placement.constraints ?? []).map((c) => {
    const m = typeof c === 'string' ? CONSTRAINT.exec(c.trim()) : null;
    if (!m) return fail(`placement constraint ${JSON.stringify(c)} is not "<field> == <value>" or "<field> != <value>", such as "node.role == manager" or "node.labels.zone == a"`);
    return `${m[1]} ${m[2]} ${m[3].trim()}`;
  });
  const preferences = (placement.preferences ?? []).map((p) => {
    const spread = (p as { spread?: unknown } | undefined)?.spread;
    if (typeof spread !== 'string' || !/^node\.[A-Za-z0-9_.-]+$/.test(spread)) {
      return fail(`placement preference ${JSON.stringify(p)} must be { spread: "node.labels.<name>" }`);
    }
    return { spread };
  });
  const maxReplicasPerNode = placement.maxReplicasPerNode === undefined ? undefined : count('placement.maxReplicasPerNode', placement.maxReplicasPerNode, 0, 1, MAX_REPLICAS);

  const res = d.resources?.reservations ?? {};
  let nanoCpus: number | undefined;
  if (res.cpus !== undefined) {
    if (typeof res.cpus !== 'number' || !(res.cpus >= MIN_CPUS && res.cpus <= MAX_CPUS)) fail(`resources.reservations.cpus ${res.cpus} must be a number of CPUs from ${MIN_CPUS} to ${MAX_CPUS}, such as 0.5`);
    nanoCpus = Math.round(res.cpus * 1e9);
  }
  let memoryBytes: number | undefined;
  if (res.memory !== undefined) {
    try {
      memoryBytes = Size.of(res.memory).toBytes();
    } catch (e) {
      if (e instanceof InvalidArgumentError) fail(`resources.reservations.memory: ${e.message}`);
      throw e;
    }
    if (memoryBytes < 1) fail(`resources.reservations.memory ${String(res.memory)} is less than one byte; give a size such as "64m"`);
  }

  let restartPolicy: DeploySpec['restartPolicy'];
  if (d.restartPolicy !== undefined) {
    const r = d.restartPolicy;
    restartPolicy = {
      condition: oneOf('restartPolicy.condition', r.condition, CONDITIONS, 'any'),
      delayMs: ms('restartPolicy.delay', r.delay, 5000),
      maxAttempts: count('restartPolicy.maxAttempts', r.maxAttempts, 0, 0, MAX_COUNT),
      windowMs: ms('restartPolicy.window', r.window, 0),
    };
  }

  return {
    mode: oneOf('deploy.mode', d.mode, MODES, DEFAULT_DEPLOY.mode),
    placement: { constraints: [...new Set(constraints)].sort(), preferences, ...(maxReplicasPerNode !== undefined ? { maxReplicasPerNode } : {}) },
    updateConfig: update('updateConfig', d.updateConfig, DEFAULT_UPDATE),
    rollbackConfig: update('rollbackConfig', d.rollbackConfig, DEFAULT_ROLLBACK),
    reservations: { ...(nanoCpus !== undefined ? { nanoCpus } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}) },
    ...(restartPolicy ? { restartPolicy } : {}),
    endpointMode: oneOf('endpointMode', d.endpointMode, ENDPOINT_MODES, DEFAULT_DEPLOY.endpointMode),
  };
}
