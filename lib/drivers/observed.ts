/**
 * Observed containers in the plan's terms: what an engine's container record says, turned into
 * `ObservedContainerSpec` for the diff, and an image's config into `ImageDefaults`. Written
 * against Docker's inspect shape (`GET /containers/{id}/json`, an image's `Config`), the shape the
 * built-in runtime's records have too, so every driver reports the same things the same way.
 *
 * What the record says is what `create` decided, after the image's defaults were applied, so
 * - exact: ports (hostIp `0.0.0.0` and hostPort 0 for "any"), publishAllPorts, mounts (the
 *   volumes and binds the container asked for — HostConfig Binds and Mounts — in the order of
 *   its `Mounts`, then its tmpfs mounts; not those of the image's VOLUMEs nor those `volumesFrom`
 *   brought), volumesFrom, networkMode and networks (the primary first; only the engine's default
 *   network and nothing else = `[]`), restart, init, readOnlyRootfs, capAdd/capDrop (no `CAP_`,
 *   upper case, sorted), privileged, memoryBytes, nanoCpus, pidsLimit (absent = unlimited),
 *   stopTimeoutSeconds (absent when not set), labels (without `io.cdk-docker.*`, but with those
 *   the image supplied), extraHosts, dns/dnsSearch/dnsOptions, sysctls, ulimits, devices, pid
 *   (absent unless `host`), ipc and shmSizeBytes (absent when the engine's default), a shared
 *   network as `{ containerName }`: the other container's name where the driver resolves it
 *   (engines record its id), else its id.
 * - everything exposed: `expose` lists the image's ports and the published ones too (Docker's
 *   CLI exposes each), which the diff sets aside. Secret and config files are not observable
 *   (the inputs label carries their digests).
 * - resolved against the image (compare with the plan's value or else ImageDefaults): command
 *   and entrypoint (what runs; `[]` = none; Docker's rule: a plan entrypoint without a command
 *   runs with no command, the image's Cmd is dropped), workingDir and user (absent when empty),
 *   stopSignal (the image's or the engine's default when not set; `SIGTERM` form), healthcheck
 *   (the image's when not set; the engine's default timings filled in for zeros; absent when
 *   none or `NONE`).
 * - approximations: `env` is the container's environment without the entries equal to the
 *   image's (so it also holds values from env files and secrets: compare secrets by HMAC, never
 *   print); `fullEnv` is everything. `hostname` is absent when it is the engine's default (the
 *   short id, or the host's name with `host` networking). A bind mount's `sha256` is not
 *   observable (the spec hash label carries it).
 */

import type { ContainerSpec, Healthcheck, Mount, NetworkAttachment, PortMapping, Protocol, RestartPolicyName } from '../plan/types';
import { Size } from '../constructs/size';
import { InvalidArgumentError } from '../core/errors';
import { ownLabels } from '../core/labels';
import { normalizeSignal } from '../core/linux';
import type { EngineDefaults, ImageDefaults, InPlaceField, ObservedContainerSpec, ObservedNetwork, ObservedVolume } from './types';
import { compareText } from '../core/canonical';

/** Every volume a container has mounted, anonymous ones included (Docker's `Mounts` of type volume). */
export function volumeMountsOf(c: Pick<ContainerInspectShape, 'Mounts'>): Array<{ name: string; target: string; readOnly: boolean }> {
  return (c.Mounts ?? []).filter((m) => m.Type === 'volume' && m.Name).map((m) => ({ name: m.Name!, target: m.Destination, readOnly: m.RW === false }));
}

/** Docker's healthcheck settings (durations in nanoseconds, 0 = the engine's default). */
export interface HealthConfigShape {
  readonly Test?: readonly string[] | null;
  readonly Interval?: number;
  readonly Timeout?: number;
  readonly StartPeriod?: number;
  readonly Retries?: number;
}

/** An image's `Config` (Docker's image inspect, the OCI image config's `config`): what it supplies. */
export interface ImageConfigShape {
  readonly Cmd?: readonly string[] | null;
  readonly Entrypoint?: readonly string[] | null;
  readonly Env?: readonly string[] | null;
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly StopSignal?: string;
  readonly ExposedPorts?: { readonly [portProto: string]: object } | null;
  readonly Healthcheck?: HealthConfigShape | null;
  readonly Labels?: { readonly [k: string]: string } | null;
}

/** One endpoint of `NetworkSettings.Networks` (Docker's EndpointSettings). */
export interface EndpointShape {
  readonly Aliases?: readonly string[] | null;
  readonly IPAMConfig?: { readonly IPv4Address?: string } | null;
}

/** The fields of Docker's container inspect that the normalisation reads. */
export interface ContainerInspectShape {
  readonly Id: string;
  readonly Config: {
    /** The image as it was named when the container was made. */
    readonly Image?: string;
    readonly Hostname?: string;
    readonly User?: string;
    readonly Env?: readonly string[] | null;
    readonly Cmd?: readonly string[] | null;
    readonly Entrypoint?: readonly string[] | null;
    readonly WorkingDir?: string;
    readonly Labels?: { readonly [k: string]: string } | null;
    readonly StopSignal?: string;
    readonly StopTimeout?: number | null;
    readonly Healthcheck?: HealthConfigShape | null;
    readonly ExposedPorts?: { readonly [portProto: string]: object } | null;
    readonly Tty?: boolean;
    readonly OpenStdin?: boolean;
  };
  readonly HostConfig: {
    readonly NetworkMode?: string;
    readonly PortBindings?: { readonly [portProto: string]: ReadonlyArray<{ readonly HostIp?: string; readonly HostPort?: string }> | null } | null;
    readonly PublishAllPorts?: boolean;
    readonly Binds?: readonly string[] | null;
    /** `--mount` volumes and binds (Docker's HostConfig.Mounts). */
    readonly Mounts?: ReadonlyArray<{ readonly Type: string; readonly Source?: string; readonly Target: string }> | null;
    /** Target → options (`size=1m,mode=1777`). */
    readonly Tmpfs?: { readonly [target: string]: string } | null;
    readonly VolumesFrom?: readonly string[] | null;
    readonly RestartPolicy?: { readonly Name?: string; readonly MaximumRetryCount?: number } | null;
    readonly Init?: boolean | null;
    readonly ReadonlyRootfs?: boolean;
    readonly CapAdd?: readonly string[] | null;
    readonly CapDrop?: readonly string[] | null;
    readonly Privileged?: boolean;
    readonly Memory?: number;
    readonly NanoCpus?: number;
    readonly PidsLimit?: number | null;
    /** `NAME:IP` (the Docker CLI's form; `NAME=IP` is read too). */
    readonly ExtraHosts?: readonly string[] | null;
    readonly Dns?: readonly string[] | null;
    readonly DnsSearch?: readonly string[] | null;
    readonly DnsOptions?: readonly string[] | null;
    readonly Sysctls?: { readonly [key: string]: string } | null;
    readonly Ulimits?: ReadonlyArray<{ readonly Name: string; readonly Soft: number; readonly Hard: number }> | null;
    readonly ShmSize?: number;
    readonly Devices?: ReadonlyArray<{ readonly PathOnHost: string; readonly PathInContainer: string; readonly CgroupPermissions: string }> | null;
    readonly PidMode?: string;
    readonly IpcMode?: string;
    readonly LogConfig?: { readonly Type?: string; readonly Config?: { readonly [key: string]: string } | null } | null;
    readonly Runtime?: string;
  };
  readonly Mounts?: ReadonlyArray<{ readonly Type: string; readonly Name?: string; readonly Source?: string; readonly Destination: string; readonly RW?: boolean }> | null;
  /** The networks it joins, by name, the primary (HostConfig.NetworkMode) first where the engine keeps an order. */
  readonly NetworkSettings?: { readonly Networks?: { readonly [network: string]: EndpointShape } | null } | null;
}

/** What the normalisation needs to know of the engine. */
export interface ObservationContext {
  readonly defaults: EngineDefaults;
  /** The engine host's name: a container with `host` networking gets it as its hostname. */
  readonly hostName?: string;
}

/**
 * The engine's network mode for a request: `host`, `none`, `container:<name>` (a spec that shares
 * another container's network), or undefined for bridge (the first network decides).
 */
export function requestNetworkMode(request: { readonly spec: ContainerSpec; readonly networkContainer?: string }): string | undefined {
  const mode = request.spec.networkMode;
  if (typeof mode === 'object') {
    if (request.networkContainer === undefined) throw new InvalidArgumentError(`the plan shares the network of container ${mode.container ?? mode.containerName}, but apply did not resolve its name`);
    return `container:${request.networkContainer}`;
  }
  return mode === 'bridge' ? undefined : mode;
}

/** Whether a network mode means networks of the engine (not none, host or another container's). */
export function joinsNetworks(networkMode: string | undefined): boolean {
  return networkMode !== 'none' && networkMode !== 'host' && !(networkMode ?? '').startsWith('container:');
}

/** A container's settings in the plan's terms (see the module comment). */
export function observedContainerSpec(c: ContainerInspectShape, image: ImageConfigShape | undefined, ctx: ObservationContext): ObservedContainerSpec {
  const cfg = c.Config;
  const h = c.HostConfig;
  const fullEnv = envMap(cfg.Env ?? []);
  const imageEnv = envMap(image?.Env ?? []);
  const env = Object.fromEntries(Object.entries(fullEnv).filter(([k, v]) => imageEnv[k] !== v));

  let networkMode: ContainerSpec['networkMode'] = 'bridge';
  let networks: NetworkAttachment[] = [];
  if (h.NetworkMode === 'host' || h.NetworkMode === 'none') networkMode = h.NetworkMode;
  else if ((h.NetworkMode ?? '').startsWith('container:')) networkMode = { containerName: h.NetworkMode!.slice('container:'.length) };
  else if (joinsNetworks(h.NetworkMode)) {
    networks = networkList(c, ctx.defaults.network);
    // Only the default network, as the engine chose it: the plan says `[]`.
    if (networks.length === 1 && networks[0].network === ctx.defaults.network && networks[0].aliases.length === 0 && !networks[0].ipv4Address) networks = [];
  }

  let hostname: string | undefined = cfg.Hostname;
  if (hostname === c.Id.slice(0, 12) || hostname === '' || (h.NetworkMode === 'host' && ctx.hostName !== undefined && hostname === ctx.hostName)) hostname = undefined;

  const healthcheck = observedHealthcheck(cfg.Healthcheck, ctx.defaults);
  const restart = (h.RestartPolicy?.Name || 'no') as RestartPolicyName;
  return {
    command: [...(cfg.Cmd ?? [])],
    entrypoint: [...(cfg.Entrypoint ?? [])],
    env,
    fullEnv,
    ...(cfg.WorkingDir ? { workingDir: cfg.WorkingDir } : {}),
    ...(cfg.User ? { user: cfg.User } : {}),
    ...(hostname !== undefined ? { hostname } : {}),
    ports: observedPorts(h.PortBindings ?? {}),
    publishAllPorts: h.PublishAllPorts ?? false,
    mounts: observedMounts(c),
    volumesFrom: (h.VolumesFrom ?? []).map((v) => {
      const [container, mode] = v.split(':');
      return { container, readOnly: mode === 'ro' };
    }),
    networkMode,
    networks,
    restart: { policy: restart, maxRetries: restart === 'on-failure' ? (h.RestartPolicy?.MaximumRetryCount ?? 0) : 0 },
    ...(healthcheck ? { healthcheck } : {}),
    labels: ownLabels(cfg.Labels ?? undefined, false),
    stopSignal: signalForm(cfg.StopSignal || ctx.defaults.stopSignal),
    ...(cfg.StopTimeout !== undefined && cfg.StopTimeout !== null ? { stopTimeoutSeconds: cfg.StopTimeout } : {}),
    init: h.Init ?? false,
    readOnlyRootfs: h.ReadonlyRootfs ?? false,
    capAdd: capabilityList(h.CapAdd ?? []),
    capDrop: capabilityList(h.CapDrop ?? []),
    privileged: h.Privileged ?? false,
    ...((h.Memory ?? 0) > 0 ? { memoryBytes: h.Memory } : {}),
    ...((h.NanoCpus ?? 0) > 0 ? { nanoCpus: h.NanoCpus } : {}),
    ...(h.PidsLimit !== undefined && h.PidsLimit !== null && h.PidsLimit > 0 ? { pidsLimit: h.PidsLimit } : {}),
    ...observedHostOptions(c, ctx.defaults),
  };
}

/**
 * The host-side settings (expose … ipc) in the plan's terms, each absent when empty: `expose` is
 * every port the container exposes (the image's and published ones included: the diff sorts them
 * out); `shmSizeBytes` absent when it is the engine's default; `ipc` absent when it is the
 * engine's default mode (`private`), `pid` absent unless `host`; devices with their permissions
 * in `rwm` order.
 */
function observedHostOptions(c: ContainerInspectShape, defaults: EngineDefaults): Partial<ObservedContainerSpec> {
  const h = c.HostConfig;
  const list = (xs: readonly string[] | null | undefined): string[] | undefined => (xs && xs.length > 0 ? [...xs] : undefined);
  const extraHosts: { [host: string]: string } = {};
  for (const e of h.ExtraHosts ?? []) {
    const i = e.search(/[:=]/);
    if (i > 0) extraHosts[e.slice(0, i)] = e.slice(i + 1);
  }
  const ulimits: { [name: string]: { soft: number; hard: number } } = {};
  for (const u of h.Ulimits ?? []) ulimits[u.Name] = { soft: u.Soft, hard: u.Hard };
  const expose = Object.keys(c.Config.ExposedPorts ?? {}).map((k) => (k.includes('/') ? k : `${k}/tcp`)).sort();
  const shm = h.ShmSize && h.ShmSize !== (defaults.shmSizeBytes ?? 0) ? h.ShmSize : undefined;
  const ipc = h.IpcMode && h.IpcMode !== (defaults.ipcMode ?? 'private') ? h.IpcMode : undefined;
  return {
    ...(expose.length ? { expose } : {}),
    ...(Object.keys(extraHosts).length ? { extraHosts } : {}),
    ...(list(h.Dns) ? { dns: list(h.Dns) } : {}),
    ...(list(h.DnsSearch) ? { dnsSearch: list(h.DnsSearch) } : {}),
    ...(list(h.DnsOptions) ? { dnsOptions: list(h.DnsOptions) } : {}),
    ...(h.Sysctls && Object.keys(h.Sysctls).length ? { sysctls: { ...h.Sysctls } } : {}),
    ...(Object.keys(ulimits).length ? { ulimits } : {}),
    ...(shm !== undefined ? { shmSizeBytes: shm } : {}),
    ...(h.Devices?.length
      ? { devices: h.Devices.map((d) => ({ hostPath: d.PathOnHost, containerPath: d.PathInContainer || d.PathOnHost, permissions: ['r', 'w', 'm'].filter((x) => (d.CgroupPermissions || 'rwm').includes(x)).join('') })) }
      : {}),
    ...(h.PidMode === 'host' ? { pid: 'host' as const } : {}),
    ...(ipc === 'host' || ipc === 'private' || ipc === 'shareable' ? { ipc } : {}),
    ...observedProcessOptions(c, defaults),
  };
}

/**
 * TTY and open stdin (absent unless set); the log driver with its options (absent when the
 * engine's default driver without options; options the engine reports for every container,
 * `defaults.logOptions`, left out); the runtime (absent when the engine's default).
 */
function observedProcessOptions(c: ContainerInspectShape, defaults: EngineDefaults): Partial<ObservedContainerSpec> {
  const h = c.HostConfig;
  const driver = h.LogConfig?.Type || (defaults.logDriver ?? 'json-file');
  const options: { [key: string]: string } = {};
  for (const [k, v] of Object.entries(h.LogConfig?.Config ?? {})) if (defaults.logOptions?.[k] !== v) options[k] = v;
  const logging = driver !== (defaults.logDriver ?? 'json-file') || Object.keys(options).length > 0 ? { driver, options } : undefined;
  const runtime = h.Runtime && h.Runtime !== (defaults.runtime ?? 'runc') ? h.Runtime : undefined;
  return {
    ...(c.Config.Tty ? { tty: true as const } : {}),
    ...(c.Config.OpenStdin ? { stdinOpen: true as const } : {}),
    ...(logging !== undefined ? { logging } : {}),
    ...(runtime !== undefined ? { runtime } : {}),
  };
}

/** What an image supplies when a container does not say. */
export function imageDefaults(c: ImageConfigShape): ImageDefaults {
  return {
    cmd: [...(c.Cmd ?? [])],
    entrypoint: [...(c.Entrypoint ?? [])],
    env: envMap(c.Env ?? []),
    workingDir: c.WorkingDir ?? '',
    user: c.User ?? '',
    ...(c.StopSignal ? { stopSignal: signalForm(c.StopSignal) } : {}),
    exposedPorts: Object.keys(c.ExposedPorts ?? {}).sort(),
    ...(c.Healthcheck?.Test?.length ? { healthcheck: { test: [...c.Healthcheck.Test] } } : {}),
    labels: { ...(c.Labels ?? {}) },
  };
}

/** The networks a container joins, in order (the primary first), in the plan's terms. */
export function networkList(c: ContainerInspectShape, defaultNetwork: string): NetworkAttachment[] {
  const mode = c.HostConfig.NetworkMode;
  if (!joinsNetworks(mode)) return [];
  const endpoints = c.NetworkSettings?.Networks ?? {};
  const primary = !mode || mode === 'default' ? defaultNetwork : mode;
  const names = [primary, ...Object.keys(endpoints).filter((n) => n !== primary)];
  return names.map((network) => {
    const e = endpoints[network];
    const ip = e?.IPAMConfig?.IPv4Address;
    return { network, aliases: [...(e?.Aliases ?? [])].sort(), ...(ip ? { ipv4Address: ip } : {}) };
  });
}

/** `KEY=value` lines as a map (a line without `=` is not a variable). */
export function envMap(list: readonly string[]): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const e of list) {
    const i = e.indexOf('=');
    if (i > 0) out[e.slice(0, i)] = e.slice(i + 1);
  }
  return out;
}

function observedPorts(bindings: NonNullable<ContainerInspectShape['HostConfig']['PortBindings']>): PortMapping[] {
  const out: PortMapping[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const [port, proto = 'tcp'] = key.split('/');
    for (const b of list ?? []) out.push({ containerPort: Number(port), protocol: proto as Protocol, hostIp: b.HostIp || '0.0.0.0', hostPort: Number(b.HostPort) || 0 });
  }
  return out.sort((a, b) => a.containerPort - b.containerPort || compareText(a.protocol, b.protocol) || compareText(a.hostIp, b.hostIp) || a.hostPort - b.hostPort);
}

/**
 * The mounts the container asked for: volumes and binds of HostConfig Binds and Mounts, tmpfs of
 * HostConfig Tmpfs; not the image's VOLUMEs nor those of volumesFrom.
 */
function observedMounts(c: ContainerInspectShape): Mount[] {
  const h = c.HostConfig;
  const asked = new Set<string>();
  for (const b of h.Binds ?? []) {
    const [source, target] = b.split(':');
    asked.add(`${source}\u0000${target}`);
  }
  for (const m of h.Mounts ?? []) if (m.Type === 'volume' || m.Type === 'bind') asked.add(`${m.Source ?? ''}\u0000${m.Target}`);
  const tmpfs = h.Tmpfs ?? {};
  const out: Mount[] = [];
  const seenTmpfs = new Set<string>();
  for (const m of c.Mounts ?? []) {
    if (m.Type === 'tmpfs') {
      if (!Object.prototype.hasOwnProperty.call(tmpfs, m.Destination)) continue;
      seenTmpfs.add(m.Destination);
      out.push(tmpfsMount(m.Destination, tmpfs[m.Destination]));
      continue;
    }
    if (m.Type !== 'volume' && m.Type !== 'bind') continue;
    const source = m.Type === 'volume' ? (m.Name ?? '') : (m.Source ?? '');
    if (!asked.has(`${source}\u0000${m.Destination}`)) continue;
    out.push({ type: m.Type, source, target: m.Destination, readOnly: !m.RW });
  }
  // Engines that do not list tmpfs mounts among Mounts (Docker): in HostConfig's order.
  for (const [target, options] of Object.entries(tmpfs)) if (!seenTmpfs.has(target)) out.push(tmpfsMount(target, options));
  return out;
}

function tmpfsMount(target: string, options: string): Mount {
  const opts = options.split(',');
  const size = opts.find((o) => o.startsWith('size='));
  const mode = opts.find((o) => o.startsWith('mode='));
  return {
    type: 'tmpfs',
    target,
    ...(size ? { sizeBytes: Size.parse(size.slice(5)).toBytes() } : {}),
    ...(mode ? { mode: parseInt(mode.slice(5), 8) } : {}),
  };
}

function observedHealthcheck(hc: HealthConfigShape | null | undefined, defaults: EngineDefaults): Healthcheck | undefined {
  if (!hc || !hc.Test || hc.Test.length === 0 || hc.Test[0] === 'NONE') return undefined;
  const d = defaults.healthcheck;
  return {
    test: [...hc.Test],
    intervalMs: hc.Interval ? hc.Interval / 1e6 : d.intervalMs,
    timeoutMs: hc.Timeout ? hc.Timeout / 1e6 : d.timeoutMs,
    retries: hc.Retries || d.retries,
    startPeriodMs: hc.StartPeriod ? hc.StartPeriod / 1e6 : d.startPeriodMs,
  };
}

/** Capability names as the plan keeps them: upper case, no `CAP_`, sorted, once each. */
export function capabilityList(list: readonly string[]): string[] {
  return [...new Set(list.map((x) => x.toUpperCase().replace(/^CAP_/, '')))].sort();
}

function signalForm(s: string): string {
  return normalizeSignal(s) ?? s;
}

/**
 * Docker's defaults, which the built-in runtime applies as Docker does: network `bridge`, stop
 * after 10 s with SIGTERM, working dir `/`, tmpfs mode 1777, healthcheck timings, and the
 * variables the engine sets (PATH when the image has none, HOSTNAME, HOME).
 */
export const DOCKER_DEFAULTS: EngineDefaults = {
  network: 'bridge',
  stopTimeoutSeconds: 10,
  stopSignal: 'SIGTERM',
  workingDir: '/',
  tmpfsMode: 0o1777,
  healthcheck: { intervalMs: 30_000, timeoutMs: 30_000, retries: 3, startPeriodMs: 0 },
  env: ['PATH', 'HOSTNAME', 'HOME'],
  shmSizeBytes: 64 * 1024 * 1024,
  ipcMode: 'private',
  logDriver: 'json-file',
  runtime: 'runc',
};

/** What Docker changes on an existing container: rename, `update` (restart, memory, CPUs, pids), connect/disconnect. */
export const DOCKER_IN_PLACE: readonly InPlaceField[] = ['name', 'restart', 'memoryBytes', 'nanoCpus', 'pidsLimit', 'networks'];

/** A network as Docker's inspect shows it (and the built-in runtime records it). */
export interface NetworkInspectShape {
  readonly Id: string;
  readonly Name: string;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly Driver: string;
  readonly IPAM?: { readonly Config?: ReadonlyArray<{ readonly Subnet?: string; readonly Gateway?: string; readonly IPRange?: string }> | null } | null;
  readonly Internal: boolean;
  readonly Attachable: boolean;
  /** Driver options (an encrypted overlay has `encrypted`). */
  readonly Options?: { readonly [k: string]: string } | null;
}

export function observedNetwork(n: NetworkInspectShape): ObservedNetwork {
  const ipam = n.IPAM?.Config?.[0];
  return {
    id: n.Id,
    name: n.Name,
    labels: { ...(n.Labels ?? {}) },
    driver: n.Driver,
    subnet: ipam?.Subnet ?? '',
    gateway: ipam?.Gateway ?? '',
    ...(ipam?.IPRange ? { ipRange: ipam.IPRange } : {}),
    internal: n.Internal,
    attachable: n.Attachable,
    ...(n.Options && Object.prototype.hasOwnProperty.call(n.Options, 'encrypted') ? { encrypted: true } : {}),
  };
}

/** A volume as Docker's inspect shows it (and the built-in runtime records it). */
export interface VolumeInspectShape {
  readonly Name: string;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly Driver: string;
  readonly Options?: { readonly [k: string]: string } | null;
  readonly Mountpoint: string;
}

export function observedVolume(v: VolumeInspectShape): ObservedVolume {
  return { name: v.Name, labels: { ...(v.Labels ?? {}) }, driver: v.Driver, driverOpts: { ...(v.Options ?? {}) }, mountpoint: v.Mountpoint };
}
