/**
 * A container resource of the plan as a Swarm service, and back: the ServiceSpec of
 * `POST /services/create` (and `…/update`), and a service with its tasks as the observed
 * containers the diff compares (one per replica slot, each with the service's settings in the
 * plan's terms).
 *
 * Labels: ours (stack, path) on the service AND on its task template, so that a service's
 * containers say where they come from; the spec hash, the inputs and the plan's restart policy on
 * the service only (a change of them alone must not roll the tasks).
 */

import type { ContainerResource, ContainerSpec, DeploySpec, Healthcheck, Mount, PortMapping, RestartPolicy, UpdateSpec } from '../../plan/types';
import { DEFAULT_DEPLOY } from '../../plan/types';
import { LABEL_PREFIX, LABELS, ownLabels } from '../../core/labels';
import type { ContainerStatus, ImageDefaults, ObservedContainer, ObservedContainerSpec } from '../types';

/** Labels only the Swarm driver writes. */
export const SWARM_LABELS = {
  /** The plan's container restart policy (`no`, `always`, `on-failure:3`…): a Swarm has only conditions. */
  restart: `${LABEL_PREFIX}restart`,
} as const;

/** A service as `GET /services/{id}` answers (the fields read here). */
export interface SwarmService {
  readonly ID: string;
  readonly Version: { readonly Index: number };
  readonly CreatedAt?: string;
  readonly Spec: ServiceSpec;
  readonly Endpoint?: { readonly Ports?: ReadonlyArray<EndpointPort> | null } | null;
  readonly UpdateStatus?: { readonly State?: string; readonly Message?: string; readonly StartedAt?: string; readonly CompletedAt?: string } | null;
}

export interface EndpointPort {
  readonly Protocol?: string;
  readonly TargetPort: number;
  readonly PublishedPort?: number;
  readonly PublishMode?: 'ingress' | 'host';
}

export interface ServiceSpec {
  readonly Name: string;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly TaskTemplate: {
    readonly ContainerSpec: {
      readonly Image: string;
      readonly Labels?: { readonly [k: string]: string } | null;
      readonly Command?: string[] | null;
      readonly Args?: string[] | null;
      readonly Hostname?: string;
      readonly Env?: string[] | null;
      readonly Dir?: string;
      readonly User?: string;
      readonly Mounts?: ReadonlyArray<SwarmMount> | null;
      readonly StopSignal?: string;
      readonly StopGracePeriod?: number;
      readonly Healthcheck?: { readonly Test?: string[]; readonly Interval?: number; readonly Timeout?: number; readonly Retries?: number; readonly StartPeriod?: number } | null;
      readonly Init?: boolean | null;
      readonly ReadOnly?: boolean;
      readonly CapabilityAdd?: string[] | null;
      readonly CapabilityDrop?: string[] | null;
      readonly Hosts?: string[] | null;
      readonly DNSConfig?: { readonly Nameservers?: string[] | null; readonly Search?: string[] | null; readonly Options?: string[] | null } | null;
      readonly Sysctls?: { readonly [k: string]: string } | null;
      readonly Ulimits?: ReadonlyArray<{ readonly Name: string; readonly Soft: number; readonly Hard: number }> | null;
      readonly Secrets?: ReadonlyArray<SwarmFileReference & { readonly SecretID: string; readonly SecretName: string }> | null;
      readonly Configs?: ReadonlyArray<SwarmFileReference & { readonly ConfigID: string; readonly ConfigName: string }> | null;
      readonly TTY?: boolean;
      readonly OpenStdin?: boolean;
    };
    readonly LogDriver?: { readonly Name: string; readonly Options?: { readonly [k: string]: string } | null } | null;
    readonly Resources?: {
      readonly Limits?: { readonly NanoCPUs?: number; readonly MemoryBytes?: number; readonly Pids?: number } | null;
      readonly Reservations?: { readonly NanoCPUs?: number; readonly MemoryBytes?: number } | null;
    } | null;
    readonly RestartPolicy?: { readonly Condition?: string; readonly Delay?: number; readonly MaxAttempts?: number; readonly Window?: number } | null;
    readonly Placement?: {
      readonly Constraints?: string[] | null;
      readonly Preferences?: ReadonlyArray<{ readonly Spread?: { readonly SpreadDescriptor: string } }> | null;
      readonly MaxReplicas?: number;
      readonly Platforms?: ReadonlyArray<{ readonly OS?: string; readonly Architecture?: string }> | null;
    } | null;
    readonly Networks?: ReadonlyArray<{ readonly Target: string; readonly Aliases?: string[] | null }> | null;
    readonly ForceUpdate?: number;
  };
  readonly Mode: { readonly Replicated?: { readonly Replicas?: number }; readonly Global?: object };
  readonly UpdateConfig?: SwarmUpdateConfig | null;
  readonly RollbackConfig?: SwarmUpdateConfig | null;
  readonly EndpointSpec?: { readonly Mode?: string; readonly Ports?: ReadonlyArray<EndpointPort> | null } | null;
}

/** Where a Swarm secret or config appears in a task. */
export interface SwarmFileReference {
  readonly File: { readonly Name: string; readonly UID: string; readonly GID: string; readonly Mode: number };
}

/** A Swarm secret or config made for one file of a container resource: its target and the object. */
export interface SwarmFile {
  readonly kind: 'secret' | 'config';
  readonly target: string;
  readonly id: string;
  readonly name: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

interface SwarmMount {
  readonly Type: 'volume' | 'bind' | 'tmpfs';
  readonly Source?: string;
  readonly Target: string;
  readonly ReadOnly?: boolean;
  readonly TmpfsOptions?: { readonly SizeBytes?: number; readonly Mode?: number };
}

interface SwarmUpdateConfig {
  readonly Parallelism?: number;
  readonly Delay?: number;
  readonly FailureAction?: string;
  readonly Monitor?: number;
  readonly MaxFailureRatio?: number;
  readonly Order?: string;
}

/** A task as `GET /tasks` answers (the fields read here). */
export interface SwarmTask {
  readonly ID: string;
  readonly ServiceID: string;
  readonly NodeID?: string;
  readonly Slot?: number;
  readonly CreatedAt?: string;
  readonly UpdatedAt?: string;
  readonly DesiredState: string;
  /** The task template the task was made from. */
  readonly Spec?: { readonly [k: string]: unknown };
  readonly Status: {
    readonly State: string;
    readonly Message?: string;
    readonly Err?: string;
    readonly ContainerStatus?: { readonly ContainerID?: string; readonly ExitCode?: number } | null;
  };
}

const NS_PER_MS = 1_000_000;

/** The swarm's restart policy for a plan's container restart policy (when `deploy` gives none). */
export function derivedRestart(restart: RestartPolicy): NonNullable<DeploySpec['restartPolicy']> {
  const condition = restart.policy === 'no' ? 'none' : restart.policy === 'on-failure' ? 'on-failure' : 'any';
  return { condition, delayMs: 5000, maxAttempts: restart.policy === 'on-failure' ? restart.maxRetries : 0, windowMs: 0 };
}

export function showRestart(r: RestartPolicy): string {
  return r.policy === 'on-failure' && r.maxRetries > 0 ? `on-failure:${r.maxRetries}` : r.policy;
}

function parseRestart(text: string | undefined): RestartPolicy | undefined {
  const m = /^(no|always|unless-stopped|on-failure)(?::(\d+))?$/.exec(text ?? '');
  if (!m) return undefined;
  return { policy: m[1] as RestartPolicy['policy'], maxRetries: m[1] === 'on-failure' ? Number(m[2] ?? 0) : 0 };
}

function updateConfig(u: UpdateSpec): SwarmUpdateConfig {
  return { Parallelism: u.parallelism, Delay: u.delayMs * NS_PER_MS, FailureAction: u.failureAction, Monitor: u.monitorMs * NS_PER_MS, MaxFailureRatio: u.maxFailureRatio, Order: u.order };
}

function fromUpdateConfig(u: SwarmUpdateConfig | null | undefined, dflt: UpdateSpec): UpdateSpec {
  if (!u) return dflt;
  return {
    parallelism: u.Parallelism ?? 0,
    delayMs: Math.round((u.Delay ?? 0) / NS_PER_MS),
    order: (u.Order as UpdateSpec['order']) ?? 'stop-first',
    failureAction: (u.FailureAction as UpdateSpec['failureAction']) ?? 'pause',
    monitorMs: Math.round((u.Monitor ?? 0) / NS_PER_MS),
    maxFailureRatio: u.MaxFailureRatio ?? 0,
  };
}

function mount(m: Mount): SwarmMount {
  switch (m.type) {
    case 'volume':
      return { Type: 'volume', Source: m.source, Target: m.target, ReadOnly: m.readOnly };
    case 'bind':
      return { Type: 'bind', Source: m.source, Target: m.target, ReadOnly: m.readOnly };
    case 'tmpfs':
      return { Type: 'tmpfs', Target: m.target, TmpfsOptions: { ...(m.sizeBytes !== undefined ? { SizeBytes: m.sizeBytes } : {}), ...(m.mode !== undefined ? { Mode: m.mode } : {}) } };
  }
}

function fromMount(m: SwarmMount): Mount {
  if (m.Type === 'tmpfs') return { type: 'tmpfs', target: m.Target, ...(m.TmpfsOptions?.SizeBytes ? { sizeBytes: m.TmpfsOptions.SizeBytes } : {}), ...(m.TmpfsOptions?.Mode !== undefined ? { mode: m.TmpfsOptions.Mode } : {}) };
  return { type: m.Type, source: m.Source ?? '', target: m.Target, readOnly: m.ReadOnly === true };
}

function healthcheck(h: Healthcheck): NonNullable<ServiceSpec['TaskTemplate']['ContainerSpec']['Healthcheck']> {
  return { Test: [...h.test], Interval: h.intervalMs * NS_PER_MS, Timeout: h.timeoutMs * NS_PER_MS, Retries: h.retries, StartPeriod: h.startPeriodMs * NS_PER_MS };
}

/**
 * The ServiceSpec of a container resource: `image` is what the tasks run (an image id, or a
 * reference with its registry digest), `env` the resolved environment, `serviceLabels` ours for
 * the service (the task template gets stack and path of them, with the user's labels).
 */
export function serviceSpec(
  resource: ContainerResource,
  image: string,
  env: { readonly [k: string]: string },
  serviceLabels: { readonly [k: string]: string },
  files: readonly SwarmFile[] = [],
): ServiceSpec {
  const file = (f: SwarmFile): SwarmFileReference => ({ File: { Name: f.target, UID: String(f.uid), GID: String(f.gid), Mode: f.mode } });
  const secrets = files.filter((f) => f.kind === 'secret').map((f) => ({ ...file(f), SecretID: f.id, SecretName: f.name }));
  const configs = files.filter((f) => f.kind === 'config').map((f) => ({ ...file(f), ConfigID: f.id, ConfigName: f.name }));
  const s: ContainerSpec = resource.spec;
  const d = s.deploy ?? DEFAULT_DEPLOY;
  const restart = d.restartPolicy ?? derivedRestart(s.restart);
  const taskLabels = { ...s.labels, [LABELS.stack]: serviceLabels[LABELS.stack], [LABELS.path]: serviceLabels[LABELS.path] };
  const limits = { ...(s.nanoCpus ? { NanoCPUs: s.nanoCpus } : {}), ...(s.memoryBytes ? { MemoryBytes: s.memoryBytes } : {}), ...(s.pidsLimit ? { Pids: s.pidsLimit } : {}) };
  const reservations = { ...(d.reservations.nanoCpus ? { NanoCPUs: d.reservations.nanoCpus } : {}), ...(d.reservations.memoryBytes ? { MemoryBytes: d.reservations.memoryBytes } : {}) };
  return {
    Name: resource.name,
    Labels: { ...serviceLabels, [SWARM_LABELS.restart]: showRestart(s.restart) },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Labels: taskLabels,
        ...(s.entrypoint !== undefined && s.entrypoint.length > 0 ? { Command: [...s.entrypoint] } : {}),
        ...(s.command !== undefined ? { Args: [...s.command] } : {}),
        ...(s.hostname !== undefined ? { Hostname: s.hostname } : {}),
        Env: Object.keys(env).sort().map((k) => `${k}=${env[k]}`),
        ...(s.workingDir !== undefined ? { Dir: s.workingDir } : {}),
        ...(s.user !== undefined ? { User: s.user } : {}),
        Mounts: s.mounts.map(mount),
        ...(s.stopSignal !== undefined ? { StopSignal: s.stopSignal } : {}),
        ...(s.stopTimeoutSeconds !== undefined ? { StopGracePeriod: s.stopTimeoutSeconds * 1e9 } : {}),
        ...(s.healthcheck !== undefined ? { Healthcheck: healthcheck(s.healthcheck) } : {}),
        ...(s.init ? { Init: true } : {}),
        ...(s.readOnlyRootfs ? { ReadOnly: true } : {}),
        ...(s.capAdd.length ? { CapabilityAdd: s.capAdd.map((c) => (c === 'ALL' ? c : `CAP_${c}`)) } : {}),
        ...(s.capDrop.length ? { CapabilityDrop: s.capDrop.map((c) => (c === 'ALL' ? c : `CAP_${c}`)) } : {}),
        ...(s.extraHosts ? { Hosts: Object.keys(s.extraHosts).sort().map((h) => `${s.extraHosts![h]} ${h}`) } : {}),
        ...(s.dns || s.dnsSearch || s.dnsOptions ? { DNSConfig: { ...(s.dns ? { Nameservers: [...s.dns] } : {}), ...(s.dnsSearch ? { Search: [...s.dnsSearch] } : {}), ...(s.dnsOptions ? { Options: [...s.dnsOptions] } : {}) } } : {}),
        ...(s.sysctls ? { Sysctls: { ...s.sysctls } } : {}),
        ...(s.ulimits ? { Ulimits: Object.keys(s.ulimits).sort().map((n) => ({ Name: n, Soft: s.ulimits![n].soft, Hard: s.ulimits![n].hard })) } : {}),
        ...(secrets.length ? { Secrets: secrets } : {}),
        ...(configs.length ? { Configs: configs } : {}),
        ...(s.tty ? { TTY: true } : {}),
        ...(s.stdinOpen ? { OpenStdin: true } : {}),
      },
      ...(s.logging ? { LogDriver: { Name: s.logging.driver, Options: { ...s.logging.options } } } : {}),
      Resources: { Limits: limits, Reservations: reservations },
      RestartPolicy: { Condition: restart.condition, Delay: restart.delayMs * NS_PER_MS, MaxAttempts: restart.maxAttempts, Window: restart.windowMs * NS_PER_MS },
      Placement: {
        Constraints: [...d.placement.constraints],
        Preferences: d.placement.preferences.map((p) => ({ Spread: { SpreadDescriptor: p.spread } })),
        ...(d.placement.maxReplicasPerNode !== undefined ? { MaxReplicas: d.placement.maxReplicasPerNode } : {}),
        // The platform as a placement constraint, as Swarm takes it: only nodes of that OS and architecture run a task.
        ...(s.platform ? { Platforms: [{ OS: s.platform.split('/')[0], Architecture: s.platform.split('/')[1] }] } : {}),
      },
      Networks: s.networks.map((n) => ({ Target: n.network, Aliases: [...n.aliases] })),
    },
    Mode: d.mode === 'global' ? { Global: {} } : { Replicated: { Replicas: s.replicas } },
    UpdateConfig: updateConfig(d.updateConfig),
    RollbackConfig: updateConfig(d.rollbackConfig),
    EndpointSpec: {
      Mode: d.endpointMode,
      Ports: s.ports.map((p: PortMapping) => ({ Protocol: p.protocol, TargetPort: p.containerPort, ...(p.hostPort ? { PublishedPort: p.hostPort } : {}), PublishMode: p.mode ?? 'ingress' })),
    },
  };
}

/** A service's settings in the plan's terms, as the diff compares them. */
export function observedSpec(service: SwarmService, image: ImageDefaults | undefined, networkNames: ReadonlyMap<string, string>): ObservedContainerSpec {
  const spec = service.Spec;
  const c = spec.TaskTemplate.ContainerSpec;
  const t = spec.TaskTemplate;
  const env: { [k: string]: string } = {};
  for (const e of c.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
  }
  const ns = (v: number | undefined) => (v ? Math.round(v / NS_PER_MS) : 0);
  const labelled = parseRestart(spec.Labels?.[SWARM_LABELS.restart]);
  const actual = t.RestartPolicy ?? {};
  const actualRestart = { condition: (actual.Condition ?? 'any') as NonNullable<DeploySpec['restartPolicy']>['condition'], delayMs: ns(actual.Delay) || 5000, maxAttempts: actual.MaxAttempts ?? 0, windowMs: ns(actual.Window) };
  // The plan's restart as the label says, when the swarm's policy is still what it gives.
  const derived = labelled !== undefined && JSON.stringify(derivedRestart(labelled)) === JSON.stringify(actualRestart);
  const restart: RestartPolicy = labelled ?? (actualRestart.condition === 'none' ? { policy: 'no', maxRetries: 0 } : actualRestart.condition === 'on-failure' ? { policy: 'on-failure', maxRetries: actualRestart.maxAttempts } : { policy: 'always', maxRetries: 0 });
  const limits = t.Resources?.Limits ?? {};
  const res = t.Resources?.Reservations ?? {};
  const placement = t.Placement ?? {};
  const deploy: DeploySpec = {
    mode: spec.Mode.Global ? 'global' : 'replicated',
    placement: {
      constraints: [...(placement.Constraints ?? [])].sort(),
      preferences: (placement.Preferences ?? []).flatMap((p) => (p.Spread ? [{ spread: p.Spread.SpreadDescriptor }] : [])),
      ...(placement.MaxReplicas ? { maxReplicasPerNode: placement.MaxReplicas } : {}),
    },
    updateConfig: fromUpdateConfig(spec.UpdateConfig, DEFAULT_DEPLOY.updateConfig),
    rollbackConfig: fromUpdateConfig(spec.RollbackConfig, DEFAULT_DEPLOY.rollbackConfig),
    reservations: { ...(res.NanoCPUs ? { nanoCpus: res.NanoCPUs } : {}), ...(res.MemoryBytes ? { memoryBytes: res.MemoryBytes } : {}) },
    ...(derived ? {} : { restartPolicy: actualRestart }),
    endpointMode: (spec.EndpointSpec?.Mode as DeploySpec['endpointMode']) ?? 'vip',
  };
  const published = service.Endpoint?.Ports ?? [];
  const hc = c.Healthcheck;
  const caps = (xs: string[] | null | undefined) => (xs ?? []).map((x) => x.toUpperCase().replace(/^CAP_/, '')).sort();
  return {
    ...(c.Command?.length ? { entrypoint: [...c.Command] } : {}),
    ...(c.Args?.length ? { command: [...c.Args] } : c.Command?.length ? { command: [] } : {}),
    env,
    fullEnv: { ...(image?.env ?? {}), ...env },
    ...(c.Dir ? { workingDir: c.Dir } : {}),
    ...(c.User ? { user: c.User } : {}),
    ...(c.Hostname ? { hostname: c.Hostname } : {}),
    ports: (spec.EndpointSpec?.Ports ?? []).map((p) => {
      const actualPort = published.find((q) => q.TargetPort === p.TargetPort && (q.Protocol ?? 'tcp') === (p.Protocol ?? 'tcp') && (q.PublishMode ?? 'ingress') === (p.PublishMode ?? 'ingress'));
      return {
        containerPort: p.TargetPort,
        protocol: (p.Protocol ?? 'tcp') as PortMapping['protocol'],
        hostIp: '0.0.0.0',
        hostPort: p.PublishedPort || actualPort?.PublishedPort || 0,
        ...(p.PublishMode === 'host' ? { mode: 'host' as const } : {}),
      };
    }),
    publishAllPorts: false,
    mounts: (c.Mounts ?? []).map(fromMount),
    volumesFrom: [],
    networkMode: 'bridge',
    networks: (t.Networks ?? []).map((n) => ({ network: networkNames.get(n.Target) ?? n.Target, aliases: [...(n.Aliases ?? [])].sort() })),
    restart,
    ...(hc?.Test?.length ? { healthcheck: { test: [...hc.Test], intervalMs: ns(hc.Interval), timeoutMs: ns(hc.Timeout), retries: hc.Retries ?? 0, startPeriodMs: ns(hc.StartPeriod) } } : {}),
    labels: { ...(c.Labels ?? {}) },
    ...(c.Hosts?.length ? { extraHosts: Object.fromEntries(c.Hosts.flatMap((e) => { const [ip, ...names] = e.trim().split(/\s+/); return names.map((n) => [n, ip]); })) } : {}),
    ...(c.DNSConfig?.Nameservers?.length ? { dns: [...c.DNSConfig.Nameservers] } : {}),
    ...(c.DNSConfig?.Search?.length ? { dnsSearch: [...c.DNSConfig.Search] } : {}),
    ...(c.DNSConfig?.Options?.length ? { dnsOptions: [...c.DNSConfig.Options] } : {}),
    ...(c.Sysctls && Object.keys(c.Sysctls).length ? { sysctls: { ...c.Sysctls } } : {}),
    ...(c.Ulimits?.length ? { ulimits: Object.fromEntries(c.Ulimits.map((u) => [u.Name, { soft: u.Soft, hard: u.Hard }])) } : {}),
    ...(c.StopSignal ? { stopSignal: c.StopSignal } : {}),
    ...(c.StopGracePeriod !== undefined && c.StopGracePeriod !== null ? { stopTimeoutSeconds: Math.round(c.StopGracePeriod / 1e9) } : {}),
    init: c.Init === true,
    readOnlyRootfs: c.ReadOnly === true,
    capAdd: caps(c.CapabilityAdd),
    capDrop: caps(c.CapabilityDrop),
    privileged: false,
    ...(limits.MemoryBytes ? { memoryBytes: limits.MemoryBytes } : {}),
    ...(limits.NanoCPUs ? { nanoCpus: limits.NanoCPUs } : {}),
    ...(limits.Pids ? { pidsLimit: limits.Pids } : {}),
    ...(c.TTY ? { tty: true as const } : {}),
    ...(c.OpenStdin ? { stdinOpen: true as const } : {}),
    ...(t.LogDriver?.Name ? { logging: { driver: t.LogDriver.Name, options: { ...(t.LogDriver.Options ?? {}) } } } : {}),
    deploy,
  };
}

/** Task states before a task runs. */
const PENDING = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);

/** The latest task of each slot (replicated) or node (global) that the swarm wants to run, newest first. */
export function currentTasks(service: SwarmService, tasks: readonly SwarmTask[]): SwarmTask[] {
  const mine = tasks.filter((t) => t.ServiceID === service.ID).sort((a, b) => swarmTime(b.CreatedAt) - swarmTime(a.CreatedAt));
  const byKey = new Map<string, SwarmTask>();
  for (const t of mine) {
    const key = service.Spec.Mode.Global ? `node ${t.NodeID}` : `slot ${t.Slot}`;
    const seen = byKey.get(key);
    // The one the swarm wants running wins over newer ones it shut down (a rolled-back update's).
    if (!seen || (seen.DesiredState !== 'running' && t.DesiredState === 'running' && (seen.DesiredState === 'shutdown' || seen.DesiredState === 'remove'))) byKey.set(key, t);
  }
  return [...byKey.values()];
}

/** A task's state as a container status (and its exit code). */
export function taskStatus(t: SwarmTask | undefined): { status: ContainerStatus; exitCode: number } {
  if (!t) return { status: 'created', exitCode: 0 };
  const state = t.Status.State;
  if (state === 'running') return { status: 'running', exitCode: 0 };
  if (state === 'complete') return { status: 'exited', exitCode: t.Status.ContainerStatus?.ExitCode ?? 0 };
  if (PENDING.has(state)) return { status: 'created', exitCode: 0 };
  return { status: 'exited', exitCode: t.Status.ContainerStatus?.ExitCode ?? 1 };
}

/**
 * A service as the observed containers of its resource: one per replica slot `1..Replicas`
 * (replica N named as the reconciler names it), or, in global mode, one for all its tasks —
 * running when every task the swarm wants runs. Each carries the service's labels with its
 * replica number, the service's settings (`spec`) and the image id its tasks run.
 */
export function toObservedContainers(
  service: SwarmService,
  tasks: readonly SwarmTask[],
  imageId: string,
  spec: ObservedContainerSpec,
): ObservedContainer[] {
  const labels = { ...ownLabels(service.Spec.Labels ?? {}) };
  const name = service.Spec.Name;
  const current = currentTasks(service, tasks);
  const ports = spec.ports.filter((p) => p.hostPort !== 0).map((p) => ({ containerPort: p.containerPort, protocol: p.protocol, hostIp: p.hostIp, hostPort: p.hostPort }));
  const one = (replica: number, status: { status: ContainerStatus; exitCode: number }): ObservedContainer => ({
    id: service.ID,
    name: replica === 1 ? name : `${name}-${replica}`,
    labels: { ...labels, [LABELS.replica]: String(replica) },
    imageId,
    status: status.status,
    exitCode: status.exitCode,
    restartCount: 0,
    spec,
    networks: {},
    ports,
  });
  if (service.Spec.Mode.Global) {
    const wanted = current.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'complete');
    const notRunning = wanted.find((t) => taskStatus(t).status !== 'running');
    return [one(1, wanted.length === 0 ? { status: 'created', exitCode: 0 } : taskStatus(notRunning ?? wanted[0]))];
  }
  const replicas = service.Spec.Mode.Replicated?.Replicas ?? 0;
  return Array.from({ length: replicas }, (_, i) => one(i + 1, taskStatus(current.find((t) => t.Slot === i + 1))));
}

/** A time the swarm gives (RFC 3339 with up to nine fractional digits), in milliseconds. */
export function swarmTime(t: string | undefined): number {
  const ms = Date.parse((t ?? '').replace(/(\.\d{3})\d+/, '$1'));
  return Number.isFinite(ms) ? ms : 0;
}

/**
 * The name of the Swarm secret or config of a container resource's file: the resource's name, the
 * kind and the first 16 hex digits of what identifies the content — a config's sha256, a secret's
 * keyed HMAC (never a plain hash of a secret value). Content-addressed: a new content is a new
 * object (a Swarm's are immutable), an unchanged one is found again.
 */
export function swarmFileName(resourceName: string, kind: 'secret' | 'config', digest: string): string {
  const hex = digest.replace(/^[a-z0-9-]+:/, '').slice(0, 16);
  return `${resourceName.slice(0, 40)}-${kind}-${hex}`;
}
