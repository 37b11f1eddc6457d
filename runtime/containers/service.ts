import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { mergeEnv, readEnvFile } from '../../lib/core/env';
import { signalName, SIGNALS } from '../../lib/core/linux';
import type { RuntimeConfig } from '../config';
import { findHelper } from '../host';
import { recordContainerEvent, recordEvent, recordImageEvent } from '../events';
import { familiarReference, parseReference } from '../../lib/core/reference';
import { formatPlatform, Platform, platformMatches, requireHostPlatform } from '../../lib/core/platform';
import { commitContainer, CommitContainerOptions } from './files';
import type { ImageRecord } from '../images/store';
import { ImageStore } from '../images/store';
import { checkLogDriver, LogDriver, syncJsonLog } from './logs';
import type { ImageConfig } from '../images/types';
import { writeFileAtomic } from '../util/files';
import { anyOf, enumFilter, groupFilters, matchId, matchLabels, matchName } from '../util/filters';
import { VolumeStore } from '../volumes';
import { ANONYMOUS_LABEL } from '../volumes/types';
import { ContainerCreateError, startConmon } from './conmon';
import { ContainerContext } from './context';
import { detachedExecExited, ensureRunning, execEventCommand, execInContainer, ExecOptions, ExecResult } from './exec';
import { MountRequest } from './mounts';
import { isMounted, mountRootfs, unmountAll } from './rootfs';
import { healthArgv, healthTimings, nextHealth, startHealthLoop, stopHealthLoop } from './health';
import { Runc, pidAlive, runcMessage } from './runc';
import { BUILD_LABELS } from '../../lib/core/labels';
import { buildSpec, ensureMtab, hostFacts, limitResources } from './spec';
import { StatsSample, sampleStats } from './stats';
import { ContainerStore } from './store';
import type { ContainerRecord, ContainerState, ContainerStatus, HealthcheckConfig, HealthState, MountPoint, OciMount, PortBinding, RestartPolicyName } from './types';
import { BASE_HOSTS, ContainerNetworking, endpointsConfig, formatPorts, joinsNetwork, joinsNetworks, portsMap, recordLinks, resolvConf } from './network';
import { DEFAULT_NETWORK } from '../networks/types';
import { defaultEnv, resolveUser } from './user';
import { humanDuration } from '../../lib/core/duration';

/** What `create` takes: Docker's flags as values. Unset fields come from the image or Docker's defaults. */
export interface CreateOptions {
  readonly image: string;
  /**
   * `--platform`: the image must be of this platform (Docker's check), and the engine runs only
   * this host's (no emulation). @default the image's
   */
  readonly platform?: Platform;
  readonly name?: string;
  /** Replaces the image's Cmd (when non-empty). */
  readonly cmd?: string[];
  /** Replaces the image's Entrypoint ([] or [""] clears it) and then also drops the image's Cmd. */
  readonly entrypoint?: string[];
  /** `K=V` (or `K` to take it from this process's environment), applied after envFiles. */
  readonly env?: string[];
  /** Files of `K=V` lines (Docker's --env-file). */
  readonly envFiles?: string[];
  readonly workingDir?: string;
  readonly user?: string;
  readonly hostname?: string;
  readonly labels?: { readonly [k: string]: string };
  readonly restart?: { readonly name: RestartPolicyName; readonly maxRetries?: number };
  readonly autoRemove?: boolean;
  readonly init?: boolean;
  readonly readOnly?: boolean;
  readonly capAdd?: string[];
  readonly capDrop?: string[];
  readonly privileged?: boolean;
  readonly securityOpt?: string[];
  /** Bytes. */
  readonly memory?: number;
  readonly nanoCpus?: number;
  readonly pidsLimit?: number;
  readonly stopSignal?: string;
  /** Seconds. */
  readonly stopTimeout?: number;
  readonly mounts?: MountRequest[];
  /** `C[:ro|rw]`. */
  readonly volumesFrom?: string[];
  /** Replaces the image's healthcheck; fields left 0 keep the image's. */
  readonly healthcheck?: Partial<HealthcheckConfig>;
  readonly noHealthcheck?: boolean;
  readonly tty?: boolean;
  readonly openStdin?: boolean;
  /**
   * Close the container's stdin when an attached client's input ends (Docker's StdinOnce, which
   * its client sets for `create -i` and `run -i` without `-d`). Only with `openStdin`.
   */
  readonly stdinOnce?: boolean;
  /**
   * `bridge` (the default network), a network name, `none`, `host` or `container:NAME`.
   * @default "bridge"
   */
  readonly networkMode?: string;
  /** `--network-alias` on the first network. */
  readonly networkAliases?: string[];
  /** `--ip` on the first network. */
  readonly ipv4Address?: string;
  /** `-p`, one mapping per port. */
  readonly ports?: ReadonlyArray<{ readonly hostIp: string; readonly hostPort: number; readonly containerPort: number; readonly protocol: string }>;
  /** `-P`. */
  readonly publishAll?: boolean;
  /** `--add-host NAME:IP`. */
  readonly extraHosts?: string[];
  /** `--link NAME[:ALIAS]` (the alias defaults to the name). */
  readonly links?: ReadonlyArray<{ readonly name: string; readonly alias: string }>;
  readonly shmSize?: number;
  /** Log size cap in bytes (`--log-opt max-size`). */
  readonly logMaxSize?: number;
  /** `--log-driver`: k8s-file (default), json-file or none. */
  readonly logDriver?: LogDriver;
}

/** What `start -a` hooks into (see attach.ts): the moment between create and start. */
export interface StartHooks {
  /** Called once conmon created the container (its attach socket in `bundle` is up), before it starts. */
  readonly beforeStart?: (bundle: string) => Promise<void>;
}

/**
 * Whether the container's stdin closes when an attached client's input ends: Docker's StdinOnce
 * (set by `create -i` and a foreground `run -i`), which the daemon applies only without a terminal.
 */
export function stdinOnce(record: ContainerRecord): boolean {
  return record.Config.OpenStdin && (record.Config.StdinOnce ?? false) && !record.Config.Tty;
}

/** A row of `ps`. */
export interface ContainerSummary {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly command: string;
  readonly created: string;
  readonly status: string;
  readonly state: ContainerState;
  readonly labels: { readonly [k: string]: string };
  /** `0.0.0.0:8080->80/tcp`, as the PORTS column. */
  readonly ports: string;
}

/** `ps --filter`: different keys must all match, values of one key any (label: all). */
export interface ContainerListFilters {
  /** Id prefixes. */
  readonly id?: readonly string[];
  /** Exact names or regular expressions (Docker's matching, with or without the leading "/"). */
  readonly name?: readonly string[];
  /** `KEY` or `KEY=VALUE`; every one must match. */
  readonly label?: readonly string[];
  /** States; any given shows stopped containers too (as `-a`). */
  readonly status?: readonly ContainerStatus[];
  /** Exit codes of containers that ran and stopped; shows stopped containers too. */
  readonly exited?: readonly number[];
  /** Healthcheck states; `none` is a container without a healthcheck. */
  readonly health?: readonly ('starting' | 'healthy' | 'unhealthy' | 'none')[];
}

/** Parses `ps --filter` arguments: `id=`, `name=`, `label=KEY[=VALUE]`, `status=`, `exited=N`, `health=`. */
export function parseContainerListFilters(args: readonly string[]): ContainerListFilters {
  const g = groupFilters(args, ['id', 'name', 'label', 'status', 'exited', 'health'], 'container');
  const exited = g.get('exited')?.map((v) => {
    if (!/^-?\d+$/.test(v.trim())) throw new InvalidArgumentError(`invalid filter 'exited=${v}': use exited=CODE, a whole number`);
    return Number(v);
  });
  return {
    id: g.get('id'),
    name: g.get('name'),
    label: g.get('label'),
    status: enumFilter(g, 'status', ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'] as const),
    exited,
    health: enumFilter(g, 'health', ['starting', 'healthy', 'unhealthy', 'none'] as const),
  };
}

function matchContainer(r: ContainerSummary, f: ContainerListFilters): boolean {
  // Docker's exited filter: containers that ran and are not running now.
  const ran = r.state.StartedAt !== '' && !r.state.StartedAt.startsWith('0001-01-01');
  const exited = ran && r.state.Status !== 'running' && r.state.Status !== 'paused' && r.state.Status !== 'restarting';
  return (
    anyOf(f.id, (x) => matchId(r.id, x)) &&
    anyOf(f.name, (x) => matchName(r.name, x) || matchName(`/${r.name}`, x)) &&
    matchLabels(r.labels, f) &&
    anyOf(f.status, (x) => x === r.state.Status) &&
    (f.exited === undefined || (exited && f.exited.includes(r.state.ExitCode))) &&
    anyOf(f.health, (x) => x === (r.state.Health?.Status ?? 'none'))
  );
}

const LOG_SIZE_MAX = 20 * 1024 * 1024;
const DEFAULT_STOP_TIMEOUT = 10;

/**
 * The containers half of the built-in runtime. No daemon: every method does its work in the
 * calling process and leaves the container to conmon; conmon's exit command (runtime/hook.ts)
 * records the exit and applies the restart policy.
 */
export class ContainerService {
  private readonly ctx: ContainerContext;

  constructor(config: RuntimeConfig) {
    this.ctx = new ContainerContext(config);
  }

  public get store(): ContainerStore {
    return this.ctx.store;
  }

  public get images(): ImageStore {
    return this.ctx.images;
  }

  public get volumes(): VolumeStore {
    return this.ctx.volumes;
  }

  private get config(): RuntimeConfig {
    return this.ctx.config;
  }

  /**
   * Whether a container may hold network state to undo: it joins networks, or its namespace is
   * still mounted (its last network was disconnected while it ran).
   */
  private mayHoldNetwork(record: ContainerRecord): boolean {
    return joinsNetworks(record) || fs.existsSync(path.join(this.config.runRoot, 'netns', record.Id));
  }

  /** Networks of containers (loaded on first use: a container without networks never needs it). */
  public get networking(): ContainerNetworking {
    return this.ctx.networking;
  }

  private get runc(): Runc {
    return this.ctx.runc;
  }

  private exitDir(): string {
    return this.ctx.exitDir();
  }

  private exitFile(id: string): string {
    return this.ctx.exitFile(id);
  }

  private claimExit(id: string, pid = process.pid): void {
    this.ctx.claimExit(id, pid);
  }

  private releaseExit(id: string): void {
    this.ctx.releaseExit(id);
  }

  public logPath(id: string): string {
    return this.ctx.logPath(id);
  }

  /** The log driver of a container (`none` has nothing to read). */
  public logDriver(id: string): LogDriver {
    return this.store.record(id).HostConfig.LogDriver ?? 'k8s-file';
  }

  /** Where Docker's json-file log of a `--log-driver json-file` container is: `<container dir>/<id>-json.log`. */
  public jsonLogPath(id: string): string {
    return this.ctx.jsonLogPath(id);
  }

  /**
   * Brings a json-file container's `<id>-json.log` up to date with conmon's k8s-file log (conmon
   * has no json-file writer): called when the container stops and before `logs` reads.
   */
  public syncJsonLog(id: string): void {
    if (this.store.tryRecord(id)?.HostConfig.LogDriver !== 'json-file') return;
    syncJsonLog(this.logPath(id), this.jsonLogPath(id));
  }

  /**
   * Runs `argv` in a running container (Docker's `exec`, with its exec_create/exec_start/exec_die
   * events): resolves with its exit code once it ended, or once it started with `detach`.
   */
  public exec(nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return execInContainer(this.ctx, nameOrId, argv, opts);
  }

  /**
   * `commit`: a new image from the container (see files.ts commitContainer), with Docker's events:
   * the image's `tag` when a reference is given, then the container's `commit`.
   */
  public commit(nameOrId: string, opts: CommitContainerOptions = {}): Promise<ImageRecord> {
    const record = this.store.record(this.store.resolve(nameOrId));
    const ref = opts.ref !== undefined ? familiarReference(parseReference(opts.ref)) : '';
    return commitContainer(this, nameOrId, opts, (image) => {
      if (ref) recordImageEvent(this.config.root, 'tag', image.id, ref, this.images.config(image).config?.Labels);
      this.ctx.event('commit', record, { comment: opts.message ?? '', imageID: image.id, imageRef: ref });
    });
  }

  /** A client attached to a running container (`attach`): Docker's `attach` event. */
  public noteAttached(nameOrId: string): void {
    this.ctx.event('attach', this.store.record(this.store.resolve(nameOrId)));
  }

  /** A detached exec ended (its conmon's exit command, runtime/hook.ts): records Docker's `exec_die`. */
  public detachedExecExited(id: string, execId: string): void {
    detachedExecExited(this.ctx, id, execId);
  }

  // --- create ---------------------------------------------------------------------------------

  public async create(opts: CreateOptions): Promise<ContainerRecord> {
    await this.restoreIfRebooted();
    const image = this.images.resolve(opts.image);
    if (opts.platform) checkPlatform(opts.image, opts.platform, this.images.config(image));
    const imageConfig = this.images.config(image).config ?? {};
    const entrypoint = opts.entrypoint !== undefined ? opts.entrypoint.filter((a, i) => !(i === 0 && a === '' && opts.entrypoint!.length === 1)) : (imageConfig.Entrypoint ?? []);
    const cmd = opts.cmd && opts.cmd.length > 0 ? opts.cmd : opts.entrypoint !== undefined ? [] : (imageConfig.Cmd ?? []);
    const argv = [...entrypoint, ...cmd];
    if (argv.length === 0) throw new InvalidArgumentError(`No command specified: the image ${opts.image} has no Cmd or Entrypoint; give a command after the image name`);

    const env = mergeEnv(imageConfig.Env ?? [], [...(opts.envFiles ?? []).flatMap((f) => readEnvFile(f)), ...(opts.env ?? []).map(expandEnv)]);
    const restart = opts.restart ?? { name: 'no' };
    if (restart.name !== 'on-failure' && restart.maxRetries) {
      throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy '${restart.name}'; use on-failure:N`);
    }
    if (opts.autoRemove && restart.name !== 'no') throw new ConflictError('Conflicting options: --restart and --rm');
    const stopSignal = opts.stopSignal ?? imageConfig.StopSignal ?? 'SIGTERM';
    signalName(stopSignal);
    const networkMode = await this.networkModeFor(opts);
    let healthcheck: HealthcheckConfig | undefined = imageConfig.Healthcheck as HealthcheckConfig | undefined;
    if (opts.noHealthcheck) healthcheck = { Test: ['NONE'] };
    else if (opts.healthcheck) {
      healthcheck = {
        Test: opts.healthcheck.Test ?? healthcheck?.Test ?? [],
        Interval: opts.healthcheck.Interval || healthcheck?.Interval || 0,
        Timeout: opts.healthcheck.Timeout || healthcheck?.Timeout || 0,
        StartPeriod: opts.healthcheck.StartPeriod || healthcheck?.StartPeriod || 0,
        Retries: opts.healthcheck.Retries || healthcheck?.Retries || 0,
      };
      if (healthcheck.Test.length === 0) throw new InvalidArgumentError('--health-interval and the other health flags need --health-cmd (or an image HEALTHCHECK)');
    }

    const id = ContainerStore.newId();
    return this.store.namesLocked(async () => {
      const name = opts.name ?? this.generateName();
      this.store.checkNameFree(name);
      const links = recordLinks(opts.links ?? [], name, networkMode, (n) => this.store.record(this.store.resolve(n)));
      const mounts = await this.resolveMounts(id, opts, imageConfig);
      const record: ContainerRecord = {
        version: 1,
        Id: id,
        Name: name,
        Created: new Date().toISOString(),
        ImageId: image.id,
        Path: argv[0],
        Args: argv.slice(1),
        Config: {
          Hostname: opts.hostname ?? (networkMode === 'host' ? fs.readFileSync('/etc/hostname', 'utf8').trim() : networkMode.startsWith('container:') ? this.store.record(networkMode.slice(10)).Config.Hostname : id.slice(0, 12)),
          User: opts.user ?? imageConfig.User ?? '',
          Env: env,
          Cmd: cmd.length ? cmd : null,
          Entrypoint: entrypoint.length ? entrypoint : null,
          WorkingDir: opts.workingDir ?? imageConfig.WorkingDir ?? '',
          Labels: { ...(imageConfig.Labels ?? {}), ...(opts.labels ?? {}) },
          StopSignal: stopSignal,
          StopTimeout: opts.stopTimeout,
          Healthcheck: healthcheck,
          Tty: opts.tty ?? false,
          OpenStdin: opts.openStdin ?? false,
          StdinOnce: (opts.openStdin ?? false) && (opts.stdinOnce ?? false),
          Image: opts.image,
          Volumes: imageConfig.Volumes ?? null,
          ExposedPorts: imageConfig.ExposedPorts ?? null,
        },
        HostConfig: {
          Binds: (opts.mounts ?? []).filter((m) => m.type !== 'tmpfs' && m.source !== undefined).map((m) => `${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`),
          Tmpfs: Object.fromEntries((opts.mounts ?? []).filter((m) => m.type === 'tmpfs').map((m) => [m.target, m.options.join(',')])),
          VolumesFrom: opts.volumesFrom ?? [],
          RestartPolicy: { Name: restart.name, MaximumRetryCount: restart.maxRetries ?? 0 },
          AutoRemove: opts.autoRemove ?? false,
          Init: opts.init ?? false,
          ReadonlyRootfs: opts.readOnly ?? false,
          CapAdd: opts.capAdd ?? [],
          CapDrop: opts.capDrop ?? [],
          Privileged: opts.privileged ?? false,
          SecurityOpt: opts.securityOpt ?? [],
          Memory: opts.memory ?? 0,
          NanoCpus: opts.nanoCpus ?? 0,
          PidsLimit: opts.pidsLimit,
          NetworkMode: networkMode,
          PortBindings: portBindings(opts.ports ?? []),
          PublishAllPorts: opts.publishAll ?? false,
          ExtraHosts: opts.extraHosts ?? [],
          ...(links.length ? { Links: links } : {}),
          ShmSize: opts.shmSize ?? 64 * 1024 * 1024,
          LogMaxSize: opts.logMaxSize ?? LOG_SIZE_MAX,
          LogDriver: checkLogDriver(opts.logDriver ?? 'k8s-file'),
        },
        Mounts: mounts,
        EndpointsConfig: joinsNetwork(networkMode)
          ? { [networkMode]: { Aliases: opts.networkAliases ?? [], ...(opts.ipv4Address ? { IPAMConfig: { IPv4Address: opts.ipv4Address } } : {}) } }
          : undefined,
      };
      if (record.HostConfig.Memory > 0 && record.HostConfig.Memory < 6 * 1024 * 1024) {
        throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
      }
      this.store.add(record);
      recordContainerEvent(this.config.root, 'create', record);
      return record;
    });
  }

  /** The network mode of a new container, checked as Docker checks it. */
  private async networkModeFor(opts: CreateOptions): Promise<string> {
    const mode = !opts.networkMode || opts.networkMode === 'default' ? DEFAULT_NETWORK : opts.networkMode;
    const ports = (opts.ports ?? []).length > 0 || opts.publishAll;
    if (mode.startsWith('container:')) {
      const conflicts = [ports && 'port publishing', opts.hostname && '--hostname', opts.extraHosts?.length && '--add-host', opts.networkAliases?.length && '--network-alias', opts.ipv4Address && '--ip'].filter(Boolean);
      if (conflicts.length) throw new ConflictError(`conflicting options: ${conflicts.join(', ')} and the container network mode (it uses the network of ${mode.slice(10)})`);
      return `container:${this.store.resolve(mode.slice(10))}`;
    }
    if (!joinsNetwork(mode)) {
      if (opts.networkAliases?.length) throw new InvalidArgumentError('network-scoped aliases are supported only for containers on user-defined networks');
      if (opts.ipv4Address) throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
      if (mode === 'none' && ports) throw new ConflictError('conflicting options: port publishing and the network mode none (the container has no network); drop -p/-P or choose a network');
      return mode;
    }
    const network = await this.networking.store.get(mode);
    if (network.Name === DEFAULT_NETWORK) {
      if (opts.networkAliases?.length) throw new InvalidArgumentError('network-scoped aliases are supported only for containers on user-defined networks; create one with `runtime network create`');
      if (opts.ipv4Address) throw new InvalidArgumentError('user specified IP address is supported on user defined networks only; create one with `runtime network create --subnet …`');
    }
    return network.Name;
  }

  /** Volumes, binds and tmpfs of a new container, in Docker's order of precedence. */
  private async resolveMounts(id: string, opts: CreateOptions, imageConfig: ImageConfig['config'] & object): Promise<MountPoint[]> {
    const out = new Map<string, MountPoint>();
    // --volumes-from first: the container's own mounts replace them at the same path.
    for (const spec of opts.volumesFrom ?? []) {
      const [source, mode = ''] = spec.split(':');
      if (mode && !['ro', 'rw'].includes(mode)) throw new InvalidArgumentError(`invalid --volumes-from "${spec}": the mode must be ro or rw`);
      const from = this.store.record(this.store.resolve(source));
      for (const m of from.Mounts) {
        if (m.Type === 'tmpfs') continue;
        out.set(m.Destination, { ...m, RW: mode ? mode === 'rw' : m.RW, Anonymous: false });
      }
    }
    for (const m of opts.mounts ?? []) {
      if (m.type === 'bind') {
        if (!fs.existsSync(m.source!)) {
          // Docker creates a missing -v host directory; --mount refuses. We create it for both, as -v does.
          fs.mkdirSync(m.source!, { recursive: true });
        }
        out.set(m.target, { Type: 'bind', Source: m.source!, Destination: m.target, RW: !m.readOnly, Options: m.options });
      } else if (m.type === 'tmpfs') {
        out.set(m.target, { Type: 'tmpfs', Source: '', Destination: m.target, RW: !m.readOnly, Options: m.options });
      } else {
        const anonymous = m.source === undefined;
        const v = await this.volumes.create(m.source, anonymous ? { labels: { [ANONYMOUS_LABEL]: '' } } : {});
        out.set(m.target, { Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: m.target, RW: !m.readOnly, Options: m.options, Anonymous: anonymous });
      }
    }
    // The image's VOLUMEs not covered above become anonymous volumes.
    for (const target of Object.keys(imageConfig.Volumes ?? {})) {
      const dest = path.posix.normalize(target);
      if (out.has(dest)) continue;
      const v = await this.volumes.create(undefined, { labels: { [ANONYMOUS_LABEL]: '' } });
      out.set(dest, { Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: dest, RW: true, Options: [], Anonymous: true });
    }
    void id;
    return [...out.values()];
  }

  private generateName(): string {
    const adjectives = ['admiring', 'brave', 'clever', 'dreamy', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'tender', 'upbeat', 'vibrant', 'wizardly', 'youthful', 'zealous'];
    const names = ['almeida', 'babbage', 'curie', 'darwin', 'euclid', 'fermi', 'galois', 'hopper', 'innes', 'jackson', 'kepler', 'lovelace', 'meitner', 'noether', 'ohm', 'pascal', 'ritchie', 'shannon', 'turing', 'volta', 'wilson', 'yalow', 'zuse'];
    const taken = new Set(this.store.records().map((r) => r.Name));
    for (let i = 0; ; i++) {
      const n = `${adjectives[Math.floor(Math.random() * adjectives.length)]}_${names[Math.floor(Math.random() * names.length)]}${i > 10 ? i : ''}`;
      if (!taken.has(n)) return n;
    }
  }

  // --- start ----------------------------------------------------------------------------------

  /**
   * Starts a created or exited container; resolves once it runs. `attachedBy`: the pid of a
   * process that waits for the exit and records it itself (a foreground `run`, `start -a`), so
   * conmon's exit command only has work to do if that process is gone by then; such a start is
   * attached, as Docker's event log says (`attach` before `start`).
   */
  public async start(nameOrId: string, opts: { attachedBy?: number } & StartHooks = {}): Promise<void> {
    await this.restoreIfRebooted();
    const id = this.store.resolve(nameOrId);
    if (opts.attachedBy !== undefined) this.ctx.event('attach', this.store.record(id));
    await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      if (state.Status === 'running' || state.Status === 'paused') return;
      this.store.patchState(id, { StoppedByUser: false });
      await this.startLocked(id, opts.attachedBy, opts);
    });
  }

  /**
   * conmon's exit command for `id`: record the exit, apply the restart policy, auto-remove —
   * unless a live process claimed the exit (`claimExit`).
   */
  private exitCommand(id: string): string[] {
    const command = this.ctx.hookCommand('exited', id);
    // Claimed when the claimer is alive: its /proc stat exists and its state is not Z (zombie) or X.
    return ['/bin/sh', '-c', `c=$(cat '${this.ctx.exitClaimFile(id)}' 2>/dev/null); s=; [ -n "$c" ] && s=$(cat "/proc/$c/stat" 2>/dev/null); case "\${s##*) }" in ""|Z*|X*) exec "$0" "$@";; esac`, ...command];
  }

  /** Creates the bundle and starts the container under conmon. Call under the container's lock. */
  private async startLocked(id: string, attachedBy?: number, hooks: StartHooks = {}): Promise<void> {
    const record = this.store.record(id);
    const bundle = this.store.bundleDir(id);
    const rootfs = path.join(bundle, 'rootfs');
    fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
    fs.rmSync(this.exitFile(id), { force: true });
    // A restart policy needs the exit command; otherwise an attached CLI records the exit itself.
    if (attachedBy && record.HostConfig.RestartPolicy.Name === 'no') this.claimExit(id, attachedBy);
    else this.releaseExit(id);
    const image = this.images.resolve(record.ImageId);
    const layers = this.images.chainIds(image).map((c) => this.images.layerDiffDir(c));
    await mountRootfs(layers, this.store.containerDir(id), rootfs);
    try {
      const spec = await this.specFor(record, rootfs);
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      await this.runc.delete(id); // a stale runc record from a crash would block create
      let started: { pid: number; conmonPid: number };
      try {
        started = await startConmon({
          id,
          name: record.Name,
          bundle,
          runcBinary: this.runc.binary,
          runcRoot: this.runc.stateDir,
          exitDir: this.exitDir(),
          logPath: this.logPath(id),
          logSizeMax: record.HostConfig.LogMaxSize ?? LOG_SIZE_MAX,
          logDriver: record.HostConfig.LogDriver,
          terminal: record.Config.Tty,
          stdin: record.Config.OpenStdin,
          // Docker's StdinOnce (create -i, run -i without -d): the container's stdin closes when an attached client's input ends.
          leaveStdinOpen: !stdinOnce(record),
          exitCommand: this.exitCommand(id),
          env: this.ctx.childEnv(),
        });
      } catch (e) {
        if (e instanceof ContainerCreateError) {
          this.store.patchState(id, { ExitCode: e.exitCode, Error: e.message });
        }
        throw e;
      }
      await hooks.beforeStart?.(bundle);
      await this.runc.start(id);
      const probe = healthArgv(record.Config.Healthcheck);
      const healthPid = probe ? startHealthLoop(this.ctx.hookCommand('healthcheck', id), started.conmonPid, healthTimings(record.Config.Healthcheck!).interval, this.ctx.childEnv()) : undefined;
      this.store.patchState(id, {
        HealthPid: healthPid,
        Status: 'running',
        Pid: started.pid,
        MonitorPid: started.conmonPid,
        ExitCode: 0,
        Error: '',
        OOMKilled: false,
        StartedAt: new Date().toISOString(),
        FinishedAt: '0001-01-01T00:00:00Z',
        Health: probe ? { Status: 'starting', FailingStreak: 0, Log: [] } : undefined,
      });
      recordContainerEvent(this.config.root, 'start', record);
    } catch (e) {
      await this.runc.delete(id).catch(() => undefined);
      await this.networking.detach(id).catch(() => undefined);
      await unmountAll(rootfs);
      throw e;
    }
  }

  /**
   * Runs a container in the foreground with the caller's terminal (`run -i`/`-t`): runc runs it
   * directly (it allocates the pseudo-TTY for `-t` and proxies it), this process is its monitor,
   * and its output is also written to the container's log. Resolves with the exit code.
   */
  public async runAttached(nameOrId: string, stdin: 'inherit' | 'ignore'): Promise<number> {
    const id = this.store.resolve(nameOrId);
    const record = this.store.record(id);
    const bundle = this.store.bundleDir(id);
    const rootfs = path.join(bundle, 'rootfs');
    const child = await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      if (state.Status === 'running' || state.Status === 'paused') throw new ConflictError(`container ${record.Name} is already running`);
      fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
      fs.rmSync(this.exitFile(id), { force: true });
      const image = this.images.resolve(record.ImageId);
      await mountRootfs(this.images.chainIds(image).map((c) => this.images.layerDiffDir(c)), this.store.containerDir(id), rootfs);
      try {
        fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(await this.specFor(record, rootfs)));
        await this.runc.delete(id);
      } catch (e) {
        await this.networking.detach(id).catch(() => undefined);
        await unmountAll(rootfs);
        throw e;
      }
      const proc = this.runc.spawn(['run', '--bundle', bundle, id], { stdio: [stdin, 'pipe', 'pipe'] });
      this.store.patchState(id, { Status: 'running', Pid: 0, MonitorPid: process.pid, ExitCode: 0, Error: '', OOMKilled: false, StoppedByUser: false, StartedAt: new Date().toISOString(), FinishedAt: '0001-01-01T00:00:00Z' });
      recordContainerEvent(this.config.root, 'start', record);
      return proc;
    });
    const log = fs.openSync(record.HostConfig.LogDriver === 'none' ? '/dev/null' : this.logPath(id), 'a', 0o600);
    const tee = (stream: 'stdout' | 'stderr', to: NodeJS.WriteStream) => (chunk: Buffer) => {
      to.write(chunk);
      const text = chunk.toString('utf8');
      const lines = text.split('\n');
      const last = lines.pop()!;
      const now = new Date().toISOString().replace('Z', '000000+00:00');
      let entry = lines.map((l) => `${now} ${stream} F ${l.replace(/\r$/, '')}\n`).join('');
      if (last) entry += `${now} ${stream} P ${last}\n`;
      fs.writeSync(log, entry);
    };
    child.stdout!.on('data', tee('stdout', process.stdout));
    child.stderr!.on('data', tee('stderr', process.stderr));
    // The container's pid, once runc has started it.
    void this.runc.state(id).then((st) => st && this.store.locked(id, () => this.store.state(id).Status === 'running' && this.store.patchState(id, { Pid: st.pid }))).catch(() => undefined);
    const code = await new Promise<number>((resolve) => child.on('close', (c, signal) => resolve(c ?? (signal ? 128 + (normalizeSignalNumber(signal) ?? 9) : 255))));
    fs.closeSync(log);
    fs.writeFileSync(this.exitFile(id), String(code));
    await this.store.locked(id, () => this.finalizeLocked(id));
    if (record.HostConfig.AutoRemove) await this.removeIfExists(id).catch(() => undefined);
    return code;
  }

  /** The OCI spec of a container about to start (volumes mounted and copied up, files for /etc written). */
  private async specFor(record: ContainerRecord, rootfs: string): Promise<object> {
    const dir = this.store.containerDir(record.Id);
    const user = resolveUser(rootfs, record.Config.User || undefined);
    const mounts: OciMount[] = [];
    const { netns, hosts, resolv, linkEnv } = await this.networkFor(record);
    // /etc/hostname, /etc/hosts and /etc/resolv.conf are the container's own files, as Docker's.
    writeFileAtomic(path.join(dir, 'hostname'), `${record.Config.Hostname}\n`, 0o644);
    writeFileAtomic(path.join(dir, 'hosts'), hosts, 0o644);
    writeFileAtomic(path.join(dir, 'resolv.conf'), resolv, 0o644);
    ensureMtab(rootfs);
    for (const f of ['hostname', 'hosts', 'resolv.conf']) {
      mounts.push({ destination: `/etc/${f}`, type: 'bind', source: path.join(dir, f), options: ['rbind', 'rprivate', record.HostConfig.ReadonlyRootfs ? 'ro' : 'rw'] });
    }
    for (const m of record.Mounts) {
      if (m.Type === 'tmpfs') {
        mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.RW ? ['rw'] : ['ro']), ...(m.Options ?? [])] });
        continue;
      }
      let source = m.Source;
      if (m.Type === 'volume' && m.Name) {
        source = await this.volumes.mount(m.Name);
        if (!(m.Options ?? []).includes('nocopy')) await this.volumes.copyUp(m.Name, path.join(rootfs, m.Destination));
      }
      const propagation = (m.Options ?? []).find((o) => /^r?(private|shared|slave)$/.test(o)) ?? 'rprivate';
      mounts.push({ destination: m.Destination, type: 'bind', source, options: ['rbind', propagation, m.RW ? 'rw' : 'ro'] });
      if (m.Type === 'volume' && m.Name) recordEvent(this.config.root, 'volume', 'mount', m.Name, { container: record.Id, destination: m.Destination, driver: 'local', propagation: propagation === 'rprivate' ? '' : propagation, 'read/write': String(m.RW) });
    }
    let args = [record.Path, ...record.Args];
    if (record.HostConfig.Init) {
      const init = findHelper('catatonit') ?? findHelper('tini-static') ?? findHelper('tini');
      if (!init) throw new CdkDockerError('--init needs catatonit or tini; install one with `apt-get install catatonit`');
      mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: init, options: ['rbind', 'rprivate', 'ro'] });
      args = ['/sbin/docker-init', '--', ...args];
    }
    const security = record.HostConfig.SecurityOpt;
    return buildSpec({
      id: record.Id,
      rootfs,
      readonlyRootfs: record.HostConfig.ReadonlyRootfs,
      args,
      env: defaultEnv(linkEnv.length ? mergeEnv(linkEnv, record.Config.Env) : record.Config.Env, user, record.Config.Hostname, record.Config.Tty),
      cwd: record.Config.WorkingDir || '/',
      user,
      hostname: record.Config.Hostname,
      tty: record.Config.Tty,
      capAdd: record.HostConfig.CapAdd,
      capDrop: record.HostConfig.CapDrop,
      privileged: record.HostConfig.Privileged,
      noNewPrivileges: security.some((s) => /^no-new-privileges(=true|:true)?$/.test(s)),
      seccomp: !security.includes('seccomp=unconfined'),
      memory: record.HostConfig.Memory,
      nanoCpus: record.HostConfig.NanoCpus,
      pidsLimit: record.HostConfig.PidsLimit ?? 0,
      cgroupsPath: cgroupsPath(record.Id),
      shmSize: record.HostConfig.ShmSize,
      mounts,
      netns,
    });
  }

  /**
   * The network namespace a starting container runs in, and its /etc/hosts and resolv.conf:
   * the host's (`host`), another container's (`container:C`, which must be running), a new
   * one with loopback only (`none`), or its own on bridge networks, set up now by netavark.
   */
  private async networkFor(record: ContainerRecord): Promise<{ netns?: string; hosts: string; resolv: string; linkEnv: string[] }> {
    const mode = record.HostConfig.NetworkMode;
    const extra: string[] = [];
    for (const h of record.HostConfig.ExtraHosts ?? []) {
      const i = h.indexOf(':');
      let ip = h.slice(i + 1);
      // Docker's special value: the host, as the default network's gateway.
      if (ip === 'host-gateway') ip = (await this.networking.store.get(DEFAULT_NETWORK)).IPAM.Config[0].Gateway;
      extra.push(`${ip}\t${h.slice(0, i)}`);
    }
    if (mode === 'host') return { netns: 'host', hosts: [fs.readFileSync('/etc/hosts', 'utf8').trimEnd(), ...extra, ''].join('\n'), resolv: resolvConf(), linkEnv: [] };
    if (mode.startsWith('container:')) {
      const other = mode.slice('container:'.length);
      const state = this.store.state(other);
      const name = this.store.tryRecord(other)?.Name ?? other.slice(0, 12);
      if ((state.Status !== 'running' && state.Status !== 'paused') || !pidAlive(state.MonitorPid ?? 0)) {
        throw new ConflictError(`cannot join network of a non running container: ${name}; start ${name} first`);
      }
      const otherRecord = this.store.record(other);
      const netns = joinsNetworks(otherRecord) ? this.networking.netnsPath(other) : `/proc/${state.Pid}/ns/net`;
      const read = (f: string) => fs.readFileSync(path.join(this.store.containerDir(other), f), 'utf8');
      return { netns: otherRecord.HostConfig.NetworkMode === 'host' ? 'host' : netns, hosts: read('hosts'), resolv: read('resolv.conf'), linkEnv: [] };
    }
    if (!joinsNetworks(record)) return { hosts: [BASE_HOSTS, ...extra, ''].join('\n'), resolv: resolvConf(), linkEnv: [] };
    // Links are checked before anything is set up: a linked container that is not running fails the start.
    const links = await this.networking.links(record, (n) => {
      const r = this.store.records().find((c) => c.Name === n);
      return r && { record: r, state: this.store.state(r.Id) };
    });
    const setup = await this.networking.attach(record);
    await this.networking.updateLinkers(record, this.linkersOf(record));
    const own = setup.interfaces[0] ? [`${setup.interfaces[0].ip}\t${record.Config.Hostname}`] : [];
    // Docker's order: --add-host lines, then links, then the container's own address.
    return { netns: this.networking.netnsPath(record.Id), hosts: [BASE_HOSTS, ...extra, ...links.hosts, ...own, ''].join('\n'), resolv: resolvConf(setup.dnsServers), linkEnv: links.env };
  }

  /** A container's own /etc/hosts and resolv.conf, which `network connect`/`disconnect` update. */
  private netFiles(id: string): { hosts: string; resolv: string } {
    return { hosts: path.join(this.store.containerDir(id), 'hosts'), resolv: path.join(this.store.containerDir(id), 'resolv.conf') };
  }

  /** The running containers with a `--link` to `record`, and their /etc/hosts. */
  private linkersOf(record: ContainerRecord): Array<{ record: ContainerRecord; hostsFile: string }> {
    return this.store
      .records()
      .filter((r) => r.Id !== record.Id && (r.HostConfig.Links ?? []).some((l) => l.startsWith(`/${record.Name}:`)))
      .filter((r) => ['running', 'paused'].includes(this.store.state(r.Id).Status))
      .map((r) => ({ record: r, hostsFile: path.join(this.store.containerDir(r.Id), 'hosts') }));
  }

  // --- exit, stop, kill -----------------------------------------------------------------------

  /**
   * Brings the recorded state in line with reality: a container recorded as running whose
   * process is gone (its exit file is written, or its monitor died) is finalized.
   */
  public async refresh(id: string): Promise<ContainerState> {
    const state = this.store.state(id);
    if (state.Status !== 'running' && state.Status !== 'paused') return state;
    const exited = fs.existsSync(this.exitFile(id));
    if (!exited && pidAlive(state.MonitorPid ?? 0)) return state;
    await this.finalizeLocked(id);
    return this.store.state(id);
  }

  /**
   * Records a container's exit and tears down what its run used (runc state, overlay mount),
   * once: whoever comes first (the exit command, `stop`, `wait`, `ps`) does it. Decides whether
   * the restart policy wants it back (Status `restarting`). Call under the container's lock.
   */
  private async finalizeLocked(id: string): Promise<void> {
    const state = this.store.state(id);
    if (state.Status !== 'running' && state.Status !== 'paused') return;
    let exitCode = 255;
    try {
      const text = fs.readFileSync(this.exitFile(id), 'utf8').trim();
      if (/^-?\d+$/.test(text)) exitCode = Number(text);
    } catch {
      // The monitor died without writing it (kill -9, reboot): Docker reports 255 then.
    }
    stopHealthLoop(state.HealthPid);
    this.syncJsonLog(id);
    const oomKilled = readOomKilled(id);
    recordContainerEvent(this.config.root, 'die', this.store.record(id), { exitCode: String(exitCode) });
    await this.runc.delete(id).catch(() => undefined);
    // As Docker, a stopped container holds no address: they go back to the networks.
    if (this.mayHoldNetwork(this.store.record(id))) await this.networking.detach(id).catch(() => undefined);
    await unmountAll(path.join(this.store.bundleDir(id), 'rootfs'));
    const record = this.store.record(id);
    for (const m of record.Mounts) if (m.Type === 'volume' && m.Name) recordEvent(this.config.root, 'volume', 'unmount', m.Name, { container: id, driver: 'local' });
    const startedAt = Date.parse(state.StartedAt);
    const ranMs = Date.now() - (Number.isFinite(startedAt) ? startedAt : Date.now());
    const restart = wantsRestart(record, state, exitCode);
    this.store.writeState(id, {
      ...state,
      Status: restart ? 'restarting' : 'exited',
      Pid: 0,
      ExitCode: exitCode,
      OOMKilled: oomKilled,
      FinishedAt: new Date().toISOString(),
      MonitorPid: undefined,
      HealthPid: undefined,
      // Docker resets the back-off when the container ran for at least 10 s.
      RestartCount: state.RestartCount,
      Health: state.Health ? { ...state.Health, Status: 'unhealthy' } : undefined,
    });
    void ranMs;
  }

  /** Called by conmon's exit command: record the exit, then restart (after the back-off) or remove. */
  public async exited(id: string): Promise<void> {
    if (!this.store.tryRecord(id)) return;
    let delay = 0;
    await this.store.locked(id, async () => {
      // Not finalizeLocked: the exit command of a run that `stop` already recorded can come
      // after a new `start`; refresh leaves a run whose monitor lives and has no exit file alone.
      await this.refresh(id);
      const state = this.store.state(id);
      if (state.Status === 'restarting') delay = backoffMs(state);
    });
    const record = this.store.tryRecord(id);
    if (!record) return;
    if (this.store.state(id).Status !== 'restarting') {
      if (record.HostConfig.AutoRemove) await this.removeIfExists(id).catch(() => undefined);
      return;
    }
    await this.restartWait(id, delay);
    await this.store.locked(id, async () => {
      const state = this.store.state(id);
      // A user may have stopped or removed it meanwhile.
      if (!this.store.tryRecord(id) || state.Status !== 'restarting' || state.StoppedByUser) return;
      this.store.patchState(id, { RestartCount: state.RestartCount + 1 });
      try {
        await this.startLocked(id);
      } catch (e) {
        this.store.patchState(id, { Status: 'exited', Error: (e as Error).message });
      }
    });
  }

  /**
   * Waits out the back-off of a container waiting to restart, or less: as soon as it is not
   * waiting any more (`kill`, `stop`, `rm`, a `start` by hand), so this process — conmon's exit
   * command — and the conmon waiting for it end then, not a minute later. Woken by inotify on the
   * container's directory (its state file is replaced on each change), and every 200 ms.
   */
  private restartWait(id: string, ms: number): Promise<void> {
    const waiting = () => {
      if (!this.store.tryRecord(id)) return false;
      const state = this.store.state(id);
      return state.Status === 'restarting' && !state.StoppedByUser;
    };
    return new Promise((resolve) => {
      let watcher: fs.FSWatcher | undefined;
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        watcher?.close();
        resolve();
      };
      const check = () => {
        if (!waiting()) done();
      };
      const timer = setTimeout(done, ms);
      const poll = setInterval(check, 200);
      try {
        watcher = fs.watch(this.store.containerDir(id), check);
        watcher.on('error', done);
      } catch {
        // Gone already, or no inotify: the poll sees it.
      }
      check();
    });
  }

  /** Sends STOPSIGNAL, waits up to `timeout` seconds, then SIGKILL; resolves once it has exited. */
  public async stop(nameOrId: string, timeout?: number): Promise<void> {
    const id = this.store.resolve(nameOrId);
    await this.store.locked(id, async () => {
      let state = await this.refresh(id);
      if (state.Status === 'restarting') {
        this.store.patchState(id, { Status: 'exited', StoppedByUser: true });
        return;
      }
      this.store.patchState(id, { StoppedByUser: true });
      if (state.Status !== 'running' && state.Status !== 'paused') return;
      const record = this.store.record(id);
      // This process records the exit (an --rm container is left to its exit command, which removes it).
      if (!record.HostConfig.AutoRemove) this.claimExit(id);
      if (state.Status === 'paused') await this.runc.resume(id).catch(() => undefined);
      const seconds = timeout ?? record.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
      if (seconds !== 0) {
        recordContainerEvent(this.config.root, 'kill', record, { signal: String(normalizeSignalNumber(signalName(record.Config.StopSignal)) ?? '') });
        await this.runc.kill(id, signalName(record.Config.StopSignal)).catch(() => undefined);
        if (await this.waitExitFile(id, seconds * 1000)) {
          await this.finalizeLocked(id);
          recordContainerEvent(this.config.root, 'stop', record);
          return;
        }
      }
      recordContainerEvent(this.config.root, 'kill', record, { signal: '9' });
      await this.runc.kill(id, 'SIGKILL', true).catch(() => undefined);
      await this.waitExitFile(id, 10_000);
      state = this.store.state(id);
      await this.finalizeLocked(id);
      recordContainerEvent(this.config.root, 'stop', record);
    });
  }

  /** Sends a signal (default SIGKILL). */
  public async kill(nameOrId: string, signal = 'KILL'): Promise<void> {
    const id = this.store.resolve(nameOrId);
    const sig = signalName(signal);
    await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      // As Docker: a container waiting to restart gets no signal; it stays exited, no more restarts.
      if (state.Status === 'restarting') {
        this.store.patchState(id, { Status: 'exited', StoppedByUser: true });
        return;
      }
      if (state.Status !== 'running' && state.Status !== 'paused') {
        throw new ConflictError(`cannot kill container: ${nameOrId}: container ${id} is not running`);
      }
      if (sig === 'SIGKILL' || sig === signalName(this.store.record(id).Config.StopSignal)) this.store.patchState(id, { StoppedByUser: true });
      if (sig === 'SIGKILL' && !this.store.record(id).HostConfig.AutoRemove) this.claimExit(id);
      recordContainerEvent(this.config.root, 'kill', this.store.record(id), { signal: String(normalizeSignalNumber(sig) ?? sig) });
      await this.runc.kill(id, sig, sig === 'SIGKILL');
      if (sig === 'SIGKILL' && (await this.waitExitFile(id, 10_000))) await this.finalizeLocked(id);
    });
  }

  /** Whether `id`'s exit file appeared within `timeoutMs`. */
  private async waitExitFile(id: string, timeoutMs: number): Promise<boolean> {
    await this.exitOrTimeout(id, timeoutMs);
    return fs.existsSync(this.exitFile(id));
  }

  /**
   * Resolves when conmon writes `id`'s exit file or after `ms`: woken by inotify on the exit
   * directory, or by polling every 50 ms where inotify is not available.
   */
  private exitOrTimeout(id: string, ms: number): Promise<void> {
    const file = this.exitFile(id);
    return new Promise((resolve) => {
      let watcher: fs.FSWatcher | undefined;
      let poll: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        watcher?.close();
        resolve();
      };
      const timer = setTimeout(done, ms);
      try {
        watcher = fs.watch(this.exitDir(), (_event, name) => {
          if (name === id) done();
        });
      } catch {
        poll = setInterval(() => fs.existsSync(file) && done(), 50);
      }
      // Armed first, then checked: an exit written in between is not missed.
      if (fs.existsSync(file)) done();
    });
  }

  /** Waits until the container is not running (nor restarting) and returns its exit code. */
  public async wait(nameOrId: string): Promise<number> {
    const id = this.store.resolve(nameOrId);
    for (;;) {
      if (!this.store.tryRecord(id)) return this.lastExitCodes.get(id) ?? 0;
      let state = this.store.state(id);
      if (state.Status === 'running' || state.Status === 'paused') {
        if (fs.existsSync(this.exitFile(id)) || !pidAlive(state.MonitorPid ?? 0)) {
          state = await this.store.locked(id, () => this.refresh(id));
        }
      }
      if (state.Status === 'exited' || state.Status === 'created' || state.Status === 'dead') return state.ExitCode;
      // The exit file wakes us at once; the timeout notices what other commands did (a restart, an rm).
      await this.exitOrTimeout(id, 100);
    }
  }

  private readonly lastExitCodes = new Map<string, number>();

  public async restart(nameOrId: string, timeout?: number): Promise<void> {
    await this.stop(nameOrId, timeout);
    await this.start(nameOrId);
    recordContainerEvent(this.config.root, 'restart', this.store.record(this.store.resolve(nameOrId)));
  }

  /** Removes a container (`force` stops it first; `volumes` removes its anonymous volumes). */
  public async remove(nameOrId: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    const id = this.store.resolve(nameOrId);
    await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      if (state.Status === 'restarting' && !opts.force) {
        throw new ConflictError(`You cannot remove a restarting container ${id}. Stop the container before attempting removal or force remove`);
      }
      if ((state.Status === 'running' || state.Status === 'paused') && !opts.force) {
        throw new ConflictError(
          `cannot remove container "/${this.store.record(id).Name}": container is ${state.Status}: stop the container before removing or force remove`,
        );
      }
      if (state.Status === 'running' || state.Status === 'paused') {
        this.store.patchState(id, { StoppedByUser: true });
        this.claimExit(id);
        recordContainerEvent(this.config.root, 'kill', this.store.record(id), { signal: '9' });
        await this.runc.kill(id, 'SIGKILL', true).catch(() => undefined);
        await this.waitExitFile(id, 10_000);
        await this.finalizeLocked(id);
      }
      const record = this.store.record(id);
      this.lastExitCodes.set(id, this.store.state(id).ExitCode);
      await this.runc.delete(id).catch(() => undefined);
      if (this.mayHoldNetwork(record)) await this.networking.detach(id).catch(() => undefined);
      await unmountAll(this.store.bundleDir(id));
      await this.store.namesLocked(() => this.store.delete(id));
      recordContainerEvent(this.config.root, 'destroy', record);
      fs.rmSync(this.exitFile(id), { force: true });
      this.releaseExit(id);
      removeCgroups(id);
      if (opts.volumes) {
        for (const m of record.Mounts) {
          if (m.Type === 'volume' && m.Anonymous && m.Name) await this.volumes.remove(m.Name).catch(() => undefined);
        }
      }
    });
  }

  /** `rm -f -v` of an auto-removed container, unless someone (its exit command) removed it first. */
  public async removeIfExists(id: string): Promise<void> {
    if (!this.store.tryRecord(id)) return;
    try {
      await this.remove(id, { force: true, volumes: true });
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }

  public async rename(nameOrId: string, newName: string): Promise<void> {
    const id = this.store.resolve(nameOrId);
    await this.store.namesLocked(() => {
      this.store.checkNameFree(newName, id);
      const before = this.store.record(id);
      this.store.writeRecord({ ...before, Name: newName });
      recordContainerEvent(this.config.root, 'rename', { ...before, Name: newName }, { oldName: `/${before.Name}` });
    });
  }

  /**
   * Docker's `update` (and the labels, which Docker cannot change): rewrites the container's
   * record under its lock. The restart policy counts from the next exit; memory, CPU and pids
   * limits take effect on the next start (a running container keeps the cgroup limits it
   * started with). `labels` replaces all the labels. 0 for a limit means unlimited.
   */
  public async update(
    nameOrId: string,
    change: { restart?: { name: RestartPolicyName; maxRetries?: number }; memory?: number; nanoCpus?: number; pidsLimit?: number; labels?: { readonly [k: string]: string } },
  ): Promise<void> {
    const id = this.store.resolve(nameOrId);
    if (change.restart && change.restart.name !== 'on-failure' && change.restart.maxRetries) {
      throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy '${change.restart.name}'; use on-failure:N`);
    }
    if (change.memory !== undefined && change.memory > 0 && change.memory < 6 * 1024 * 1024) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
    await this.store.locked(id, async () => {
      const record = this.store.record(id);
      if (change.restart && change.restart.name !== 'no' && record.HostConfig.AutoRemove) {
        throw new ConflictError(`Conflicting options: container ${record.Name} is removed when it exits (--rm); it cannot have the restart policy ${change.restart.name}`);
      }
      const h = record.HostConfig;
      const HostConfig = {
        ...h,
        RestartPolicy: change.restart ? { Name: change.restart.name, MaximumRetryCount: change.restart.maxRetries ?? 0 } : h.RestartPolicy,
        Memory: change.memory ?? h.Memory,
        NanoCpus: change.nanoCpus ?? h.NanoCpus,
        PidsLimit: change.pidsLimit === undefined ? h.PidsLimit : change.pidsLimit || undefined,
      };
      const limitsChanged = HostConfig.Memory !== h.Memory || HostConfig.NanoCpus !== h.NanoCpus || (HostConfig.PidsLimit ?? 0) !== (h.PidsLimit ?? 0);
      const status = limitsChanged ? (await this.refresh(id)).Status : undefined;
      if (status === 'running' || status === 'paused') {
        // A running container gets the new limits now, as `docker update` does; the next start
        // builds them from the record anyway.
        const limits = { memory: HostConfig.Memory, nanoCpus: HostConfig.NanoCpus, pidsLimit: HostConfig.PidsLimit ?? 0 };
        try {
          await this.runc.update(id, limitResources(limits, hostFacts(), true));
        } catch (e) {
          throw new ConflictError(`cannot update the limits of running container ${record.Name}: ${(e as Error).message}; stop it, or choose a limit above what it uses now`);
        }
      }
      this.store.writeRecord({ ...record, Config: change.labels ? { ...record.Config, Labels: { ...change.labels } } : record.Config, HostConfig });
    });
  }

  public async pause(nameOrId: string): Promise<void> {
    const id = this.store.resolve(nameOrId);
    await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      if (state.Status === 'paused') throw new ConflictError(`Container ${id} is already paused`);
      if (state.Status !== 'running') throw new ConflictError(`Container ${id} is not running`);
      await this.runc.pause(id);
      this.store.patchState(id, { Status: 'paused' });
      recordContainerEvent(this.config.root, 'pause', this.store.record(id));
    });
  }

  public async unpause(nameOrId: string): Promise<void> {
    const id = this.store.resolve(nameOrId);
    await this.store.locked(id, async () => {
      const state = await this.refresh(id);
      if (state.Status !== 'paused') throw new ConflictError(`Container ${id} is not paused`);
      await this.runc.resume(id);
      this.store.patchState(id, { Status: 'running' });
      recordContainerEvent(this.config.root, 'unpause', this.store.record(id));
    });
  }

  // --- queries --------------------------------------------------------------------------------

  /**
   * `ps`: running and paused containers (all with `all`, or when filtering by status or exit
   * code, as Docker), newest first, matching `filters`.
   */
  public async list(all = false, filters: ContainerListFilters = {}): Promise<ContainerSummary[]> {
    const everyState = all || filters.status !== undefined || filters.exited !== undefined;
    await this.restoreIfRebooted();
    const rows: ContainerSummary[] = [];
    const records = this.store.records();
    // Network records are read only when some container may publish ports.
    const networks = records.some((r) => joinsNetworks(r)) ? await this.networking.store.records() : [];
    const portsOf = (id: string) => networks.flatMap((n) => n.endpoints[id]?.ports ?? []);
    // Each image name resolved once per listing (each lookup reads the image index).
    const resolved = new Map<string, string | undefined>();
    const imageIdOf = (ref: string) => (resolved.has(ref) ? resolved.get(ref) : resolved.set(ref, this.images.tryResolve(ref)?.id).get(ref));
    for (const r of records) {
      // A build's step containers are the builder's own: ps never lists them (as with BuildKit).
      if (r.Config.Labels?.[BUILD_LABELS.step] !== undefined) continue;
      let state = this.store.state(r.Id);
      if ((state.Status === 'running' || state.Status === 'paused') && (fs.existsSync(this.exitFile(r.Id)) || !pidAlive(state.MonitorPid ?? 0))) {
        state = await this.store.locked(r.Id, () => this.refresh(r.Id));
      }
      if (!everyState && state.Status !== 'running' && state.Status !== 'paused' && state.Status !== 'restarting') continue;
      // As Docker: a name that no longer means the container's image (untagged, moved) shows as its id.
      const image = imageIdOf(r.Config.Image) === r.ImageId ? r.Config.Image : r.ImageId.replace(/^sha256:/, '').slice(0, 12);
      const row: ContainerSummary = { id: r.Id, name: r.Name, image, command: [r.Path, ...r.Args].join(' '), created: r.Created, status: statusText(state), state, labels: r.Config.Labels, ports: state.Status === 'running' || state.Status === 'paused' ? formatPorts(r, portsOf(r.Id)) : '' };
      if (matchContainer(row, filters)) rows.push(row);
    }
    return rows.sort((a, b) => b.created.localeCompare(a.created));
  }

  /** Docker's NetworkSettings: an entry per network (address while running), the published ports. */
  private async networkSettings(r: ContainerRecord): Promise<object> {
    const mode = r.HostConfig.NetworkMode;
    const endpoints = joinsNetworks(r) ? await this.networking.endpoints(r.Id) : [];
    const Networks: { [name: string]: object } = {};
    // Docker's EndpointSettings, every field with its type (issue 12: the books read them).
    const endpoint = (e: { IPAMConfig?: unknown; Aliases?: string[] | null; NetworkID: string; EndpointID: string; Gateway: string; IPAddress: string; IPPrefixLen: number; MacAddress: string }) => ({
      IPAMConfig: e.IPAMConfig ?? null, Links: null, Aliases: e.Aliases ?? null, NetworkID: e.NetworkID, EndpointID: e.EndpointID, Gateway: e.Gateway, IPAddress: e.IPAddress, IPPrefixLen: e.IPPrefixLen,
      IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, MacAddress: e.MacAddress, DriverOpts: null,
    });
    if (mode === 'host' || mode === 'none') Networks[mode] = endpoint({ NetworkID: mode, EndpointID: '', IPAddress: '', IPPrefixLen: 0, Gateway: '', MacAddress: '', Aliases: null });
    for (const [name, cfg] of Object.entries(joinsNetworks(r) ? (r.EndpointsConfig ?? {}) : {})) {
      const live = endpoints.find((e) => e.network.Name === name);
      const subnet = live?.network.IPAM.Config[0];
      Networks[name] = endpoint({
        IPAMConfig: cfg.IPAMConfig ?? null,
        Aliases: cfg.Aliases.length ? cfg.Aliases : null,
        NetworkID: live?.network.Id ?? '',
        EndpointID: live?.endpoint.endpointId ?? '',
        Gateway: live ? subnet?.Gateway ?? '' : '',
        IPAddress: live?.endpoint.ip ?? '',
        IPPrefixLen: live && subnet ? Number(subnet.Subnet.split('/')[1]) : 0,
        MacAddress: live?.endpoint.mac ?? '',
      });
    }
    const primary = endpoints.find((e) => e.network.Name === DEFAULT_NETWORK);
    return {
      Ports: portsMap(r, endpoints.flatMap((e) => e.endpoint.ports ?? [])),
      SandboxKey: joinsNetworks(r) && endpoints.length ? this.networking.netnsPath(r.Id) : '',
      // The top-level fields describe the default network, as Docker's.
      EndpointID: primary?.endpoint.endpointId ?? '',
      Gateway: primary ? primary.network.IPAM.Config[0]?.Gateway ?? '' : '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: primary?.endpoint.ip ?? '',
      IPPrefixLen: primary?.network.IPAM.Config[0] ? Number(primary.network.IPAM.Config[0].Subnet.split('/')[1]) : 0,
      IPv6Gateway: '',
      MacAddress: primary?.endpoint.mac ?? '',
      Networks,
    };
  }

  /** `network connect`: joins one more network, at once when running, else from the next start. */
  public async connect(network: string, nameOrId: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    const id = this.store.resolve(nameOrId);
    const net = await this.networking.store.get(network);
    await this.store.locked(id, async () => {
      const record = this.store.record(id);
      if (!joinsNetworks(record)) {
        throw new ConflictError(`container ${record.Name} uses network mode ${record.HostConfig.NetworkMode}: it cannot be connected to another network`);
      }
      if (record.EndpointsConfig?.[net.Name] || record.HostConfig.NetworkMode === net.Name) {
        throw new ConflictError(`endpoint with name ${record.Name} already exists in network ${net.Name}`);
      }
      if (net.Name === DEFAULT_NETWORK && (opts.aliases?.length || opts.ip)) {
        throw new InvalidArgumentError('network-scoped aliases and user specified IP addresses are supported only on user-defined networks');
      }
      const cfg = { Aliases: opts.aliases ?? [], ...(opts.ip ? { IPAMConfig: { IPv4Address: opts.ip } } : {}) };
      const state = await this.refresh(id);
      if (state.Status === 'running' || state.Status === 'paused') await this.networking.connectRunning(record, net.Name, cfg, this.netFiles(id));
      this.store.writeRecord({ ...record, EndpointsConfig: { ...(record.EndpointsConfig ?? {}), [net.Name]: cfg } });
    });
  }

  /** `network disconnect`: leaves a network (the next one becomes the primary, or none). */
  public async disconnect(network: string, nameOrId: string): Promise<void> {
    const id = this.store.resolve(nameOrId);
    const net = await this.networking.store.get(network);
    await this.store.locked(id, async () => {
      const record = this.store.record(id);
      const joined = endpointsConfig(record).map(([name]) => name);
      if (!joined.includes(net.Name)) throw new ConflictError(`container ${record.Name} is not connected to network ${net.Name}`);
      const state = await this.refresh(id);
      if (state.Status === 'running' || state.Status === 'paused') await this.networking.disconnectRunning(record, net.Name, this.netFiles(id));
      const rest = { ...(record.EndpointsConfig ?? {}) };
      delete rest[net.Name];
      const mode = record.HostConfig.NetworkMode === net.Name ? (joined.find((n) => n !== net.Name) ?? 'none') : record.HostConfig.NetworkMode;
      this.store.writeRecord({ ...record, HostConfig: { ...record.HostConfig, NetworkMode: mode }, EndpointsConfig: rest });
    });
  }

  /** `runtime port`: the published ports of a running container (all, or those of `port[/proto]`). */
  public async ports(nameOrId: string): Promise<Array<{ container: string; host: string }>> {
    const id = this.store.resolve(nameOrId);
    const out: Array<{ container: string; host: string }> = [];
    for (const { endpoint } of await this.networking.endpoints(id)) {
      for (const p of endpoint.ports ?? []) {
        for (let i = 0; i < (p.range ?? 1); i++) out.push({ container: `${p.containerPort + i}/${p.protocol}`, host: `${p.hostIp}:${p.hostPort + i}` });
      }
    }
    return out;
  }

  /** Docker-like `inspect` JSON of a container. */
  public async inspect(nameOrId: string): Promise<object> {
    const id = this.store.resolve(nameOrId);
    let state = this.store.state(id);
    if (state.Status === 'running' || state.Status === 'paused') state = await this.store.locked(id, () => this.refresh(id));
    const r = this.store.record(id);
    return {
      Id: r.Id,
      Created: r.Created,
      Path: r.Path,
      Args: r.Args,
      State: {
        Status: state.Status,
        Running: state.Status === 'running' || state.Status === 'paused',
        Paused: state.Status === 'paused',
        Restarting: state.Status === 'restarting',
        OOMKilled: state.OOMKilled,
        Dead: state.Status === 'dead',
        Pid: state.Pid,
        ExitCode: state.ExitCode,
        Error: state.Error,
        StartedAt: state.StartedAt,
        FinishedAt: state.FinishedAt,
        ...(state.Health ? { Health: state.Health } : {}),
      },
      Image: r.ImageId,
      ResolvConfPath: path.join(this.store.containerDir(id), 'resolv.conf'),
      HostnamePath: path.join(this.store.containerDir(id), 'hostname'),
      HostsPath: path.join(this.store.containerDir(id), 'hosts'),
      LogPath: r.HostConfig.LogDriver === 'none' ? '' : r.HostConfig.LogDriver === 'json-file' ? this.jsonLogPath(id) : this.logPath(id),
      Name: `/${r.Name}`,
      RestartCount: state.RestartCount,
      Driver: 'overlay2',
      Platform: 'linux',
      HostConfig: { ...r.HostConfig, Binds: r.HostConfig.Binds?.length ? r.HostConfig.Binds : null, LogConfig: { Type: r.HostConfig.LogDriver ?? 'k8s-file', Config: { 'max-size': String(r.HostConfig.LogMaxSize ?? LOG_SIZE_MAX) } } },
      GraphDriver: { Name: 'overlay2', Data: { UpperDir: path.join(this.store.containerDir(id), 'diff'), WorkDir: path.join(this.store.containerDir(id), 'work'), MergedDir: path.join(this.store.bundleDir(id), 'rootfs') } },
      Mounts: r.Mounts.map((m) => ({ Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination, Mode: m.RW ? '' : 'ro', RW: m.RW, Propagation: m.Type === 'bind' ? 'rprivate' : '', ...(m.Type === 'volume' ? { Driver: 'local' } : {}) })),
      Config: { ...r.Config, Labels: r.Config.Labels },
      NetworkSettings: await this.networkSettings(r),
    };
  }

  // --- reboot ---------------------------------------------------------------------------------

  /**
   * After a reboot the run dir is empty and every container that was running is gone: mark them
   * exited and start again those whose policy says so (`always`; `unless-stopped` unless a user
   * stopped it). Runs once per boot, from whichever command comes first, or from `runtime restore`.
   */
  public async restoreIfRebooted(force = false): Promise<string[]> {
    const marker = path.join(this.config.runRoot, 'boot-id');
    const bootId = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    let seen = '';
    try {
      seen = fs.readFileSync(marker, 'utf8').trim();
    } catch {
      // first command since boot
    }
    if (seen === bootId && !force) return [];
    const restarted: string[] = [];
    for (const r of this.store.records()) {
      const state = this.store.state(r.Id);
      const wasUp = state.Status === 'running' || state.Status === 'paused' || state.Status === 'restarting';
      if (wasUp) {
        await this.store.locked(r.Id, async () => {
          const now = await this.refresh(r.Id);
          if (now.Status === 'running' || now.Status === 'paused') return; // force: still alive
          if (now.Status === 'restarting') this.store.patchState(r.Id, { Status: 'exited' });
        });
      }
      const policy = r.HostConfig.RestartPolicy.Name;
      const after = this.store.state(r.Id);
      if (after.Status === 'exited' && wasUp && (policy === 'always' || (policy === 'unless-stopped' && !after.StoppedByUser))) {
        await this.store.locked(r.Id, () => this.startLocked(r.Id)).then(
          () => restarted.push(r.Name),
          () => undefined,
        );
      }
    }
    fs.mkdirSync(this.config.runRoot, { recursive: true, mode: 0o700 });
    writeFileAtomic(marker, bootId);
    return restarted;
  }

  /**
   * Runs `fn` with the container's merged root filesystem: the live one while it runs, else one
   * mounted for the call (and unmounted after). For cp, diff, export and commit.
   */
  public async withRootfs<T>(nameOrId: string, fn: (rootfs: string, record: ContainerRecord) => Promise<T>): Promise<T> {
    const id = this.store.resolve(nameOrId);
    const record = this.store.record(id);
    const rootfs = path.join(this.store.bundleDir(id), 'rootfs');
    const state = this.store.state(id);
    if ((state.Status === 'running' || state.Status === 'paused') && isMounted(rootfs)) return fn(rootfs, record);
    return this.store.locked(id, async () => {
      const image = this.images.resolve(record.ImageId);
      await mountRootfs(this.images.chainIds(image).map((c) => this.images.layerDiffDir(c)), this.store.containerDir(id), rootfs);
      try {
        return await fn(rootfs, record);
      } finally {
        const now = this.store.state(id);
        if (now.Status !== 'running' && now.Status !== 'paused') await unmountAll(rootfs);
      }
    });
  }

  /** The container's own changes: the overlay upper directory (whiteouts as 0:0 character devices). */
  public upperDir(nameOrId: string): string {
    return path.join(this.store.containerDir(this.store.resolve(nameOrId)), 'diff');
  }

  /**
   * Runs the container's healthcheck once (what the health loop calls, and
   * `runtime healthcheck run`) and records the result; returns the new health.
   */
  public async runHealthcheck(nameOrId: string): Promise<HealthState> {
    const id = this.store.resolve(nameOrId);
    const record = this.store.record(id);
    const argv = healthArgv(record.Config.Healthcheck);
    if (!argv) throw new InvalidArgumentError(`container ${record.Name} has no healthcheck`);
    const state = await this.store.locked(id, () => this.refresh(id));
    if (state.Status !== 'running') throw new ConflictError(`container ${record.Name} is not running`);
    const timings = healthTimings(record.Config.Healthcheck!);
    const start = new Date();
    // Docker runs the probe as an exec, with its events.
    const execId = randomBytes(32).toString('hex');
    this.ctx.event(`exec_create: ${execEventCommand(argv)}`, record, { execID: execId });
    this.ctx.event(`exec_start: ${execEventCommand(argv)}`, record, { execID: execId });
    const result = await new Promise<{ code: number; output: string }>((resolve) => {
      const child = this.runc.spawn(['exec', id, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      const take = (d: Buffer) => {
        if (output.length < 8192) output += d.toString('utf8');
      };
      child.stdout!.on('data', take);
      child.stderr!.on('data', take);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve({ code: -1, output: `Health check exceeded timeout (${timings.timeout / 1000}s)` });
      }, timings.timeout);
      child.on('close', (code) => {
        clearTimeout(timer);
        const failedToStart = /level=error|exec failed/.test(output);
        if (!failedToStart) this.ctx.event('exec_die', record, { execID: execId, exitCode: String(code ?? -1) });
        resolve({ code: code ?? -1, output: failedToStart ? runcMessage(output) : output });
      });
    });
    return this.store.locked(id, () => {
      const now = this.store.state(id);
      if (now.Status !== 'running') return now.Health ?? { Status: 'unhealthy', FailingStreak: 0, Log: [] };
      const inStartPeriod = Date.now() - Date.parse(now.StartedAt) < timings.startPeriod;
      const health = nextHealth(now.Health, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.code, Output: result.output }, inStartPeriod, timings.retries);
      this.store.patchState(id, { Health: health });
      if (health.Status !== now.Health?.Status) recordContainerEvent(this.config.root, `health_status: ${health.Status}`, record);
      return health;
    });
  }

  /** One reading of a container's resource counters; undefined when it is not running. */
  public sampleStats(nameOrId: string): { id: string; name: string; sample?: StatsSample } {
    const id = this.store.resolve(nameOrId);
    const record = this.store.record(id);
    const state = this.store.state(id);
    const running = (state.Status === 'running' || state.Status === 'paused') && pidAlive(state.MonitorPid ?? 0);
    return { id, name: record.Name, sample: running ? sampleStats(cgroupsPath(id), state.Pid, record.HostConfig.NetworkMode === 'host') : undefined };
  }

  /** Pids in the container (host view). */
  public async pids(nameOrId: string): Promise<number[]> {
    const id = this.store.resolve(nameOrId);
    const state = await this.store.locked(id, () => this.refresh(id));
    if (state.Status !== 'running' && state.Status !== 'paused') throw new ConflictError(`container ${id} is not running`);
    return this.runc.pids(id);
  }

  /** The id of a container that can take an exec now (running, not paused), or Docker's refusal. */
  public ensureRunning(nameOrId: string): string {
    return ensureRunning(this.ctx, nameOrId);
  }
}

/** How `exec` runs a command (Docker's exec options); each stream is a stream, 'inherit' (this process's) or none. */
export type ExecRequest = ExecOptions;

// --- helpers ---------------------------------------------------------------------------------

function wantsRestart(record: ContainerRecord, state: ContainerState, exitCode: number): boolean {
  if (state.StoppedByUser) return false;
  const p = record.HostConfig.RestartPolicy;
  switch (p.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (p.MaximumRetryCount === 0 || state.RestartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/** Docker's back-off: 100 ms doubling per restart up to 1 min; reset when the last run lasted 10 s. */
export function backoffMs(state: ContainerState): number {
  const ran = Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
  if (Number.isFinite(ran) && ran >= 10_000) return 100;
  return Math.min(100 * 2 ** state.RestartCount, 60_000);
}

function statusText(state: ContainerState, now = Date.now()): string {
  const since = (iso: string) => humanDuration(now - Date.parse(iso));
  switch (state.Status) {
    case 'running':
      return `Up ${since(state.StartedAt)}${state.Health ? ` (${state.Health.Status === 'starting' ? 'health: starting' : state.Health.Status})` : ''}`;
    case 'paused':
      return `Up ${since(state.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
    case 'exited':
      return `Exited (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
    case 'created':
      return 'Created';
    default:
      return state.Status;
  }
}


/** `--platform` of create: Docker's check against the image, then this engine's (the host's platform only). */
function checkPlatform(ref: string, wanted: Platform, image: { readonly os: string; readonly architecture: string; readonly variant?: string }): void {
  const actual = { os: image.os, architecture: image.architecture, variant: image.variant };
  if (!platformMatches(wanted, actual)) {
    throw new ConflictError(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(wanted)}, actual: ${formatPlatform(actual)}`);
  }
  requireHostPlatform(wanted);
}

/** `K` alone takes K from this process's environment, as Docker's `-e K`. */
function expandEnv(e: string): string {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? e : `${e}=${v}`;
}

function normalizeSignalNumber(signal: string): number | undefined {
  return (SIGNALS as { [k: string]: number })[signal];
}

/** Docker's PortBindings from `-p` mappings. */
function portBindings(ports: NonNullable<CreateOptions['ports']>): { [portProto: string]: PortBinding[] } {
  const out: { [portProto: string]: PortBinding[] } = {};
  for (const p of ports) {
    const key = `${p.containerPort}/${p.protocol}`;
    out[key] = [...(out[key] ?? []), { HostIp: p.hostIp === '0.0.0.0' ? '' : p.hostIp, HostPort: p.hostPort ? String(p.hostPort) : '' }];
  }
  return out;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup (runc's cgroupfs driver, under every controller). */
function cgroupsPath(id: string): string {
  return `/cdk-docker/${id}`;
}

/** Whether the kernel's OOM killer killed a process of the container's cgroup (v1 or v2). */
function readOomKilled(id: string): boolean {
  for (const file of [path.join(CGROUP_ROOT, 'memory', 'cdk-docker', id, 'memory.oom_control'), path.join(CGROUP_ROOT, 'cdk-docker', id, 'memory.events')]) {
    try {
      const m = /oom_kill (\d+)/.exec(fs.readFileSync(file, 'utf8'));
      if (m) return Number(m[1]) > 0;
    } catch {
      // not this hierarchy
    }
  }
  return false;
}

/** Removes the container's cgroup directories runc left (it removes them on delete; a crash may not). */
function removeCgroups(id: string): void {
  let controllers: string[] = [];
  try {
    controllers = fs.readdirSync(CGROUP_ROOT);
  } catch {
    return;
  }
  for (const c of ['', ...controllers]) {
    const dir = path.join(CGROUP_ROOT, c, 'cdk-docker', id);
    try {
      fs.rmdirSync(dir);
    } catch {
      // absent or busy
    }
  }
}

