/**
 * The Docker driver: the driver interface (../types) over a Docker Engine's API (./client), local
 * or remote. Everything a stack does on the built-in engine it does here, with the same labels:
 * the plan's terms become Engine API bodies in ./mapping, and inspected containers come back in
 * the plan's terms through ../observed (shared with the built-in driver), so the diff sees no
 * difference the engine made up (its default PATH, HostConfig defaults, log config, the image's
 * config, the `bridge` network).
 *
 * What Docker cannot do, declared in DOCKER_CAPABILITIES: change an existing container's labels
 * (relabel false: after an in-place update the old spec hash stays, which the diff never trusts).
 *
 * Waits (`started`, `healthy`, `completed`) follow the engine's `/events` for the container —
 * each event, and the replay of the ones since it was created, is a cue to inspect it again —
 * never a polling loop; they fail with the built-in driver's messages.
 *
 * The stack lock lives on the engine, so that two machines applying one stack to one engine
 * exclude each other:
 * - The lock is a container named `cdk-docker-lock-<stack>` (never started) made from a tiny
 *   image with no layers (`cdk-docker-lock:1`, loaded once through `/images/load`). Creating a
 *   container is atomic on a name: 201 = ours, 409 = held.
 * - Its labels name the holder: host name, machine (boot id and pid namespace: where its process
 *   identity means something), process identity (`PID STARTTIME`, see ../../core/process) and
 *   start time.
 * - The holder keeps a *lease*: every LEASE/3 it writes the engine's clock (in seconds) into the
 *   lock container's restart policy retry count (`on-failure:<seconds>`, through
 *   `/containers/{id}/update`: a setting Docker changes on an existing container and reports;
 *   this container never runs, so it means nothing else). The engine's clock (ours corrected by
 *   the offset `/info` showed), not ours: machines' clocks differ, the engine's is one.
 * - A contender that finds the lock held takes it over when the holder is dead: on the same
 *   machine (same boot id and pid namespace) when its process is gone, at once; from another
 *   machine or container when its lease is older than LEASE. It removes the stale lock *by id*
 *   (never one made meanwhile by a third) and creates its own; if that is 409 again, someone
 *   else was quicker, and it is refused naming them. Otherwise it is refused at once with a
 *   ConflictError naming the holder. (A holder stalled longer than a lease — a suspended
 *   laptop — loses its lock; its release then leaves the new holder's alone.)
 * - Release removes the lock by id (a lock taken over meanwhile is left to its new holder).
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { tarStream } from '../../core/tar';
import type { DependencyCondition, ImageResource, NetworkSpec, VolumeSpec } from '../../plan/types';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../core/errors';
import { cpuRangeMessage } from '../../core/limits';
import { EXTRA_LABELS, LABEL_PREFIX, ownLabels } from '../../core/labels';
import { validateName } from '../../core/names';
import { identityAlive, processIdentity } from '../../core/process';
import { ContainerConditionError, UnsupportedError } from '../errors';
import { DOCKER_DEFAULTS, DOCKER_IN_PLACE, networkList, observedNetwork, observedVolume } from '../observed';
import { swarmOnly } from '../features';
import { buildStepReporter } from '../progress';
import type { ImageConfigShape } from '../observed';
import {
  ContainerCreateRequest,
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
} from '../types';
import { adoptedObjects, adoptionRecordName, isAdoptionRecord, withAdoptions, writeAdoptionRecord } from '../adopted';
import { registryAuthHeaders, registryConfigHeaders } from './auth';
import { DockerClient } from './client';
import { buildContext } from './context';
import { DockerEndpointOptions, resolveDockerEndpoint } from './endpoint';
import { DockerConflictError, DockerEngineError, DockerNotFoundError, isDockerEngineAnswer } from './errors';
import {
  DockerContainerInspect,
  DockerImageInspect,
  DockerNetworkInspect,
  DockerVolumeInspect,
  createBody,
  createQuery,
  endpointConfig,
  extraNetworks,
  filesArchive,
  networkBody,
  normalizedInspect,
  toImageDefaults,
  toObservedContainer,
  updateBody,
  volumeBody,
} from './mapping';
import { pullReporter } from './progress';
import { demuxFrames } from './stream';

/**
 * What a Docker Engine does: Docker's defaults; in place: rename, `/containers/{id}/update`
 * (restart policy, memory, CPUs, pids), network connect/disconnect; no relabelling (Docker has
 * no call that changes a container's labels); replicas are containers the reconciler makes.
 */
export const DOCKER_CAPABILITIES: DriverCapabilities = {
  defaults: DOCKER_DEFAULTS,
  inPlace: DOCKER_IN_PLACE,
  relabel: false,
  noRelabel: 'Docker cannot relabel',
  ownsReplicas: false,
  // A cold apply of 30 containers on a private dockerd, 3 runs each: 5.4–6.6 s at 4, 5.2–5.5 s at
  // 8, 4.8–5.2 s at 16, 5.1–5.5 s at 30 (the daemon serialises much of the work itself).
  parallelism: 16,
  unsupported: {
    ...swarmOnly('docker'),
    'files.readOnlyRootfs':
      'secrets and configs are written into the container before it starts, which the docker engine refuses for a read-only root filesystem; remove readOnlyRootfs, or mount the files yourself',
  },
};
const DEFAULT_NETWORK = DOCKER_CAPABILITIES.defaults.network;

/** Log lines quoted when a container cannot reach a condition. */
const ERROR_LOG_LINES = 10;
/** Containers inspected at once by `observe`. */
const INSPECT_CONCURRENCY = 8;

/** The lock image: no layers, never run; its name and the labels of its containers. */
const LOCK_IMAGE = 'cdk-docker-lock:1';
/** The labels of a stack lock (the Swarm driver's lock carries the same). */
export const LOCK_LABELS = {
  stack: `${LABEL_PREFIX}lock`,
  holder: `${LABEL_PREFIX}lock.holder`,
  host: `${LABEL_PREFIX}lock.host`,
  boot: `${LABEL_PREFIX}lock.boot`,
  process: `${LABEL_PREFIX}lock.process`,
  since: `${LABEL_PREFIX}lock.since`,
} as const;

export interface DockerDriverOptions {
  /** Seconds a lock holder's lease lasts without renewal (renewed every third of it). @default 30 */
  readonly lockLeaseSeconds?: number;
  /**
   * This machine as lock labels name it: process identities are checked only between holders
   * of the same machine. @default the kernel's boot id and this process's pid namespace
   */
  readonly machine?: string;
  /** Where registry credentials come from (DOCKER_CONFIG). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/** The Docker Engine's `/info`, the fields the driver reads. */
export interface DockerInfo {
  readonly NCPU: number;
  readonly Name: string;
  readonly SystemTime: string;
}

/** The driver of one Docker Engine. Cheap to construct: nothing is asked of the engine until a call needs it. */
export class DockerDriver implements Driver {
  public readonly name: string = 'docker';
  public readonly capabilities = DOCKER_CAPABILITIES;
  private infoCache?: Promise<DockerInfo & { readonly clockOffsetMs: number }>;
  private lockImage?: Promise<void>;
  /** Networks this driver has seen exist (a container's create checks its network once per command). */
  private readonly knownNetworks = new Set<string>();
  /** Image configs by image id (content-addressed, so they never change), for observing containers. */
  private readonly imageConfigs = new Map<string, Promise<ImageConfigShape | undefined>>();
  protected readonly leaseSeconds: number;
  protected readonly machine: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(public readonly client: DockerClient, options: DockerDriverOptions = {}) {
    this.leaseSeconds = options.lockLeaseSeconds ?? 30;
    this.machine = options.machine ?? thisMachine();
    this.env = options.env ?? process.env;
  }

  /** Where the engine is, for messages: `unix:///var/run/docker.sock`. */
  public get host(): string {
    return this.client.endpoint.host;
  }

  /** Ends the client's connections. */
  public async close(): Promise<void> {
    await this.client.close();
  }

  protected info(): Promise<DockerInfo & { readonly clockOffsetMs: number }> {
    this.infoCache ??= (async () => {
      const before = Date.now();
      const info = await this.client.request<DockerInfo>('GET', '/info');
      const engineNow = Date.parse(info.SystemTime);
      return { ...info, clockOffsetMs: Number.isFinite(engineNow) ? engineNow - (before + Date.now()) / 2 : 0 };
    })().catch((e) => {
      this.infoCache = undefined;
      throw e;
    });
    return this.infoCache;
  }

  // --- inspection -----------------------------------------------------------------------------

  /** A container's inspect, or undefined when there is none of that name or id. */
  private async inspect(nameOrId: string): Promise<DockerContainerInspect | undefined> {
    try {
      return await this.client.request<DockerContainerInspect>('GET', `/containers/${enc(nameOrId)}/json`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      throw e;
    }
  }

  /** A container's inspect; a NotFoundError naming it when there is none. */
  private async mustInspect(nameOrId: string): Promise<DockerContainerInspect> {
    const c = await this.inspect(nameOrId);
    if (!c) throw new NotFoundError(`container ${nameOrId} does not exist on the Docker Engine at ${this.host}`);
    return c;
  }

  /** The container named exactly `name` (Docker also resolves id prefixes; a name is not one). */
  private async byName(name: string): Promise<DockerContainerInspect | undefined> {
    const c = await this.inspect(name);
    return c && c.Name === `/${name}` ? c : undefined;
  }

  private async imageInspect(ref: string): Promise<DockerImageInspect | undefined> {
    try {
      return await this.client.request<DockerImageInspect>('GET', `/images/${enc(ref)}/json`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      throw e;
    }
  }

  private async observeInspected(inspected: DockerContainerInspect): Promise<ObservedContainer> {
    const c = await this.withoutMissingFiles(inspected);
    const images = this.imageConfigs;
    let image = images.get(c.Image);
    if (!image) {
      image = this.imageInspect(c.Image).then((i) => i?.Config ?? undefined);
      images.set(c.Image, image);
      // An image id names its content: its config never changes. One that is absent is asked again.
      image.then((config) => config === undefined && images.delete(c.Image), () => images.delete(c.Image));
    }
    const [config, info, shared] = await Promise.all([image, c.HostConfig.NetworkMode === 'host' ? this.info() : undefined, this.networkContainerName(c)]);
    return toObservedContainer(shared ? { ...c, HostConfig: { ...c.HostConfig, NetworkMode: `container:${shared}` } } : c, config, this.capabilities, info?.Name);
  }

  /**
   * A container never started whose secret or config files are not in it (an apply killed
   * between its create and the archive that puts them there) is reported with an inputs label
   * that lacks them, so that the diff replaces it instead of starting it without them.
   */
  private async withoutMissingFiles(c: DockerContainerInspect): Promise<DockerContainerInspect> {
    const label = c.State.Status === 'created' ? c.Config.Labels?.[EXTRA_LABELS.inputs] : undefined;
    let inputs: { mounted?: { [target: string]: string } } | undefined;
    try {
      inputs = label !== undefined ? (JSON.parse(label) as typeof inputs) : undefined;
    } catch {
      return c;
    }
    const mounted = inputs?.mounted !== null && typeof inputs?.mounted === 'object' ? inputs.mounted : {};
    const missing: string[] = [];
    for (const target of Object.keys(mounted)) {
      try {
        await this.client.request('HEAD', `/containers/${c.Id}/archive`, { query: { path: target } });
      } catch (e) {
        if (!(e instanceof DockerNotFoundError)) throw e;
        missing.push(target);
      }
    }
    if (missing.length === 0) return c;
    const kept = Object.fromEntries(Object.entries(mounted).filter(([t]) => !missing.includes(t)));
    return { ...c, Config: { ...c.Config, Labels: { ...c.Config.Labels, [EXTRA_LABELS.inputs]: JSON.stringify({ ...inputs, mounted: kept }) } } };
  }

  /** The name of the container whose network `c` shares (Docker records its id), if any and it still exists. */
  private async networkContainerName(c: DockerContainerInspect): Promise<string | undefined> {
    const mode = c.HostConfig.NetworkMode ?? '';
    if (!mode.startsWith('container:')) return undefined;
    return (await this.inspect(mode.slice('container:'.length)))?.Name.replace(/^\//, '');
  }

  private async observeContainer(nameOrId: string): Promise<ObservedContainer> {
    return this.observeInspected(await this.mustInspect(nameOrId));
  }

  // --- observe --------------------------------------------------------------------------------

  public async observe(stack: string): Promise<ObservedStack> {
    const filters = { label: [`${LABELS.stack}=${stack}`] };
    const mine = (labels: { readonly [k: string]: string } | null | undefined) => labels?.[LABELS.stack] === stack;
    const [rows, nets, vols] = await Promise.all([
      this.client.request<Array<{ Id: string; Labels?: { [k: string]: string } | null }>>('GET', '/containers/json', { query: { all: true, filters } }),
      this.client.request<DockerNetworkInspect[]>('GET', '/networks', { query: { filters } }),
      this.client.request<{ Volumes: DockerVolumeInspect[] | null }>('GET', '/volumes', { query: { filters } }),
    ]);
    const containers: ObservedContainer[] = [];
    const ids = rows.filter((r) => mine(r.Labels)).map((r) => r.Id);
    await forEachLimit(ids, INSPECT_CONCURRENCY, async (id) => {
      // Removed meanwhile: not there.
      const c = await this.inspect(id);
      if (c) containers.push(await this.observeInspected(c));
    });
    return withAdoptions((q) => this.unlabelled(q, true), {
      networks: nets.filter((n) => n.Name !== DEFAULT_NETWORK && mine(n.Labels)).map(observedNetwork).sort(byName),
      volumes: (vols.Volumes ?? []).filter((v) => mine(v.Labels)).map(observedVolume).sort(byName),
      containers: containers.sort(byName),
    });
  }

  public async unmanaged(query: UnmanagedQuery = {}): Promise<UnmanagedObjects> {
    return this.unlabelled(query, false);
  }

  /** Objects without our stack label; those a record adopts only with `adopted`. */
  private async unlabelled(query: UnmanagedQuery, adoptedToo: boolean): Promise<UnmanagedObjects> {
    const free = (labels: { readonly [k: string]: string } | null | undefined) => labels?.[LABELS.stack] === undefined && labels?.[LOCK_LABELS.stack] === undefined;
    const pick = (names: readonly string[] | undefined, name: string) => names === undefined || names.includes(name);
    const [rows, nets, vols] = await Promise.all([
      query.containers?.length === 0
        ? Promise.resolve([])
        : this.client.request<Array<{ Id: string; Names?: string[] | null; Labels?: { [k: string]: string } | null }>>('GET', '/containers/json', { query: { all: true } }),
      query.networks?.length === 0 ? Promise.resolve([]) : this.client.request<DockerNetworkInspect[]>('GET', '/networks'),
      // Always: the records among them say which networks and volumes are adopted already.
      this.client.request<{ Volumes: DockerVolumeInspect[] | null }>('GET', '/volumes'),
    ]);
    const containers: ObservedContainer[] = [];
    const ids = rows.filter((r) => free(r.Labels) && (r.Names ?? []).some((n) => pick(query.containers, n.replace(/^\//, '')))).map((r) => r.Id);
    await forEachLimit(ids, INSPECT_CONCURRENCY, async (id) => {
      const c = await this.inspect(id);
      if (c) containers.push(await this.observeInspected(c));
    });
    // The networks Docker makes itself are no one's to adopt.
    const own = new Set([DEFAULT_NETWORK, 'host', 'none']);
    const adopted = adoptedObjects((vols.Volumes ?? []).map((v) => ({ labels: v.Labels ?? {} })));
    return {
      containers: containers.sort(byName),
      networks: nets.filter((n) => !own.has(n.Name) && free(n.Labels) && (adoptedToo || !adopted.has(`network:${n.Name}`)) && pick(query.networks, n.Name)).map(observedNetwork).sort(byName),
      volumes: (vols.Volumes ?? [])
        .filter((v) => free(v.Labels) && !isAdoptionRecord(v.Labels ?? {}) && (adoptedToo || !adopted.has(`volume:${v.Name}`)) && pick(query.volumes, v.Name))
        .map(observedVolume)
        .sort(byName),
    };
  }

  /** Docker cannot relabel a network or a volume: the adoption is recorded (./adopted). */
  public async adoptObject(kind: 'network' | 'volume', name: string, labels: ManagedLabels): Promise<void> {
    await writeAdoptionRecord(this, kind, name, labels);
  }

  // --- images ---------------------------------------------------------------------------------

  public async image(ref: string): Promise<ObservedImage | undefined> {
    const i = await this.imageInspect(ref);
    return i ? { id: i.Id, config: toImageDefaults(i) } : undefined;
  }

  private async mustImage(ref: string, what: string): Promise<ObservedImage> {
    const i = await this.image(ref);
    if (!i) throw new NotFoundError(`${what}: the Docker Engine at ${this.host} has no image ${ref} afterwards; try again`);
    return i;
  }

  public async ensureImage(resource: ImageResource, labels: ManagedLabels, options: EnsureImageOptions = {}): Promise<ObservedImage> {
    const spec = resource.spec;
    const { progress } = options;
    switch (spec.source) {
      case 'registry': {
        const present = await this.image(spec.ref);
        if (spec.pullPolicy === 'never') {
          if (!present) {
            throw new NotFoundError(
              `image ${spec.ref} (${resource.path}) is not on the Docker Engine at ${this.host} and its pullPolicy is "never"; ` +
                `load it (docker load -i FILE) or pull it (docker pull ${spec.ref}) first, or set pullPolicy to "missing"`,
            );
          }
          return present;
        }
        if (present && spec.pullPolicy === 'missing') return present;
        try {
          await this.client.progress('POST', '/images/create', {
            query: { fromImage: spec.ref },
            headers: registryAuthHeaders(spec.ref, this.env),
            onMessage: progress ? pullReporter(progress) : undefined,
          });
        } catch (e) {
          if (e instanceof CdkDockerError) throw wrap(e, `pull ${spec.ref} (${resource.path}): `);
          throw e;
        }
        return this.mustImage(spec.ref, `pull ${spec.ref} (${resource.path})`);
      }
      case 'archive':
        return this.loadArchive(resource.name, resource.path, spec.path, spec.sha256);
      case 'build':
        return this.build(resource, labels, progress);
    }
  }

  /** Loads an image archive and returns the image named `name` (the only image of the archive gets that tag). */
  private async loadArchive(name: string, where: string, file: string, sha256: string): Promise<ObservedImage> {
    let actual: string;
    try {
      actual = `sha256:${await fileSha256(file)}`;
    } catch (e) {
      throw new NotFoundError(`image ${name} (${where}): cannot read the archive ${file} (${(e as Error).message}); create it (e.g. \`docker save -o ${file} IMAGE\`) or fix the path`);
    }
    if (sha256 !== `sha256:${'0'.repeat(64)}` && actual !== sha256) {
      throw new ConflictError(`image ${name} (${where}): the archive ${file} changed since the plan was made (plan ${sha256}, now ${actual}); synthesize the plan again`);
    }
    let output: string;
    try {
      ({ output } = await this.client.progress('POST', '/images/load', { query: { quiet: true }, input: fs.createReadStream(file) }));
    } catch (e) {
      if (e instanceof CdkDockerError) throw wrap(e, `image ${name} (${where}): load ${file}: `);
      throw e;
    }
    const loaded = output
      .split('\n')
      .map((l) => /^Loaded image(?: ID)?: (.+)$/.exec(l.trim())?.[1])
      .filter((x): x is string => x !== undefined);
    const found = await this.imageInspect(name);
    if (loaded.length === 1) {
      const only = await this.imageInspect(loaded[0]);
      if (!only) throw new NotFoundError(`image ${name} (${where}): the Docker Engine at ${this.host} loaded ${loaded[0]} from ${file} but does not have it afterwards; try again`);
      // The archive's image is the one the plan names, whatever tag it had when it was saved.
      if (found?.Id !== only.Id) await this.tag(only.Id, name, where);
      return { id: only.Id, config: toImageDefaults(only) };
    }
    if (found) return { id: found.Id, config: toImageDefaults(found) };
    throw new NotFoundError(`image ${name} (${where}): the archive ${file} holds ${loaded.length} images (${loaded.join(', ')}) and none is tagged ${name}; tag the image as ${name} when saving it, or save only one image`);
  }

  private async tag(id: string, name: string, where: string): Promise<void> {
    const { repo, tag } = splitReference(name);
    if (tag === undefined) throw new InvalidArgumentError(`image ${name} (${where}): a reference by digest cannot name a loaded image; name it by a tag`);
    await this.client.request('POST', `/images/${enc(id)}/tag`, { query: { repo, tag } });
  }

  private async build(resource: ImageResource, labels: ManagedLabels, progress: ImageProgress | undefined): Promise<ObservedImage> {
    const spec = resource.spec;
    if (spec.source !== 'build') throw new InvalidArgumentError(`image ${resource.name} (${resource.path}) is not a build`);
    const prefix = `build ${resource.name} (${resource.path}) from ${spec.context}: `;
    const dockerfile = path.resolve(spec.context, spec.dockerfile);
    if (!fs.existsSync(dockerfile)) throw new NotFoundError(`${prefix}there is no Dockerfile at ${dockerfile}; create it or fix the dockerfile path`);
    // Containers inherit an image's labels: the built image carries the hashes, not the stack and path.
    const { [LABELS.stack]: _stack, [LABELS.path]: _path, [LABELS.replica]: _replica, ...imageLabels } = labels as unknown as { [k: string]: string };
    const context = buildContext(spec.context, dockerfile);
    const lines: string[] = [];
    // The steps, and the layers of the FROM images the engine pulls.
    const steps = buildStepReporter(progress);
    const pulls = progress ? pullReporter(progress) : undefined;
    try {
      const { aux } = await this.client.progress('POST', '/build', {
        query: {
          t: resource.name,
          dockerfile: context.dockerfile,
          buildargs: { ...spec.buildArgs },
          target: spec.target,
          labels: imageLabels,
          nocache: spec.noCache,
          rm: true,
          // An apply leaves nothing it did not declare: a failed step's container goes too.
          forcerm: true,
        },
        input: context.tar,
        // Credentials for the FROM images the engine pulls.
        headers: registryConfigHeaders(this.env),
        onMessage: (m) => {
          if (typeof m.stream === 'string') steps(m.stream);
          else pulls?.(m);
          if (typeof m.stream === 'string') lines.push(...m.stream.split('\n').filter((l) => l.trim() !== ''));
          if (lines.length > 50) lines.splice(0, lines.length - 50);
        },
      });
      const built = aux.map((a) => (a as { ID?: string }).ID).filter((x): x is string => typeof x === 'string').pop();
      return this.mustImage(built ?? resource.name, prefix.slice(0, -2));
    } catch (e) {
      if (e instanceof DockerEngineError && e.statusCode === 0) {
        // The step's own output says why: the last lines before the failure.
        const output = lines.filter((l) => !/^(Step \d+\/\d+ : | ---> |Removing intermediate container )/.test(l)).slice(-5);
        e.message = `${prefix}${e.engineMessage.trim().split('\n')[0]}${output.length ? `; its last output:\n${output.map((l) => `  | ${l}`).join('\n')}` : ''}`;
        throw e;
      }
      if (e instanceof CdkDockerError) throw wrap(e, prefix);
      throw e;
    } finally {
      context.tar.destroy();
    }
  }

  // --- networks -------------------------------------------------------------------------------

  private async network(name: string): Promise<DockerNetworkInspect | undefined> {
    try {
      const n = await this.client.request<DockerNetworkInspect>('GET', `/networks/${enc(name)}`);
      // Docker also resolves ids and their prefixes: only the network of that name counts.
      return n.Name === name ? n : undefined;
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      throw e;
    }
  }

  public async createNetwork(name: string, spec: NetworkSpec, labels: ManagedLabels): Promise<ObservedNetwork> {
    const wanted = { ...spec.labels, ...labels };
    const existing = await this.network(name);
    if (existing) return this.sameNetwork(existing, wanted);
    try {
      const { Id } = await this.client.request<{ Id: string }>('POST', '/networks/create', { body: networkBody(name, spec, wanted) });
      return observedNetwork(await this.client.request<DockerNetworkInspect>('GET', `/networks/${enc(Id)}`));
    } catch (e) {
      // Created meanwhile by someone else: the same one is fine.
      const now = e instanceof ConflictError ? await this.network(name) : undefined;
      if (now) return this.sameNetwork(now, wanted);
      if (isDockerEngineAnswer(e) && /not a swarm manager/.test(e.engineMessage)) {
        throw new UnsupportedError(`network ${name}: the "${spec.driver}" driver needs a Docker Swarm, and the Docker Engine at ${this.host} is not a swarm manager; use driver bridge, or apply this stack to a Swarm`);
      }
      if (e instanceof CdkDockerError) throw wrap(e, `network ${name}: `);
      throw e;
    }
  }

  private sameNetwork(existing: DockerNetworkInspect, wanted: { readonly [k: string]: string }): ObservedNetwork {
    if (sameLabels(ownLabels(existing.Labels ?? undefined), ownLabels(wanted))) return observedNetwork(existing);
    const owner = existing.Labels?.[LABELS.stack];
    throw new ConflictError(
      `network ${existing.Name} already exists${owner ? ` (stack ${owner}, ${existing.Labels?.[LABELS.path]}, with other labels)` : ' and was not created by cdk-docker'}; ` +
        `remove it (docker network rm ${existing.Name}) or give the network another name`,
    );
  }

  public async removeNetwork(name: string): Promise<void> {
    await this.removeVolume(adoptionRecordName('network', name));
    this.knownNetworks.delete(name);
    const n = await this.network(name);
    if (!n) return;
    try {
      await this.client.request('DELETE', `/networks/${enc(n.Id)}`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return;
      if (isDockerEngineAnswer(e) && /active endpoints/.test(e.engineMessage)) {
        throw new ConflictError(`network ${name} is in use by containers on the Docker Engine at ${this.host}; remove or disconnect them first`);
      }
      throw e;
    }
  }

  // --- volumes --------------------------------------------------------------------------------

  private async volume(name: string): Promise<DockerVolumeInspect | undefined> {
    try {
      return await this.client.request<DockerVolumeInspect>('GET', `/volumes/${enc(name)}`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return undefined;
      throw e;
    }
  }

  public async createVolume(name: string, spec: VolumeSpec, labels: ManagedLabels): Promise<ObservedVolume> {
    const wanted = { ...spec.labels, ...labels };
    // Docker's create of an existing name returns it unchanged (other labels and all): look first.
    const existing = await this.volume(name);
    if (existing) return this.sameVolume(existing, wanted);
    const created = await this.client.request<DockerVolumeInspect>('POST', '/volumes/create', { body: volumeBody(name, spec, wanted) });
    return this.sameVolume(created, wanted);
  }

  private sameVolume(existing: DockerVolumeInspect, wanted: { readonly [k: string]: string }): ObservedVolume {
    if (sameLabels(ownLabels(existing.Labels ?? undefined), ownLabels(wanted))) return observedVolume(existing);
    const owner = existing.Labels?.[LABELS.stack];
    throw new ConflictError(
      `volume ${existing.Name} already exists${owner ? ` (stack ${owner}, ${existing.Labels?.[LABELS.path]}, with other labels)` : ' and was not created by cdk-docker'}; ` +
        `give the volume another name, or remove it (docker volume rm ${existing.Name}) if its data can go`,
    );
  }

  public async removeVolume(name: string): Promise<void> {
    if (!name.startsWith('cdk-docker-adopted-')) await this.removeVolume(adoptionRecordName('volume', name));
    try {
      await this.client.request('DELETE', `/volumes/${enc(name)}`);
    } catch (e) {
      if (e instanceof DockerNotFoundError) return;
      if (e instanceof DockerConflictError) {
        throw new ConflictError(`volume ${name} is in use on the Docker Engine at ${this.host} (${e.engineMessage.trim()}); remove the containers that use it first`);
      }
      throw e;
    }
  }

  // --- containers -----------------------------------------------------------------------------

  public async createContainer(request: ContainerCreateRequest): Promise<ObservedContainer> {
    const { spec, name } = request;
    // Docker's create takes a network that does not exist (its start fails): refused here, as a create.
    const [first] = spec.networkMode === 'bridge' ? spec.networks : [];
    if (first && !this.knownNetworks.has(first.network)) {
      if (!(await this.network(first.network))) throw new NotFoundError(`container ${name}: network ${first.network} does not exist on the Docker Engine at ${this.host}; create it first`);
      this.knownNetworks.add(first.network);
    }
    if (spec.nanoCpus !== undefined && spec.nanoCpus > 0) {
      const { NCPU } = await this.info();
      if (spec.nanoCpus > NCPU * 1e9) throw new InvalidArgumentError(`container ${name}: ${cpuRangeMessage(NCPU)}`);
    }
    let id: string;
    try {
      ({ Id: id } = await this.client.request<{ Id: string }>('POST', '/containers/create', { query: createQuery(request), body: createBody(request) }));
    } catch (e) {
      // There already (an earlier apply, or made meanwhile by someone else): as if it had been
      // there — the same container when its labels are ours, else a conflict naming it.
      const now = e instanceof ConflictError ? await this.byName(name) : undefined;
      if (now) return this.existingContainer(now, request);
      if (e instanceof CdkDockerError) throw wrap(e, `container ${name}: `);
      throw e;
    }
    try {
      // The other networks: Docker's create takes one; connect works before the start.
      for (const n of extraNetworks(spec)) {
        await this.client.request('POST', `/networks/${enc(n.network)}/connect`, { body: { Container: id, EndpointConfig: endpointConfig(n.aliases, n.ipv4Address) } });
      }
      // Secrets and configs: files in the container before it starts (see filesArchive).
      if (request.files?.length) await this.client.request('PUT', `/containers/${id}/archive`, { query: { path: '/' }, input: await filesArchive(request.files) });
    } catch (e) {
      // All or nothing: a half-connected container would look created to the next observe.
      await this.client.request('DELETE', `/containers/${id}`, { query: { force: true, v: true } }).catch(() => undefined);
      if (e instanceof CdkDockerError) throw wrap(e, `container ${name}: `);
      throw e;
    }
    return this.observeContainer(id);
  }

  private async existingContainer(existing: DockerContainerInspect, request: ContainerCreateRequest): Promise<ObservedContainer> {
    const labels = existing.Config.Labels ?? {};
    if (sameLabels(ownLabels(labels), ownLabels(request.labels))) return this.observeInspected(existing);
    throw new ConflictError(
      `container ${request.name} already exists${labels[LABELS.stack] ? ` (stack ${labels[LABELS.stack]}, ${labels[LABELS.path]})` : ' and was not created by cdk-docker'}; ` +
        `remove or rename it (docker rm -f ${request.name}) or give the container another name`,
    );
  }

  public async startContainer(nameOrId: string): Promise<void> {
    // 304 when it runs already: nothing to do.
    await this.client.request('POST', `/containers/${enc(nameOrId)}/start`);
  }

  public async stopContainer(nameOrId: string): Promise<void> {
    try {
      // Docker stops with the container's own signal and timeout (StopSignal, StopTimeout).
      await this.client.request('POST', `/containers/${enc(nameOrId)}/stop`, { timeout: 0 });
    } catch (e) {
      if (!(e instanceof DockerNotFoundError)) throw e;
    }
  }

  public async removeContainer(nameOrId: string, opts: RemoveContainerOptions = {}): Promise<void> {
    try {
      // Docker's `rm -v`: the container's anonymous volumes go with it, named volumes never.
      await this.client.request('DELETE', `/containers/${enc(nameOrId)}`, { query: { force: opts.force === true, v: opts.keepAnonymousVolumes !== true } });
    } catch (e) {
      if (e instanceof DockerNotFoundError) return;
      // Being removed by another call: gone in a moment.
      if (e instanceof DockerConflictError && /already in progress/.test(e.engineMessage)) return;
      throw e;
    }
  }

  public async updateContainer(nameOrId: string, update: ContainerUpdate): Promise<void> {
    const c = await this.mustInspect(nameOrId);
    const current = c.Name.replace(/^\//, '');
    // The name first; labels stay (relabel false: Docker cannot change them).
    if (update.name !== undefined && update.name !== current) {
      await this.client.request('POST', `/containers/${c.Id}/rename`, { query: { name: update.name } });
    }
    let ncpu = 0;
    if (update.nanoCpus !== undefined) {
      ncpu = (await this.info()).NCPU;
      if (update.nanoCpus !== null && update.nanoCpus > ncpu * 1e9) throw new InvalidArgumentError(`container ${update.name ?? current}: ${cpuRangeMessage(ncpu)}`);
    }
    const body = updateBody(update, ncpu);
    if (body) await this.client.request('POST', `/containers/${c.Id}/update`, { body });
  }

  public async connectNetwork(container: string, network: string, opts: { aliases: string[]; ipv4Address?: string }): Promise<void> {
    const c = await this.mustInspect(container);
    const net = await this.network(network);
    if (!net) throw new NotFoundError(`network ${network} does not exist on the Docker Engine at ${this.host}; create it first`);
    const joined = networkList(normalizedInspect(c), DEFAULT_NETWORK);
    const current = joined.find((j) => j.network === net.Name);
    if (current) {
      if (sameStrings(current.aliases, opts.aliases) && (current.ipv4Address ?? '') === (opts.ipv4Address ?? '')) return;
      throw new ConflictError(
        `container ${c.Name.replace(/^\//, '')} is already on network ${net.Name} with ${describeAttachment(current)}, not ${describeAttachment({ aliases: [...opts.aliases].sort(), ipv4Address: opts.ipv4Address })}; disconnect it first`,
      );
    }
    await this.client.request('POST', `/networks/${net.Id}/connect`, { body: { Container: c.Id, EndpointConfig: endpointConfig(opts.aliases, opts.ipv4Address) } });
  }

  public async disconnectNetwork(container: string, network: string): Promise<void> {
    const c = await this.inspect(container);
    if (!c) return;
    if (!networkList(normalizedInspect(c), DEFAULT_NETWORK).some((j) => j.network === network)) return;
    try {
      await this.client.request('POST', `/networks/${enc(network)}/disconnect`, { body: { Container: c.Id, Force: false } });
    } catch (e) {
      if (!(e instanceof DockerNotFoundError)) throw e;
    }
  }

  // --- conditions -----------------------------------------------------------------------------

  public async wait(nameOrId: string, condition: DependencyCondition, timeoutMs: number): Promise<void> {
    const first = await this.mustInspect(nameOrId);
    const id = first.Id;
    const name = first.Name.replace(/^\//, '');
    const fail = async (reason: string, fix: string) => new ContainerConditionError(name, condition, reason, await this.lastLines(id, ERROR_LOG_LINES), fix);
    // Most waits are over at the first look (a started container runs once its start returned).
    const now = judge(first, condition);
    if (now.done) return;
    if (now.failure) throw await fail(now.failure, now.fix ?? `see \`docker logs ${name}\` and fix the container`);
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(), timeoutMs);
    // Each event of the container is a cue to look again; `since` its creation replays what
    // happened before the subscription took effect, so no change falls between look and listen.
    let cue: () => void = () => undefined;
    let cued = true;
    const cueing = (async () => {
      for await (const _event of this.client.events({ filters: { type: ['container'], container: [id] }, since: Math.floor(Date.parse(first.Created ?? '') / 1000) || undefined, signal: stop.signal })) {
        cued = true;
        cue();
      }
    })();
    cueing.catch(() => undefined);
    stop.signal.addEventListener('abort', () => cue(), { once: true });
    const next = () =>
      new Promise<void>((resolve) => {
        if (cued || stop.signal.aborted) return resolve();
        cue = resolve;
      });
    try {
      let c: DockerContainerInspect | undefined = first;
      for (;;) {
        if (cued) {
          cued = false;
          c = await this.inspect(id);
        }
        if (!c) throw await fail(`was removed while cdk-docker waited for it to be ${CONDITION_WORDS[condition]}`, 'apply again');
        const verdict = judge(c, condition);
        if (verdict.done) return;
        if (verdict.failure) throw await fail(verdict.failure, verdict.fix ?? `see \`docker logs ${name}\` and fix the container`);
        if (stop.signal.aborted) {
          throw await fail(`was not ${CONDITION_WORDS[condition]} within ${formatSeconds(timeoutMs)} (it is ${describeState(c)})`, `see \`docker logs ${name}\`; if it is only slow, allow it more time`);
        }
        // The events stream ended (the engine went away): fail rather than wait blind.
        const ended = await Promise.race([next().then(() => false), cueing.then(() => true, () => true)]);
        if (ended && !stop.signal.aborted && !cued) {
          await cueing.catch((e: unknown) => {
            throw e instanceof Error ? e : new CdkDockerError(String(e));
          });
          throw new CdkDockerError(`the Docker Engine at ${this.host} ended its event stream while cdk-docker waited for container ${name}; check the engine and apply again`);
        }
      }
    } finally {
      clearTimeout(timer);
      stop.abort();
    }
  }

  /** The last `lines` lines of a container's output, as text (for error messages). */
  private async lastLines(id: string, lines: number): Promise<string> {
    let out = '';
    try {
      await this.logs(id, { tail: lines }, (l) => (out += l.text.endsWith('\n') ? l.text : `${l.text}\n`));
    } catch {
      // No output to show (no such container, a log driver that keeps none).
    }
    return out;
  }

  // --- output ---------------------------------------------------------------------------------

  public async logs(nameOrId: string, opts: LogsOptions, onLine: (line: LogLine) => void): Promise<void> {
    if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw new InvalidArgumentError(`logs of ${nameOrId}: tail must be a whole number of lines, not ${opts.tail}`);
    const c = await this.mustInspect(nameOrId);
    if (opts.tail === 0 && !opts.follow) return;
    if (opts.signal?.aborted) return;
    let res;
    try {
      res = await this.client.stream('GET', `/containers/${c.Id}/logs`, {
        query: { stdout: true, stderr: true, follow: opts.follow === true, timestamps: opts.timestamps === true, tail: opts.tail === undefined ? 'all' : opts.tail },
        signal: opts.signal,
      });
    } catch (e) {
      if (opts.signal?.aborted) return;
      if (isDockerEngineAnswer(e) && /does not support reading/.test(e.engineMessage)) {
        throw new UnsupportedError(`container ${c.Name.replace(/^\//, '')} logs with a log driver that keeps no output to read; recreate it with the json-file or local log driver`);
      }
      throw e;
    }
    const splitter = new LineSplitter(opts.timestamps === true, onLine);
    try {
      const frames = (c.Config as { Tty?: boolean }).Tty ? rawFrames(res.body) : demuxFrames(res.body);
      for await (const f of frames) if (f.stream === 'stdout' || f.stream === 'stderr') splitter.push(f.stream, f.data);
    } catch (e) {
      if (!opts.signal?.aborted) throw e;
    } finally {
      res.body.destroy();
    }
    splitter.flush();
  }

  public async exec(nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    for (const k of Object.keys(opts.env ?? {})) {
      if (k === '' || k.includes('=')) throw new InvalidArgumentError(`exec in ${nameOrId}: invalid environment variable name "${k}"; give a name without "="`);
    }
    if (opts.workdir !== undefined && !opts.workdir.startsWith('/')) {
      throw new InvalidArgumentError(`exec in ${nameOrId}: the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
    }
    const c = await this.mustInspect(nameOrId);
    const name = c.Name.replace(/^\//, '');
    if (!c.State.Running) throw new ConflictError(`container ${name} is not running; start it first`);
    const tty = opts.tty === true;
    let execId: string;
    try {
      ({ Id: execId } = await this.client.request<{ Id: string }>('POST', `/containers/${c.Id}/exec`, {
        body: {
          AttachStdin: opts.stdin !== undefined,
          AttachStdout: true,
          AttachStderr: true,
          Tty: tty,
          Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
          ...(opts.workdir !== undefined ? { WorkingDir: opts.workdir } : {}),
          ...(opts.user !== undefined ? { User: opts.user } : {}),
          Cmd: [...argv],
        },
      }));
    } catch (e) {
      if (e instanceof DockerConflictError) throw new ConflictError(`container ${name} is not running; start it first`);
      throw e;
    }
    const socket = await this.client.hijack('POST', `/exec/${execId}/start`, { body: { Detach: false, Tty: tty } });
    const undo: Array<() => void> = [];
    if (tty && (opts.stdout as NodeJS.WriteStream | undefined)?.isTTY) {
      // The terminal's size, as `docker exec -t` sets it.
      const { columns, rows } = opts.stdout as NodeJS.WriteStream;
      if (columns && rows) await this.client.request('POST', `/exec/${execId}/resize`, { query: { h: rows, w: columns } }).catch(() => undefined);
    }
    if (opts.stdin) {
      const input = opts.stdin as NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
      // A terminal of ours goes raw for a TTY exec (keys reach the command as typed), and back after.
      if (tty && input.isTTY && input.setRawMode) {
        input.setRawMode(true);
        undo.push(() => input.setRawMode?.(false));
      }
      const onData = (d: Buffer | string) => {
        if (!socket.write(d)) input.pause();
      };
      const onDrain = () => input.resume();
      const onEnd = () => socket.end();
      input.on('data', onData);
      socket.on('drain', onDrain);
      input.once('end', onEnd);
      input.once('error', onEnd);
      // Our input stays ours after the command ends (a terminal is not left flowing into nothing).
      undo.push(() => {
        input.removeListener('data', onData);
        input.removeListener('end', onEnd);
        input.removeListener('error', onEnd);
        input.pause();
      });
    }
    // What could not be started: Docker writes the runtime's error to the output stream.
    let startError: string | undefined;
    const sink = (stream: NodeJS.WritableStream | undefined) => async (data: Buffer) => {
      if (!stream) return;
      if (!(stream as Writable).write(data)) await new Promise<void>((r) => stream.once('drain', () => r()));
    };
    const out = sink(opts.stdout);
    const err = sink(opts.stderr);
    let first = true;
    try {
      const frames = tty ? rawFrames(socket) : demuxFrames(socket);
      for await (const f of frames) {
        const text = f.data.toString('utf8');
        if (first && /^OCI runtime exec failed|^exec failed|^rpc error: /.test(text)) {
          startError = text.trim();
          first = false;
          continue;
        }
        first = false;
        if (f.stream === 'stdout') await out(f.data);
        else if (f.stream === 'stderr' || f.stream === 'system') await err(f.data);
      }
    } finally {
      for (const u of undo) u();
      socket.destroy();
    }
    // The exit code is recorded a moment after the output ends.
    for (let i = 0; ; i++) {
      const info = await this.client.request<{ Running: boolean; ExitCode: number | null }>('GET', `/exec/${execId}/json`);
      if (!info.Running && info.ExitCode !== null) {
        return { exitCode: info.ExitCode, ...(startError !== undefined ? { error: startError } : {}) };
      }
      if (i >= 50) return { exitCode: info.ExitCode ?? 126, ...(startError !== undefined ? { error: startError } : {}) };
      await sleep(20);
    }
  }

  // --- stacks ---------------------------------------------------------------------------------

  public async copyToContainer(nameOrId: string, dest: string, archive: Readable): Promise<void> {
    if (!dest.startsWith('/')) throw new InvalidArgumentError(`copy into ${nameOrId}: the destination "${dest}" must be an absolute path in the container`);
    const c = await this.mustInspect(nameOrId);
    try {
      // Owners as the archive says (no copyUIDGID), a directory never replaced by a file.
      await this.client.request('PUT', `/containers/${c.Id}/archive`, { query: { path: dest, noOverwriteDirNonDir: true }, input: archive });
    } catch (e) {
      // 404 names a missing path, 403 a read-only one (the engine's words are kept).
      if (isDockerEngineAnswer(e) && e.statusCode === 403) throw new ConflictError(`copy into ${c.Name.replace(/^\//, '')}:${dest}: ${e.engineMessage}`);
      throw e;
    }
  }

  public async listStacks(): Promise<string[]> {
    const filters = { label: [LABELS.stack] };
    const [rows, nets, vols] = await Promise.all([
      this.client.request<Array<{ Labels?: { [k: string]: string } | null }>>('GET', '/containers/json', { query: { all: true, filters } }),
      this.client.request<DockerNetworkInspect[]>('GET', '/networks', { query: { filters } }),
      this.client.request<{ Volumes: DockerVolumeInspect[] | null }>('GET', '/volumes', { query: { filters } }),
    ]);
    const names = new Set<string>();
    for (const x of [...rows, ...nets, ...(vols.Volumes ?? [])]) {
      const s = x.Labels?.[LABELS.stack];
      if (typeof s === 'string' && s !== '') names.add(s);
    }
    return [...names].sort();
  }

  public async lockStack<T>(stack: string, fn: () => Promise<T>): Promise<T> {
    validateName('stack', stack);
    const lock = await this.acquire(stack);
    return this.holdLease(() => this.renew(lock), () => this.client.request('DELETE', `/containers/${lock.id}`, { query: { force: true } }), fn);
  }

  /**
   * Runs `fn` while holding a lock already taken: `renew` keeps its lease (every third of it),
   * and `release` deletes the lock object afterwards (gone already is fine).
   */
  protected async holdLease<T>(renew: () => Promise<void>, release: () => Promise<unknown>, fn: () => Promise<T>): Promise<T> {
    const renewing = setInterval(() => {
      renew().catch(() => undefined);
    }, (this.leaseSeconds * 1000) / 3);
    renewing.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renewing);
      await release().catch((e: unknown) => {
        if (!(e instanceof DockerNotFoundError)) throw e;
      });
    }
  }

  /** The engine's clock now, in whole seconds. */
  protected async engineSeconds(): Promise<number> {
    const { clockOffsetMs } = await this.info();
    return Math.floor((Date.now() + clockOffsetMs) / 1000);
  }

  private async ensureLockImage(): Promise<void> {
    this.lockImage ??= (async () => {
      if (await this.imageInspect(LOCK_IMAGE)) return;
      const version = await this.client.version();
      await this.client.progress('POST', '/images/load', { query: { quiet: true }, input: await lockImageArchive(version.Arch || 'amd64') });
    })().catch((e) => {
      this.lockImage = undefined;
      throw e;
    });
    return this.lockImage;
  }

  private async acquire(stack: string): Promise<{ readonly id: string; readonly name: string }> {
    const name = `cdk-docker-lock-${stack}`;
    await this.ensureLockImage();
    const me = holderLabels(stack, this.machine);
    const create = async () =>
      (
        await this.client.request<{ Id: string }>('POST', '/containers/create', {
          query: { name },
          body: { Image: LOCK_IMAGE, Labels: { ...me, [LOCK_LABELS.since]: new Date().toISOString() }, HostConfig: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: await this.engineSeconds() }, NetworkMode: 'none' } },
        })
      ).Id;
    for (let attempt = 0; ; attempt++) {
      try {
        return { id: await create(), name };
      } catch (e) {
        if (!(e instanceof DockerConflictError)) throw e;
      }
      const held = await this.inspect(name);
      if (!held) continue;
      const l = held.Config.Labels ?? {};
      const lease = held.HostConfig.RestartPolicy?.MaximumRetryCount ?? 0;
      const sameMachine = !!l[LOCK_LABELS.boot] && l[LOCK_LABELS.boot] === me[LOCK_LABELS.boot];
      const dead = sameMachine ? !identityAlive(l[LOCK_LABELS.process] ?? '') : (await this.engineSeconds()) - lease > this.leaseSeconds;
      if (!dead || attempt > 0) {
        const holder = l[LOCK_LABELS.holder] ?? 'another cdk-docker command';
        throw new ConflictError(
          `stack ${stack} is being applied by ${holder}${l[LOCK_LABELS.since] ? ` since ${l[LOCK_LABELS.since]}` : ''} (its lock is the container ${name} on the Docker Engine at ${this.host}); ` +
            `wait for it to finish, or, if that command is gone for good, remove the lock with \`docker rm ${name}\``,
        );
      }
      // The holder is gone: its lock goes (by id: not one someone made meanwhile), ours is made.
      await this.client.request('DELETE', `/containers/${held.Id}`, { query: { force: true } }).catch((e: unknown) => {
        if (!(e instanceof DockerNotFoundError)) throw e;
      });
    }
  }

  private async renew(lock: { readonly id: string }): Promise<void> {
    await this.client.request('POST', `/containers/${lock.id}/update`, { body: { RestartPolicy: { Name: 'on-failure', MaximumRetryCount: await this.engineSeconds() } } });
  }
}

/** The driver of the Docker Engine that `env` (DOCKER_HOST, DOCKER_CONTEXT, …) and `options` name. */
export function dockerDriver(env: NodeJS.ProcessEnv = process.env, options: DockerEndpointOptions = {}, driverOptions: DockerDriverOptions = {}): DockerDriver {
  return new DockerDriver(new DockerClient(resolveDockerEndpoint(options, env)), { env, ...driverOptions });
}

// --- conditions -------------------------------------------------------------------------------

interface Verdict {
  readonly done?: boolean;
  /** Why the condition cannot be reached any more. */
  readonly failure?: string;
  readonly fix?: string;
}

const NEVER = '0001-01-01T00:00:00Z';

/** Whether an inspected container has reached `condition`, can never reach it, or may still (the built-in driver's rules). */
function judge(c: DockerContainerInspect, condition: DependencyCondition): Verdict {
  const state = c.State;
  const started = !!state.StartedAt && state.StartedAt !== NEVER;
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
      if (!health || health.Status === 'none') return { failure: 'has no healthcheck, so it can never be healthy', fix: 'give the container a healthcheck, or depend on it being "started" instead' };
      if (health.Status === 'healthy') return { done: true };
      if (health.Status !== 'unhealthy') return {};
      const log = health.Log ?? [];
      const last = log[log.length - 1];
      const output = last?.Output.trim().split('\n').slice(-3).join(' / ');
      const name = c.Name.replace(/^\//, '');
      return {
        failure: `turned unhealthy (${health.FailingStreak} failed check${health.FailingStreak === 1 ? '' : 's'}${last ? `; the last one exited ${last.ExitCode}${output ? `: ${output}` : ''}` : ''})`,
        fix: `check the healthcheck ${JSON.stringify(c.Config.Healthcheck?.Test ?? [])} and the service (docker logs ${name})`,
      };
    }
    case 'completed':
      if (exited) return state.ExitCode === 0 ? { done: true } : { failure: `${exitText} before it completed successfully` };
      return {};
  }
}

/** `was not … within 5 s`. */
const CONDITION_WORDS: { readonly [c in DependencyCondition]: string } = { started: 'running', healthy: 'healthy', completed: 'completed successfully' };

function describeState(c: DockerContainerInspect): string {
  const s = c.State;
  if (s.Status === 'running' && s.Health && s.Health.Status !== 'none') return `running, health ${s.Health.Status}`;
  if (s.Status === 'exited') return `exited with code ${s.ExitCode}`;
  return s.Status;
}

// --- output -----------------------------------------------------------------------------------

/** Splits a container's output into lines per stream; with timestamps, each line's leading time. */
export class LineSplitter {
  private readonly rest: { stdout: string; stderr: string } = { stdout: '', stderr: '' };
  private readonly decoders = { stdout: new TextDecoder('utf-8'), stderr: new TextDecoder('utf-8') };

  constructor(
    private readonly timestamps: boolean,
    private readonly onLine: (line: LogLine) => void,
  ) {}

  public push(stream: 'stdout' | 'stderr', data: Buffer): void {
    let text = this.rest[stream] + this.decoders[stream].decode(data, { stream: true });
    let nl: number;
    while ((nl = text.indexOf('\n')) >= 0) {
      this.emit(stream, text.slice(0, nl + 1));
      text = text.slice(nl + 1);
    }
    this.rest[stream] = text;
  }

  public flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const text = this.rest[stream] + this.decoders[stream].decode();
      this.rest[stream] = '';
      if (text !== '') this.emit(stream, text);
    }
  }

  private emit(stream: 'stdout' | 'stderr', line: string): void {
    if (!this.timestamps) return this.onLine({ stream, text: line });
    const sp = line.indexOf(' ');
    const time = sp > 0 ? line.slice(0, sp) : '';
    return this.onLine({ stream, text: sp > 0 ? line.slice(sp + 1) : line, time: fixedNanos(time) });
  }
}

/** `2026-12-04T10:00:00.5Z` → `2026-12-04T10:00:00.500000000Z` (Docker's `logs -t` form). */
function fixedNanos(time: string): string {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(time);
  if (!m) return time;
  const utc = m[3] === 'Z' ? m[1] : new Date(`${m[1]}${m[3]}`).toISOString().slice(0, 19);
  return `${utc}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}Z`;
}

/** A TTY's raw output as stdout frames. */
async function* rawFrames(source: AsyncIterable<Buffer | string>): AsyncGenerator<{ stream: 'stdout'; data: Buffer }> {
  for await (const chunk of source) yield { stream: 'stdout', data: Buffer.from(chunk) };
}

// --- the lock's image and holder --------------------------------------------------------------

/** A `docker save` archive of the lock image: one config, no layers. */
async function lockImageArchive(arch: string): Promise<Buffer> {
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['cdk-docker-lock'], Labels: { [`${LABEL_PREFIX}lock-image`]: '1' } },
      rootfs: { type: 'layers', diff_ids: [] },
      history: [{ created: '2026-01-01T00:00:00Z', created_by: 'cdk-docker: the stack lock (never run)', empty_layer: true }],
    }),
  );
  const id = createHash('sha256').update(config).digest('hex');
  const pack = tarStream().pack();
  pack.entry({ name: `${id}.json` }, config);
  pack.entry({ name: 'manifest.json' }, JSON.stringify([{ Config: `${id}.json`, RepoTags: [LOCK_IMAGE], Layers: [] }]));
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

let machineId: string | undefined;
/**
 * This machine as far as process identities go: the kernel's boot id and our pid namespace (two
 * CI jobs in containers of one host share the boot id, not the pids).
 */
export function thisMachine(): string {
  if (machineId === undefined) {
    const read = (f: () => string) => {
      try {
        return f();
      } catch {
        return '';
      }
    };
    const boot = read(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    const pidns = read(() => fs.readlinkSync('/proc/self/ns/pid'));
    machineId = boot ? `${boot} ${pidns}` : '';
  }
  return machineId;
}

export function holderLabels(stack: string, machine: string): { [k: string]: string } {
  const identity = processIdentity(process.pid) ?? `${process.pid} 0`;
  const host = os.hostname();
  return {
    [LOCK_LABELS.stack]: stack,
    [LOCK_LABELS.holder]: `cdk-docker (pid ${process.pid}) on ${host}`,
    [LOCK_LABELS.host]: host,
    [LOCK_LABELS.boot]: machine,
    [LOCK_LABELS.process]: identity,
  };
}

// --- small helpers ----------------------------------------------------------------------------

/** A name, id or reference as a path segment (slashes of references kept: Docker's routes take them). */
function enc(s: string): string {
  return encodeURIComponent(s).replace(/%2F/g, '/').replace(/%3A/g, ':').replace(/%40/g, '@');
}

/** `host/a/b:tag` → repo and tag (a digest reference has no tag). */
function splitReference(ref: string): { repo: string; tag?: string } {
  if (ref.includes('@')) return { repo: ref.slice(0, ref.indexOf('@')) };
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref, tag: 'latest' };
}

function sameLabels(a: { readonly [k: string]: string }, b: { readonly [k: string]: string }): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && b[k] === a[k]);
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function describeAttachment(a: { aliases: readonly string[]; ipv4Address?: string }): string {
  return `${a.aliases.length ? `aliases ${a.aliases.join(', ')}` : 'no aliases'}${a.ipv4Address ? ` and address ${a.ipv4Address}` : ''}`;
}

function byName<T extends { readonly name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
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

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The same error with `prefix` (context for the user) before its message. */
function wrap(e: CdkDockerError, prefix: string): CdkDockerError {
  if (!e.message.startsWith(prefix)) e.message = `${prefix}${e.message}`;
  return e;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
