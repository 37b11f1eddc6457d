/**
 * The built-in driver: the driver interface (./types) over the built-in runtime's public API
 * (runtime/index.ts: its containers, images, networks and volumes). No daemon: every call does
 * its work in this process and leaves running containers to conmon, as the runtime CLI does.
 *
 * The runtime's container records are Docker-shaped, so observed containers are expressed in the
 * plan's terms by ./observed, as a Docker driver's are. The stack lock is a file lock under the
 * state root (`<root>/stacks/<stack>.lock`): every command on this machine's engine sees it.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type * as RuntimeApi from '../../runtime';
import type { Containers, Images, Networks, RuntimeConfig, Volumes } from '../../runtime';
import type { DependencyCondition, Healthcheck, ImageResource, Mount, NetworkAttachment, NetworkSpec, VolumeSpec } from '../plan/types';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../core/errors';
import { cpuRangeMessage, hostCpuCount } from '../core/limits';
import { parsePlatform } from '../core/platform';
import { BUILD_LABELS, isForeignToolLabel, isOwnLabel, ownLabels } from '../core/labels';
import { validateName } from '../core/names';
import { ContainerConditionError, UnsupportedError } from './errors';
import { ContainerInspectShape, DOCKER_DEFAULTS, DOCKER_IN_PLACE, imageDefaults, joinsNetworks, networkList, observedContainerSpec, observedNetwork, observedVolume, requestNetworkMode, volumeMountsOf } from './observed';
import { swarmOnly } from './features';
import { buildStepReporter } from './progress';
import { adoptedObjects, adoptionRecordName, isAdoptionRecord, withAdoptions } from './adopted';
import {
  ContainerCreateRequest,
  ContainerStatus,
  ContainerUpdate,
  Driver,
  DriverCapabilities,
  EnsureImageOptions,
  ExecOptions,
  ExecResult,
  ImageProgress,
  LABELS,
  LogLine,
  LogsOptions,
  ManagedLabels,
  ObservedContainer,
  ObservedImage,
  ObservedNetwork,
  ObservedStack,
  ObservedVolume,
  RemoveContainerOptions,
  UnmanagedObjects,
  UnmanagedQuery,
} from './types';
import { compareText } from '../core/canonical';

type ImageService = Images.ImageService;
type ImageStore = Images.ImageStore;
type ImageRecord = Images.ImageRecord;
type ContainerConfig = Images.ContainerConfig;

type ContainerRecord = Containers.ContainerRecord;
type ContainerState = Containers.ContainerState;
type NetworkRecord = Networks.NetworkRecord;

/** How often `wait` looks at the container. */
const POLL_MS = 100;
/** Log lines quoted when a container cannot reach a condition. */
const ERROR_LOG_LINES = 10;

/**
 * What the built-in runtime does (runtime/containers, runtime/networks): Docker's defaults, every
 * in-place change Docker makes (rename, update, connect/disconnect), labels rewritten by update;
 * replicas are containers the reconciler makes one by one.
 */
export const BUILTIN_CAPABILITIES: DriverCapabilities = {
  // Its own default log driver: conmon's k8s-file.
  defaults: { ...DOCKER_DEFAULTS, logDriver: 'k8s-file' },
  inPlace: DOCKER_IN_PLACE,
  relabel: true,
  relabelNetworksAndVolumes: true,
  ownsReplicas: false,
  // Swarm settings: a stack that sets them is refused at diff, naming this engine.
  unsupported: swarmOnly('built-in'),
  // conmon writes k8s-file (json-file is kept beside it, none writes nothing); runc only; the
  // log size cap is the engine's own (20 MiB), no option changes it yet.
  choices: { engine: 'the built-in engine', logDrivers: ['k8s-file', 'json-file', 'none'], logOptions: [], runtimes: ['runc'] },
};
const DEFAULT_NETWORK = BUILTIN_CAPABILITIES.defaults.network;

// The runtime's halves are loaded on first use: `synth` and `diff` of a stack without containers
// never pay for them.
const runtime = () => require('../../runtime') as typeof RuntimeApi;
const loadContainers = () => runtime().containers();
/** The service and the helpers a listing needs, without the rest of the containers section. */
const containerCore = () => runtime().containerCore();
const loadBuild = () => runtime().build();

/**
 * The driver of the built-in runtime, for one state root (`RuntimeConfig`). Cheap to construct:
 * the runtime's services are made on first use.
 */
export class BuiltinDriver implements Driver {
  public readonly name = 'built-in';
  public readonly capabilities = BUILTIN_CAPABILITIES;
  private containerService?: Containers.ContainerService;
  private imageService?: ImageService;
  private readStore?: ImageStore;
  private volumeStore?: Volumes.VolumeStore;
  private networkStore?: Networks.NetworkStore;

  constructor(public readonly config: RuntimeConfig) {}

  private get containers(): Containers.ContainerService {
    this.containerService ??= new (containerCore().ContainerService)(this.config);
    return this.containerService;
  }

  private get images(): ImageService {
    this.imageService ??= runtime().imageService(this.config);
    return this.imageService;
  }

  /** The service's store once there is a service; before, one only to read from (see runtime imageStore). */
  private get imageStore(): ImageStore {
    if (this.imageService) return this.imageService.store;
    this.readStore ??= runtime().imageStore(this.config);
    return this.readStore;
  }

  private get volumes(): Volumes.VolumeStore {
    this.volumeStore ??= new (runtime().volumes().VolumeStore)(this.config.root);
    return this.volumeStore;
  }

  private get networks(): Networks.NetworkStore {
    this.networkStore ??= new (runtime().networks().NetworkStore)(this.config.root, undefined, this.config.network);
    return this.networkStore;
  }

  // --- observe --------------------------------------------------------------------------------

  public async observe(stack: string): Promise<ObservedStack> {
    const mine = (labels: { readonly [k: string]: string } | null | undefined) => labels?.[LABELS.stack] === stack;
    const svc = this.containers;
    // `list` brings the states of containers whose process has gone up to date.
    const rows = (await svc.list(true)).filter((r) => mine(r.labels));
    const netRecords = await this.networks.records();
    const imageConfigs = new Map<string, ContainerConfig>();
    const containers = rows.map((r) => this.toObservedContainer(r.record, r.state, netRecords, imageConfigs));
    const networks = netRecords.filter((n) => n.Name !== DEFAULT_NETWORK && mine(n.Labels)).map(observedNetwork);
    const volumes = this.volumes.list({ label: [`${LABELS.stack}=${stack}`] }).filter((v) => mine(v.Labels)).map(observedVolume);
    return withAdoptions((q) => this.unlabelled(q, true), {
      networks: networks.sort(byName),
      volumes: volumes.sort(byName),
      containers: containers.sort(byName),
    });
  }

  public async unmanaged(query: UnmanagedQuery = {}): Promise<UnmanagedObjects> {
    return this.unlabelled(query, false);
  }

  /** Objects without our stack label; those a record adopts only with `adopted`. */
  private async unlabelled(query: UnmanagedQuery, adoptedToo: boolean): Promise<UnmanagedObjects> {
    const free = (labels: { readonly [k: string]: string } | null | undefined) => labels?.[LABELS.stack] === undefined;
    const pick = (names: readonly string[] | undefined, name: string) => names === undefined || names.includes(name);
    const svc = this.containers;
    const rows = (await svc.list(true)).filter((r) => free(r.labels) && r.labels?.[BUILD_LABELS.step] === undefined);
    const records = rows
      .map((r) => svc.tryRecord(r.id))
      .filter((r): r is ContainerRecord => r !== undefined && pick(query.containers, r.Name));
    const netRecords = await this.networks.records();
    const imageConfigs = new Map<string, ContainerConfig>();
    const allVolumes = this.volumes.list();
    // An object a record adopts is a stack's now.
    const adopted = adoptedObjects(allVolumes.map((v) => ({ labels: v.Labels ?? {} })));
    return {
      containers: records.map((r) => this.toObservedContainer(r, svc.state(r.Id), netRecords, imageConfigs)).sort(byName),
      networks: netRecords
        .filter((n) => n.Name !== DEFAULT_NETWORK && free(n.Labels) && (adoptedToo || !adopted.has(`network:${n.Name}`)) && pick(query.networks, n.Name))
        .map(observedNetwork)
        .sort(byName),
      volumes: allVolumes
        .filter((v) => free(v.Labels) && !isAdoptionRecord(v.Labels ?? {}) && (adoptedToo || !adopted.has(`volume:${v.Name}`)) && pick(query.volumes, v.Name))
        .map(observedVolume)
        .sort(byName),
    };
  }

  /** Relabels the network or volume in place (the runtime's stores can): no record needed. */
  public async adoptObject(kind: 'network' | 'volume', name: string, labels: ManagedLabels): Promise<void> {
    const keep = (l: { readonly [k: string]: string } | null | undefined) => Object.fromEntries(Object.entries(l ?? {}).filter(([k]) => !isForeignToolLabel(k) && !isOwnLabel(k)));
    if (kind === 'network') {
      const n = await this.networks.get(name);
      await this.networks.setLabels(n.Id, { ...keep(n.Labels), ...labels });
    } else {
      await this.volumes.setLabels(name, { ...keep(this.volumes.get(name).Labels), ...labels });
    }
  }

  /** One container as observed now. */
  private async observeContainer(nameOrId: string): Promise<ObservedContainer> {
    const svc = this.containers;
    const id = svc.resolve(nameOrId);
    const state = await svc.currentState(id);
    const record = svc.record(id);
    const netRecords = joinsNetworks(record.HostConfig.NetworkMode) ? await this.networks.records() : [];
    return this.toObservedContainer(record, state, netRecords, new Map());
  }

  private toObservedContainer(r: ContainerRecord, state: ContainerState, netRecords: NetworkRecord[], imageConfigs: Map<string, ContainerConfig>): ObservedContainer {
    let image = imageConfigs.get(r.ImageId);
    if (!image) {
      const rec = this.imageStore.tryResolve(r.ImageId);
      image = (rec ? this.imageStore.config(rec).config : undefined) ?? {};
      imageConfigs.set(r.ImageId, image);
    }
    const running = state.Status === 'running' || state.Status === 'paused';
    const networks: { [network: string]: { ipv4Address: string; aliases: string[] } } = {};
    const ports: Array<{ containerPort: number; protocol: string; hostIp: string; hostPort: number }> = [];
    if (running) {
      for (const n of netRecords) {
        const e = n.endpoints[r.Id];
        if (!e?.interfaceName) continue;
        networks[n.Name] = { ipv4Address: e.ip, aliases: [...(r.EndpointsConfig?.[n.Name]?.Aliases ?? [])] };
        for (const p of e.ports ?? []) {
          for (let i = 0; i < (p.range ?? 1); i++) ports.push({ containerPort: p.containerPort + i, protocol: p.protocol, hostIp: p.hostIp || '0.0.0.0', hostPort: p.hostPort + i });
        }
      }
    }
    ports.sort((a, b) => a.containerPort - b.containerPort || compareText(a.protocol, b.protocol) || compareText(a.hostIp, b.hostIp));
    return {
      id: r.Id,
      name: r.Name,
      labels: { ...r.Config.Labels },
      imageId: r.ImageId,
      imageRef: r.Config.Image,
      volumeMounts: volumeMountsOf(r),
      status: observedStatus(state.Status),
      exitCode: state.ExitCode,
      health: running ? state.Health?.Status : undefined,
      restartCount: state.RestartCount,
      spec: observedContainerSpec(inspectShape(r, (id) => this.containers.tryRecord(id)?.Name), image, { defaults: this.capabilities.defaults, hostName: hostHostname() }),
      networks,
      ports,
    };
  }

  // --- images ---------------------------------------------------------------------------------

  public async image(ref: string): Promise<ObservedImage | undefined> {
    const record = this.imageStore.tryResolve(ref);
    return record ? this.toObservedImage(record) : undefined;
  }

  public async ensureImage(resource: ImageResource, labels: ManagedLabels, options: EnsureImageOptions = {}): Promise<ObservedImage> {
    const spec = resource.spec;
    const { progress } = options;
    switch (spec.source) {
      case 'registry': {
        const present = this.imageStore.tryResolve(spec.ref);
        if (spec.pullPolicy === 'never') {
          if (!present) {
            throw new NotFoundError(
              `image ${spec.ref} (${resource.path}) is not in the built-in runtime and its pullPolicy is "never"; ` +
                `load it (cdk-docker runtime load -i FILE) or pull it (cdk-docker runtime pull ${spec.ref}) first, or set pullPolicy to "missing"`,
            );
          }
          return this.toObservedImage(present);
        }
        if (present && spec.pullPolicy === 'missing') return this.toObservedImage(present);
        try {
          return this.toObservedImage(await this.images.pull(spec.ref, progress ? runtimeProgress(progress) : undefined));
        } catch (e) {
          if (e instanceof CdkDockerError) throw wrap(e, `pull ${spec.ref} (${resource.path}): `);
          throw e;
        }
      }
      case 'archive':
        return this.toObservedImage(await this.loadArchive(resource.name, resource.path, spec.path, spec.sha256));
      case 'build': {
        const { [LABELS.stack]: _stack, [LABELS.path]: _path, [LABELS.replica]: _replica, ...imageLabels } = labels as unknown as { [k: string]: string };
        try {
          const built = await new (loadBuild().BuildService)(this.config).build({
            context: spec.context,
            // The plan's Dockerfile is relative to the context.
            dockerfile: path.resolve(spec.context, spec.dockerfile),
            buildArgs: { ...spec.buildArgs },
            target: spec.target,
            noCache: spec.noCache,
            tags: [resource.name],
            labels: imageLabels,
            // An apply leaves nothing it did not declare: a failed step's container goes too
            // (Docker's API keeps it unless forcerm; the error carries the step's output).
            forceRemove: true,
            output: buildStepReporter(progress),
          });
          return this.toObservedImage(this.imageStore.resolve(built.imageId));
        } catch (e) {
          if (e instanceof CdkDockerError) throw wrap(e, `build ${resource.name} (${resource.path}) from ${spec.context}: `);
          throw e;
        }
      }
    }
  }

  /** Loads an image archive and returns the image named `name` (the only image of the archive gets that tag). */
  private async loadArchive(name: string, where: string, file: string, sha256: string): Promise<ImageRecord> {
    let actual: string;
    try {
      actual = `sha256:${await fileSha256(file)}`;
    } catch (e) {
      throw new NotFoundError(`image ${name} (${where}): cannot read the archive ${file} (${(e as Error).message}); create it (e.g. \`docker save -o ${file} IMAGE\`) or fix the path`);
    }
    if (sha256 !== `sha256:${'0'.repeat(64)}` && actual !== sha256) {
      throw new ConflictError(`image ${name} (${where}): the archive ${file} changed since the plan was made (plan ${sha256}, now ${actual}); synthesize the plan again`);
    }
    const lines = await this.images.load(fs.createReadStream(file), file);
    const found = this.imageStore.tryResolve(name);
    const loaded = lines.map((l) => /^Loaded image(?: ID)?: (.+)$/.exec(l)?.[1]).filter((x): x is string => x !== undefined);
    if (loaded.length === 1) {
      const only = this.imageStore.resolve(loaded[0]);
      // The archive's image is the one the plan names, whatever tag it had when it was saved.
      if (found?.id !== only.id) return this.images.tag(only.id, name);
      return only;
    }
    if (found) return found;
    throw new NotFoundError(`image ${name} (${where}): the archive ${file} holds ${loaded.length} images (${loaded.join(', ')}) and none is tagged ${name}; tag the image as ${name} when saving it, or save only one image`);
  }

  private toObservedImage(record: ImageRecord): ObservedImage {
    return { id: record.id, config: imageDefaults(this.imageStore.config(record).config ?? {}) };
  }

  // --- networks -------------------------------------------------------------------------------

  public async createNetwork(name: string, spec: NetworkSpec, labels: ManagedLabels): Promise<ObservedNetwork> {
    if (spec.driver !== 'bridge') {
      throw new UnsupportedError(`network ${name}: the built-in runtime has only the "bridge" driver, not "${spec.driver}"; use driver bridge, or apply this stack to a Docker Swarm`);
    }
    const wanted = { ...spec.labels, ...labels };
    const existing = (await this.networks.records()).find((n) => n.Name === name);
    if (existing) return sameNetwork(existing, wanted);
    try {
      const record = await this.networks.create(name, {
        subnet: spec.subnet,
        gateway: spec.gateway,
        ipRange: spec.ipRange,
        internal: spec.internal,
        attachable: spec.attachable,
        labels: wanted,
      });
      return observedNetwork(record);
    } catch (e) {
      // Created meanwhile by someone else: the same one is fine.
      const now = e instanceof ConflictError ? (await this.networks.records()).find((n) => n.Name === name) : undefined;
      if (now) return sameNetwork(now, wanted);
      throw e;
    }
  }

  public async removeNetwork(name: string): Promise<void> {
    await this.networks.remove(name, { force: true });
    await this.volumes.remove(adoptionRecordName('network', name), { force: true });
  }

  // --- volumes --------------------------------------------------------------------------------

  public async createVolume(name: string, spec: VolumeSpec, labels: ManagedLabels): Promise<ObservedVolume> {
    if (spec.driver !== 'local') {
      throw new UnsupportedError(`volume ${name}: the built-in runtime has only the "local" volume driver, not "${spec.driver}"; use driver local (with driverOpts type/device/o for tmpfs, bind or nfs)`);
    }
    const record = await this.volumes.create(name, { driver: 'local', labels: { ...spec.labels, ...labels }, driverOpts: { ...spec.driverOpts } });
    return observedVolume(this.volumes.inspect(record.Name));
  }

  public async removeVolume(name: string): Promise<void> {
    await this.volumes.remove(name, { force: true });
    if (!name.startsWith('cdk-docker-adopted-')) await this.volumes.remove(adoptionRecordName('volume', name), { force: true });
  }

  // --- containers -----------------------------------------------------------------------------
  // (checkHostCpus below: the plan bounds CPUs by what Linux can schedule; this host, by its own.)

  public async createContainer(request: ContainerCreateRequest): Promise<ObservedContainer> {
    const svc = this.containers;
    const { spec, name } = request;
    const existing = svc.records().find((r) => r.Name === name);
    if (existing && sameLabels(managedOnly(existing.Config.Labels), managedOnly(request.labels))) return this.observeContainer(existing.Id);
    if (existing) {
      throw new ConflictError(
        `container ${name} already exists${existing.Config.Labels[LABELS.stack] ? ` (stack ${existing.Config.Labels[LABELS.stack]}, ${existing.Config.Labels[LABELS.path]})` : ' and was not created by cdk-docker'}; ` +
          `remove or rename it (cdk-docker runtime rm -f ${name}) or give the container another name`,
      );
    }
    checkHostCpus(spec.nanoCpus);
    const [first, ...rest] = spec.networkMode === 'bridge' ? spec.networks : [];
    const record = await svc.create({
      image: request.imageId,
      name,
      cmd: spec.command ? [...spec.command] : undefined,
      entrypoint: spec.entrypoint ? [...spec.entrypoint] : undefined,
      env: Object.entries(request.env).map(([k, v]) => `${k}=${v}`),
      workingDir: spec.workingDir,
      user: spec.user,
      hostname: spec.hostname,
      labels: { ...spec.labels, ...request.labels },
      restart: { name: spec.restart.policy, maxRetries: spec.restart.policy === 'on-failure' ? spec.restart.maxRetries : 0 },
      init: spec.init,
      readOnly: spec.readOnlyRootfs,
      capAdd: [...spec.capAdd],
      capDrop: [...spec.capDrop],
      privileged: spec.privileged,
      memory: spec.memoryBytes,
      nanoCpus: spec.nanoCpus,
      pidsLimit: spec.pidsLimit,
      stopSignal: spec.stopSignal,
      stopTimeout: spec.stopTimeoutSeconds,
      mounts: spec.mounts.map(mountRequest),
      volumesFrom: spec.volumesFrom.map((v) => (v.readOnly ? `${v.container}:ro` : v.container)),
      ...healthOptions(spec.healthcheck),
      networkMode: requestNetworkMode(request) ?? first?.network ?? DEFAULT_NETWORK,
      networkAliases: first ? [...first.aliases] : undefined,
      ipv4Address: first?.ipv4Address,
      ports: spec.ports.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol })),
      publishAll: spec.publishAllPorts,
      expose: spec.expose ? [...spec.expose] : undefined,
      extraHosts: Object.entries(spec.extraHosts ?? {}).map(([host, ip]) => `${host}:${ip}`),
      dns: spec.dns ? [...spec.dns] : undefined,
      dnsSearch: spec.dnsSearch ? [...spec.dnsSearch] : undefined,
      dnsOptions: spec.dnsOptions ? [...spec.dnsOptions] : undefined,
      sysctls: spec.sysctls ? { ...spec.sysctls } : undefined,
      ulimits: Object.entries(spec.ulimits ?? {}).map(([n, u]) => ({ name: n, soft: u.soft, hard: u.hard })),
      shmSize: spec.shmSizeBytes,
      devices: spec.devices?.map((d) => ({ ...d })),
      pidMode: spec.pid,
      ipcMode: spec.ipc,
      files: request.files?.map((f) => ({ target: f.target, content: f.content, mode: f.mode, uid: f.uid, gid: f.gid })),
      tty: spec.tty ?? false,
      openStdin: spec.stdinOpen ?? false,
      logDriver: spec.logging ? loadContainers().checkLogDriver(spec.logging.driver) : undefined,
      platform: spec.platform ? parsePlatform(spec.platform) : undefined,
    });
    try {
      // The other networks: connect works on a container that has not started.
      for (const n of rest) await svc.connect(n.network, record.Id, { aliases: [...n.aliases], ip: n.ipv4Address });
    } catch (e) {
      // All or nothing: a half-connected container would look created to the next observe.
      await svc.remove(record.Id, { force: true, volumes: true }).catch(() => undefined);
      throw e;
    }
    return this.observeContainer(record.Id);
  }

  public async startContainer(nameOrId: string): Promise<void> {
    await this.containers.start(nameOrId);
  }

  public async stopContainer(nameOrId: string): Promise<void> {
    try {
      await this.containers.stop(nameOrId);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  public async removeContainer(nameOrId: string, opts: RemoveContainerOptions = {}): Promise<void> {
    try {
      // Docker's `rm -v`: the container's anonymous volumes go with it, named volumes never.
      await this.containers.remove(nameOrId, { force: opts.force, volumes: opts.keepAnonymousVolumes !== true });
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  public async updateContainer(nameOrId: string, update: ContainerUpdate): Promise<void> {
    const svc = this.containers;
    const id = svc.resolve(nameOrId);
    // The name first: the new labels (the spec hash) are written last, when everything else is done.
    if (update.name !== undefined && update.name !== svc.record(id).Name) await svc.rename(id, update.name);
    const record = svc.record(id);
    let labels: { [k: string]: string } | undefined;
    if (update.labels) {
      labels = ownLabels(record.Config.Labels, false);
      for (const k of update.dropLabels ?? []) delete labels[k];
      Object.assign(labels, update.labels);
    }
    const limit = (v: number | null | undefined) => (v === undefined ? undefined : (v ?? 0));
    checkHostCpus(update.nanoCpus ?? undefined);
    await svc.update(id, {
      restart: update.restart ? { name: update.restart.policy, maxRetries: update.restart.policy === 'on-failure' ? update.restart.maxRetries : 0 } : undefined,
      memory: limit(update.memoryBytes),
      nanoCpus: limit(update.nanoCpus),
      pidsLimit: limit(update.pidsLimit),
      labels,
    });
  }

  public async connectNetwork(container: string, network: string, opts: { aliases: string[]; ipv4Address?: string }): Promise<void> {
    const svc = this.containers;
    const id = svc.resolve(container);
    const net = await this.networks.get(network);
    const record = svc.record(id);
    const joined = networkList(inspectShape(record), DEFAULT_NETWORK);
    const current = joined.find((j) => j.network === net.Name);
    if (current) {
      if (sameStrings(current.aliases, opts.aliases) && (current.ipv4Address ?? '') === (opts.ipv4Address ?? '')) return;
      throw new ConflictError(
        `container ${record.Name} is already on network ${net.Name} with ${describeAttachment(current)}, not ${describeAttachment({ network: net.Name, aliases: [...opts.aliases].sort(), ipv4Address: opts.ipv4Address })}; disconnect it first`,
      );
    }
    await svc.connect(net.Name, id, { aliases: [...opts.aliases], ip: opts.ipv4Address });
  }

  public async disconnectNetwork(container: string, network: string): Promise<void> {
    const svc = this.containers;
    const id = svc.tryResolve(container);
    if (!id) return;
    const record = svc.record(id);
    if (!networkList(inspectShape(record), DEFAULT_NETWORK).some((j) => j.network === network)) return;
    try {
      await svc.disconnect(network, id);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  // --- conditions and output ------------------------------------------------------------------

  public async wait(nameOrId: string, condition: DependencyCondition, timeoutMs: number): Promise<void> {
    const svc = this.containers;
    const id = svc.resolve(nameOrId);
    const name = svc.record(id).Name;
    const deadline = Date.now() + timeoutMs;
    const fail = async (reason: string, fix: string) => new ContainerConditionError(name, condition, reason, this.lastLines(id, ERROR_LOG_LINES), fix);
    for (;;) {
      if (!svc.tryRecord(id)) throw await fail(`was removed while cdk-docker waited for it to be ${CONDITION_WORDS[condition]}`, 'apply again');
      let state = svc.state(id);
      // The process may be gone without its exit recorded yet: finish that first.
      if ((state.Status === 'running' || state.Status === 'paused') && !containerCore().pidAlive(state.MonitorPid ?? 0)) state = await svc.currentState(id);
      const verdict = judge(state, condition, svc.record(id));
      if (verdict.done) return;
      if (verdict.failure) throw await fail(verdict.failure, verdict.fix ?? `see \`cdk-docker runtime logs ${name}\` and fix the container`);
      if (Date.now() >= deadline) {
        throw await fail(
          `was not ${CONDITION_WORDS[condition]} within ${formatSeconds(timeoutMs)} (it is ${describeState(state)})`,
          `see \`cdk-docker runtime logs ${name}\`; if it is only slow, allow it more time`,
        );
      }
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    }
  }

  /** The last `lines` lines of a container's output, as text (for error messages). */
  private lastLines(id: string, lines: number): string {
    try {
      return loadContainers()
        .readLog(this.containers.logPath(id), { tail: lines })
        .map((l) => (l.text.endsWith('\n') ? l.text : `${l.text}\n`))
        .join('');
    } catch {
      return '';
    }
  }

  public async logs(nameOrId: string, opts: LogsOptions, onLine: (line: LogLine) => void): Promise<void> {
    const svc = this.containers;
    const m = loadContainers();
    const id = svc.resolve(nameOrId);
    const logDriver = svc.logDriver(id);
    if (logDriver === 'none') throw new UnsupportedError(`container ${svc.record(id).Name} logs with the "none" log driver, which keeps no output to read; recreate it with another log driver`);
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw new InvalidArgumentError(`logs of ${nameOrId}: tail must be a whole number of lines, not ${opts.tail}`);
    const emit = (l: Containers.LogLine) => onLine({ stream: l.stream, text: l.text, ...(opts.timestamps ? { time: l.time } : {}) });
    const file = svc.logPath(id);
    let start: number;
    let lines: Containers.LogLine[];
    if (logDriver === 'json-file') {
      // What is there is read from Docker's file (brought up to date), what follows from conmon's.
      svc.syncJsonLog(id);
      start = m.logSize(file);
      lines = m.readLog(svc.jsonLogPath(id));
    } else {
      // One read: a follow goes on exactly where it ended (before an unfinished last line).
      const text = readText(file);
      const parsed = m.parseLog(text);
      lines = parsed.lines;
      start = Buffer.byteLength(text) - Buffer.byteLength(parsed.rest);
    }
    for (const l of opts.tail === undefined ? lines : opts.tail === 0 ? [] : lines.slice(-opts.tail)) emit(l);
    if (!opts.follow || opts.signal?.aborted) return;
    const running = () => {
      if (!svc.tryRecord(id)) return false;
      const s = svc.state(id).Status;
      return s === 'running' || s === 'paused' || s === 'restarting';
    };
    await m.followLog(file, start, emit, () => opts.signal?.aborted === true || !running());
  }

  public async exec(nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    for (const k of Object.keys(opts.env ?? {})) {
      if (k === '' || k.includes('=')) throw new InvalidArgumentError(`exec in ${nameOrId}: invalid environment variable name "${k}"; give a name without "="`);
    }
    // This process's own streams are handed down as they are (a terminal stays a terminal).
    const own = <S>(given: S | undefined, mine: unknown): S | 'inherit' | undefined => (given !== undefined && given === mine ? 'inherit' : given);
    return this.containers.exec(nameOrId, argv, {
      env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
      workdir: opts.workdir,
      user: opts.user,
      tty: opts.tty,
      stdin: own(opts.stdin, process.stdin),
      stdout: own(opts.stdout, process.stdout),
      stderr: own(opts.stderr, process.stderr),
    });
  }

  public async copyToContainer(nameOrId: string, dest: string, archive: Readable): Promise<void> {
    if (!dest.startsWith('/')) throw new InvalidArgumentError(`copy into ${nameOrId}: the destination "${dest}" must be an absolute path in the container`);
    // The runtime's `cp -a - CONTAINER:PATH` (owners as the archive says, as the Engine API
    // keeps them): the entries checked are the entries written.
    await loadContainers().copyToContainer(this.containers, '-', archive, nameOrId, dest, { archive: true });
  }

  // --- stacks ---------------------------------------------------------------------------------

  public async listStacks(): Promise<string[]> {
    const names = new Set<string>();
    const add = (labels: { readonly [k: string]: string } | null | undefined) => {
      const s = labels?.[LABELS.stack];
      if (typeof s === 'string' && s !== '') names.add(s);
    };
    for (const r of await this.containers.list(true)) add(r.labels);
    for (const n of await this.networks.records()) add(n.Labels);
    for (const v of this.volumes.list()) add(v.Labels);
    return [...names].sort();
  }

  public async lockStack<T>(stack: string, fn: () => Promise<T>): Promise<T> {
    validateName('stack', stack);
    const file = path.join(this.config.root, 'stacks', `${stack}.lock`);
    return runtime().withLock(file, fn, { noWait: true, busy: `stack ${stack} is being applied by another cdk-docker command` });
  }
}

/** The built-in runtime's driver for the state root that `env` names (CDK_DOCKER_ROOT, CDK_DOCKER_RUNROOT). */
export function builtinDriver(env: NodeJS.ProcessEnv = process.env): BuiltinDriver {
  const { runtimeConfig } = runtime();
  return new BuiltinDriver(runtimeConfig(env));
}

// --- conditions -------------------------------------------------------------------------------

interface Verdict {
  readonly done?: boolean;
  /** Why the condition cannot be reached any more. */
  readonly failure?: string;
  readonly fix?: string;
}

/** Whether a container in `state` has reached `condition`, can never reach it, or may still. */
function judge(state: ContainerState, condition: DependencyCondition, record: ContainerRecord): Verdict {
  const started = state.StartedAt !== '0001-01-01T00:00:00Z' && state.StartedAt !== '';
  const exited = (state.Status === 'exited' || state.Status === 'dead') && started;
  const running = state.Status === 'running' || state.Status === 'paused';
  const exitText = `exited with code ${state.ExitCode}${state.OOMKilled ? ' (killed for lack of memory)' : ''}${state.Error ? ` (${state.Error})` : ''}`;
  switch (condition) {
    case 'started':
      if (running) return { done: true };
      // A one-shot container that already did its job has started.
      if (exited) return state.ExitCode === 0 ? { done: true } : { failure: `${exitText} instead of running` };
      return {};
    case 'healthy': {
      if (exited) return { failure: `${exitText} before it was healthy` };
      if (!running) return {};
      const health = state.Health;
      if (!health) return { failure: 'has no healthcheck, so it can never be healthy', fix: 'give the container a healthcheck, or depend on it being "started" instead' };
      if (health.Status === 'healthy') return { done: true };
      if (health.Status !== 'unhealthy') return {};
      const last = health.Log[health.Log.length - 1];
      const output = last?.Output.trim().split('\n').slice(-3).join(' / ');
      return {
        failure: `turned unhealthy (${health.FailingStreak} failed check${health.FailingStreak === 1 ? '' : 's'}${last ? `; the last one exited ${last.ExitCode}${output ? `: ${output}` : ''}` : ''})`,
        fix: `check the healthcheck ${JSON.stringify(record.Config.Healthcheck?.Test ?? [])} and the service (cdk-docker runtime logs ${record.Name})`,
      };
    }
    case 'completed':
      if (exited) return state.ExitCode === 0 ? { done: true } : { failure: `${exitText} before it completed successfully` };
      return {};
  }
}

/** `was not … within 5 s`. */
const CONDITION_WORDS: { readonly [c in DependencyCondition]: string } = { started: 'running', healthy: 'healthy', completed: 'completed successfully' };

function describeState(state: ContainerState): string {
  if (state.Status === 'running' && state.Health) return `running, health ${state.Health.Status}`;
  if (state.Status === 'exited') return `exited with code ${state.ExitCode}`;
  return state.Status;
}

// --- observed state in the plan's terms -------------------------------------------------------

function observedStatus(status: ContainerState['Status']): ContainerStatus {
  return status === 'removing' ? 'dead' : status;
}

/** A runtime record as Docker's inspect shape, for ./observed. */
function inspectShape(r: ContainerRecord, nameOf: (id: string) => string | undefined = () => undefined): ContainerInspectShape {
  // Another container's network is recorded by its id: reported by its name, as the plan names it.
  const mode = r.HostConfig.NetworkMode;
  const shared = mode.startsWith('container:') ? nameOf(mode.slice('container:'.length)) : undefined;
  const hostConfig = shared !== undefined ? { ...r.HostConfig, NetworkMode: `container:${shared}` } : r.HostConfig;
  return { ...r, HostConfig: { ...hostConfig, LogConfig: { Type: r.HostConfig.LogDriver ?? 'k8s-file', Config: {} } }, NetworkSettings: { Networks: Object.fromEntries(containerCore().endpointsConfig(r)) } };
}

/** An existing network of the name asked for: it, when it has the labels asked for; else ConflictError. */
function sameNetwork(existing: NetworkRecord, wanted: { readonly [k: string]: string }): ObservedNetwork {
  if (sameLabels(managedOnly(existing.Labels), managedOnly(wanted))) return observedNetwork(existing);
  const owner = existing.Labels[LABELS.stack];
  throw new ConflictError(
    `network ${existing.Name} already exists${owner ? ` (stack ${owner}, ${existing.Labels[LABELS.path]}, with other labels)` : ' and was not created by cdk-docker'}; ` +
      `remove it (cdk-docker runtime network rm ${existing.Name}) or give the network another name`,
  );
}

// --- create options ---------------------------------------------------------------------------

function mountRequest(m: Mount): Containers.MountRequest {
  switch (m.type) {
    case 'volume':
      return { type: 'volume', source: m.source, target: m.target, readOnly: m.readOnly, options: [] };
    case 'bind':
      return { type: 'bind', source: m.source, target: m.target, readOnly: m.readOnly, options: [] };
    case 'tmpfs':
      return {
        type: 'tmpfs',
        target: m.target,
        readOnly: false,
        options: [...(m.sizeBytes !== undefined ? [`size=${m.sizeBytes}`] : []), ...(m.mode !== undefined ? [`mode=${m.mode.toString(8)}`] : [])],
      };
  }
}

function healthOptions(hc: Healthcheck | undefined): Pick<Containers.CreateOptions, 'healthcheck' | 'noHealthcheck'> {
  if (!hc) return {};
  if (hc.test[0] === 'NONE') return { noHealthcheck: true };
  return { healthcheck: { Test: [...hc.test], Interval: hc.intervalMs * 1e6, Timeout: hc.timeoutMs * 1e6, StartPeriod: hc.startPeriodMs * 1e6, Retries: hc.retries } };
}

// --- small helpers ----------------------------------------------------------------------------

function sameLabels(a: { readonly [k: string]: string } | null | undefined, b: { readonly [k: string]: string }): boolean {
  const ka = Object.keys(a ?? {});
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a![k]);
}

/** The `io.cdk-docker.*` labels: the identity and spec hash of a managed object. */
function managedOnly(labels: { readonly [k: string]: string } | null | undefined): { [k: string]: string } {
  return ownLabels(labels ?? undefined);
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function describeAttachment(a: NetworkAttachment): string {
  return `${a.aliases.length ? `aliases ${a.aliases.join(', ')}` : 'no aliases'}${a.ipv4Address ? ` and address ${a.ipv4Address}` : ''}`;
}

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A file's text; empty when it does not exist (yet). */
function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}

let hostName: string | undefined;
/** This host's name (a container with host networking has it). */
function hostHostname(): string {
  if (hostName === undefined) {
    try {
      hostName = fs.readFileSync('/etc/hostname', 'utf8').trim();
    } catch {
      hostName = '';
    }
  }
  return hostName;
}

function fileSha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

/**
 * An ImageProgress as the runtime's pull reports to: it calls only the display's `line`, `layer`
 * and `bytes` (the rest of Progress is how it draws, which the sink does itself).
 */
function runtimeProgress(progress: ImageProgress): Images.ProgressSink {
  return {
    line: (message) => progress.line(message),
    // A live-only status is one that progress bars follow, not a change of the layer's.
    layer: (id, status, opts) => (opts?.liveOnly ? undefined : progress.layer(id, status)),
    bytes: (id, done, total) => progress.bytes(id, done, total),
  };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The same error with `prefix` (context for the user) before its message. */
function wrap(e: CdkDockerError, prefix: string): CdkDockerError {
  if (!e.message.startsWith(prefix)) e.message = `${prefix}${e.message}`;
  return e;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Docker's host check of a CPU limit, at apply (synth is pure and checks only the kernel's bounds). */
function checkHostCpus(nanoCpus: number | undefined): void {
  if (nanoCpus === undefined || nanoCpus <= 0) return;
  const host = hostCpuCount();
  if (nanoCpus > host * 1e9) throw new InvalidArgumentError(cpuRangeMessage(host));
}

