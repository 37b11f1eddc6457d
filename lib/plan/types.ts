/**
 * The plan: what `synth` writes and every later stage (diff, apply, drift) reads.
 *
 * Terms
 * - A *plan* describes one stack. It is a map of *resources* keyed by *logical id*.
 * - A *logical id* is derived from the construct path relative to the stack only, so it is
 *   stable when unrelated constructs are added, removed or renamed.
 * - Every field has exactly one canonical form. Short syntaxes users may write (`"8080:80"`,
 *   `"512m"`, `"nginx"`) are normalised at synth time and never appear here.
 * - Values known only at apply time (an image id from a build, a random host port) are not in
 *   the plan; the fields that produce them are (`hostPort: 0` means "a free port").
 * - Secrets appear only as references (`SecretRef`): where to read them at apply time and an
 *   HMAC to diff them by. Their values never appear.
 *
 * The JSON Schema in schema/plan.schema.json describes exactly these types; `validatePlan`
 * checks a plan against it on write and on read.
 */

export const PLAN_VERSION = 1 as const;

export type ResourceType = 'image' | 'container' | 'network' | 'volume';

export interface Plan {
  /** Version of this format. */
  readonly version: typeof PLAN_VERSION;
  /** Stack name: also the value of the `io.cdk-docker.stack` label. */
  readonly stack: string;
  /** Resources by logical id. */
  readonly resources: { readonly [logicalId: string]: Resource };
}

export type Resource = ImageResource | ContainerResource | NetworkResource | VolumeResource;

interface ResourceBase {
  /** Construct path relative to the stack, e.g. `web` or `db/primary`. */
  readonly path: string;
  /** Name of the resource in the runtime (container name, image reference, network or volume name). */
  readonly name: string;
  /** Logical ids this resource needs before it can be created; sorted, no duplicates. */
  readonly dependsOn: string[];
}

export interface ImageResource extends ResourceBase {
  readonly type: 'image';
  readonly spec: ImageSpec;
}
export interface ContainerResource extends ResourceBase {
  readonly type: 'container';
  readonly spec: ContainerSpec;
}
export interface NetworkResource extends ResourceBase {
  readonly type: 'network';
  readonly spec: NetworkSpec;
}
export interface VolumeResource extends ResourceBase {
  readonly type: 'volume';
  readonly spec: VolumeSpec;
}

// ---------------------------------------------------------------------------------------------
// Images

export type PullPolicy = 'missing' | 'always' | 'never';

export type ImageSpec = RegistryImageSpec | BuildImageSpec | ArchiveImageSpec;

/** An image pulled from a registry. The resource `name` is the normalised reference. */
export interface RegistryImageSpec {
  readonly source: 'registry';
  /** Fully qualified reference: `docker.io/library/nginx:latest`, `host:5000/a/b@sha256:…`. */
  readonly ref: string;
  readonly pullPolicy: PullPolicy;
}

/** An image built from a Dockerfile. The resource `name` is the tag given to the result. */
export interface BuildImageSpec {
  readonly source: 'build';
  /** Absolute path of the build context. */
  readonly context: string;
  /** `sha256:…` over the context's files (after .dockerignore), their modes and the Dockerfile. */
  readonly contextHash: string;
  /** Dockerfile path relative to the context. */
  readonly dockerfile: string;
  readonly buildArgs: { readonly [name: string]: string };
  /** Build stage; absent = the last stage. */
  readonly target?: string;
  readonly noCache: boolean;
}

/** An image loaded from a `docker save` or OCI layout archive. The resource `name` is its tag. */
export interface ArchiveImageSpec {
  readonly source: 'archive';
  /** Absolute path of the archive. */
  readonly path: string;
  /** `sha256:…` of the archive file. */
  readonly sha256: string;
}

// ---------------------------------------------------------------------------------------------
// Containers

export type Protocol = 'tcp' | 'udp' | 'sctp';
export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';
export type NetworkMode = 'bridge' | 'host' | 'none' | ContainerNetworkMode;

/**
 * Share another container's network namespace: a container resource of the plan (compose
 * `network_mode: service:X`), or a container the stack does not manage, by name (compose
 * `network_mode: container:X`). Exactly one of the two.
 */
export type ContainerNetworkMode =
  | { /** Logical id of the container resource whose network this one joins (replica 1). */ readonly container: string; readonly containerName?: never }
  | { /** Name of a container no stack manages (it must run first). */ readonly containerName: string; readonly container?: never };

export type IpcMode = 'host' | 'private' | 'shareable';
export type DependencyCondition = 'started' | 'healthy' | 'completed';

export interface ContainerSpec {
  /** Logical id of the image resource. */
  readonly image: string;
  /** Replaces the image's Cmd; absent = the image's. */
  readonly command?: string[];
  /** Replaces the image's Entrypoint; absent = the image's, `[]` = none. */
  readonly entrypoint?: string[];
  /** Plain environment, merged over the image's. */
  readonly env: { readonly [name: string]: string };
  /** Secret environment, injected at apply. */
  readonly secretEnv: { readonly [name: string]: SecretRef };
  /** Env files, read at apply in order; later files and `env` win. */
  readonly envFiles: FileRef[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly hostname?: string;
  /** Published ports, one entry per container port (ranges are expanded); sorted. */
  readonly ports: PortMapping[];
  readonly publishAllPorts: boolean;
  readonly mounts: Mount[];
  /** Container names whose volumes are mounted too. */
  readonly volumesFrom: VolumesFrom[];
  readonly networkMode: NetworkMode;
  /** Networks to join (networkMode bridge only); empty = the runtime's default network. */
  readonly networks: NetworkAttachment[];
  readonly restart: RestartPolicy;
  readonly healthcheck?: Healthcheck;
  /** Containers that must reach a condition before this one starts. */
  readonly dependsOn: ContainerDependency[];
  /** User labels (the `io.cdk-docker.` prefix is reserved). */
  readonly labels: { readonly [key: string]: string };
  /** Signal name, `SIGTERM` form; absent = the image's or SIGTERM. */
  readonly stopSignal?: string;
  /** Seconds between the stop signal and SIGKILL; absent = 10. */
  readonly stopTimeoutSeconds?: number;
  readonly init: boolean;
  readonly readOnlyRootfs: boolean;
  /** Capability names without the `CAP_` prefix, upper case, sorted. */
  readonly capAdd: string[];
  readonly capDrop: string[];
  readonly privileged: boolean;
  /** Memory limit in bytes; absent = unlimited. */
  readonly memoryBytes?: number;
  /** CPU quota in billionths of a CPU (Docker's NanoCpus); absent = unlimited. */
  readonly nanoCpus?: number;
  /** Max processes; absent = unlimited. */
  readonly pidsLimit?: number;
  /** Number of identical containers. */
  readonly replicas: number;
  /** What `cdk-docker watch` does with changes to the container's files; absent = nothing of its own. */
  readonly develop?: Develop;
  /**
   * How a Swarm runs the container as a service (mode, placement, update and rollback, reservations,
   * restart policy, endpoint mode); absent = every setting's default (see DEFAULT_DEPLOY). Engines
   * that run no swarm refuse a plan that sets it.
   */
  readonly deploy?: DeploySpec;
  /** Ports exposed without publishing (`"8080/tcp"`), sorted, no duplicates; absent = none. */
  readonly expose?: string[];
  /** Host name → IPv4/IPv6 address or `host-gateway`, added to /etc/hosts; absent = none. */
  readonly extraHosts?: { readonly [hostname: string]: string };
  /** DNS servers (IP addresses) in order; absent = the engine's. */
  readonly dns?: string[];
  /** DNS search domains in order; absent = the engine's. */
  readonly dnsSearch?: string[];
  /** resolv.conf options (`ndots:2`) in order; absent = the engine's. */
  readonly dnsOptions?: string[];
  /** Namespaced kernel parameters (`net.core.somaxconn`); absent = none. */
  readonly sysctls?: { readonly [key: string]: string };
  /** Resource limits by name (`nofile`), soft ≤ hard; -1 = unlimited; absent = the engine's. */
  readonly ulimits?: { readonly [name: string]: Ulimit };
  /** Size of /dev/shm in bytes; absent = the engine's (64 MiB). */
  readonly shmSizeBytes?: number;
  /** Host devices in the container; absent = none. */
  readonly devices?: Device[];
  /** `host` shares the host's PID namespace; absent = its own. */
  readonly pid?: 'host';
  /** IPC namespace; absent = the engine's default (`private`). */
  readonly ipc?: IpcMode;
  /** Secrets as read-only files, sorted by target; absent = none. Values never appear. */
  readonly secrets?: SecretFile[];
  /** Configuration files mounted read-only, sorted by target; absent = none. */
  readonly configs?: ConfigFile[];
  /** A pseudo-terminal for the main process (`docker run -t`); absent = none. */
  readonly tty?: true;
  /** Stdin kept open though nothing is attached (`docker run -i`); absent = closed. */
  readonly stdinOpen?: true;
  /** Where the engine sends the container's output; absent = the engine's default log driver, no options. */
  readonly logging?: Logging;
  /** The platform the container's image must be (`linux/amd64`, `linux/arm64/v8`), canonical; absent = the engine's. */
  readonly platform?: string;
  /** The OCI runtime the engine runs it with (`runc`, `runsc`); absent = the engine's default (runc). */
  readonly runtime?: string;
}

/** A log driver and its options (compose `logging:`). */
export interface Logging {
  /** The engine's log driver name (`json-file`, `local`, `syslog`, `none` …). */
  readonly driver: string;
  /** Driver options as given (`max-size: "10m"`); `{}` when none. */
  readonly options: { readonly [key: string]: string };
}

/** A configuration file mounted into the container: a host file or text (compose `configs:`). */
export type ConfigFile = ConfigFromFile | ConfigFromString;

interface ConfigFileBase {
  /** `sha256:…` of the content. */
  readonly sha256: string;
  /** Absolute path in the container. */
  readonly target: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface ConfigFromFile extends ConfigFileBase {
  readonly source: 'file';
  /** Absolute host path, read at apply (its content must still hash to `sha256`). */
  readonly file: string;
}

export interface ConfigFromString extends ConfigFileBase {
  readonly source: 'string';
  /** The text itself. */
  readonly content: string;
}

export interface Ulimit {
  readonly soft: number;
  readonly hard: number;
}

export interface Device {
  /** Absolute host path of the device node. */
  readonly hostPath: string;
  /** Absolute path in the container. */
  readonly containerPath: string;
  /** cgroup permissions: `r`, `w`, `m` in that order (a non-empty subset of `rwm`). */
  readonly permissions: string;
}

/** A secret written as a file into the container. */
export interface SecretFile {
  /** Where its value is read at apply, and its HMAC. */
  readonly secret: SecretRef;
  /** Absolute path in the container (`/run/secrets/<name>` by default). */
  readonly target: string;
  /** File mode (e.g. 0o444 = 292). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** Compose's `develop`: rules `cdk-docker watch` follows for one container. Never part of the container itself. */
export interface Develop {
  /** At least one rule; a changed file takes the first rule whose path holds it. */
  readonly watch: DevelopWatchRule[];
}

export type DevelopAction = 'sync' | 'sync+restart' | 'rebuild';

export interface DevelopWatchRule {
  /** Absolute host path (a file or a directory). */
  readonly path: string;
  /** `sync`: copy changed files into the running container; `sync+restart`: then restart it; `rebuild`: apply (the image's build context holds the path). */
  readonly action: DevelopAction;
  /** Absolute path in the container that `path` is copied to; sync actions only. */
  readonly target?: string;
  /** .dockerignore patterns, relative to `path`, of changes to leave alone; in the order given. */
  readonly ignore: string[];
}

// ---------------------------------------------------------------------------------------------
// Swarm deployment

export type DeployMode = 'replicated' | 'global';
export type UpdateOrder = 'stop-first' | 'start-first';
export type UpdateFailureAction = 'rollback' | 'pause' | 'continue';
export type RestartCondition = 'none' | 'on-failure' | 'any';
export type EndpointMode = 'vip' | 'dnsrr';

/** How a Swarm rolls out a change of a service (or rolls one back). */
export interface UpdateSpec {
  /** Tasks changed at once; 0 = all at once. */
  readonly parallelism: number;
  /** Between two batches, in milliseconds. */
  readonly delayMs: number;
  readonly order: UpdateOrder;
  /** What the swarm does when a task of the update fails. */
  readonly failureAction: UpdateFailureAction;
  /** How long a new task is watched for failure, in milliseconds. */
  readonly monitorMs: number;
  /** Fraction of tasks that may fail (0–1) before the failure action. */
  readonly maxFailureRatio: number;
}

/** The service settings of a container on a Swarm; canonical: every field present, lists sorted where order means nothing. */
export interface DeploySpec {
  readonly mode: DeployMode;
  readonly placement: {
    /** `node.role == manager`, `node.labels.zone == a`…; sorted (they all must hold). */
    readonly constraints: string[];
    /** Spread over the values of these node labels, in order. */
    readonly preferences: Array<{ readonly spread: string }>;
    /** At most this many tasks on one node; absent = no limit. */
    readonly maxReplicasPerNode?: number;
  };
  readonly updateConfig: UpdateSpec;
  readonly rollbackConfig: UpdateSpec;
  /** Resources set aside for each task on its node (limits are `memoryBytes` and `nanoCpus`). */
  readonly reservations: {
    readonly nanoCpus?: number;
    readonly memoryBytes?: number;
  };
  /**
   * The Swarm's restart policy; absent = the container's `restart` (no → none, always and
   * unless-stopped → any, on-failure:N → on-failure with N attempts).
   */
  readonly restartPolicy?: {
    readonly condition: RestartCondition;
    readonly delayMs: number;
    /** 0 = no limit. */
    readonly maxAttempts: number;
    /** Window in which restarts count against maxAttempts, in milliseconds; 0 = unbounded. */
    readonly windowMs: number;
  };
  readonly endpointMode: EndpointMode;
}

/** The update and rollback settings when a plan gives none: Docker's, but a failed update rolls back. */
export const DEFAULT_UPDATE: UpdateSpec = { parallelism: 1, delayMs: 0, order: 'stop-first', failureAction: 'rollback', monitorMs: 5000, maxFailureRatio: 0 };
/** Rollback: as Docker's defaults, pausing when the rollback fails. */
export const DEFAULT_ROLLBACK: UpdateSpec = { parallelism: 1, delayMs: 0, order: 'stop-first', failureAction: 'pause', monitorMs: 5000, maxFailureRatio: 0 };
/** What an absent `deploy` means. */
export const DEFAULT_DEPLOY: DeploySpec = {
  mode: 'replicated',
  placement: { constraints: [], preferences: [] },
  updateConfig: DEFAULT_UPDATE,
  rollbackConfig: DEFAULT_ROLLBACK,
  reservations: {},
  endpointMode: 'vip',
};

export interface SecretRef {
  readonly source: 'env' | 'file';
  /** Environment variable name or absolute file path the value is read from at apply. */
  readonly from: string;
  /** `hmac-sha256:…` of the value, keyed per stack. */
  readonly hmac: string;
}

export interface FileRef {
  /** Absolute path. */
  readonly path: string;
  /** `sha256:…` of the content at synth time. */
  readonly sha256: string;
}

export interface PortMapping {
  readonly containerPort: number;
  readonly protocol: Protocol;
  /** Host address to bind; `0.0.0.0` = all. */
  readonly hostIp: string;
  /** Host port; 0 = a free port chosen at apply. */
  readonly hostPort: number;
  /**
   * `host`: on a Swarm, published on the node that runs each task only, not through the routing
   * mesh; absent = the routing mesh (`ingress`). Other engines publish on their host either way.
   */
  readonly mode?: 'host';
}

export type Mount = VolumeMount | BindMount | TmpfsMount;

export interface VolumeMount {
  readonly type: 'volume';
  /** Volume name. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

export interface BindMount {
  readonly type: 'bind';
  /** Absolute host path. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** `sha256:…` of the content when the source is a file (a change replaces the container). */
  readonly sha256?: string;
}

export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: string;
  /** Size limit in bytes; absent = the kernel default (half of RAM). */
  readonly sizeBytes?: number;
  /** Octal mode as a number (e.g. 1777 → 0o1777 = 1023); absent = 1777. */
  readonly mode?: number;
}

export interface VolumesFrom {
  /** Container name. */
  readonly container: string;
  readonly readOnly: boolean;
}

export interface NetworkAttachment {
  /** Network name. */
  readonly network: string;
  /** Extra DNS names on this network, sorted. */
  readonly aliases: string[];
  /** Static address; absent = allocated. */
  readonly ipv4Address?: string;
}

export interface RestartPolicy {
  readonly policy: RestartPolicyName;
  /** on-failure only: max restarts, 0 = unlimited. Always 0 for other policies. */
  readonly maxRetries: number;
}

export interface Healthcheck {
  /** `["CMD", exe, args…]` or `["CMD-SHELL", script]`. */
  readonly test: string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
}

export interface ContainerDependency {
  /** Logical id of the container resource. */
  readonly container: string;
  readonly condition: DependencyCondition;
  /** Restart this container when an apply replaces or updates that one (compose `depends_on.restart`); absent = no. */
  readonly restart?: true;
}

// ---------------------------------------------------------------------------------------------
// Networks and volumes

export type NetworkDriver = 'bridge' | 'overlay';

export interface NetworkSpec {
  readonly driver: NetworkDriver;
  /** CIDR; absent = allocated by the runtime. */
  readonly subnet?: string;
  readonly gateway?: string;
  readonly ipRange?: string;
  readonly internal: boolean;
  readonly attachable: boolean;
  /** Overlay only: IPsec encryption of the VXLAN traffic between nodes; absent = not encrypted. */
  readonly encrypted?: true;
  readonly labels: { readonly [key: string]: string };
}

export type RemovalPolicy = 'retain' | 'destroy';

export interface VolumeSpec {
  readonly driver: string;
  readonly driverOpts: { readonly [key: string]: string };
  readonly labels: { readonly [key: string]: string };
  /** What `destroy` does with the volume. */
  readonly removalPolicy: RemovalPolicy;
}
