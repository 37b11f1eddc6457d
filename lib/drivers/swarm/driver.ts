/**
 * The Swarm driver: the driver interface (../types) over the Engine API of a Swarm manager,
 * through the Docker driver's client (../docker/client) and endpoint resolution: `--engine swarm`
 * finds the manager exactly as `--engine docker` finds an engine. What a swarm does as a single
 * engine would (images, volumes, logs of a container, exec) is the Docker driver's, inherited.
 *
 * - A container resource is a *service* (./mapping): its replicas are the service's tasks, which
 *   the swarm runs (`ownsReplicas`): the reconciler hands each changed resource whole to
 *   `applyContainer`, which creates, updates or replaces the service and then waits until it has
 *   converged — every task the swarm wants running runs (healthy, when there is a healthcheck: a
 *   Swarm reports a task running only once its container is healthy) — reporting
 *   `web 2/3 running` and `web updating 1/3` as it goes. An update whose tasks fail is rolled back
 *   by the swarm (failure action `rollback` unless the plan says otherwise); apply then fails
 *   naming the service, the task's error and its last log lines.
 * - What each field's change does (SWARM_CAPABILITIES.services): the name and the mode cannot
 *   change on a service (replace); `replicas` scales; the update and rollback settings are the
 *   service's own (metadata); everything else is the task template or the endpoint, and rolls
 *   the tasks.
 * - Networks are overlays (whatever the plan's driver: a bridge does not reach a service's tasks
 *   on other nodes), volumes local to the manager (a named volume is per node: another node makes
 *   its own on first use), bind mounts of host paths are refused on a swarm of more than one node.
 * - The stack lock is a Swarm config, `cdk-docker-lock-<stack>` (any manager sees it; creating
 *   one is atomic on its name), its labels naming the holder, its lease renewed by updating its
 *   labels (the only thing a config lets change), recovered as the Docker driver's is.
 */

import type { ContainerResource, DependencyCondition, NetworkSpec } from '../../plan/types';
import { CdkDockerError, ConflictError } from '../../core/errors';
import { LABELS } from '../../core/labels';
import { validateName } from '../../core/names';
import { identityAlive } from '../../core/process';
import { ContainerConditionError, UnsupportedError } from '../errors';
import { DOCKER_DEFAULTS } from '../observed';
import type {
  ContainerCreateRequest,
  ContainerResourceRequest,
  DriverCapabilities,
  ExecOptions,
  ExecResult,
  LogLine,
  LogsOptions,
  ManagedLabels,
  ObservedContainer,
  ObservedNetwork,
  ObservedStack,
} from '../types';
import { DockerClient } from '../docker/client';
import { DOCKER_CAPABILITIES, DockerDriver, DockerDriverOptions, LineSplitter, LOCK_LABELS, holderLabels } from '../docker/driver';
import { DockerEndpointOptions, resolveDockerEndpoint } from '../docker/endpoint';
import { DockerConflictError, DockerNotFoundError, isDockerEngineAnswer } from '../docker/errors';
import { DockerNetworkInspect, DockerVolumeInspect, toImageDefaults } from '../docker/mapping';
import { demuxFrames } from '../docker/stream';
import { observedNetwork, observedVolume } from '../observed';
import { SwarmService, SwarmTask, currentTasks, observedSpec, serviceSpec, taskStatus, toObservedContainers, swarmTime, SwarmFile, swarmFileName } from './mapping';

/**
 * What a Swarm does: Docker's container defaults (no default network: a service with none is on
 * no network but the routing mesh's), every network an overlay; services own their replicas and
 * change in place but for the name and the mode; container settings a service has no field for
 * are refused at diff.
 */
export const SWARM_CAPABILITIES: DriverCapabilities = {
  defaults: { ...DOCKER_DEFAULTS, network: 'ingress', networkDriver: 'overlay' },
  inPlace: ['name', 'restart', 'memoryBytes', 'nanoCpus', 'pidsLimit', 'networks'],
  relabel: true,
  ownsReplicas: true,
  parallelism: DOCKER_CAPABILITIES.parallelism,
  unsupported: {
    privileged: 'a Swarm service cannot be privileged, so the swarm engine cannot honour privileged; remove it (add the capabilities it needs with capAdd), or apply with --engine docker',
    publishAllPorts: 'a Swarm service publishes only the ports it lists, so the swarm engine cannot honour publishAllPorts; list them in ports instead',
    volumesFrom: "a Swarm service cannot mount another container's volumes, so the swarm engine cannot honour volumesFrom; mount the volumes themselves",
    'networkMode.host': 'the swarm engine runs services on networks (bridge mode); remove networkMode host, or apply with --engine docker',
    'networkMode.none': 'the swarm engine runs services on networks (bridge mode); remove networkMode none, or apply with --engine docker',
    hostIp: 'a Swarm publishes a port on every address of its nodes, so the swarm engine cannot bind one to a hostIp; remove hostIp (firewall the port instead), or apply with --engine docker',
    ipv4Address: "a Swarm allocates its tasks' addresses, so the swarm engine cannot honour ipv4Address; remove it and reach the service by its name",
    'pid.host': 'a Swarm service cannot share the host\'s PID namespace, so the swarm engine cannot honour pid "host"; remove it, or apply with --engine docker',
    'ipc.host': 'a Swarm service has no IPC mode, so the swarm engine cannot honour ipc; remove it, or apply with --engine docker',
    'ipc.private': 'a Swarm service has no IPC mode, so the swarm engine cannot honour ipc; remove it (private is what a task gets), or apply with --engine docker',
    'ipc.shareable': 'a Swarm service has no IPC mode, so the swarm engine cannot honour ipc; remove it, or apply with --engine docker',
    devices: 'a Swarm service cannot be given host devices, so the swarm engine cannot honour devices; remove them, or apply with --engine docker',
    shmSize: 'a Swarm service has no /dev/shm size, so the swarm engine cannot honour shmSize; mount a tmpfs at /dev/shm with the size instead',
    'networkMode.container': "a Swarm service cannot join another container's network, so the swarm engine cannot honour networkMode container; put both on one network and reach it by name",
    expose: 'a Swarm service exposes nothing (every port of a task is reachable on its networks), so the swarm engine has no expose; remove it',
    'dependsOn.restart': 'a Swarm restarts no service when another is updated, so the swarm engine cannot honour dependsOn restart; remove it (the tasks reconnect by the service name), or apply with --engine docker',
  },
  // A service's tasks run with each node's default runtime; a service has no runtime setting.
  choices: { engine: 'the swarm engine', runtimes: ['runc'] },
  services: {
    replace: ['name', 'deploy.mode'],
    scale: ['replicas'],
    metadata: ['deploy.updateConfig', 'deploy.rollbackConfig'],
  },
};

/** Log lines quoted when a service cannot converge. */
const ERROR_LOG_LINES = 10;
/** How often a convergence or a condition is looked at again. */
const POLL_MS = 300;
/** How long a task may wait for a node that can run it before apply gives up on it. */
const UNPLACED_MS = 15_000;
/** How long a new global service may have no task before apply takes it for one that no node may run. */
const GLOBAL_SCHEDULING_MS = 7000;
/** How long a service must stay converged before apply takes it as such. */
const STABLE_MS = 1000;

export interface SwarmDriverOptions extends DockerDriverOptions {
  /** How long apply waits for a service to converge. @default 300 s */
  readonly convergeTimeoutMs?: number;
}

/** The driver of one Docker Swarm, through one of its managers. */
export class SwarmDriver extends DockerDriver {
  public override readonly name = 'swarm';
  public override readonly capabilities = SWARM_CAPABILITIES;
  private readonly convergeTimeoutMs: number;

  constructor(client: DockerClient, options: SwarmDriverOptions = {}) {
    super(client, options);
    this.convergeTimeoutMs = options.convergeTimeoutMs ?? 300_000;
  }

  // --- reading the swarm ----------------------------------------------------------------------

  /** The service named exactly `name` (or with id `name`), or undefined. */
  public async service(nameOrId: string): Promise<SwarmService | undefined> {
    try {
      const s = await this.client.request<SwarmService>('GET', `/services/${encodeURIComponent(nameOrId)}`);
      return s.Spec.Name === nameOrId || s.ID === nameOrId ? s : undefined;
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      if (isDockerEngineAnswer(e) && /not a swarm manager|This node is not a swarm manager/.test(e.engineMessage)) throw this.notManager();
      throw e;
    }
  }

  private notManager(): CdkDockerError {
    return new UnsupportedError(
      `the Docker Engine at ${this.host} is not a swarm manager; point --engine swarm at a manager (DOCKER_HOST, DOCKER_CONTEXT or "engine": {"swarm": {"host": …}} in cdk-docker.json), or run \`docker swarm init\` there`,
    );
  }

  /** The tasks of these services (none of a service that is gone). */
  private async tasksOf(serviceIds: readonly string[]): Promise<SwarmTask[]> {
    if (serviceIds.length === 0) return [];
    try {
      return await this.client.request<SwarmTask[]>('GET', '/tasks', { query: { filters: { service: [...serviceIds] } } });
    } catch (e) {
      if (e instanceof DockerNotFoundError) return [];
      throw e;
    }
  }

  private async services(filters: { readonly [k: string]: string[] }): Promise<SwarmService[]> {
    try {
      return await this.client.request<SwarmService[]>('GET', '/services', { query: { filters } });
    } catch (e) {
      if (isDockerEngineAnswer(e) && /not a swarm manager/.test(e.engineMessage)) throw this.notManager();
      throw e;
    }
  }

  /** The image id a service's tasks run: the id itself, or what a digest reference names here. */
  private async imageIdOf(image: string): Promise<string> {
    if (/^sha256:[0-9a-f]{64}$/.test(image)) return image;
    const i = await this.image(image).catch(() => undefined);
    return i?.id ?? image;
  }

  private async observeService(s: SwarmService, tasks: readonly SwarmTask[], networkNames: ReadonlyMap<string, string>): Promise<ObservedContainer[]> {
    const image = s.Spec.TaskTemplate.ContainerSpec.Image;
    const imageId = await this.imageIdOf(image);
    const inspected = await this.image(imageId).catch(() => undefined);
    return toObservedContainers(s, tasks, imageId, observedSpec(s, inspected?.config, networkNames));
  }

  private async networkNames(): Promise<Map<string, string>> {
    const nets = await this.client.request<DockerNetworkInspect[]>('GET', '/networks');
    return new Map(nets.map((n) => [n.Id, n.Name]));
  }

  public override async observe(stack: string): Promise<ObservedStack> {
    const filters = { label: [`${LABELS.stack}=${stack}`] };
    const mine = (labels: { readonly [k: string]: string } | null | undefined) => labels?.[LABELS.stack] === stack;
    const [services, nets, vols, names] = await Promise.all([
      this.services(filters),
      this.client.request<DockerNetworkInspect[]>('GET', '/networks', { query: { filters } }),
      this.client.request<{ Volumes: DockerVolumeInspect[] | null }>('GET', '/volumes', { query: { filters } }),
      this.networkNames(),
    ]);
    const ours = services.filter((s) => mine(s.Spec.Labels));
    const tasks = await this.tasksOf(ours.map((s) => s.ID));
    const containers = (await Promise.all(ours.map((s) => this.observeService(s, tasks, names)))).flat();
    return {
      networks: nets.filter((n) => mine(n.Labels) && n.Scope === 'swarm').map(observedNetwork).sort(byName),
      volumes: (vols.Volumes ?? []).filter((v) => mine(v.Labels)).map(observedVolume).sort(byName),
      containers: containers.sort(byName),
    };
  }

  public override async listStacks(): Promise<string[]> {
    const filters = { label: [LABELS.stack] };
    const [services, nets, vols] = await Promise.all([
      this.services(filters),
      this.client.request<DockerNetworkInspect[]>('GET', '/networks', { query: { filters } }),
      this.client.request<{ Volumes: DockerVolumeInspect[] | null }>('GET', '/volumes', { query: { filters } }),
    ]);
    const names = new Set<string>();
    for (const labels of [...services.map((s) => s.Spec.Labels), ...nets.map((n) => n.Labels), ...(vols.Volumes ?? []).map((v) => v.Labels)]) {
      const s = labels?.[LABELS.stack];
      if (typeof s === 'string' && s !== '') names.add(s);
    }
    return [...names].sort();
  }

  // --- networks -------------------------------------------------------------------------------

  /** Every network of a swarm stack is an overlay (see the module comment). */
  public override async createNetwork(name: string, spec: NetworkSpec, labels: ManagedLabels): Promise<ObservedNetwork> {
    return super.createNetwork(name, { ...spec, driver: 'overlay' }, labels);
  }

  /**
   * Removes a network and waits until the swarm has let go of it (a swarm removes an overlay
   * asynchronously); while the tasks of a service just removed still leave it, tries again.
   */
  public override async removeNetwork(name: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await super.removeNetwork(name);
      } catch (e) {
        // Removed meanwhile (the swarm answers that with a 500).
        if (isDockerEngineAnswer(e) && /not found/.test(e.engineMessage)) return;
        if (!(e instanceof ConflictError) || Date.now() > deadline) throw e;
        await sleep(POLL_MS);
        continue;
      }
      // As observe sees networks: the list keeps a node's copy a while after the swarm removed it.
      const listed = await this.client.request<DockerNetworkInspect[]>('GET', '/networks', { query: { filters: { name: [name] } } });
      if (!listed.some((n) => n.Name === name)) return;
      if (Date.now() > deadline) throw new ConflictError(`network ${name} is still on the swarm at ${this.host} 30 s after its removal; see \`docker network inspect ${name}\``);
      await sleep(POLL_MS);
    }
  }

  // --- services -------------------------------------------------------------------------------

  public override async createContainer(request: ContainerCreateRequest): Promise<ObservedContainer> {
    throw new UnsupportedError(`container ${request.name}: a Swarm runs services, not single containers; the reconciler hands the Swarm driver whole container resources (applyContainer)`);
  }

  /** The image reference a service's tasks run: its registry digest when it has one (other nodes pull that), else its id (loaded on every node). */
  private async taskImage(imageId: string): Promise<string> {
    const i = await this.client.request<{ RepoDigests?: string[] | null }>('GET', `/images/${imageId}/json`).catch(() => undefined);
    return i?.RepoDigests?.[0] ?? imageId;
  }

  public async applyContainer(request: ContainerResourceRequest): Promise<string> {
    const r = request.resource;
    const report = request.progress ?? (() => undefined);
    await this.refuseOnCluster(r);
    const files = await this.ensureFiles(r, request);
    const spec = serviceSpec(r, await this.taskImage(request.imageId), request.env, request.labels, files);
    const observedId = request.observed[0]?.id;
    let existing = observedId ? await this.service(observedId) : undefined;
    const named = await this.service(r.name);
    let resumed = false;
    if (named && named.ID !== existing?.ID) {
      if (named.Spec.Labels?.[LABELS.stack] !== request.labels[LABELS.stack] || named.Spec.Labels?.[LABELS.path] !== request.labels[LABELS.path]) {
        throw new ConflictError(
          `service ${r.name} already exists${named.Spec.Labels?.[LABELS.stack] ? ` (stack ${named.Spec.Labels[LABELS.stack]}, ${named.Spec.Labels[LABELS.path]})` : ' and was not created by cdk-docker'}; remove it (docker service rm ${r.name}) or give the container another name`,
        );
      }
      // Ours, made by an apply that did not finish: carried on with (whatever it was made with).
      existing = named;
      resumed = true;
    }
    const replace = existing !== undefined && (existing.Spec.Name !== r.name || !!existing.Spec.Mode.Global !== (spec.Mode.Global !== undefined));
    if (existing && replace) {
      report(`${existing.Spec.Name} removing (${request.fields.join(', ')} cannot change on a service)`);
      // Its secrets and configs stay: the new service may share them (removed after, when not).
      await this.removeService(existing.ID, false);
      existing = undefined;
    }
    let id: string;
    let verb: string;
    // The update the swarm starts for this change, when it rolls tasks: one begun after the last.
    let rolls: { readonly after: number } | undefined;
    const started = Date.now() - 2000;
    if (!existing) {
      id = (await this.client.request<{ ID: string }>('POST', '/services/create', { body: spec })).ID;
      verb = replace ? 'replaced' : 'created';
    } else {
      id = existing.ID;
      const after = swarmTime(existing.UpdateStatus?.StartedAt);
      await this.client.request('POST', `/services/${id}/update`, { query: { version: existing.Version.Index }, body: { ...spec, TaskTemplate: { ...spec.TaskTemplate, ForceUpdate: existing.Spec.TaskTemplate.ForceUpdate ?? 0 } } });
      verb = 'updated';
      if (resumed || request.fields.some(rollsTasks)) rolls = { after };
    }
    const done = await this.converge(id, r, report, started, rolls);
    // The secrets and configs of the previous version go once the new one runs without them.
    await this.removeFiles(request.labels[LABELS.stack], r.path, new Set(files.map((f) => f.id)));
    return `${verb}${request.fields.length && verb === 'updated' ? ` (${request.fields.join(', ')})` : ''}: ${done}`;
  }

  /**
   * The Swarm secrets and configs of a resource's files (`request.files`, read by apply), made
   * where missing under content-addressed names (see swarmFileName), labelled with the stack and
   * the path so that they go with the service.
   */
  private async ensureFiles(r: ContainerResource, request: ContainerResourceRequest): Promise<SwarmFile[]> {
    const out: SwarmFile[] = [];
    for (const f of request.files ?? []) {
      const kind = f.secret ? 'secret' : 'config';
      const digest = f.secret ? r.spec.secrets?.find((x) => x.target === f.target)?.secret.hmac : r.spec.configs?.find((x) => x.target === f.target)?.sha256;
      if (digest === undefined) throw new CdkDockerError(`${r.path}: the ${kind} file ${f.target} is not in the plan; synth again`);
      const name = swarmFileName(r.name, kind, digest);
      const route = kind === 'secret' ? '/secrets' : '/configs';
      const labels = { [LABELS.stack]: request.labels[LABELS.stack], [LABELS.path]: r.path };
      let id: string;
      try {
        id = (await this.client.request<{ ID: string }>('POST', `${route}/create`, { body: { Name: name, Labels: labels, Data: f.content.toString('base64') } })).ID;
      } catch (e) {
        if (!(e instanceof DockerConflictError)) throw e;
        // Made by an earlier apply: the same content (the name says so).
        id = (await this.client.request<{ ID: string }>('GET', `${route}/${encodeURIComponent(name)}`)).ID;
      }
      out.push({ kind, target: f.target, id, name, mode: f.mode, uid: f.uid, gid: f.gid });
    }
    return out;
  }

  /** Removes the secrets and configs of `stack`'s resource at `path` but those in `keep`; one still in use stays. */
  private async removeFiles(stack: string | undefined, path: string | undefined, keep: ReadonlySet<string>): Promise<void> {
    if (!stack || !path) return;
    const filters = { label: [`${LABELS.stack}=${stack}`, `${LABELS.path}=${path}`] };
    for (const route of ['/secrets', '/configs']) {
      const objects = await this.client.request<Array<{ ID: string; Spec: { Name: string; Labels?: { [k: string]: string } | null } }>>('GET', route, { query: { filters } });
      for (const o of objects) {
        if (keep.has(o.ID) || o.Spec.Labels?.[LABELS.stack] !== stack || o.Spec.Labels?.[LABELS.path] !== path) continue;
        await this.client.request('DELETE', `${route}/${o.ID}`).catch((e: unknown) => {
          // Gone already, or still used by a task that is stopping: the next apply removes it.
          if (!(e instanceof DockerNotFoundError) && !isDockerEngineAnswer(e)) throw e;
        });
      }
    }
  }

  /** A bind mount of a host path cannot work on a swarm of several nodes: refused before anything changes. */
  private async refuseOnCluster(r: ContainerResource): Promise<void> {
    const binds = r.spec.mounts.filter((m) => m.type === 'bind');
    if (binds.length === 0) return;
    const nodes = await this.client.request<unknown[]>('GET', '/nodes');
    if (nodes.length <= 1) return;
    throw new UnsupportedError(
      `${r.path}: the bind mount of the host path ${(binds[0] as { source: string }).source} cannot work on a swarm of ${nodes.length} nodes (each task would see the path of whichever node runs it); ` +
        'ship a file as a Config (configs) or a Secret, or keep the data in a volume of a volume driver that every node shares',
    );
  }

  /**
   * Waits until service `id` has converged: its update (if any, begun after `since`) completed
   * and every task the swarm wants runs (or, for a one-shot, completed); reports each new
   * state. Fails, naming the service, the task's error and its last output, when the swarm
   * rolled the update back or paused it, when tasks keep failing, or at the timeout.
   */
  private async converge(id: string, r: ContainerResource, report: (m: string) => void, started: number, rolls: { readonly after: number } | undefined): Promise<string> {
    const deadline = Date.now() + this.convergeTimeoutMs;
    // The swarm may take a moment to begin the update it owes: until then old tasks do not count.
    const updateDue = Date.now() + 10_000;
    let last = '';
    // Converged only once it stays so for a moment: a task that runs and fails at once has not.
    let stableSince: number | undefined;
    // The swarm's word on why it rolled back or paused (it names the task), kept as it passes.
    let cause: string | undefined;
    let unplacedSince: number | undefined;
    const oneShot = (r.spec.deploy?.restartPolicy?.condition ?? (r.spec.restart.policy === 'no' ? 'none' : r.spec.restart.policy === 'on-failure' ? 'on-failure' : 'any')) !== 'any';
    for (;;) {
      const s = await this.service(id);
      if (!s) throw new ConflictError(`service ${r.name} was removed while cdk-docker waited for it to converge; apply again`);
      const tasks = await this.tasksOf([id]);
      const global = !!s.Spec.Mode.Global;
      const want = global ? currentTasks(s, tasks).filter((t) => t.DesiredState === 'running').length : (s.Spec.Mode.Replicated?.Replicas ?? 0);
      // The latest task of each slot the service has now (of a scale-down's surplus slots, none).
      const current = currentTasks(s, tasks).filter((t) => global || (t.Slot ?? 0) <= want);
      const running = current.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').length;
      const completed = current.filter((t) => t.Status.State === 'complete').length;
      const update = s.UpdateStatus && rolls && swarmTime(s.UpdateStatus.StartedAt) > rolls.after ? s.UpdateStatus : undefined;
      const state = update?.State;
      const awaited = rolls !== undefined && update === undefined && Date.now() < updateDue;
      const fresh = current.filter((t) => t.Status.State === 'running' && swarmTime(t.CreatedAt) >= swarmTime(update?.StartedAt)).length;
      const line =
        state === 'updating' || awaited
          ? `${r.name} updating ${awaited ? 0 : fresh}/${want}`
          : state === 'rollback_started'
            ? `${r.name} rolling back (${update?.Message ?? 'the update failed'})`
            : `${r.name} ${running}/${want} running`;
      if (line !== last) report((last = line));
      if ((state === 'rollback_started' || state === 'paused' || state === 'rollback_paused') && update?.Message) cause ??= update.Message;

      if (state === 'rollback_completed' || state === 'rollback_paused' || state === 'paused') {
        const what = state === 'paused' ? 'was paused by the swarm' : state === 'rollback_paused' ? 'failed and its rollback was paused' : 'failed and was rolled back by the swarm';
        throw await this.failure(r.name, s, tasks, started, `its update ${what}${cause ? ` (${cause})` : update?.Message ? ` (${update.Message})` : ''}`, state === 'paused' || state === 'rollback_paused' ? `fix the service, then apply again (\`docker service inspect ${r.name}\` shows the update's state)` : 'fix what made the new tasks fail, then apply again; the service runs its previous version meanwhile');
      }
      const updating = awaited || state === 'updating' || state === 'rollback_started';
      // A global service has as many tasks as nodes it may run on: none yet, right after its creation.
      const scheduling = global && want === 0 && Date.now() - started < GLOBAL_SCHEDULING_MS;
      const converged = !updating && !scheduling && current.length >= want && (running === want || (oneShot && running + completed === want));
      stableSince = converged ? (stableSince ?? Date.now()) : undefined;
      if (converged && (want === 0 || completed === want || Date.now() - stableSince! >= STABLE_MS)) {
        return want === 0 ? 'scaled to 0' : completed > 0 && running === 0 ? `${completed}/${want} completed` : `${running}/${want} running`;
      }
      // Tasks no node may run (a constraint nothing meets, a drained node's pinned task): the
      // swarm waits for a node forever; apply says so once that has lasted a while.
      const unplaced = current.find((t) => t.DesiredState === 'running' && t.Status.State === 'pending' && /no suitable node/.test(`${t.Status.Err ?? ''} ${t.Status.Message ?? ''}`));
      unplacedSince = unplaced ? (unplacedSince ?? Date.now()) : undefined;
      if (unplaced && Date.now() - unplacedSince! >= UNPLACED_MS) {
        throw await this.failure(r.name, s, tasks, started, `cannot place its tasks (${running}/${want} running; ${unplaced.Status.Err || unplaced.Status.Message})`, `make a node meet the service's placement (\`docker node ls\`, \`docker node update --availability active\`, node labels), or change its placement`);
      }
      const failed = tasks.filter((t) => swarmTime(t.CreatedAt) >= started && (t.Status.State === 'failed' || t.Status.State === 'rejected'));
      if (!updating && failed.length > 0 && (oneShot || failed.length >= Math.max(3, 2 * want))) {
        throw await this.failure(r.name, s, tasks, started, `cannot run its tasks (${failed.length} failed)`, `see \`docker service ps --no-trunc ${r.name}\` and \`docker service logs ${r.name}\`, fix the service, and apply again`);
      }
      if (Date.now() > deadline) {
        throw await this.failure(r.name, s, tasks, started, `did not converge within ${Math.round(this.convergeTimeoutMs / 1000)} s (${running}/${want} running)`, `see \`docker service ps ${r.name}\`; if it is only slow, allow it more time`);
      }
      await sleep(POLL_MS);
    }
  }

  /** An error naming the service, the last failed task's error and its last output. */
  private async failure(name: string, s: SwarmService, tasks: readonly SwarmTask[], since: number, what: string, fix: string): Promise<CdkDockerError> {
    // The task that tells why: the one the swarm named, else the newest that failed, else the
    // newest made since that ran and stopped (a task of a rolled-back update is shut down by it).
    const named = /task ([a-z0-9]{25})/.exec(what)?.[1];
    const newest = tasks.filter((t) => t.ServiceID === s.ID && t.Status.State !== 'running').sort((a, b) => swarmTime(b.UpdatedAt) - swarmTime(a.UpdatedAt));
    const failed = newest.filter((t) => t.Status.Err || t.Status.State === 'failed' || t.Status.State === 'rejected');
    const ran = newest.filter((t) => swarmTime(t.CreatedAt) >= since && t.Status.ContainerStatus?.ContainerID);
    const recent = newest.find((t) => t.ID === named) ?? failed.find((t) => swarmTime(t.CreatedAt) >= since) ?? ran[0] ?? failed[0];
    const err = recent ? `; its task ${recent.ID.slice(0, 12)} ${recent.Status.State}: ${recent.Status.Err || recent.Status.Message || 'no error given'}` : '';
    const logs = recent ? await this.taskLogs(recent.ID, ERROR_LOG_LINES) : '';
    const shown = logs.trimEnd();
    return new ServiceConvergenceError(
      `service ${name} ${what}${err}${shown ? `; its last output:\n${shown.split('\n').map((l) => `  | ${l}`).join('\n')}\n` : ' (it wrote no output); '}${fix}`,
    );
  }

  private async taskLogs(taskId: string, lines: number): Promise<string> {
    let out = '';
    try {
      await this.streamLogs(`/tasks/${taskId}/logs`, { tail: lines }, (l) => (out += l.text.endsWith('\n') ? l.text : `${l.text}\n`));
    } catch {
      // No output to show.
    }
    return out;
  }

  private async streamLogs(route: string, opts: LogsOptions, onLine: (line: LogLine) => void): Promise<void> {
    const res = await this.client.stream('GET', route, {
      query: { stdout: true, stderr: true, follow: opts.follow === true, timestamps: opts.timestamps === true, tail: opts.tail === undefined ? 'all' : opts.tail },
      signal: opts.signal,
    });
    const splitter = new LineSplitter(opts.timestamps === true, onLine);
    try {
      for await (const f of demuxFrames(res.body)) if (f.stream === 'stdout' || f.stream === 'stderr') splitter.push(f.stream, f.data);
    } catch (e) {
      if (!opts.signal?.aborted) throw e;
    } finally {
      res.body.destroy();
    }
    splitter.flush();
  }

  /** Removes a service and waits until its tasks are gone (their networks are free then), then its secrets and configs. */
  private async removeService(id: string, files = true): Promise<void> {
    const labels = files ? ((await this.service(id))?.Spec.Labels ?? {}) : {};
    try {
      await this.client.request('DELETE', `/services/${id}`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return;
      throw e;
    }
    // Until the swarm has reaped its tasks it will not let go of their networks (its delete of a
    // network then falls back to the node's copy, which the swarm makes again). A filter by a
    // service that is gone answers 404: all tasks are read.
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const tasks = await this.client.request<SwarmTask[]>('GET', '/tasks');
      if (!tasks.some((t) => t.ServiceID === id)) break;
      await sleep(POLL_MS);
    }
    await this.removeFiles(labels[LABELS.stack], labels[LABELS.path], new Set());
  }

  /** Removes the service (every replica: the replicas are its tasks); nothing when it is gone. */
  public override async removeContainer(nameOrId: string): Promise<void> {
    const s = await this.service(nameOrId);
    if (s) await this.removeService(s.ID);
  }

  /** Service `name` reaches `condition` (every task the swarm wants running, healthy, or completed). */
  public override async wait(name: string, condition: DependencyCondition, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.service(name);
      if (!s) throw new ContainerConditionError(name, condition, 'is not a service on the swarm', '', 'apply the stack that makes it');
      const tasks = await this.tasksOf([s.ID]);
      const current = currentTasks(s, tasks);
      const want = s.Spec.Mode.Global ? Math.max(current.length, 1) : (s.Spec.Mode.Replicated?.Replicas ?? 0);
      const states = current.map((t) => taskStatus(t));
      const running = states.filter((x) => x.status === 'running').length;
      const completed = states.filter((x) => x.status === 'exited' && x.exitCode === 0).length;
      const failedTask = current.find((t) => t.Status.State === 'failed' || t.Status.State === 'rejected');
      const updating = s.UpdateStatus?.State === 'updating' || s.UpdateStatus?.State === 'rollback_started';
      const logs = async () => (failedTask ? this.taskLogs(failedTask.ID, ERROR_LOG_LINES) : '');
      if (condition === 'healthy') {
        const hasCheck = (s.Spec.TaskTemplate.ContainerSpec.Healthcheck?.Test?.length ?? 0) > 0 || (await this.imageHasHealthcheck(s.Spec.TaskTemplate.ContainerSpec.Image));
        if (!hasCheck) throw new ContainerConditionError(name, condition, 'has no healthcheck, so it can never be healthy', '', 'give the container a healthcheck, or depend on it being "started" instead');
      }
      // A Swarm reports a task with a healthcheck running only once it is healthy.
      if (!updating && condition !== 'completed' && running >= want && want > 0) return;
      if (condition === 'started' && completed + running >= want && want > 0 && !updating) return;
      if (condition === 'completed' && completed >= want && want > 0) return;
      const oneShot = s.Spec.TaskTemplate.RestartPolicy?.Condition !== 'any';
      if (failedTask && oneShot) {
        throw new ContainerConditionError(name, condition, `has a task that ${failedTask.Status.State} (${failedTask.Status.Err || failedTask.Status.Message || 'no error given'})`, await logs(), `see \`docker service ps --no-trunc ${name}\` and fix the service`);
      }
      if (condition === 'completed' && !oneShot) {
        throw new ContainerConditionError(name, condition, 'restarts its tasks whatever they exit with (restart "any"), so it never completes', '', 'give it restart "no" or "on-failure", or depend on it being "started"');
      }
      if (Date.now() > deadline) {
        const words = { started: 'running', healthy: 'healthy', completed: 'completed successfully' }[condition];
        throw new ContainerConditionError(name, condition, `was not ${words} within ${Math.round(timeoutMs / 1000)} s (${running}/${want} tasks running)`, await logs(), `see \`docker service ps ${name}\`; if it is only slow, allow it more time`);
      }
      await sleep(POLL_MS);
    }
  }

  private async imageHasHealthcheck(image: string): Promise<boolean> {
    const i = await this.client.request<Parameters<typeof toImageDefaults>[0]>('GET', `/images/${image}/json`).catch(() => undefined);
    return i !== undefined && (toImageDefaults(i).healthcheck?.test.length ?? 0) > 0;
  }

  /** A service's output (all its tasks'), or a container's when no service has that name. */
  public override async logs(nameOrId: string, opts: LogsOptions, onLine: (line: LogLine) => void): Promise<void> {
    const s = await this.service(nameOrId);
    if (!s) return super.logs(nameOrId, opts, onLine);
    if (opts.tail === 0 && !opts.follow) return;
    return this.streamLogs(`/services/${s.ID}/logs`, opts, onLine);
  }

  /** Runs `argv` in a running task of service `nameOrId` on the manager this driver talks to (or in the container of that name). */
  public override async exec(nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const s = await this.service(nameOrId);
    if (!s) return super.exec(nameOrId, argv, opts);
    const info = await this.client.request<{ Swarm?: { NodeID?: string } }>('GET', '/info');
    const here = currentTasks(s, await this.tasksOf([s.ID])).find((t) => t.Status.State === 'running' && t.NodeID === info.Swarm?.NodeID && t.Status.ContainerStatus?.ContainerID);
    if (!here) throw new ConflictError(`service ${s.Spec.Name} has no running task on the manager at ${this.host}; exec on the node that runs one (docker service ps ${s.Spec.Name})`);
    return super.exec(here.Status.ContainerStatus!.ContainerID!, argv, opts);
  }

  // --- the stack lock -------------------------------------------------------------------------

  public override async lockStack<T>(stack: string, fn: () => Promise<T>): Promise<T> {
    validateName('stack', stack);
    const lock = await this.acquireConfig(stack);
    return this.holdLease(() => this.renewConfig(lock.id), () => this.client.request('DELETE', `/configs/${lock.id}`), fn);
  }

  private async acquireConfig(stack: string): Promise<{ readonly id: string }> {
    const name = `cdk-docker-lock-${stack}`;
    const me = holderLabels(stack, this.machine);
    const labels = async () => ({ ...me, [LOCK_LABELS.since]: new Date().toISOString(), [LEASE_LABEL]: String(await this.engineSeconds()) });
    for (let attempt = 0; ; attempt++) {
      try {
        const body = { Name: name, Labels: await labels(), Data: Buffer.from(`cdk-docker stack lock of ${stack}\n`).toString('base64') };
        return { id: (await this.client.request<{ ID: string }>('POST', '/configs/create', { body })).ID };
      } catch (e) {
        if (isDockerEngineAnswer(e) && /not a swarm manager/.test(e.engineMessage)) throw this.notManager();
        if (!(e instanceof DockerConflictError)) throw e;
      }
      const held = await this.config(name);
      if (!held) continue;
      const l = held.Spec.Labels ?? {};
      const sameMachine = !!l[LOCK_LABELS.boot] && l[LOCK_LABELS.boot] === me[LOCK_LABELS.boot];
      const lease = Number(l[LEASE_LABEL] ?? 0);
      const dead = sameMachine ? !identityAlive(l[LOCK_LABELS.process] ?? '') : (await this.engineSeconds()) - lease > this.leaseSeconds;
      if (!dead || attempt > 0) {
        throw new ConflictError(
          `stack ${stack} is being applied by ${l[LOCK_LABELS.holder] ?? 'another cdk-docker command'}${l[LOCK_LABELS.since] ? ` since ${l[LOCK_LABELS.since]}` : ''} (its lock is the config ${name} on the swarm at ${this.host}); ` +
            `wait for it to finish, or, if that command is gone for good, remove the lock with \`docker config rm ${name}\``,
        );
      }
      // The holder is gone: its lock goes (by id: not one made meanwhile), ours is made.
      await this.client.request('DELETE', `/configs/${held.ID}`).catch((e: unknown) => {
        if (!(e instanceof DockerNotFoundError)) throw e;
      });
    }
  }

  private async config(name: string): Promise<{ ID: string; Version: { Index: number }; Spec: { Name: string; Labels?: { [k: string]: string } | null; Data?: string } } | undefined> {
    try {
      const c = await this.client.request<{ ID: string; Version: { Index: number }; Spec: { Name: string; Labels?: { [k: string]: string } | null; Data?: string } }>('GET', `/configs/${encodeURIComponent(name)}`);
      return c.Spec.Name === name || c.ID === name ? c : undefined;
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      throw e;
    }
  }

  /** Renews the lease: a config's labels are the only thing that can change on it. */
  private async renewConfig(id: string): Promise<void> {
    const c = await this.config(id);
    if (!c) return;
    await this.client.request('POST', `/configs/${c.ID}/update`, { query: { version: c.Version.Index }, body: { ...c.Spec, Labels: { ...(c.Spec.Labels ?? {}), [LEASE_LABEL]: String(await this.engineSeconds()) } } });
  }
}

/** Whether a change of `field` makes the swarm replace tasks (an update it runs); placement only moves tasks off nodes that no longer match. */
function rollsTasks(field: string): boolean {
  const c = SWARM_CAPABILITIES.services!;
  const under = (ps: readonly string[]) => ps.some((p) => field === p || field.startsWith(`${p}.`) || field.startsWith(`${p}[`));
  return field !== 'status' && !field.startsWith('deploy.placement') && !under(c.scale) && !under(c.metadata) && !under(c.replace);
}

/** The lock config's lease: the engine's clock, in seconds, at the last renewal. */
const LEASE_LABEL = `${LOCK_LABELS.stack}.lease`;

/** A service that did not converge (rolled back, paused, failing, too slow). */
export class ServiceConvergenceError extends CdkDockerError {
  public override readonly code = 'SERVICE_NOT_CONVERGED';
}

/** The driver of the swarm whose manager `env` (DOCKER_HOST, DOCKER_CONTEXT, …) and `options` name. */
export function swarmDriver(env: NodeJS.ProcessEnv = process.env, options: DockerEndpointOptions = {}, driverOptions: SwarmDriverOptions = {}): SwarmDriver {
  return new SwarmDriver(new DockerClient(resolveDockerEndpoint(options, env)), { env, ...driverOptions });
}

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
