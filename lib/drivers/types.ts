/**
 * Drivers: what the reconciler asks of a container engine.
 *
 * Terms
 * - A *driver* adapts one engine (the built-in runtime, a Docker Engine, Swarm) to the calls
 *   below. The reconciler never talks to an engine any other way, so one conformance suite
 *   (test/drivers) holds every driver to the same behaviour.
 * - A *managed* object (image, network, volume, container) is one that carries the labels
 *   `io.cdk-docker.stack`, `io.cdk-docker.path` and `io.cdk-docker.spec-hash` (see LABELS).
 *   Labels are the only state: there is no state file. What a driver reports for a stack's
 *   labelled objects is the *observed* state; plan resources without an observed object are to
 *   be created, observed objects without a plan resource are *orphans*.
 * - Images are the exception: an image is shared content, not owned by a stack. Images are
 *   observed by reference (`image(ref)`), never removed by `destroy`.
 * - A *replica* is one of the `replicas` containers of a container resource; replica N > 1 is
 *   named `<name>-<N>` and labelled `io.cdk-docker.replica=N`.
 *
 * - A driver's *capabilities* (`DriverCapabilities`) are what the reconciler must not assume:
 *   the defaults the engine applies to what a plan leaves out (its default network, stop
 *   timeout…), which container fields it changes on an existing container (every other change
 *   needs a replace, as a Terraform provider answers RequiresReplace), whether it can change an
 *   existing container's labels, and whether it runs a resource's replicas itself.
 *
 * Lifecycle the reconciler follows for each resource, in dependency order:
 *   images: ensureImage → (containers use the image id it returns)
 *   networks, volumes: create → … → remove (only when orphaned, or on destroy)
 *   containers: create → start → wait(condition) → … → stop → remove; or, for a driver that
 *     owns replicas, applyContainer with the whole resource
 *   the stack as a whole: lockStack around an apply or a destroy
 * Every call is idempotent where the engine allows it: creating what exists with the same
 * labels returns it; removing what is gone succeeds. Errors are CdkDockerError subclasses whose
 * message names the object and the fix.
 */

import type { Readable } from 'node:stream';
import type { ContainerResource, ContainerSpec, DependencyCondition, Healthcheck, ImageResource, NetworkSpec, VolumeSpec } from '../plan/types';

import { LABELS } from '../core/labels';

export { LABELS };

/** The identity labels of a managed object. */
export interface ManagedLabels {
  readonly [LABELS.stack]: string;
  readonly [LABELS.path]: string;
  readonly [LABELS.specHash]: string;
  readonly [key: string]: string;
}

/** An image as the engine has it. */
export interface ObservedImage {
  /** `sha256:…` (the config digest). */
  readonly id: string;
  /** The image's own config, for the values it supplies (Cmd, Entrypoint, Env, WorkingDir, User…). */
  readonly config: ImageDefaults;
}

/** What an image supplies when a container does not say (normalisation: these count as equal). */
export interface ImageDefaults {
  readonly cmd: string[];
  readonly entrypoint: string[];
  readonly env: { readonly [name: string]: string };
  readonly workingDir: string;
  readonly user: string;
  readonly stopSignal?: string;
  readonly exposedPorts: string[];
  readonly healthcheck?: { readonly test: string[] };
  readonly labels: { readonly [key: string]: string };
}

export interface ObservedNetwork {
  readonly id: string;
  readonly name: string;
  readonly labels: { readonly [key: string]: string };
  readonly driver: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly ipRange?: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  /** Overlay networks: encrypted between nodes. */
  readonly encrypted?: boolean;
}

export interface ObservedVolume {
  readonly name: string;
  readonly labels: { readonly [key: string]: string };
  readonly driver: string;
  readonly driverOpts: { readonly [key: string]: string };
  /** Host path of the data (for tests and backups). */
  readonly mountpoint: string;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'exited' | 'dead';

export interface ObservedContainer {
  readonly id: string;
  readonly name: string;
  readonly labels: { readonly [key: string]: string };
  /** The image id it runs. */
  readonly imageId: string;
  /** The image as it was named when the container was made (`Config.Image`), when the engine says. */
  readonly imageRef?: string;
  readonly status: ContainerStatus;
  readonly exitCode: number;
  readonly health?: 'starting' | 'healthy' | 'unhealthy';
  readonly restartCount: number;
  /** What it was created with, in the plan's terms, so the reconciler can compare field by field. */
  readonly spec: ObservedContainerSpec;
  /** Address per network while running. */
  readonly networks: { readonly [network: string]: { readonly ipv4Address: string; readonly aliases: string[] } };
  /**
   * Every volume mounted in it, by name and target — anonymous ones too (the image's VOLUMEs,
   * `-v /path`), which `spec.mounts` leaves out: `import containers` names them so that their
   * data outlives the container. Absent when the engine does not say.
   */
  readonly volumeMounts?: ReadonlyArray<{ readonly name: string; readonly target: string; readonly readOnly: boolean }>;
  /** Published ports while running (host ports resolved). */
  readonly ports: Array<{ readonly containerPort: number; readonly protocol: string; readonly hostIp: string; readonly hostPort: number }>;
}

/**
 * A container's settings as observed, in the plan's vocabulary: the fields of ContainerSpec the
 * engine can report (secrets only as the values it holds — compare by HMAC, never print).
 */
export type ObservedContainerSpec = Omit<ContainerSpec, 'image' | 'secretEnv' | 'envFiles' | 'dependsOn' | 'replicas' | 'develop'> & {
  /** The full environment the container runs with (image's, env files', secrets' and the spec's). */
  readonly fullEnv: { readonly [name: string]: string };
};

/** What `observe` returns for one stack. */
export interface ObservedStack {
  readonly networks: ObservedNetwork[];
  readonly volumes: ObservedVolume[];
  readonly containers: ObservedContainer[];
  /**
   * Objects that carry no `io.cdk-docker.stack` label but have the name of a plan resource
   * (`Driver.unmanaged`): what the diff may *adopt*. Filled by the caller, not by `observe`.
   */
  readonly unmanaged?: UnmanagedObjects;
}

/** Containers, networks and volumes without cdk-docker's labels (made by hand, by Compose). */
export interface UnmanagedObjects {
  readonly networks: ObservedNetwork[];
  readonly volumes: ObservedVolume[];
  readonly containers: ObservedContainer[];
}

/** Which unmanaged objects `Driver.unmanaged` reports: those of these names; all of a kind when absent. */
export interface UnmanagedQuery {
  readonly containers?: readonly string[];
  readonly networks?: readonly string[];
  readonly volumes?: readonly string[];
}

/** A container to create: the plan's spec with what apply resolved. */
export interface ContainerCreateRequest {
  /** Container name (replica suffix included). */
  readonly name: string;
  readonly spec: ContainerSpec;
  /** The image id `ensureImage` returned. */
  readonly imageId: string;
  /** The environment with env files read and secrets resolved (spec.env wins over files). */
  readonly env: { readonly [name: string]: string };
  readonly labels: ManagedLabels;
  /**
   * The name of the container whose network namespace it joins, when `spec.networkMode` is
   * `{ container }` (that resource's replica 1, resolved by apply).
   */
  readonly networkContainer?: string;
  /**
   * The content of `spec.secrets` and `spec.configs`, read by apply (secret values, config
   * files checked against their sha256), one per target, in the spec's order: secrets first.
   * The driver puts each in the container as a file before it starts, read-only where the
   * engine can.
   */
  readonly files?: readonly ContainerFile[];
}

/** A file the driver puts into a container before it starts (a secret's or a config's). */
export interface ContainerFile {
  /** Absolute path in the container. */
  readonly target: string;
  readonly content: Buffer;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** A secret's value: never logged, never in a label. */
  readonly secret: boolean;
}

export interface RemoveContainerOptions {
  /** Remove it also when it runs. @default false */
  readonly force?: boolean;
  /**
   * Keep its anonymous volumes too (Docker's `rm` without `-v`): an adopted container's are
   * named in the code that adopts it, and their data must outlive it. @default false
   */
  readonly keepAnonymousVolumes?: boolean;
}

/** Changes the engine applies to an existing container without recreating it. */
export interface ContainerUpdate {
  readonly restart?: ContainerSpec['restart'];
  readonly memoryBytes?: number | null;
  readonly nanoCpus?: number | null;
  readonly pidsLimit?: number | null;
  /** New name (rename). */
  readonly name?: string;
  /** New labels (the spec hash after an in-place update). */
  readonly labels?: ManagedLabels;
  /** Labels removed with the new ones (an adopted container's labels of the tool that made it). */
  readonly dropLabels?: readonly string[];
}

/** What an engine applies when the plan leaves a setting out (the diff counts them as equal). */
export interface EngineDefaults {
  /** The network a container joins when the plan names none (Docker's `bridge`). */
  readonly network: string;
  /** Seconds between the stop signal and SIGKILL when neither the plan nor the image says. */
  readonly stopTimeoutSeconds: number;
  /** The stop signal when neither the plan nor the image gives one (`SIGTERM` form). */
  readonly stopSignal: string;
  /** The working directory when neither the plan nor the image gives one. */
  readonly workingDir: string;
  /** The mode of a tmpfs mount that gives none. */
  readonly tmpfsMode: number;
  /** The timings of a healthcheck that leaves them out (an engine may report 0 for these). */
  readonly healthcheck: Omit<Healthcheck, 'test'>;
  /** Environment variables the engine sets itself when neither the plan nor the image does. */
  readonly env: readonly string[];
  /**
   * The driver every network of a stack is made with, whatever the plan's (a Swarm's networks are
   * all overlays: a plan's `bridge` means "the engine's own kind"). @default - the plan's
   */
  readonly networkDriver?: string;
  /** The size of /dev/shm when the plan gives none (Docker's 64 MiB). @default - no default: compared as given */
  readonly shmSizeBytes?: number;
  /** The IPC mode when the plan gives none (Docker's `private`). @default "private" */
  readonly ipcMode?: string;
  /** The log driver of a container whose plan gives none (Docker's `json-file`). @default "json-file" */
  readonly logDriver?: string;
  /**
   * Log options the engine reports for every container of a driver though none were given
   * (the built-in engine's `max-size`); left out when observed. @default {}
   */
  readonly logOptions?: { readonly [key: string]: string };
  /** The OCI runtime of a container whose plan gives none. @default "runc" */
  readonly runtime?: string;
}

/**
 * The values of a container setting this engine has, for settings that name something the
 * engine must know (a log driver, a runtime); a plan naming another is refused at diff with a
 * sentence naming `engine` and what it has.
 */
export interface EngineChoices {
  /** The engine, as the sentence names it (`the built-in engine`). */
  readonly engine: string;
  /** The log drivers it has. @default - any */
  readonly logDrivers?: readonly string[];
  /** The log options it takes (for every driver). @default - any */
  readonly logOptions?: readonly string[];
  /** The OCI runtimes it runs containers with. @default - any */
  readonly runtimes?: readonly string[];
}

/**
 * A container setting the reconciler can change on an existing container: `name` (rename),
 * `restart` and the limits (`updateContainer`), `networks` (connect and disconnect).
 */
export type InPlaceField = 'name' | 'restart' | 'memoryBytes' | 'nanoCpus' | 'pidsLimit' | 'networks';

/** Every field a driver may declare in place. */
export const IN_PLACE_FIELDS: readonly InPlaceField[] = ['name', 'restart', 'memoryBytes', 'nanoCpus', 'pidsLimit', 'networks'];

/**
 * A plan setting some engines cannot honour: `pid.host`, `ipc.<mode>`, `devices`,
 * `sysctls`, `ulimits`, `shmSize`, `dns` (servers, search domains or options), `extraHosts`,
 * `expose`, `networkMode.container`, `secrets` and `configs` (files in the container), and
 * `files.readOnlyRootfs` (secrets or configs in a container whose root filesystem is read-only);
 * `deploy` (a container's Swarm service settings) and `overlay` (an overlay network), which only
 * a Swarm has; `privileged`, `publishAllPorts`, `volumesFrom`, `networkMode.host`,
 * `networkMode.none`, `hostIp` (a port bound to one address) and `ipv4Address` (a fixed address
 * on a network), which a Swarm service has no field for.
 */
export type ContainerFeature =
  | 'pid.host'
  | 'ipc.host'
  | 'ipc.private'
  | 'ipc.shareable'
  | 'devices'
  | 'sysctls'
  | 'ulimits'
  | 'shmSize'
  | 'dns'
  | 'extraHosts'
  | 'expose'
  | 'networkMode.container'
  | 'secrets'
  | 'configs'
  | 'files.readOnlyRootfs'
  | 'deploy'
  | 'overlay'
  | 'privileged'
  | 'publishAllPorts'
  | 'volumesFrom'
  | 'networkMode.host'
  | 'networkMode.none'
  | 'hostIp'
  | 'ipv4Address'
  | 'tty'
  | 'stdinOpen'
  | 'platform'
  | 'dependsOn.restart';

/**
 * How an engine that runs each container resource as one object (a Swarm service) changes it,
 * by field (a dotted prefix of the diff's field names, `deploy.updateConfig` covers
 * `deploy.updateConfig.parallelism`). A difference in a field of none of the lists rolls the
 * object's tasks (they are replaced one batch at a time by the engine).
 */
export interface ServiceChangeClasses {
  /** Fields the engine cannot change on the object: it is removed and made again. */
  readonly replace: readonly string[];
  /** Fields whose change only adds or removes tasks. */
  readonly scale: readonly string[];
  /** Fields whose change touches only the object, not its tasks. */
  readonly metadata: readonly string[];
}

/** Every ContainerFeature once: the compiler refuses a map that misses one (the list below is made from it). */
const EVERY_FEATURE: { readonly [F in ContainerFeature]: true } = {
  'pid.host': true, 'ipc.host': true, 'ipc.private': true, 'ipc.shareable': true, devices: true, sysctls: true, ulimits: true, shmSize: true, dns: true,
  extraHosts: true, expose: true, 'networkMode.container': true, secrets: true, configs: true, 'files.readOnlyRootfs': true, deploy: true, overlay: true,
  privileged: true, publishAllPorts: true, volumesFrom: true, 'networkMode.host': true, 'networkMode.none': true, hostIp: true, ipv4Address: true,
  tty: true, stdinOpen: true, platform: true, 'dependsOn.restart': true,
};

/** Every ContainerFeature, for checks of what a driver declares. */
export const CONTAINER_FEATURES: readonly ContainerFeature[] = Object.keys(EVERY_FEATURE) as ContainerFeature[];

/** What the reconciler asks of an engine before it decides anything (see the module comment). */
export interface DriverCapabilities {
  readonly defaults: EngineDefaults;
  /**
   * The container settings this engine cannot honour, each with the sentence the diff shows when
   * a plan uses it: what the engine cannot do, by its name, and what to do instead. The diff
   * refuses such a plan (nothing is changed). @default - none
   */
  readonly unsupported?: { readonly [F in ContainerFeature]?: string };
  /** The log drivers, log options and runtimes the engine has. @default - any */
  readonly choices?: EngineChoices;
  /**
   * The container settings the engine changes without recreating the container; a difference in
   * any other setting replaces it. Starting a stopped container is always in place.
   */
  readonly inPlace: readonly InPlaceField[];
  /**
   * Whether `updateContainer` can change an existing container's labels (the spec hash after an
   * in-place update). Without it the old labels stay: the diff never trusts the hash anyway.
   */
  readonly relabel: boolean;
  /**
   * What the diff says when adopting a container needs a replacement because the engine cannot
   * change its labels (`Docker cannot relabel`). @default "the engine cannot relabel"
   */
  readonly noRelabel?: string;
  /**
   * Whether the engine can change an existing network's and volume's labels (the built-in
   * runtime can, Docker cannot): adoption relabels them, else records them. @default false
   */
  readonly relabelNetworksAndVolumes?: boolean;
  /**
   * Whether the engine runs a container resource's replicas itself (a Swarm service). Then the
   * reconciler hands it each changed container resource whole, through `applyContainer`,
   * instead of creating, replacing and removing the replicas one by one; and waits for a
   * `dependsOn` condition on the resource's name.
   */
  readonly ownsReplicas: boolean;
  /**
   * For an engine whose container resources are single objects (a Swarm service, with
   * `ownsReplicas`): what each field's change does to it. The diff then lists each container
   * resource once, every reason with its effect (`rolls tasks`, `scale only`, `metadata only`).
   * @default - containers are diffed replica by replica
   */
  readonly services?: ServiceChangeClasses;
  /**
   * Changes an apply carries out at once when `--parallelism` is not given: what the engine
   * takes best (bench/apply). @default 4
   */
  readonly parallelism?: number;
}

/** A container resource handed whole to a driver that owns replicas. */
export interface ContainerResourceRequest {
  readonly resource: ContainerResource;
  /** The image id `ensureImage` returned. */
  readonly imageId: string;
  /** The environment with env files read and secrets resolved (spec.env wins over files). */
  readonly env: { readonly [name: string]: string };
  /** Where the driver reports how the change goes, a line at a time (`web 2/3 running`). */
  readonly progress?: (message: string) => void;
  /** The content of `spec.secrets` and `spec.configs`, read by apply (see ContainerCreateRequest). */
  readonly files?: readonly ContainerFile[];
  /** The resource's labels, without `io.cdk-docker.replica` (the driver numbers its replicas). */
  readonly labels: ManagedLabels;
  /** The replicas the engine has now, surplus ones included. */
  readonly observed: readonly ObservedContainer[];
  /** What the diff found over all the replicas: the strongest action and the fields behind it. */
  readonly action: 'create' | 'update' | 'replace';
  readonly fields: readonly string[];
}

/** One line of a container's output. */
export interface LogLine {
  readonly stream: 'stdout' | 'stderr';
  /** The text, with its newline when the line was complete. */
  readonly text: string;
  /** When it was written, as Docker's `logs -t` shows it (RFC 3339, UTC); only when `timestamps` was asked. */
  readonly time?: string;
}

export interface LogsOptions {
  /** Only the last N lines of what is there (then, with `follow`, everything new). @default - all */
  readonly tail?: number;
  /** Keep reading new output until the container stops (or `signal` aborts). @default false */
  readonly follow?: boolean;
  /** Give each line its time. @default false */
  readonly timestamps?: boolean;
  /** Ends a follow early. */
  readonly signal?: AbortSignal;
}

export interface ExecOptions {
  /** Variables added to the container's environment. */
  readonly env?: { readonly [name: string]: string };
  /** An absolute path in the container. @default - the container's working directory */
  readonly workdir?: string;
  /** `user`, `uid`, `user:group` or `uid:gid`. @default - the container's user */
  readonly user?: string;
  /** Run the command on a pseudo-terminal. @default false */
  readonly tty?: boolean;
  /** The command's input (interactive); none when absent (it reads end of file). */
  readonly stdin?: NodeJS.ReadableStream;
  /** Where its output goes; dropped when absent. */
  readonly stdout?: NodeJS.WritableStream;
  readonly stderr?: NodeJS.WritableStream;
}

export interface ExecResult {
  /** The command's exit code; 126 when it could not be started (Docker's). */
  readonly exitCode: number;
  /** Why it could not be started (a missing executable…), when it could not. */
  readonly error?: string;
}

/**
 * Where `ensureImage` reports a pull or a build as it goes (the apply's progress display). Terms
 * as the Docker CLI shows a pull: a layer is named by the first 12 hex digits of its blob digest;
 * its statuses are `Pulling fs layer`, `Waiting`, `Verifying Checksum`, `Download complete`,
 * `Extracting`, `Pull complete` (or `Already exists`), with its bytes while it downloads.
 */
export interface ImageProgress {
  /**
   * A line about the image as a whole: `1.2: Pulling from library/alpine`, `Digest: sha256:…`,
   * `Status: Downloaded newer image for …`; for a build, each `Step N/M : INSTRUCTION`.
   */
  line(message: string): void;
  /** A layer's status changed (once per change, not per chunk). */
  layer(id: string, status: string): void;
  /** How much of a layer is downloaded: `done` of `total` bytes. */
  bytes(id: string, done: number, total: number): void;
}

export interface EnsureImageOptions {
  /** Receives the pull's layers and the build's steps. @default - nothing is reported */
  readonly progress?: ImageProgress;
}

export interface Driver {
  /** A short name for messages: `built-in`, `docker`. */
  readonly name: string;
  readonly capabilities: DriverCapabilities;

  /** The managed networks, volumes and containers of `stack`. */
  observe(stack: string): Promise<ObservedStack>;

  /** The image `ref` names, or undefined when the engine does not have it. */
  image(ref: string): Promise<ObservedImage | undefined>;
  /**
   * Makes the image of a plan resource available (pull per pullPolicy, load an archive, build);
   * returns it. A built image carries `labels`' spec hash and context hash (what the diff reads
   * to tell whether it is current) but not the stack and path: containers inherit an image's
   * labels, and one run by hand from it must not pass for the stack's. A pull's layers and a
   * build's steps go to `options.progress` as they happen.
   */
  ensureImage(resource: ImageResource, labels: ManagedLabels, options?: EnsureImageOptions): Promise<ObservedImage>;

  createNetwork(name: string, spec: NetworkSpec, labels: ManagedLabels): Promise<ObservedNetwork>;
  removeNetwork(name: string): Promise<void>;

  createVolume(name: string, spec: VolumeSpec, labels: ManagedLabels): Promise<ObservedVolume>;
  removeVolume(name: string): Promise<void>;

  /** Creates (does not start) a container; its networks, mounts and ports as the spec says. */
  createContainer(request: ContainerCreateRequest): Promise<ObservedContainer>;
  startContainer(nameOrId: string): Promise<void>;
  /** Stops with the container's stop signal and timeout; nothing when it is not running. */
  stopContainer(nameOrId: string): Promise<void>;
  /** Removes (force: also when running); nothing when it is gone. Never removes named volumes. */
  removeContainer(nameOrId: string, opts?: RemoveContainerOptions): Promise<void>;
  updateContainer(nameOrId: string, update: ContainerUpdate): Promise<void>;
  connectNetwork(container: string, network: string, opts: { aliases: string[]; ipv4Address?: string }): Promise<void>;
  disconnectNetwork(container: string, network: string): Promise<void>;

  /**
   * Resolves when the container reaches `condition` (`started`: running; `healthy`: its
   * healthcheck passed; `completed`: exited 0). Rejects at once, naming the container and its
   * last log lines, when it cannot get there any more (exited, exited non-zero, unhealthy), or
   * after `timeoutMs`.
   */
  wait(nameOrId: string, condition: DependencyCondition, timeoutMs: number): Promise<void>;

  /**
   * Runs a changed container resource whole (all its replicas, surplus ones removed): only a
   * driver whose capabilities say `ownsReplicas` has it. Resolves with what it did, for the
   * progress display (`updated (2 replicas)`), once the replicas run.
   */
  applyContainer?(request: ContainerResourceRequest): Promise<string>;

  /**
   * Calls `onLine` with the container's output, in order, as `opts` selects; resolves when it has
   * all (with `follow`: when the container stops, or `signal` aborts). A NotFoundError when the
   * container is gone.
   */
  logs(nameOrId: string, opts: LogsOptions, onLine: (line: LogLine) => void): Promise<void>;
  /**
   * Runs `argv` in the running container, as `docker exec` does; resolves when it ends. A
   * ConflictError when the container is not running; InvalidArgumentError for a relative workdir
   * or a variable without a name.
   */
  exec(nameOrId: string, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult>;

  /**
   * The containers, networks and volumes that carry no `io.cdk-docker.stack` label (all of a kind,
   * or those `query` names), observed as `observe` observes a stack's: for `import containers`
   * and adoption. Networks the engine makes itself (its default, `host`, `none`) are left out.
   */
  unmanaged?(query?: UnmanagedQuery): Promise<UnmanagedObjects>;
  /**
   * Makes an unmanaged network or volume `name` the stack's whose `labels` are given, leaving its
   * settings and data as they are: by changing its labels where the engine can
   * (`capabilities.relabelNetworksAndVolumes`; the labels of the tool that made it go), else by
   * recording the adoption where `observe` sees it (a record volume, see ./adopted), `observe`
   * reporting the object with `labels` from then on. Idempotent.
   */
  adoptObject?(kind: 'network' | 'volume', name: string, labels: ManagedLabels): Promise<void>;

  /**
   * Extracts the tar stream `archive` into the directory `path` (absolute) of the container,
   * running or not, as `docker cp - CONTAINER:PATH` (the Engine's `PUT /containers/{id}/archive`):
   * an entry replaces the file of its name (a directory merges into a directory), its missing
   * parent directories are made, each keeps its mode and its numeric owner from the archive, and
   * no entry is written outside `path`. The running process is not touched (`cdk-docker watch`
   * syncs files with it). A NotFoundError when the container or `path` does not exist; a
   * ConflictError when `path` is read-only in the container.
   */
  copyToContainer(nameOrId: string, path: string, archive: Readable): Promise<void>;

  /** The stacks that have a managed container, network or volume on the engine, sorted. */
  listStacks(): Promise<string[]>;
  /**
   * Runs `fn` holding `stack`'s lock, where every user of the engine sees it (another process,
   * another machine). While one holds it, another `lockStack` of the stack fails at once with a
   * ConflictError naming the stack (and the holder where the engine knows it); a lock whose
   * holder died is taken over. Released when `fn` settles.
   */
  lockStack<T>(stack: string, fn: () => Promise<T>): Promise<T>;
}
