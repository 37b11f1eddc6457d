import { Construct, IConstruct } from 'constructs';
import type {
  ConfigFile,
  ContainerDependency,
  ContainerResource,
  ContainerSpec,
  DependencyCondition as PlanDependencyCondition,
  Develop,
  DevelopWatchRule,
  Healthcheck as PlanHealthcheck,
  Mount,
  NetworkAttachment,
  PortMapping,
  RestartPolicy as PlanRestartPolicy,
  SecretFile,
  SecretRef,
  Ulimit,
} from '../plan/types';
import { InvalidArgumentError } from '../core/errors';
import { isIpv4 } from '../core/ip';
import { MAX_COUNT, MAX_CPUS, MAX_ID, MAX_PIDS, MAX_REPLICAS, MAX_STOP_TIMEOUT_SECONDS, MAX_TIMER_MS, MIN_CPUS, MIN_HEALTH_MS, MIN_MEMORY_BYTES } from '../core/limits';
import { normalizeCapability, normalizeSignal } from '../core/linux';
import { checkName } from '../core/names';
import { shellSplit } from '../core/shell-words';
import { DeployOptions, deployToPlan } from './deploy';
import { Config } from './config';
import { Duration } from './duration';
import { IImage, Image } from './image';
import { INetwork } from './network';
import type { ResourceClaims } from './private/claims';
import { imageForRef } from './private/implicit-image';
import {
  DeviceOptions,
  IPC_SYSCTLS,
  OptionError,
  checkDnsOption,
  checkDnsSearch,
  checkDnsServer,
  checkExtraHost,
  checkRuntime,
  checkSysctl,
  isFileTarget,
  isIpcSysctl,
  parseDevice,
  parseExpose,
  parseContainerPlatform,
  parseId,
  parseLogging,
  parseUlimit,
} from './private/host-options';
import { PortError, PortOptions, parsePort, portsClash } from './private/ports';
import { PlanRefs, StackResource, at } from './private/resource';
import type { SynthContext } from './private/synth-context';
import { checkLabels, defaultName } from './private/util';
import { Secret } from './secret';
import { Size } from './size';
import { Stack } from './stack';
import { IVolume } from './volume';
import { compareText } from '../core/canonical';

export type { PortOptions } from './private/ports';
export type { DeviceOptions } from './private/host-options';

const CONTAINER_SYMBOL = Symbol.for('cdk-docker.Container');

export { MIN_MEMORY_BYTES } from '../core/limits';

/** A container other constructs can refer to. */
export interface IContainer extends IConstruct {
  /** The container's name in the runtime. */
  readonly containerName: string;
}

/** A named volume mounted into the container. */
export interface VolumeMountOptions {
  readonly type: 'volume';
  /** The volume. */
  readonly source: IVolume;
  /** Absolute path in the container. */
  readonly target: string;
  /**
   * Mount read-only.
   * @default false
   */
  readonly readOnly?: boolean;
}

/** A host path mounted into the container. */
export interface BindMountOptions {
  readonly type: 'bind';
  /** Host path, relative to the app's directory. It must exist. A file's content is part of the spec. */
  readonly source: string;
  /** Absolute path in the container. */
  readonly target: string;
  /**
   * Mount read-only.
   * @default false
   */
  readonly readOnly?: boolean;
}

/** A tmpfs (memory-backed) mount. */
export interface TmpfsMountOptions {
  readonly type: 'tmpfs';
  /** Absolute path in the container. */
  readonly target: string;
  /**
   * Size limit.
   * @default - half of the host's memory (the kernel default)
   */
  readonly size?: Size | string;
  /**
   * File mode of the mount point, as an octal number such as 0o1777.
   * @default 0o1777
   */
  readonly mode?: number;
}

/** A mount: a volume, a bind mount or a tmpfs. */
export type ContainerMount = VolumeMountOptions | BindMountOptions | TmpfsMountOptions;

/** A network to join, with options. */
export interface NetworkAttachmentOptions {
  /** The network. */
  readonly network: INetwork;
  /**
   * Extra DNS names for the container on this network.
   * @default []
   */
  readonly aliases?: string[];
  /**
   * Static IPv4 address in the network's subnet.
   * @default - allocated by the runtime
   */
  readonly ipv4Address?: string;
}

/** Another container whose volumes are mounted too. */
export interface VolumesFromOptions {
  /** The container. */
  readonly container: IContainer;
  /**
   * Mount them read-only.
   * @default false
   */
  readonly readOnly?: boolean;
}

/** A secret given to the container as a read-only file (compose `secrets:`). */
export interface SecretMountOptions {
  /** The secret. */
  readonly secret: Secret;
  /**
   * Where the file goes: an absolute path, or a file name under /run/secrets.
   * @default - `/run/secrets/<secret name>` (the file's base name for Secret.fromFile, the variable's name for Secret.fromEnv)
   */
  readonly target?: string;
  /**
   * File mode, as an octal number such as 0o440.
   * @default 0o444
   */
  readonly mode?: number;
  /**
   * Numeric owner of the file.
   * @default "0"
   */
  readonly uid?: string;
  /**
   * Numeric group of the file.
   * @default "0"
   */
  readonly gid?: string;
}

/** A configuration file mounted read-only into the container (compose `configs:`). */
export interface ConfigMountOptions {
  /** The content: `Config.fromFile(path)` or `Config.fromString(text)`. */
  readonly config: Config;
  /** Absolute path of the file in the container. */
  readonly target: string;
  /**
   * File mode, as an octal number such as 0o440.
   * @default 0o444
   */
  readonly mode?: number;
  /**
   * Numeric owner of the file.
   * @default "0"
   */
  readonly uid?: string;
  /**
   * Numeric group of the file.
   * @default "0"
   */
  readonly gid?: string;
}

/** A container that must reach a condition before this one starts. */
export interface ContainerDependencyOptions {
  /** The container (in the same stack). */
  readonly container: IContainer;
  /**
   * The condition to wait for.
   * @default DependencyCondition.STARTED
   */
  readonly condition?: DependencyCondition | `${DependencyCondition}`;
  /**
   * Restart this container when an apply replaces or updates the one it depends on (compose's
   * `depends_on.restart`), so it reconnects to the new one.
   * @default false
   * @see https://docs.docker.com/reference/compose-file/services/#long-syntax-1
   */
  readonly restart?: boolean;
}

/** Where the engine sends a container's output (compose `logging:`). */
export interface LoggingOptions {
  /** The log driver: `"json-file"`, `"local"`, `"syslog"`, `"none"` … (the engine must have it). */
  readonly driver: string;
  /**
   * Options of the driver (`{ "max-size": "10m" }`).
   * @default {}
   * @see https://docs.docker.com/engine/logging/configure/
   */
  readonly options?: { readonly [key: string]: string };
}

/** A healthcheck, as Dockerfile's HEALTHCHECK. */
export interface HealthcheckOptions {
  /**
   * The check: a shell script string (`CMD-SHELL`), an exec array (`CMD`), or an array that
   * starts with "CMD" or "CMD-SHELL". Exit 0 means healthy.
   */
  readonly test: string | string[];
  /**
   * Time between checks.
   * @default 30s
   */
  readonly interval?: Duration | string;
  /**
   * Time a check may take.
   * @default 30s
   */
  readonly timeout?: Duration | string;
  /**
   * Consecutive failures before the container is unhealthy.
   * @default 3
   */
  readonly retries?: number;
  /**
   * Start-up time during which failures do not count.
   * @default 0s
   */
  readonly startPeriod?: Duration | string;
}

/**
 * One rule of `develop.watch`: a host path `cdk-docker watch` follows for this container, and
 * what it does when a file there changes.
 * @see https://docs.docker.com/compose/how-tos/file-watch/
 */
export interface DevelopWatchOptions {
  /** Host file or directory, relative to the app's directory. It must exist. */
  readonly path: string;
  /**
   * `sync`: copy changed files into the running container (deleted ones are deleted there);
   * `sync+restart`: then restart it; `rebuild`: rebuild its image and replace it (the path must
   * be in the build context of its image, built by this stack).
   */
  readonly action: WatchAction | `${WatchAction}`;
  /**
   * Absolute path in the container that `path` is copied to; for `sync` and `sync+restart` only.
   * @default - required for the sync actions
   */
  readonly target?: string;
  /**
   * Changes to leave alone: .dockerignore patterns relative to `path`, such as `"*.tmp"` or `"node_modules/"`.
   * @default []
   */
  readonly ignore?: string[];
}

/** Compose's `develop`: what `cdk-docker watch` does with this container's files. */
export interface DevelopOptions {
  /** The rules; a changed file takes the first rule whose path holds it. */
  readonly watch: DevelopWatchOptions[];
}

/** Properties of a Container. */
export interface ContainerProps {
  /**
   * The image: an Image construct or a reference such as `"nginx:1.25"` (pulled if missing).
   */
  readonly image: IImage | string;
  /**
   * Container name.
   * @default - `<stack>-<path>`
   */
  readonly name?: string;
  /**
   * Arguments replacing the image's CMD: a list, or a string split into words as Compose splits
   * it (shell quoting rules, no shell runs: `"sh -c 'echo hi'"` is `["sh", "-c", "echo hi"]`).
   * @default - the image's CMD
   */
  readonly command?: string[] | string;
  /**
   * Replaces the image's ENTRYPOINT; `[]` removes it. A string is split into words as `command`'s.
   * @default - the image's ENTRYPOINT
   */
  readonly entrypoint?: string[] | string;
  /**
   * Environment variables, merged over the image's. Secret values never appear in the plan.
   * @default {}
   */
  readonly env?: { readonly [name: string]: string | Secret };
  /**
   * Env files (`KEY=VALUE` lines), relative to the app's directory; their content is part of the spec.
   * @default []
   * @see https://docs.docker.com/reference/cli/docker/container/run/#env
   */
  readonly envFiles?: string[];
  /**
   * Working directory (absolute).
   * @default - the image's WORKDIR
   */
  readonly workingDir?: string;
  /**
   * `user`, `user:group`, `uid` or `uid:gid`.
   * @default - the image's USER
   */
  readonly user?: string;
  /**
   * Host name inside the container.
   * @default - the first 12 characters of the container id
   */
  readonly hostname?: string;
  /**
   * Published ports: objects, numbers (container port, random host port) or Docker's short
   * syntax such as `"127.0.0.1:8080:80/tcp"`, `"8080:80"`, `"80"`, `"8000-8001:80-81"`.
   * @default []
   * @see https://docs.docker.com/reference/cli/docker/container/run/#publish
   */
  readonly ports?: Array<PortOptions | string | number>;
  /**
   * Publish every port the image EXPOSEs on a random host port (`-P`).
   * @default false
   */
  readonly publishAllPorts?: boolean;
  /**
   * Volume, bind and tmpfs mounts.
   * @default []
   */
  readonly mounts?: ContainerMount[];
  /**
   * Containers whose volumes are mounted too (`--volumes-from`).
   * @default []
   */
  readonly volumesFrom?: Array<IContainer | VolumesFromOptions>;
  /**
   * Networks to join. Containers on a shared network reach each other by name and alias.
   * @default - the runtime's default bridge network
   */
  readonly networks?: Array<INetwork | NetworkAttachmentOptions>;
  /**
   * Network mode; `host`, `none` and another container (whose network namespace this one
   * shares: a Container of this stack, which starts first, as compose's `network_mode:
   * service:X`; or `Container.fromName(…)`, which must be running, as `container:X`) exclude
   * `networks` and `ports`.
   * @default NetworkMode.BRIDGE
   * @see https://docs.docker.com/engine/network/#container-networks
   */
  readonly networkMode?: NetworkMode | `${NetworkMode}` | IContainer;
  /**
   * Restart policy.
   * @default Restart.NO
   * @see https://docs.docker.com/engine/containers/start-containers-automatically/
   */
  readonly restart?: Restart | `${RestartPolicy}`;
  /**
   * Healthcheck.
   * @default - the image's HEALTHCHECK, if any
   */
  readonly healthcheck?: HealthcheckOptions;
  /**
   * Containers that must be started, healthy or completed first.
   * @default []
   */
  readonly dependsOn?: Array<IContainer | ContainerDependencyOptions>;
  /**
   * Labels (`io.cdk-docker.` is reserved).
   * @default {}
   */
  readonly labels?: { readonly [key: string]: string };
  /**
   * Signal that stops the container: `"SIGTERM"`, `"TERM"`, `"15"`.
   * @default - the image's STOPSIGNAL, else SIGTERM
   */
  readonly stopSignal?: string;
  /**
   * Time between the stop signal and SIGKILL.
   * @default 10s
   */
  readonly stopTimeout?: Duration | string;
  /**
   * Run a small init as PID 1 that forwards signals and reaps zombies.
   * @default false
   */
  readonly init?: boolean;
  /**
   * Mount the root filesystem read-only.
   * @default false
   */
  readonly readOnlyRootfs?: boolean;
  /**
   * Capabilities to add to Docker's default set (`NET_ADMIN` or `CAP_NET_ADMIN`).
   * @default []
   */
  readonly capAdd?: string[];
  /**
   * Capabilities to drop from Docker's default set (`ALL` drops all).
   * @default []
   */
  readonly capDrop?: string[];
  /**
   * Give the container all capabilities and devices.
   * @default false
   */
  readonly privileged?: boolean;
  /**
   * Memory limit: `Size.mebibytes(512)` or `"512m"`; at least 6 MiB.
   * @default - unlimited
   */
  readonly memory?: Size | string;
  /**
   * CPU limit in CPUs, e.g. 1.5.
   * @default - unlimited
   */
  readonly cpus?: number;
  /**
   * Maximum number of processes.
   * @default - unlimited
   */
  readonly pidsLimit?: number;
  /**
   * Number of identical containers (named `<name>-1` … `<name>-N` when more than one).
   * @default 1
   */
  readonly replicas?: number;
  /**
   * How a Swarm runs the container as a service: global mode, placement, update and rollback,
   * reservations, restart policy, endpoint mode. Only a Swarm honours it; the built-in and Docker
   * engines refuse a stack that sets it. With `deploy`, replicas may share a published port
   * (the Swarm's routing mesh balances it over them).
   * @default - not a Swarm-only container
   * @see https://docs.docker.com/reference/compose-file/deploy/
   */
  readonly deploy?: DeployOptions;
  /**
   * Ports exposed to other containers without publishing them (`8080`, `"8080/udp"`, `"8000-8010"`);
   * `publishAllPorts` publishes them too.
   * @default []
   * @see https://docs.docker.com/reference/dockerfile/#expose
   */
  readonly expose?: Array<number | string>;
  /**
   * Extra /etc/hosts entries: host name → IPv4 or IPv6 address, or `"host-gateway"` for the host.
   * @default {}
   * @see https://docs.docker.com/reference/cli/docker/container/run/#add-host
   */
  readonly extraHosts?: { readonly [hostname: string]: string };
  /**
   * DNS servers for /etc/resolv.conf.
   * @default - the engine's (the host's, or the network's DNS server)
   * @see https://docs.docker.com/engine/network/#dns-services
   */
  readonly dns?: string[];
  /**
   * DNS search domains for /etc/resolv.conf.
   * @default - the engine's
   */
  readonly dnsSearch?: string[];
  /**
   * resolv.conf options, such as `"ndots:2"`.
   * @default - the engine's
   */
  readonly dnsOptions?: string[];
  /**
   * Namespaced kernel parameters: `net.*`, `fs.mqueue.*`, `kernel.msg*`, `kernel.sem`, `kernel.shm*`.
   * @default {}
   * @see https://docs.docker.com/reference/cli/docker/container/run/#sysctl
   */
  readonly sysctls?: { readonly [key: string]: string };
  /**
   * Resource limits by name (`nofile`, `nproc`, `core`…): one number for soft and hard, or both; -1 = unlimited.
   * @default - the engine's
   * @see https://docs.docker.com/reference/cli/docker/container/run/#ulimit
   */
  readonly ulimits?: { readonly [name: string]: number | { readonly soft: number; readonly hard: number } };
  /**
   * Size of /dev/shm: `Size.mebibytes(256)` or `"256m"`.
   * @default 64 MiB
   */
  readonly shmSize?: Size | string;
  /**
   * Host devices: `"/dev/fuse"`, `"/dev/sda:/dev/xvda:rw"` or DeviceOptions.
   * @default []
   * @see https://docs.docker.com/reference/cli/docker/container/run/#device
   */
  readonly devices?: Array<string | DeviceOptions>;
  /**
   * `"host"` shares the host's PID namespace.
   * @default - its own PID namespace
   */
  readonly pid?: 'host';
  /**
   * IPC namespace: `"private"`, `"shareable"` or `"host"`.
   * @default - the engine's (Docker's "private")
   * @see https://docs.docker.com/reference/cli/docker/container/run/#ipc
   */
  readonly ipc?: 'host' | 'private' | 'shareable';
  /**
   * Secrets as read-only files, at /run/secrets/<name> unless a target is given; the plan holds
   * only their HMAC, never the value.
   * @default []
   * @see https://docs.docker.com/reference/compose-file/services/#secrets
   */
  readonly secrets?: Array<Secret | SecretMountOptions>;
  /**
   * Configuration files mounted read-only; their content is part of the spec.
   * @default []
   * @see https://docs.docker.com/reference/compose-file/services/#configs
   */
  readonly configs?: ConfigMountOptions[];
  /**
   * A pseudo-terminal for the main process (`docker run -t`, compose `tty`).
   * @default false
   */
  readonly tty?: boolean;
  /**
   * Keep stdin open though nothing is attached (`docker run -i`, compose `stdin_open`).
   * @default false
   */
  readonly stdinOpen?: boolean;
  /**
   * The log driver and its options.
   * @default - the engine's default log driver
   * @see https://docs.docker.com/reference/compose-file/services/#logging
   */
  readonly logging?: LoggingOptions;
  /**
   * The platform the image must be: `"linux/amd64"`, `"linux/arm64/v8"` (compose `platform`).
   * @default - the engine's
   * @see https://docs.docker.com/reference/compose-file/services/#platform
   */
  readonly platform?: string;
  /**
   * The OCI runtime the engine runs the container with: `"runc"`, `"runsc"` (compose `runtime`).
   * @default - the engine's default runtime (runc)
   * @see https://docs.docker.com/reference/cli/docker/container/run/#runtime
   */
  readonly runtime?: string;
  /**
   * Files `cdk-docker watch` syncs into the running container, or rebuilds it for, as Compose's
   * `develop.watch`; not part of the container itself (changing it changes nothing that runs).
   * @default - watch applies changes to the container's inputs as any change of the app
   * @see https://docs.docker.com/compose/how-tos/file-watch/
   */
  readonly develop?: DevelopOptions;
}

/**
 * A container: one process tree from an image, with its environment, ports, mounts and
 * networks, kept in the state this construct describes.
 */
export class Container extends StackResource implements IContainer {
  /** True when `x` is a Container, even from another copy of this library. */
  public static isContainer(x: unknown): x is Container {
    return x !== null && typeof x === 'object' && CONTAINER_SYMBOL in x;
  }

  /** A container that exists already and is not managed by this stack (for `volumesFrom`). */
  public static fromName(scope: Construct, id: string, name: string): IContainer {
    class Imported extends Construct implements IContainer {
      public readonly containerName = name;
    }
    const c = new Imported(scope, id);
    const problem = checkName('container', name);
    if (problem) throw new InvalidArgumentError(at(c, problem));
    return c;
  }

  public readonly resourceType = 'container' as const;
  public readonly containerName: string;
  /** The image this container runs. */
  public readonly image: IImage;

  /** The name given in props, if any (a fixed name rules out replicas). */
  private readonly fixedName?: string;
  /** Env file paths as given (resolved and hashed at synth, by the App). */
  private readonly envFiles: string[];
  /** The props that render as they are parsed, checked and normalised once. */
  private readonly settings: ContainerSettings;
  private readonly _env: { [name: string]: string | Secret } = {};
  private readonly _ports: PortMapping[] = [];
  private readonly _mounts: MountEntry[] = [];
  private readonly _networks: NetworkAttachmentOptions[] = [];
  private readonly _volumesFrom: VolumesFromOptions[] = [];
  private readonly _dependsOn: Array<{ container: IContainer; condition: PlanDependencyCondition; restart: boolean }> = [];
  private readonly _labels: { [key: string]: string } = {};
  private readonly _secrets: Array<{ secret: Secret; target: string; mode: number; uid: number; gid: number }> = [];
  private readonly _configs: Array<{ config: Config; target: string; mode: number; uid: number; gid: number }> = [];
  /** The container whose network namespace this one joins, if any. */
  private readonly networkContainer?: IContainer;
  /** develop.watch, checked; paths resolved at synth. */
  private readonly develop?: ReadonlyArray<{ readonly path: string; readonly action: WatchAction; readonly target?: string; readonly ignore: string[] }>;

  constructor(scope: Construct, id: string, props: ContainerProps) {
    super(scope, id);
    Object.defineProperty(this, CONTAINER_SYMBOL, { value: true });
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };

    if (props.image === undefined || props.image === null || props.image === '') fail('image is required: give an Image construct or a reference such as "nginx:1.25"');
    if (typeof props.image === 'string') {
      const stack = Stack.of(this); // its error names this construct already
      try {
        this.image = imageForRef(stack, props.image);
      } catch (e) {
        throw new InvalidArgumentError(at(this, (e as Error).message));
      }
    } else {
      this.image = props.image;
    }

    this.fixedName = props.name;
    this.containerName = props.name ?? defaultName(this);
    const nameProblem = checkName('container', this.containerName);
    if (nameProblem) fail(nameProblem);

    for (const [k, v] of Object.entries(props.env ?? {})) this.addEnv(k, v);
    for (const p of props.ports ?? []) this.addPort(p);
    for (const m of props.mounts ?? []) this.addMount(m);
    for (const n of props.networks ?? []) this.connect(n);
    for (const v of props.volumesFrom ?? []) this.addVolumesFrom(v);
    for (const d of props.dependsOn ?? []) this.addDependency(d);
    checkLabels(this, props.labels);
    Object.assign(this._labels, props.labels ?? {});
    this.envFiles = [...(props.envFiles ?? [])];
    for (const x of props.secrets ?? []) this.addSecret(x);
    for (const x of props.configs ?? []) this.addConfig(x);
    if (props.networkMode !== undefined && typeof props.networkMode === 'object') {
      if (props.networkMode === null || typeof (props.networkMode as IContainer).containerName !== 'string') {
        fail('networkMode must be "bridge", "host", "none" or a Container whose network to share');
      }
      if (props.networkMode === this) fail("networkMode cannot share the container's own network; give another container");
      this.networkContainer = props.networkMode;
    }

    this.settings = this.parseSettings(props);
    this.develop = props.develop !== undefined ? this.parseDevelop(props.develop) : undefined;
    this.node.addValidation({ validate: () => this.validateWhole() });
  }

  /** Sets an environment variable (a Secret stays out of the plan). */
  public addEnv(name: string, value: string | Secret): void {
    if (name === '' || /[=\s]/.test(name) || name.includes('\0')) {
      throw new InvalidArgumentError(at(this, `environment variable name "${name}" must be non-empty without "=" or whitespace`));
    }
    if (typeof value !== 'string' && !Secret.isSecret(value)) {
      throw new InvalidArgumentError(at(this, `environment variable ${name} must be a string or a Secret, got ${typeof value}; convert numbers with String()`));
    }
    this._env[name] = value;
  }

  /** Publishes a port: an object, a container port number or Docker's short syntax. */
  public addPort(port: PortOptions | string | number): void {
    let mappings: PortMapping[];
    try {
      mappings = parsePort(port);
    } catch (e) {
      if (e instanceof PortError) throw new InvalidArgumentError(at(this, e.message));
      throw e;
    }
    this._ports.push(...mappings);
  }

  /** Adds a volume, bind or tmpfs mount. */
  public addMount(mount: ContainerMount): void {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    if (!mount || !['volume', 'bind', 'tmpfs'].includes(mount.type)) {
      fail(`mount type "${(mount as { type?: string } | undefined)?.type}" is not one of "volume", "bind", "tmpfs"`);
    }
    if (typeof mount.target !== 'string' || !mount.target.startsWith('/')) {
      fail(`mount target "${mount.target}" must be an absolute path in the container, such as "/data"`);
    }
    if (this._mounts.some((m) => m.target === mount.target)) fail(`two mounts have the same target ${mount.target}; give each its own path`);
    if (mount.type === 'bind' && (typeof mount.source !== 'string' || mount.source === '')) fail(`bind mount to ${mount.target} needs a host path as source`);
    if (mount.type === 'volume' && (!mount.source || typeof (mount.source as IVolume).volumeName !== 'string')) {
      fail(`volume mount to ${mount.target} needs a Volume (or Volume.fromName) as source`);
    }
    if (mount.type === 'tmpfs' && mount.mode !== undefined && (!Number.isInteger(mount.mode) || mount.mode < 0 || mount.mode > 0o7777)) {
      fail(`tmpfs mode ${mount.mode} must be an octal mode such as 0o1777`);
    }
    switch (mount.type) {
      case 'volume':
        this._mounts.push({ type: 'volume', source: mount.source, target: mount.target, readOnly: mount.readOnly ?? false });
        break;
      case 'bind':
        this._mounts.push({ type: 'bind', source: mount.source, target: mount.target, readOnly: mount.readOnly ?? false });
        break;
      case 'tmpfs': {
        let sizeBytes: number | undefined;
        if (mount.size !== undefined) {
          sizeBytes = this.parse(`tmpfs size for ${mount.target}`, () => Size.of(mount.size!)).toBytes();
          // size=0 would mean "no limit" to the kernel: leave size out for that.
          if (sizeBytes < 1) fail(`tmpfs size for ${mount.target} ${typeof mount.size === 'string' ? `"${mount.size}"` : mount.size.toString()} is less than one byte; give a size such as "64m", or leave size out for the kernel's default`);
        }
        this._mounts.push({ type: 'tmpfs', target: mount.target, sizeBytes, mode: mount.mode });
        break;
      }
    }
  }

  /** Joins a network, optionally with aliases and a static address. */
  public connect(network: INetwork | NetworkAttachmentOptions, options: Omit<NetworkAttachmentOptions, 'network'> = {}): void {
    const att: NetworkAttachmentOptions = 'network' in network && typeof (network as NetworkAttachmentOptions).network === 'object'
      ? (network as NetworkAttachmentOptions)
      : { network: network as INetwork, ...options };
    if (!att.network || typeof att.network.networkName !== 'string') {
      throw new InvalidArgumentError(at(this, 'connect() needs a Network (or Network.fromName)'));
    }
    if (this._networks.some((n) => n.network.networkName === att.network.networkName)) {
      throw new InvalidArgumentError(at(this, `already connected to network ${att.network.networkName}`));
    }
    for (const a of att.aliases ?? []) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(a)) throw new InvalidArgumentError(at(this, `network alias "${a}" must be a DNS name: letters, digits, "_", "." or "-"`));
    }
    if (att.ipv4Address !== undefined && !isIpv4(att.ipv4Address)) {
      throw new InvalidArgumentError(at(this, `ipv4Address "${att.ipv4Address}" is not an IPv4 address`));
    }
    this._networks.push(att);
  }

  /** Mounts the volumes of another container. */
  public addVolumesFrom(source: IContainer | VolumesFromOptions): void {
    const opts: VolumesFromOptions = 'container' in source && typeof (source as VolumesFromOptions).container === 'object'
      ? (source as VolumesFromOptions)
      : { container: source as IContainer };
    if (opts.container === this) throw new InvalidArgumentError(at(this, 'volumesFrom refers to the container itself'));
    this._volumesFrom.push(opts);
  }

  /** Starts this container only once `container` reaches `condition`. */
  public addDependency(dep: IContainer | ContainerDependencyOptions): void {
    const opts: ContainerDependencyOptions = 'container' in dep && typeof (dep as ContainerDependencyOptions).container === 'object'
      ? (dep as ContainerDependencyOptions)
      : { container: dep as IContainer };
    const condition = (opts.condition ?? DependencyCondition.STARTED) as PlanDependencyCondition;
    if (!Object.values(DependencyCondition).includes(condition as DependencyCondition)) {
      throw new InvalidArgumentError(at(this, `dependsOn condition "${condition}" is not one of "started", "healthy", "completed"`));
    }
    if (opts.container === this) throw new InvalidArgumentError(at(this, 'a container cannot depend on itself'));
    if (opts.restart !== undefined && typeof opts.restart !== 'boolean') throw new InvalidArgumentError(at(this, `dependsOn restart ${JSON.stringify(opts.restart)} is not true or false`));
    this._dependsOn.push({ container: opts.container, condition, restart: opts.restart ?? false });
  }

  /** Gives the container a secret as a read-only file (at /run/secrets/<name> unless a target is given). */
  public addSecret(input: Secret | SecretMountOptions): void {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    const opts: SecretMountOptions = Secret.isSecret(input) ? { secret: input } : input;
    if (opts === null || typeof opts !== 'object' || !Secret.isSecret(opts.secret)) return fail('secrets: give a Secret (Secret.fromFile, Secret.fromEnv) or { secret, target }');
    const given = opts.target ?? opts.secret.name;
    const target = given.startsWith('/') ? given : `/run/secrets/${given}`;
    if (!isFileTarget(target)) fail(`secrets: target "${given}" is not a file path: give an absolute path such as "/run/secrets/db_password" or a file name`);
    const file = this.fileOptions(`secret ${target}`, opts);
    this._secrets.push({ secret: opts.secret, target, ...file });
  }

  /** Mounts a configuration file read-only at `target`. */
  public addConfig(opts: ConfigMountOptions): void {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    if (opts === null || typeof opts !== 'object' || !Config.isConfig(opts.config)) return fail('configs: give { config: Config.fromFile(path) or Config.fromString(text), target }');
    if (typeof opts.target !== 'string' || !isFileTarget(opts.target)) {
      fail(`configs: target ${JSON.stringify(opts.target)} must be an absolute file path in the container, such as "/etc/nginx/nginx.conf"`);
    }
    const file = this.fileOptions(`config ${opts.target}`, opts);
    this._configs.push({ config: opts.config, target: opts.target, ...file });
  }

  /** The mode, uid and gid of a secret's or config's file, checked (defaults 0o444, 0, 0). */
  private fileOptions(what: string, o: { mode?: number; uid?: string; gid?: string }): { mode: number; uid: number; gid: number } {
    const mode = o.mode ?? 0o444;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new InvalidArgumentError(at(this, `${what}: mode ${String(o.mode)} must be an octal file mode such as 0o440`));
    }
    try {
      return { mode, uid: parseId(o.uid, `${what}: uid`, MAX_ID), gid: parseId(o.gid, `${what}: gid`, MAX_ID) };
    } catch (e) {
      if (e instanceof OptionError) throw new InvalidArgumentError(at(this, e.message));
      throw e;
    }
  }

  /** Sets a label. */
  public addLabel(key: string, value: string): void {
    checkLabels(this, { [key]: value });
    this._labels[key] = value;
  }

  /** Containers this one depends on (copies). */
  public get dependencies(): ReadonlyArray<{ container: IContainer; condition: PlanDependencyCondition; restart?: boolean }> {
    return this._dependsOn.map((d) => ({ container: d.container, condition: d.condition, ...(d.restart ? { restart: true } : {}) }));
  }

  /** Containers whose volumes this one mounts (copies). */
  public get volumesFromContainers(): IContainer[] {
    return this._volumesFrom.map((v) => v.container);
  }

  /** Published port mappings in canonical form (copies). */
  public get ports(): PortMapping[] {
    return this._ports.map((p) => ({ ...p }));
  }

  /** Number of replicas. */
  public get replicas(): number {
    return this.settings.replicas;
  }

  /** Whether a healthcheck is declared on the construct. */
  public get hasHealthcheck(): boolean {
    return this.settings.healthcheck !== undefined;
  }

  /** Checks the props that need no other construct and parses them, once, into what the plan holds. */
  private parseSettings(p: ContainerProps): ContainerSettings {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    if (p.networkMode !== undefined && typeof p.networkMode !== 'object' && !Object.values(NetworkMode).includes(p.networkMode as NetworkMode)) {
      fail(`networkMode "${p.networkMode}" is not one of "bridge", "host", "none"`);
    }
    if (p.workingDir !== undefined && !p.workingDir.startsWith('/')) fail(`workingDir "${p.workingDir}" must be an absolute path, such as "/app"`);
    if (p.user !== undefined && !/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/.test(p.user)) fail(`user "${p.user}" must be "user", "user:group", "uid" or "uid:gid"`);
    for (const id of p.user?.split(':') ?? []) {
      if (/^\d+$/.test(id) && !(Number(id) <= MAX_ID)) fail(`user "${p.user}": uid or gid ${id} is out of range 0-${MAX_ID}`);
    }
    if (p.hostname !== undefined && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(p.hostname)) {
      fail(`hostname "${p.hostname}" is not a valid host name (letters, digits and "-", dot-separated)`);
    }
    if (p.restart !== undefined && !(p.restart instanceof Restart) && !Object.values(RestartPolicy).includes(p.restart as RestartPolicy)) {
      fail(`restart "${p.restart}" is not one of "no", "always", "unless-stopped", "on-failure"; for a retry limit use Restart.onFailure(3)`);
    }
    const stopSignal = p.stopSignal !== undefined ? normalizeSignal(p.stopSignal) : undefined;
    if (p.stopSignal !== undefined && stopSignal === undefined) fail(`stopSignal "${p.stopSignal}" is not a signal name such as "SIGTERM" or "SIGQUIT"`);
    let stopTimeoutSeconds: number | undefined;
    if (p.stopTimeout !== undefined) {
      stopTimeoutSeconds = this.parse('stopTimeout', () => Duration.of(p.stopTimeout!)).toSeconds();
      if (stopTimeoutSeconds > MAX_STOP_TIMEOUT_SECONDS) {
        fail(`stopTimeout ${quoteDuration(p.stopTimeout)} is longer than the engine can wait, ${MAX_STOP_TIMEOUT_SECONDS}s (24 days); use a shorter timeout such as "30s"`);
      }
    }
    const caps = { capAdd: [] as string[], capDrop: [] as string[] };
    for (const key of ['capAdd', 'capDrop'] as const) {
      for (const c of p[key] ?? []) {
        const name = normalizeCapability(c);
        if (name === undefined) return fail(`${key}: "${c}" is not a Linux capability (see capabilities(7)), such as "NET_ADMIN"`);
        caps[key].push(name);
      }
    }
    let memoryBytes: number | undefined;
    if (p.memory !== undefined) {
      memoryBytes = this.parse('memory', () => Size.of(p.memory!)).toBytes();
      if (memoryBytes < MIN_MEMORY_BYTES) {
        fail(`memory ${typeof p.memory === 'string' ? `"${p.memory}"` : p.memory.toString()} (${memoryBytes} bytes) is below Docker's minimum of 6 MiB; use at least "6m"`);
      }
    }
    if (p.cpus !== undefined && !(typeof p.cpus === 'number' && p.cpus > 0 && Number.isFinite(p.cpus))) fail(`cpus ${p.cpus} must be a positive number, such as 0.5 or 2`);
    if (p.cpus !== undefined && (p.cpus < MIN_CPUS || p.cpus > MAX_CPUS)) {
      fail(`cpus ${p.cpus} is out of range ${MIN_CPUS}-${MAX_CPUS} (a CFS quota of at least 1 ms per 100 ms, on at most Linux's ${MAX_CPUS} CPUs); give the CPUs the container may use, such as 0.5 or 2`);
    }
    if (p.pidsLimit !== undefined && !(Number.isInteger(p.pidsLimit) && p.pidsLimit >= 1)) fail(`pidsLimit ${p.pidsLimit} must be a whole number of at least 1`);
    if (p.pidsLimit !== undefined && p.pidsLimit > MAX_PIDS) fail(`pidsLimit ${p.pidsLimit} is more than the kernel allows, ${MAX_PIDS} (PID_MAX_LIMIT); use a smaller limit, or leave pidsLimit out for no limit`);
    if (p.replicas !== undefined && !(Number.isInteger(p.replicas) && p.replicas >= 0)) fail(`replicas ${p.replicas} must be a whole number of 0 or more`);
    if (p.replicas !== undefined && p.replicas > MAX_REPLICAS) fail(`replicas ${p.replicas} is more than one host can run, ${MAX_REPLICAS} (one process each, PID_MAX_LIMIT); use fewer replicas`);
    const healthcheck = p.healthcheck ? healthcheckToPlan(p.healthcheck, fail) : undefined;
    const deploy = deployToPlan(p.deploy, fail);
    if (deploy?.mode === 'global' && p.replicas !== undefined) fail(`replicas ${p.replicas} cannot be combined with deploy mode "global" (one task on every node); remove replicas or use mode "replicated"`);
    const host = this.parseHostOptions(p);

    return {
      ...host,
      command: this.words('command', p.command),
      entrypoint: this.words('entrypoint', p.entrypoint),
      workingDir: p.workingDir,
      user: p.user,
      hostname: p.hostname,
      publishAllPorts: p.publishAllPorts ?? false,
      networkMode: (typeof p.networkMode === 'object' ? NetworkMode.BRIDGE : (p.networkMode ?? NetworkMode.BRIDGE)) as NetworkMode,
      restart: p.restart instanceof Restart ? p.restart._toPlan() : { policy: (p.restart ?? 'no') as PlanRestartPolicy['policy'], maxRetries: 0 },
      healthcheck,
      stopSignal,
      stopTimeoutSeconds,
      init: p.init ?? false,
      readOnlyRootfs: p.readOnlyRootfs ?? false,
      capAdd: [...new Set(caps.capAdd)].sort(),
      capDrop: [...new Set(caps.capDrop)].sort(),
      privileged: p.privileged ?? false,
      memoryBytes,
      nanoCpus: p.cpus !== undefined ? Math.round(p.cpus * 1e9) : undefined,
      pidsLimit: p.pidsLimit,
      replicas: p.replicas ?? 1,
      deploy,
    };
  }

  /** Checks develop.watch: each rule's path, action, target and ignore patterns. */
  private parseDevelop(d: DevelopOptions): Array<{ path: string; action: WatchAction; target?: string; ignore: string[] }> {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    if (d === null || typeof d !== 'object' || !Array.isArray(d.watch)) return fail('develop must be { watch: [...] }, such as { watch: [{ path: "./src", target: "/app/src", action: "sync" }] }');
    if (d.watch.length === 0) fail('develop.watch is empty; give at least one rule, or leave develop out');
    const actions = Object.values(WatchAction) as string[];
    return d.watch.map((rule, i) => {
      const where = `develop.watch[${i}]`;
      if (rule === null || typeof rule !== 'object') return fail(`${where} must be an object such as { path: "./src", target: "/app/src", action: "sync" }`);
      if (typeof rule.path !== 'string' || rule.path === '') fail(`${where}.path is empty; give the host file or directory to watch, such as "./src"`);
      if (!actions.includes(rule.action)) fail(`${where}.action "${rule.action}" is not one of "sync", "sync+restart", "rebuild"`);
      const action = rule.action as WatchAction;
      if (action === WatchAction.REBUILD) {
        if (rule.target !== undefined) fail(`${where}: action "rebuild" takes no target (it rebuilds the image instead of copying files); remove target or use action "sync"`);
      } else if (typeof rule.target !== 'string' || !rule.target.startsWith('/')) {
        fail(`${where}.target ${rule.target === undefined ? 'is missing' : `"${rule.target}" is not an absolute path`}: action "${action}" copies ${rule.path} to an absolute path in the container, such as "/app"`);
      }
      const ignore = rule.ignore ?? [];
      if (!Array.isArray(ignore) || ignore.some((x) => typeof x !== 'string' || x.trim() === '')) fail(`${where}.ignore must be a list of non-empty .dockerignore patterns, such as ["*.tmp", "node_modules/"]`);
      return { path: rule.path, action, target: rule.target, ignore: ignore.map((x) => x.trim()) };
    });
  }

  /** develop in the plan's terms: paths resolved (each must exist); a rebuild path inside its image's build context. */
  private developToPlan(ctx: SynthContext): Develop | undefined {
    if (this.develop === undefined) return undefined;
    const context = Image.isImage(this.image) ? this.image._buildContext : undefined;
    const watch = this.develop.map((rule, i): DevelopWatchRule => {
      const path = ctx.resolvePath(rule.path);
      ctx.statPath(this, `develop.watch[${i}].path`, path);
      if (rule.action === WatchAction.REBUILD) {
        if (context === undefined) {
          ctx.error(this, `develop.watch[${i}]: action "rebuild" needs an image built by this stack (Image.fromBuild), but its image ${this.image.imageName} is not built here; use action "sync", or build the image`);
        } else {
          const dir = ctx.resolvePath(context);
          if (path !== dir && !path.startsWith(dir.endsWith('/') ? dir : `${dir}/`)) {
            ctx.error(this, `develop.watch[${i}].path ${path} is outside the build context ${dir} of ${this.image.node.path}, so a change there cannot rebuild it; watch a path inside the context`);
          }
        }
      }
      return { path, action: rule.action as DevelopWatchRule['action'], target: rule.target, ignore: [...rule.ignore] };
    });
    return { watch };
  }

  /** The host-side props compose files use (expose … ipc), in canonical form; empty ones left out. */
  private parseHostOptions(p: ContainerProps): HostSettings {
    const fail = (m: string): never => {
      throw new InvalidArgumentError(at(this, m));
    };
    const list = <T>(what: string, v: T[] | undefined): T[] => {
      if (v !== undefined && !Array.isArray(v)) fail(`${what} must be an array`);
      return v ?? [];
    };
    const map = <T>(what: string, v: { readonly [k: string]: T } | undefined): Array<[string, T]> => {
      if (v !== undefined && (v === null || typeof v !== 'object' || Array.isArray(v))) fail(`${what} must be an object of names to values`);
      return Object.entries(v ?? {});
    };
    const nonEmpty = <T>(xs: T[]): T[] | undefined => (xs.length > 0 ? xs : undefined);
    const nonEmptyMap = <T>(m: { [k: string]: T }): { [k: string]: T } | undefined => (Object.keys(m).length > 0 ? m : undefined);
    try {
      const expose = [...new Set(list('expose', p.expose).flatMap(parseExpose))].sort((a, b) => parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b));
      const extraHosts: { [k: string]: string } = {};
      for (const [h, a] of map('extraHosts', p.extraHosts)) extraHosts[h] = checkExtraHost(h, a);
      const sysctls: { [k: string]: string } = {};
      for (const [k, v] of map('sysctls', p.sysctls)) sysctls[k] = checkSysctl(k, v);
      const ulimits: { [k: string]: Ulimit } = {};
      for (const [k, v] of map('ulimits', p.ulimits)) ulimits[k] = parseUlimit(k, v);
      const devices = list('devices', p.devices).map(parseDevice);
      const seen = new Set<string>();
      for (const d of devices) {
        if (seen.has(d.containerPath)) fail(`devices: ${d.containerPath} is given twice; give each container path once`);
        seen.add(d.containerPath);
      }
      let shmSizeBytes: number | undefined;
      if (p.shmSize !== undefined) {
        shmSizeBytes = this.parse('shmSize', () => Size.of(p.shmSize!)).toBytes();
        if (shmSizeBytes < 1) fail(`shmSize ${typeof p.shmSize === 'string' ? `"${p.shmSize}"` : p.shmSize.toString()} is less than one byte; give a size such as "256m", or leave shmSize out for 64 MiB`);
      }
      if (p.pid !== undefined && p.pid !== 'host') fail(`pid "${String(p.pid)}" is not "host"; leave pid out for the container's own PID namespace`);
      if (p.ipc !== undefined && !['host', 'private', 'shareable'].includes(p.ipc)) fail(`ipc "${String(p.ipc)}" is not one of "host", "private", "shareable"`);
      for (const f of ['tty', 'stdinOpen'] as const) {
        if (p[f] !== undefined && typeof p[f] !== 'boolean') fail(`${f} ${JSON.stringify(p[f])} is not true or false`);
      }
      return {
        tty: p.tty ? true : undefined,
        stdinOpen: p.stdinOpen ? true : undefined,
        logging: p.logging !== undefined ? parseLogging(p.logging) : undefined,
        platform: p.platform !== undefined ? parseContainerPlatform(p.platform) : undefined,
        runtime: p.runtime !== undefined ? checkRuntime(p.runtime) : undefined,
        expose: nonEmpty(expose),
        extraHosts: nonEmptyMap(extraHosts),
        dns: nonEmpty(list('dns', p.dns).map(checkDnsServer)),
        dnsSearch: nonEmpty(list('dnsSearch', p.dnsSearch).map(checkDnsSearch)),
        dnsOptions: nonEmpty(list('dnsOptions', p.dnsOptions).map(checkDnsOption)),
        sysctls: nonEmptyMap(sysctls),
        ulimits: nonEmptyMap(ulimits),
        shmSizeBytes,
        devices: nonEmpty(devices),
        pid: p.pid,
        ipc: p.ipc,
      };
    } catch (e) {
      if (e instanceof OptionError) throw new InvalidArgumentError(at(this, e.message));
      throw e;
    }
  }

  /** `command` or `entrypoint`: a list as given, a string split into words as Compose splits it. */
  private words(what: 'command' | 'entrypoint', v: string[] | string | undefined): string[] | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') return [...v];
    let words: string[];
    try {
      words = shellSplit(v, what);
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(at(this, e.message));
      throw e;
    }
    if (words.length === 0 && what === 'command') throw new InvalidArgumentError(at(this, `command ${JSON.stringify(v)} has no words; give the command to run, or leave command out for the image's CMD`));
    return words;
  }

  /** Parses a Duration or Size prop, naming this construct and the prop when it is invalid. */
  private parse<T>(what: string, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof InvalidArgumentError) throw new InvalidArgumentError(at(this, `${what}: ${e.message}`));
      throw e;
    }
  }

  /** Whole-object checks, run at synth after all mutators. */
  private validateWhole(): string[] {
    const errors: string[] = [];
    const mode = this.networkContainer !== undefined ? `container ${this.networkContainer.node.path}` : this.settings.networkMode;
    if (this.networkContainer !== undefined) {
      const s = this.settings;
      const conflicts: Array<[boolean, string]> = [
        [s.hostname !== undefined, 'hostname'],
        [s.dns !== undefined || s.dnsSearch !== undefined || s.dnsOptions !== undefined, 'dns, dnsSearch and dnsOptions'],
        [s.extraHosts !== undefined, 'extraHosts'],
        [s.expose !== undefined, 'expose'],
      ];
      for (const [given, what] of conflicts) {
        if (given) errors.push(`networkMode container ${this.networkContainer.node.path} shares that container's network: ${what} cannot be set here; set it on ${this.networkContainer.node.path}`);
      }
    }
    if (this.settings.networkMode === NetworkMode.HOST && Object.keys(this.settings.sysctls ?? {}).some((k) => k.startsWith('net.'))) {
      errors.push("sysctls net.* cannot be set with networkMode host (they would change the host's network); remove them or use networkMode bridge");
    }
    if (this.settings.ipc === 'host' && Object.keys(this.settings.sysctls ?? {}).some(isIpcSysctl)) {
      errors.push(`sysctls ${IPC_SYSCTLS.slice(0, 2).join(', ')}…, fs.mqueue.* cannot be set with ipc host (they would change the host's); remove them or leave ipc out`);
    }
    const targets = new Map<string, string>();
    const claim = (target: string, what: string): void => {
      const before = targets.get(target);
      if (before !== undefined) errors.push(`${what} and ${before} both go to ${target}; give each its own target`);
      else targets.set(target, what);
    };
    for (const m of this._mounts) claim(m.target, `the ${m.type} mount`);
    for (const x of this._secrets) claim(x.target, `secret ${x.secret.toString()}`);
    for (const x of this._configs) claim(x.target, `config ${x.config.toString()}`);
    if (mode !== NetworkMode.BRIDGE && this._networks.length > 0) {
      errors.push(`networkMode ${mode} cannot be combined with networks; remove networks or use networkMode bridge`);
    }
    if (mode !== NetworkMode.BRIDGE && (this._ports.length > 0 || this.settings.publishAllPorts)) {
      errors.push(`networkMode ${mode} cannot publish ports; remove ports or use networkMode bridge`);
    }
    // On a Swarm (deploy) the name is the service's; its tasks are named by the swarm.
    if (this.fixedName !== undefined && this.replicas > 1 && this.settings.deploy === undefined) {
      errors.push(`a fixed name ("${this.fixedName}") cannot be used with replicas ${this.replicas}; remove name so each replica gets <name>-N`);
    }
    // On a Swarm (deploy), replicas share a published port through the routing mesh.
    if (this.replicas > 1 && this.settings.deploy === undefined) {
      for (const port of this._ports) {
        if (port.hostPort !== 0) {
          errors.push(`host port ${port.hostIp}:${port.hostPort}/${port.protocol} cannot be published by ${this.replicas} replicas; omit hostPort to get a free port per replica`);
        }
      }
    }
    if (this.settings.deploy?.endpointMode === 'dnsrr' && this._ports.some((p) => p.mode !== 'host')) {
      errors.push('deploy endpointMode "dnsrr" cannot publish ports through the routing mesh; give each port mode "host", or use endpointMode "vip"');
    }
    for (const d of this._dependsOn) {
      if (d.condition === 'healthy' && Container.isContainer(d.container) && !d.container.hasHealthcheck) {
        errors.push(`dependsOn ${d.container.node.path} with condition "healthy", but ${d.container.node.path} has no healthcheck; add a healthcheck to it or use condition "started"`);
      }
    }
    // One container port may be published on several host ports (as `-p 8080:80 -p 8081:80`),
    // but one host address and port can be bound only once.
    const published: PortMapping[] = [];
    for (const port of this._ports) {
      if (published.some((q) => portsClash(q, port))) {
        errors.push(`host port ${port.hostIp}:${port.hostPort}/${port.protocol} is published twice by this container; remove one mapping or choose another hostPort`);
      }
      published.push(port);
    }
    return errors;
  }

  /** Its name (one per replica), its host ports, and the containers it starts after. @internal */
  public _claims(): ResourceClaims {
    const names = this.replicas > 1 ? Array.from({ length: this.replicas }, (_, i) => `${this.containerName}-${i + 1}`) : [this.containerName];
    return {
      names: names.map((name) => ({ kind: 'container' as const, name })),
      hostPorts: this.ports,
      startsAfter: [...this._dependsOn.map((d) => d.container), ...this.volumesFromContainers, ...(this.networkContainer ? [this.networkContainer] : [])],
    };
  }

  /** @internal */
  public _toPlan(ctx: SynthContext, refs: PlanRefs): ContainerResource {
    const deps = new Set<string>();
    const ref = (target: IConstruct, what: string): string | undefined => {
      const id = refs.logicalIdOf(this, target, what);
      if (id) deps.add(id);
      return id;
    };

    // An Image of another stack is reported by ref(); anything else that is not an Image here.
    const imageId = Image.isImage(this.image) ? ref(this.image, 'image') : undefined;
    if (!Image.isImage(this.image)) ctx.error(this, 'image must be an Image construct of this stack or a reference string');

    const env: Record<string, string> = {};
    const secretEnv: Record<string, SecretRef> = {};
    for (const [k, v] of Object.entries(this._env)) {
      if (Secret.isSecret(v)) {
        const from = v.source === 'file' ? ctx.resolvePath(v.from) : v.from;
        const hmac = ctx.secretHmac(this, refs.stackName, v) ?? `hmac-sha256:${'0'.repeat(64)}`;
        secretEnv[k] = { source: v.source, from, hmac };
      } else {
        env[k] = v;
      }
    }
    const envFiles = this.envFiles.map((f) => {
      const path = ctx.resolvePath(f);
      return { path, sha256: ctx.hashFile(this, 'env file', path) ?? `sha256:${'0'.repeat(64)}` };
    });

    const mounts: Mount[] = this._mounts.map((m): Mount => {
      switch (m.type) {
        case 'volume':
          ref(m.source, 'volume');
          return { type: 'volume', source: m.source.volumeName, target: m.target, readOnly: m.readOnly };
        case 'bind': {
          const source = ctx.resolvePath(m.source);
          const kind = ctx.statPath(this, `bind mount source for ${m.target}`, source);
          const sha256 = kind === 'file' ? ctx.hashFile(this, 'bind mount source', source) : undefined;
          return { type: 'bind', source, target: m.target, readOnly: m.readOnly, sha256 };
        }
        case 'tmpfs':
          return { ...m };
      }
    });

    // As a Compose service by its service name, a container answers to its construct id on
    // every network it joins (besides its container name).
    const idAlias = this.node.id.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
    const networks: NetworkAttachment[] = this._networks
      .map((n) => {
        ref(n.network, 'network');
        return { network: n.network.networkName, aliases: [...new Set([...(n.aliases ?? []), ...(idAlias ? [idAlias] : [])])].sort(), ipv4Address: n.ipv4Address };
      })
      .sort((a, b) => a.network.localeCompare(b.network));

    const volumesFrom = this._volumesFrom.map((v) => {
      ref(v.container, 'volumesFrom container');
      return { container: v.container.containerName, readOnly: v.readOnly ?? false };
    });

    // A set of conditions: sorted and without repeats, so the order of addDependency() calls
    // does not change the spec (and its hash).
    const dependsOn = new Map<string, ContainerDependency>();
    for (const d of this._dependsOn) {
      const id = ref(d.container, 'dependsOn container');
      if (id) {
        const key = `${id}/${d.condition}`;
        const restart = d.restart || dependsOn.get(key)?.restart === true;
        dependsOn.set(key, { container: id, condition: d.condition, ...(restart ? { restart: true as const } : {}) });
      }
      else if (!StackResource.isStackResource(d.container)) ctx.error(this, `dependsOn ${d.container.node.path} is not managed by a stack; only containers of this stack can be waited for`);
    }

    let networkMode: ContainerSpec['networkMode'] = this.settings.networkMode;
    if (this.networkContainer !== undefined) {
      // A container of this stack by its logical id (it is created first); another one by name.
      if (StackResource.isStackResource(this.networkContainer)) {
        const id = ref(this.networkContainer, 'networkMode container');
        if (id !== undefined) networkMode = { container: id };
      } else {
        networkMode = { containerName: this.networkContainer.containerName };
      }
    }

    const secrets: SecretFile[] = this._secrets
      .map((x): SecretFile => {
        const from = x.secret.source === 'file' ? ctx.resolvePath(x.secret.from) : x.secret.from;
        const hmac = ctx.secretHmac(this, refs.stackName, x.secret) ?? `hmac-sha256:${'0'.repeat(64)}`;
        return { secret: { source: x.secret.source, from, hmac }, target: x.target, mode: x.mode, uid: x.uid, gid: x.gid };
      })
      .sort((a, b) => a.target.localeCompare(b.target));
    const configs: ConfigFile[] = this._configs
      .map((x): ConfigFile => {
        const base = { target: x.target, mode: x.mode, uid: x.uid, gid: x.gid };
        if (x.config.source === 'string') return { source: 'string', content: x.config.text!, sha256: x.config._textHash()!, ...base };
        const file = ctx.resolvePath(x.config.path!);
        const sha256 = ctx.hashFile(this, `config file for ${x.target},`, file);
        return { source: 'file', file, sha256: sha256 ?? `sha256:${'0'.repeat(64)}`, ...base };
      })
      .sort((a, b) => a.target.localeCompare(b.target));

    const settings = this.settings;
    return {
      type: 'container',
      path: refs.pathOf(this),
      name: this.containerName,
      dependsOn: [...deps].sort(),
      spec: {
        ...settings,
        image: imageId ?? 'Missing',
        command: settings.command ? [...settings.command] : undefined,
        entrypoint: settings.entrypoint ? [...settings.entrypoint] : undefined,
        env,
        secretEnv,
        envFiles,
        ports: sortPorts(this._ports),
        mounts,
        volumesFrom,
        networks,
        restart: { ...settings.restart },
        healthcheck: settings.healthcheck ? { ...settings.healthcheck, test: [...settings.healthcheck.test] } : undefined,
        dependsOn: [...dependsOn.keys()].sort().map((k) => dependsOn.get(k)!),
        labels: { ...this._labels },
        capAdd: [...settings.capAdd],
        capDrop: [...settings.capDrop],
        develop: this.developToPlan(ctx),
        networkMode,
        expose: settings.expose ? [...settings.expose] : undefined,
        extraHosts: settings.extraHosts ? { ...settings.extraHosts } : undefined,
        dns: settings.dns ? [...settings.dns] : undefined,
        dnsSearch: settings.dnsSearch ? [...settings.dnsSearch] : undefined,
        dnsOptions: settings.dnsOptions ? [...settings.dnsOptions] : undefined,
        sysctls: settings.sysctls ? { ...settings.sysctls } : undefined,
        ulimits: settings.ulimits ? Object.fromEntries(Object.entries(settings.ulimits).map(([k, v]) => [k, { ...v }])) : undefined,
        devices: settings.devices ? settings.devices.map((d) => ({ ...d })) : undefined,
        secrets: secrets.length > 0 ? secrets : undefined,
        configs: configs.length > 0 ? configs : undefined,
        logging: settings.logging ? { driver: settings.logging.driver, options: { ...settings.logging.options } } : undefined,
      },
    };
  }
}

/** The spec fields a container's props give directly, parsed once in the constructor. */
type ContainerSettings = Pick<
  ContainerSpec,
  | 'command' | 'entrypoint' | 'workingDir' | 'user' | 'hostname' | 'publishAllPorts' | 'networkMode' | 'restart' | 'healthcheck'
  | 'stopSignal' | 'stopTimeoutSeconds' | 'init' | 'readOnlyRootfs' | 'capAdd' | 'capDrop' | 'privileged' | 'memoryBytes'
  | 'nanoCpus' | 'pidsLimit' | 'replicas' | 'deploy'
> & HostSettings;

/** The spec fields of the host-side props (see `parseHostOptions`). */
type HostSettings = Pick<
  ContainerSpec,
  | 'expose' | 'extraHosts' | 'dns' | 'dnsSearch' | 'dnsOptions' | 'sysctls' | 'ulimits' | 'shmSizeBytes' | 'devices' | 'pid' | 'ipc'
  | 'tty' | 'stdinOpen' | 'logging' | 'platform' | 'runtime'
>;

/** A checked mount: a tmpfs size in bytes, readOnly decided; volumes and bind paths are resolved at synth. */
type MountEntry =
  | { readonly type: 'volume'; readonly source: IVolume; readonly target: string; readonly readOnly: boolean }
  | { readonly type: 'bind'; readonly source: string; readonly target: string; readonly readOnly: boolean }
  | { readonly type: 'tmpfs'; readonly target: string; readonly sizeBytes?: number; readonly mode?: number };

/** A Duration prop as messages quote it: the user's string in quotes, else the Duration's own form. */
function quoteDuration(d: Duration | string): string {
  return typeof d === 'string' ? `"${d}"` : d.toString();
}

function sortPorts(ports: PortMapping[]): PortMapping[] {
  return [...ports].sort((a, b) => a.containerPort - b.containerPort || compareText(a.protocol, b.protocol) || compareText(a.hostIp, b.hostIp) || a.hostPort - b.hostPort);
}

function healthcheckToPlan(h: HealthcheckOptions, fail: (m: string) => never): PlanHealthcheck {
  let test: string[];
  if (typeof h.test === 'string') {
    if (h.test.trim() === '') fail('healthcheck test is empty; give a command such as "wget -q -O- http://localhost/ || exit 1"');
    test = ['CMD-SHELL', h.test];
  } else if (Array.isArray(h.test) && h.test.length > 0) {
    test = h.test[0] === 'CMD' || h.test[0] === 'CMD-SHELL' ? [...h.test] : ['CMD', ...h.test];
    if (test.length < 2) fail(`healthcheck test ${JSON.stringify(h.test)} has no command after "${test[0]}"`);
    if (test[0] === 'CMD-SHELL' && test.length !== 2) fail('a CMD-SHELL healthcheck takes exactly one script string');
  } else {
    return fail('healthcheck test must be a shell string or a non-empty exec array');
  }
  const retries = h.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 1) fail(`healthcheck retries ${retries} must be a whole number of at least 1`);
  if (retries > MAX_COUNT) fail(`healthcheck retries ${retries} is out of range 1-${MAX_COUNT}; use a smaller count such as 3`);
  const ms = (d: Duration | string | undefined, dflt: number, what: string, min: number): number => {
    let v = dflt;
    try {
      if (d !== undefined) v = Duration.of(d).toMilliseconds();
    } catch (e) {
      if (!(e instanceof InvalidArgumentError)) throw e;
      fail(`healthcheck ${what}: ${e.message}`);
    }
    if (v < min) fail(`healthcheck ${what} ${Duration.millis(v).toString()} is too short; use at least ${Duration.millis(min).toString()}`);
    if (v > MAX_TIMER_MS) fail(`healthcheck ${what} ${quoteDuration(d!)} is longer than the engine can wait, ${Duration.millis(MAX_TIMER_MS).toString()} (24 days); use a shorter one such as "30s"`);
    return v;
  };
  return {
    test,
    intervalMs: ms(h.interval, 30_000, 'interval', MIN_HEALTH_MS),
    timeoutMs: ms(h.timeout, 30_000, 'timeout', MIN_HEALTH_MS),
    retries,
    startPeriodMs: ms(h.startPeriod, 0, 'startPeriod', 0),
  };
}

/** A restart policy. */
export class Restart {
  /** Never restart (the default). */
  public static readonly NO = new Restart('no', 0);
  /** Always restart, also after the engine restarts (unless removed). */
  public static readonly ALWAYS = new Restart('always', 0);
  /** Like ALWAYS, but not after the user stopped the container. */
  public static readonly UNLESS_STOPPED = new Restart('unless-stopped', 0);
  /** Restart when the process exits non-zero, at most `maxRetries` times (0 = no limit). */
  public static onFailure(maxRetries = 0): Restart {
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw new InvalidArgumentError(`Restart.onFailure(${maxRetries}): maxRetries must be a whole number of 0 or more`);
    }
    if (maxRetries > MAX_COUNT) throw new InvalidArgumentError(`Restart.onFailure(${maxRetries}): maxRetries is out of range 0-${MAX_COUNT}; use a smaller count, or 0 for no limit`);
    return new Restart('on-failure', maxRetries);
  }

  private constructor(public readonly policy: RestartPolicy | `${RestartPolicy}`, public readonly maxRetries: number) {}

  /** @internal */
  public _toPlan(): PlanRestartPolicy {
    return { policy: this.policy as PlanRestartPolicy['policy'], maxRetries: this.maxRetries };
  }
}

/** Restart policy names. */
export enum RestartPolicy {
  NO = 'no',
  ALWAYS = 'always',
  UNLESS_STOPPED = 'unless-stopped',
  ON_FAILURE = 'on-failure',
}

/** Network modes. */
export enum NetworkMode {
  /** Own network namespace on bridge networks (the default). */
  BRIDGE = 'bridge',
  /** Share the host's network namespace. */
  HOST = 'host',
  /** Loopback only. */
  NONE = 'none',
}

/** What `cdk-docker watch` does with a change under a `develop.watch` path. */
export enum WatchAction {
  /** Copy the changed files into the running container. */
  SYNC = 'sync',
  /** Copy them, then restart the container. */
  SYNC_RESTART = 'sync+restart',
  /** Rebuild the image and replace the container. */
  REBUILD = 'rebuild',
}

/** Conditions a dependency must reach. */
export enum DependencyCondition {
  /** The dependency's process has started. */
  STARTED = 'started',
  /** The dependency's healthcheck passes. */
  HEALTHY = 'healthy',
  /** The dependency ran to completion with exit code 0. */
  COMPLETED = 'completed',
}
