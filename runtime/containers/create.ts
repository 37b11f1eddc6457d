import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { mergeEnv, readEnvFile } from '../../lib/core/env';
import { signalName } from '../../lib/core/linux';
import { formatPlatform, Platform, platformMatches, requireHostPlatform } from '../../lib/core/platform';
import type { ImageConfig } from '../images/types';
import { DEFAULT_NETWORK } from '../networks/types';
import { ANONYMOUS_LABEL } from '../volumes/types';
import type { ContainerContext } from './context';
import { checkLogDriver, DEFAULT_LOG_SIZE_MAX, LogDriver } from './logs';
import type { MountRequest } from './mounts';
import { joinsNetwork, recordLinks } from './network';
import { restoreIfRebooted } from './restore';
import { ContainerStore } from './store';
import { checkSysctls, rlimitsFor } from './spec';
import type { ContainerRecord, HealthcheckConfig, HostConfigRecord, MountPoint, PortBinding, RestartPolicyName } from './types';
import { writeFileAtomic } from '../util/files';

/**
 * `create`: a container record from Docker's flags and the image's config, with Docker's rules
 * (entrypoint and cmd, env files, restart policy and --rm, network mode, mounts in their order of
 * precedence, anonymous volumes for the image's VOLUMEs, a generated name).
 */

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
  /** `--dns`: name servers (IP addresses). */
  readonly dns?: string[];
  /** `--dns-search`: search domains. */
  readonly dnsSearch?: string[];
  /** `--dns-option`: resolv.conf options. */
  readonly dnsOptions?: string[];
  /** `--sysctl KEY=VALUE`, as a map. */
  readonly sysctls?: { readonly [key: string]: string };
  /** `--ulimit NAME=SOFT[:HARD]`; -1 = unlimited. */
  readonly ulimits?: ReadonlyArray<{ readonly name: string; readonly soft: number; readonly hard: number }>;
  /** `--device HOST[:CONTAINER[:PERMISSIONS]]`. */
  readonly devices?: ReadonlyArray<{ readonly hostPath: string; readonly containerPath: string; readonly permissions: string }>;
  /** `--pid host`. */
  readonly pidMode?: string;
  /** `--ipc host|private|shareable`. */
  readonly ipcMode?: string;
  /** `--expose PORT[/PROTO]`: ports exposed besides the image's (`8080/tcp`). */
  readonly expose?: string[];
  /**
   * Files put into the container, read-only at `target`, with this mode and owner (secrets,
   * configs): written with the container's record, mounted at each start.
   */
  readonly files?: ReadonlyArray<{ readonly target: string; readonly content: Buffer; readonly mode: number; readonly uid: number; readonly gid: number }>;
  /** Log size cap in bytes (`--log-opt max-size`). */
  readonly logMaxSize?: number;
  /** `--log-driver`: k8s-file (default), json-file or none. */
  readonly logDriver?: LogDriver;
}

export async function createContainer(ctx: ContainerContext, opts: CreateOptions): Promise<ContainerRecord> {
  await restoreIfRebooted(ctx);
  const image = ctx.images.resolve(opts.image);
  if (opts.platform) checkPlatform(opts.image, opts.platform, ctx.images.config(image));
  const imageConfig = ctx.images.config(image).config ?? {};
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
  const networkMode = await networkModeFor(ctx, opts);
  const host = hostOptions(opts, networkMode);
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
  return ctx.store.namesLocked(async () => {
    const name = opts.name ?? generateName(ctx);
    ctx.store.checkNameFree(name);
    const links = recordLinks(opts.links ?? [], name, networkMode, (n) => ctx.store.record(ctx.store.resolve(n)));
    const mounts = await resolveMounts(ctx, opts, imageConfig);
    const record: ContainerRecord = {
      version: 1,
      Id: id,
      Name: name,
      Created: new Date().toISOString(),
      ImageId: image.id,
      Path: argv[0],
      Args: argv.slice(1),
      Config: {
        Hostname: opts.hostname ?? (networkMode === 'host' ? fs.readFileSync('/etc/hostname', 'utf8').trim() : networkMode.startsWith('container:') ? ctx.store.record(networkMode.slice(10)).Config.Hostname : id.slice(0, 12)),
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
        ExposedPorts: exposedPorts(imageConfig.ExposedPorts, opts.expose),
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
        ...host,
        LogMaxSize: opts.logMaxSize ?? DEFAULT_LOG_SIZE_MAX,
        LogDriver: checkLogDriver(opts.logDriver ?? 'k8s-file'),
      },
      Mounts: mounts,
      ...(opts.files?.length ? { Files: opts.files.map((f) => ({ Target: f.target, Mode: f.mode, Uid: f.uid, Gid: f.gid })) } : {}),
      EndpointsConfig: joinsNetwork(networkMode)
        ? { [networkMode]: { Aliases: opts.networkAliases ?? [], ...(opts.ipv4Address ? { IPAMConfig: { IPv4Address: opts.ipv4Address } } : {}) } }
        : undefined,
    };
    if (record.HostConfig.Memory > 0 && record.HostConfig.Memory < 6 * 1024 * 1024) {
      throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
    }
    writeFiles(ctx.store.containerDir(id), opts.files ?? []);
    ctx.store.add(record);
    ctx.event('create', record);
    return record;
  });
}

/** `--expose`: the image's exposed ports and these (`8080/tcp`), or null for none. */
function exposedPorts(image: { readonly [k: string]: object } | null | undefined, expose: readonly string[] | undefined): { [k: string]: object } | null {
  const out: { [k: string]: object } = { ...(image ?? {}) };
  for (const e of expose ?? []) {
    const m = /^([1-9]\d{0,4})(?:\/(tcp|udp|sctp))?$/.exec(e);
    if (!m || Number(m[1]) > 65535) throw new InvalidArgumentError(`invalid --expose "${e}": use PORT or PORT/PROTOCOL, such as 8080/tcp`);
    out[`${m[1]}/${m[2] ?? 'tcp'}`] = {};
  }
  return Object.keys(out).length ? out : null;
}

/** The DNS, sysctl, ulimit, device, PID and IPC settings of a new container, checked as Docker checks them. */
function hostOptions(opts: CreateOptions, networkMode: string): Partial<HostConfigRecord> {
  const containerNet = networkMode.startsWith('container:');
  if (containerNet && (opts.dns?.length || opts.dnsSearch?.length || opts.dnsOptions?.length)) throw new ConflictError('conflicting options: dns and the network mode');
  if (containerNet && opts.expose?.length) throw new ConflictError('conflicting options: port exposing and the container type network mode');
  for (const d of opts.dns ?? []) if (!isIP(d)) throw new InvalidArgumentError(`${d} is not an ip address`);
  if (opts.pidMode !== undefined && !['', 'host'].includes(opts.pidMode)) throw new InvalidArgumentError(`--pid: invalid PID mode "${opts.pidMode}": use host`);
  if (opts.ipcMode !== undefined && !['', 'host', 'private', 'shareable'].includes(opts.ipcMode)) throw new InvalidArgumentError(`--ipc: invalid IPC mode "${opts.ipcMode}": use host, private or shareable`);
  const sysctls = { ...(opts.sysctls ?? {}) };
  checkSysctls(sysctls, networkMode === 'host', opts.ipcMode === 'host');
  const ulimits = (opts.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard }));
  rlimitsFor(ulimits, 0); // checks them
  const devices = (opts.devices ?? []).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: d.permissions }));
  for (const d of devices) {
    if (!/^[rwm]{1,3}$/.test(d.CgroupPermissions)) throw new InvalidArgumentError(`invalid device mode: ${d.CgroupPermissions}`);
    let st: fs.Stats;
    try {
      st = fs.statSync(d.PathOnHost);
    } catch {
      throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": no such file or directory`);
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw new InvalidArgumentError(`error gathering device information while adding custom device "${d.PathOnHost}": not a device node`);
  }
  const files = opts.files ?? [];
  const targets = new Set<string>();
  for (const f of files) {
    if (!/^(\/(?!\.\.?(\/|$))[^/\0]+)+$/.test(f.target)) throw new InvalidArgumentError(`invalid file target "${f.target}": it must be an absolute path without "." or ".." segments`);
    if (targets.has(f.target)) throw new InvalidArgumentError(`two files go to ${f.target}`);
    targets.add(f.target);
    if (!(Number.isInteger(f.mode) && f.mode >= 0 && f.mode <= 0o7777)) throw new InvalidArgumentError(`invalid mode ${f.mode} of the file for ${f.target}`);
    if (![f.uid, f.gid].every((x) => Number.isInteger(x) && x >= 0 && x <= 2147483647)) throw new InvalidArgumentError(`invalid owner ${f.uid}:${f.gid} of the file for ${f.target}`);
  }
  return {
    ...(opts.dns?.length ? { Dns: [...opts.dns] } : {}),
    ...(opts.dnsSearch?.length ? { DnsSearch: [...opts.dnsSearch] } : {}),
    ...(opts.dnsOptions?.length ? { DnsOptions: [...opts.dnsOptions] } : {}),
    ...(Object.keys(sysctls).length ? { Sysctls: sysctls } : {}),
    ...(ulimits.length ? { Ulimits: ulimits } : {}),
    ...(devices.length ? { Devices: devices } : {}),
    ...(opts.pidMode ? { PidMode: opts.pidMode } : {}),
    IpcMode: opts.ipcMode || 'private',
  };
}

/** The files of `opts.files`, as `<dir>/files/<N>` with their mode and owner (the dir is root's only). */
function writeFiles(dir: string, files: NonNullable<CreateOptions['files']>): void {
  if (files.length === 0) return;
  const out = path.join(dir, 'files');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.mkdirSync(out, { recursive: true, mode: 0o700 });
  files.forEach((f, i) => {
    const file = path.join(out, String(i));
    writeFileAtomic(file, f.content, 0o600);
    fs.chownSync(file, f.uid, f.gid);
    fs.chmodSync(file, f.mode);
  });
}

/** The network mode of a new container, checked as Docker checks it. */
async function networkModeFor(ctx: ContainerContext, opts: CreateOptions): Promise<string> {
  const mode = !opts.networkMode || opts.networkMode === 'default' ? DEFAULT_NETWORK : opts.networkMode;
  const ports = (opts.ports ?? []).length > 0 || opts.publishAll;
  if (mode.startsWith('container:')) {
    const conflicts = [ports && 'port publishing', opts.hostname && '--hostname', opts.extraHosts?.length && '--add-host', opts.networkAliases?.length && '--network-alias', opts.ipv4Address && '--ip'].filter(Boolean);
    if (conflicts.length) throw new ConflictError(`conflicting options: ${conflicts.join(', ')} and the container network mode (it uses the network of ${mode.slice(10)})`);
    return `container:${ctx.store.resolve(mode.slice(10))}`;
  }
  if (!joinsNetwork(mode)) {
    if (opts.networkAliases?.length) throw new InvalidArgumentError('network-scoped aliases are supported only for containers on user-defined networks');
    if (opts.ipv4Address) throw new InvalidArgumentError('user specified IP address is supported on user defined networks only');
    if (mode === 'none' && ports) throw new ConflictError('conflicting options: port publishing and the network mode none (the container has no network); drop -p/-P or choose a network');
    return mode;
  }
  const network = await ctx.networking.store.get(mode);
  if (network.Name === DEFAULT_NETWORK) {
    if (opts.networkAliases?.length) throw new InvalidArgumentError('network-scoped aliases are supported only for containers on user-defined networks; create one with `runtime network create`');
    if (opts.ipv4Address) throw new InvalidArgumentError('user specified IP address is supported on user defined networks only; create one with `runtime network create --subnet …`');
  }
  return network.Name;
}

/** Volumes, binds and tmpfs of a new container, in Docker's order of precedence. */
async function resolveMounts(ctx: ContainerContext, opts: CreateOptions, imageConfig: ImageConfig['config'] & object): Promise<MountPoint[]> {
  const out = new Map<string, MountPoint>();
  // --volumes-from first: the container's own mounts replace them at the same path.
  for (const spec of opts.volumesFrom ?? []) {
    const [source, mode = ''] = spec.split(':');
    if (mode && !['ro', 'rw'].includes(mode)) throw new InvalidArgumentError(`invalid --volumes-from "${spec}": the mode must be ro or rw`);
    const from = ctx.store.record(ctx.store.resolve(source));
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
      const v = await ctx.volumes.create(m.source, anonymous ? { labels: { [ANONYMOUS_LABEL]: '' } } : {});
      out.set(m.target, { Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: m.target, RW: !m.readOnly, Options: m.options, Anonymous: anonymous });
    }
  }
  // The image's VOLUMEs not covered above become anonymous volumes.
  for (const target of Object.keys(imageConfig.Volumes ?? {})) {
    const dest = path.posix.normalize(target);
    if (out.has(dest)) continue;
    const v = await ctx.volumes.create(undefined, { labels: { [ANONYMOUS_LABEL]: '' } });
    out.set(dest, { Type: 'volume', Name: v.Name, Source: v.Mountpoint, Destination: dest, RW: true, Options: [], Anonymous: true });
  }
  return [...out.values()];
}

function generateName(ctx: ContainerContext): string {
  const adjectives = ['admiring', 'brave', 'clever', 'dreamy', 'eager', 'focused', 'gallant', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'tender', 'upbeat', 'vibrant', 'wizardly', 'youthful', 'zealous'];
  const names = ['almeida', 'babbage', 'curie', 'darwin', 'euclid', 'fermi', 'galois', 'hopper', 'innes', 'jackson', 'kepler', 'lovelace', 'meitner', 'noether', 'ohm', 'pascal', 'ritchie', 'shannon', 'turing', 'volta', 'wilson', 'yalow', 'zuse'];
  const taken = new Set(ctx.store.records().map((r) => r.Name));
  for (let i = 0; ; i++) {
    const n = `${adjectives[Math.floor(Math.random() * adjectives.length)]}_${names[Math.floor(Math.random() * names.length)]}${i > 10 ? i : ''}`;
    if (!taken.has(n)) return n;
  }
}

/** `K` alone takes K from this process's environment, as Docker's `-e K`. */
function expandEnv(e: string): string {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? e : `${e}=${v}`;
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

/** `--platform` of create: Docker's check against the image, then this engine's (the host's platform only). */
function checkPlatform(ref: string, wanted: Platform, image: { readonly os: string; readonly architecture: string; readonly variant?: string }): void {
  const actual = { os: image.os, architecture: image.architecture, variant: image.variant };
  if (!platformMatches(wanted, actual)) {
    throw new ConflictError(`image with reference ${ref} was found but does not match the specified platform: wanted ${formatPlatform(wanted)}, actual: ${formatPlatform(actual)}`);
  }
  requireHostPlatform(wanted);
}
