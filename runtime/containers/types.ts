import type { LogDriver } from './logs';
/**
 * Containers of the built-in runtime: the persisted record, its state, and the input of the
 * OCI spec generator.
 *
 * Terms
 * - A container's *record* (`<root>/containers/<id>/config.json`) is what `create` decided:
 *   Docker's Config and HostConfig fields, resolved mounts. It changes only on `rename`.
 * - Its *state* (`<root>/containers/<id>/state.json`) is what happened since: status, pid, exit
 *   code, restarts, health. Both files are written atomically (write + rename) under the
 *   container's lock.
 * - The *bundle* (`<runRoot>/containers/<id>/`) holds the OCI `config.json` runc reads, the
 *   merged overlay root and conmon's pid/exit files; a reboot clears it and `start` remakes it.
 */

/** Docker's container states. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export type RestartPolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export interface HealthcheckConfig {
  /** `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`, as Docker stores it. */
  readonly Test: string[];
  /** Nanoseconds, as Docker stores them; 0 = the default (30 s, 30 s, 0 s, 3). */
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly Retries?: number;
}

/** A mount as the container sees it (Docker's `Mounts` entries in inspect). */
export interface MountPoint {
  readonly Type: 'volume' | 'bind' | 'tmpfs';
  /** Volume name (volumes only). */
  readonly Name?: string;
  /** Host path (for a volume: its `_data` directory; empty for tmpfs). */
  readonly Source: string;
  /** Path in the container. */
  readonly Destination: string;
  readonly RW: boolean;
  /** Extra mount options (`nosuid`, `size=64m`, `mode=1777`, bind propagation …). */
  readonly Options?: string[];
  /** Anonymous volumes (from the image's VOLUME or `-v /path`) go with `rm -v`. */
  readonly Anonymous?: boolean;
}

/** Docker's Config, the fields this runtime keeps. */
export interface ContainerConfigRecord {
  readonly Hostname: string;
  readonly User: string;
  readonly Env: string[];
  readonly Cmd: string[] | null;
  readonly Entrypoint: string[] | null;
  readonly WorkingDir: string;
  readonly Labels: { readonly [k: string]: string };
  readonly StopSignal: string;
  /** Seconds; undefined = 10. */
  readonly StopTimeout?: number;
  readonly Healthcheck?: HealthcheckConfig;
  readonly Tty: boolean;
  readonly OpenStdin: boolean;
  /** Docker's StdinOnce: stdin closes when an attached client's input ends; absent on records made before it: false. */
  readonly StdinOnce?: boolean;
  /** The image as the user named it. */
  readonly Image: string;
  readonly Volumes: { readonly [path: string]: object } | null;
  readonly ExposedPorts: { readonly [portProto: string]: object } | null;
}

/** Docker's HostConfig, the fields this runtime keeps. */
export interface HostConfigRecord {
  readonly Binds: string[];
  readonly Tmpfs: { readonly [path: string]: string };
  readonly VolumesFrom: string[];
  readonly RestartPolicy: { readonly Name: RestartPolicyName; readonly MaximumRetryCount: number };
  readonly AutoRemove: boolean;
  readonly Init: boolean;
  readonly ReadonlyRootfs: boolean;
  readonly CapAdd: string[];
  readonly CapDrop: string[];
  readonly Privileged: boolean;
  readonly SecurityOpt: string[];
  /** Bytes; 0 = unlimited. */
  readonly Memory: number;
  /** CPUs × 1e9; 0 = unlimited. */
  readonly NanoCpus: number;
  /** 0 or undefined = unlimited. */
  readonly PidsLimit?: number;
  /** `none`, `host`, `bridge` (the default network), a network name, or `container:<id>`. */
  readonly NetworkMode: string;
  /** Published ports, Docker's form: `{"80/tcp": [{HostIp: "", HostPort: "8080"}]}` (HostPort "" = a free one). */
  readonly PortBindings?: { readonly [portProto: string]: PortBinding[] };
  /** `-P`: every exposed port on a free host port. */
  readonly PublishAllPorts?: boolean;
  /** `--add-host NAME:IP` lines for /etc/hosts, as `NAME:IP`. */
  readonly ExtraHosts?: string[];
  /** `--link`s, as Docker shows them: `/NAME:/SELF/ALIAS` (NAME the linked container's name). */
  readonly Links?: string[];
  /** Bytes of /dev/shm; default 64 MiB. */
  readonly ShmSize: number;
  /** `--dns`: name servers for resolv.conf (after the networks' own). */
  readonly Dns?: string[];
  /** `--dns-search`: search domains for resolv.conf. */
  readonly DnsSearch?: string[];
  /** `--dns-option`: resolv.conf options. */
  readonly DnsOptions?: string[];
  /** `--sysctl`: namespaced kernel parameters. */
  readonly Sysctls?: { readonly [key: string]: string };
  /** `--ulimit`: resource limits (Docker's form; -1 = unlimited). */
  readonly Ulimits?: Array<{ readonly Name: string; readonly Soft: number; readonly Hard: number }>;
  /** `--device`: host devices (Docker's form). */
  readonly Devices?: Array<{ readonly PathOnHost: string; readonly PathInContainer: string; readonly CgroupPermissions: string }>;
  /** `--pid`: `host` or empty (its own namespace). */
  readonly PidMode?: string;
  /** `--ipc`: `host`, `private`, `shareable` or empty (the default: private). */
  readonly IpcMode?: string;
  /** conmon truncates the log at this many bytes (`--log-opt max-size`); default 20 MiB. */
  readonly LogMaxSize?: number;
  /** `--log-driver` (see logs.ts LOG_DRIVERS); absent on records made before it: k8s-file. */
  readonly LogDriver?: LogDriver;
}

export interface PortBinding {
  readonly HostIp: string;
  readonly HostPort: string;
}

/** How a container joins one network (`--network-alias`, `--ip`; Docker's EndpointSettings). */
export interface EndpointConfig {
  readonly Aliases: string[];
  readonly IPAMConfig?: { readonly IPv4Address?: string };
}

/** What `create` decided; `<root>/containers/<id>/config.json`. */
export interface ContainerRecord {
  readonly version: 1;
  /** 64 hex characters. */
  readonly Id: string;
  /** Without the leading slash. */
  readonly Name: string;
  readonly Created: string;
  /** The image id (config digest). */
  readonly ImageId: string;
  /** The process: entrypoint + cmd resolved, as Docker's Path + Args. */
  readonly Path: string;
  readonly Args: string[];
  readonly Config: ContainerConfigRecord;
  readonly HostConfig: HostConfigRecord;
  readonly Mounts: MountPoint[];
  /** The networks it joins when it starts, by name (NetworkMode is the first); `connect` adds to them. */
  readonly EndpointsConfig?: { readonly [network: string]: EndpointConfig };
  /**
   * Files given at create (secrets, configs), mounted read-only at each target; the content of
   * the Nth is `<container dir>/files/<N>`, with the mode and owner here.
   */
  readonly Files?: ContainerFileRecord[];
}

/** A file given to a container at create (see `ContainerRecord.Files`). */
export interface ContainerFileRecord {
  readonly Target: string;
  readonly Mode: number;
  readonly Uid: number;
  readonly Gid: number;
}

export interface HealthLogEntry {
  readonly Start: string;
  readonly End: string;
  readonly ExitCode: number;
  readonly Output: string;
}

export interface HealthState {
  readonly Status: 'starting' | 'healthy' | 'unhealthy';
  readonly FailingStreak: number;
  /** The last five results, oldest first. */
  readonly Log: HealthLogEntry[];
}

/** What happened since; `<root>/containers/<id>/state.json`. */
export interface ContainerState {
  readonly Status: ContainerStatus;
  readonly Pid: number;
  readonly ExitCode: number;
  readonly OOMKilled: boolean;
  readonly Error: string;
  readonly StartedAt: string;
  readonly FinishedAt: string;
  readonly RestartCount: number;
  /** Set by `stop`/`kill` from a user: `unless-stopped` and `always` do not restart then. */
  readonly StoppedByUser: boolean;
  readonly Health?: HealthState;
  /** conmon's pid while it monitors the container. */
  readonly MonitorPid?: number;
  /** Pid of the healthcheck scheduler while the container runs. */
  readonly HealthPid?: number;
}

/** A uid/gid pair with supplementary groups, resolved against the image's /etc/passwd and /etc/group. */
export interface ResolvedUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: number[];
  /** HOME from /etc/passwd, for the default HOME env. */
  readonly home?: string;
}

/** A mount in OCI form. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options: string[];
}

/** Everything the OCI spec generator needs; all paths are host paths unless said otherwise. */
export interface SpecInput {
  readonly id: string;
  /** The merged overlay directory (the container's root). */
  readonly rootfs: string;
  readonly readonlyRootfs: boolean;
  /** The process: argv (already entrypoint + cmd, with the init prepended when `init` is set). */
  readonly args: string[];
  readonly env: string[];
  readonly cwd: string;
  readonly user: ResolvedUser;
  readonly hostname: string;
  readonly tty: boolean;
  readonly capAdd: string[];
  readonly capDrop: string[];
  readonly privileged: boolean;
  /** `no-new-privileges` (from `--security-opt no-new-privileges`). */
  readonly noNewPrivileges: boolean;
  /** `--security-opt seccomp=unconfined` turns the default profile off. */
  readonly seccomp: boolean;
  /** Bytes, 0 = unlimited. */
  readonly memory: number;
  /** CPUs × 1e9, 0 = unlimited. */
  readonly nanoCpus: number;
  readonly pidsLimit: number;
  /** runc's cgroupsPath (cgroupfs driver), e.g. `/cdk-docker/<id>`. */
  readonly cgroupsPath: string;
  readonly shmSize: number;
  /** Mounts of volumes, binds, tmpfs, /etc/hosts, /etc/hostname, /etc/resolv.conf, the init binary. */
  readonly mounts: OciMount[];
  /** Path of a network namespace to join; `host` shares the host's; undefined = a new one (loopback only). */
  readonly netns?: string | 'host';
  readonly oomScoreAdj?: number;
  /** `--pid host`: the host's PID namespace. */
  readonly pidHost?: boolean;
  /** `--ipc host`: the host's IPC namespace and /dev/shm. */
  readonly ipcHost?: boolean;
  /** `--sysctl`s, on top of the engine's network defaults. */
  readonly sysctls?: { readonly [key: string]: string };
  /** `--ulimit`s, replacing the engine's defaults of the same name. */
  readonly ulimits?: ReadonlyArray<{ readonly Name: string; readonly Soft: number; readonly Hard: number }>;
  /** `--device`s. */
  readonly devices?: ReadonlyArray<{ readonly PathOnHost: string; readonly PathInContainer: string; readonly CgroupPermissions: string }>;
}
