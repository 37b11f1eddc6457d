/**
 * The Docker driver's translation between the plan's terms and the Engine API's bodies, with no
 * engine access: a ContainerCreateRequest → `POST /containers/create`, a ContainerUpdate →
 * `POST /containers/{id}/update`, networks and volumes both ways, and an inspected container →
 * ObservedContainer (through ../observed, which every driver shares).
 *
 * What Docker adds that the plan never said, and how it is kept out of the diff:
 * - Config: the image's Cmd/Entrypoint/Env/WorkingDir/User/Healthcheck and its default PATH —
 *   ../observed compares against the image's config and the declared defaults.
 * - Aliases: Docker appends the container's short id, and its hostname when that is not its name,
 *   to its aliases on every user network; dropped by position (askedAliases), so a plan that names
 *   the container's own hostname as an alias keeps it.
 * - Mounts: inspect's `Mounts` comes from a Go map (any order); put back in HostConfig's order.
 * - Ports: a published port bound to all addresses is reported twice (0.0.0.0 and ::); once.
 * - Limits Docker cannot lift: `/containers/{id}/update` ignores 0 for Memory and NanoCpus and
 *   refuses -1, so "no limit" after a limit is written as a limit no container reaches
 *   (UNLIMITED_MEMORY bytes; NanoCpus ending in 999999999, all CPUs but a nanosecond in each
 *   period) and read back as none.
 */

import type { ContainerSpec, Healthcheck, Mount, NetworkSpec, PortMapping, VolumeSpec } from '../../plan/types';
import { ContainerInspectShape, ImageConfigShape, imageDefaults, observedContainerSpec, requestNetworkMode, volumeMountsOf } from '../observed';
import type { ContainerCreateRequest, ContainerFile, ContainerStatus, ContainerUpdate, DriverCapabilities, ImageDefaults, ObservedContainer } from '../types';
import { compareText } from '../../core/canonical';

// --- the Engine API's shapes (just the fields the driver reads or writes) --------------------

/** `GET /containers/{id}/json` (Docker's ContainerJSON), the fields the driver reads. */
export interface DockerContainerInspect extends ContainerInspectShape {
  readonly Name: string;
  readonly Image: string;
  /** When the engine made it (its clock, RFC 3339). */
  readonly Created?: string;
  readonly RestartCount?: number;
  readonly State: {
    readonly Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
    readonly Running?: boolean;
    readonly ExitCode: number;
    readonly Error?: string;
    readonly OOMKilled?: boolean;
    readonly StartedAt?: string;
    readonly FinishedAt?: string;
    readonly Health?: { readonly Status: 'starting' | 'healthy' | 'unhealthy' | 'none'; readonly FailingStreak: number; readonly Log?: ReadonlyArray<{ readonly ExitCode: number; readonly Output: string }> | null } | null;
  };
  readonly Config: ContainerInspectShape['Config'] & { readonly Image?: string };
  readonly HostConfig: ContainerInspectShape['HostConfig'] & { readonly MemorySwap?: number };
  readonly NetworkSettings?: {
    readonly Networks?: { readonly [network: string]: DockerEndpoint } | null;
    readonly Ports?: { readonly [portProto: string]: ReadonlyArray<{ readonly HostIp: string; readonly HostPort: string }> | null } | null;
  } | null;
}

/** One of `NetworkSettings.Networks` (EndpointSettings). */
export interface DockerEndpoint {
  readonly Aliases?: readonly string[] | null;
  readonly IPAMConfig?: { readonly IPv4Address?: string } | null;
  readonly IPAddress?: string;
  readonly NetworkID?: string;
}

/** `GET /images/{name}/json`, the fields the driver reads. */
export interface DockerImageInspect {
  readonly Id: string;
  readonly RepoTags?: readonly string[] | null;
  readonly Config?: ImageConfigShape | null;
}

/** `GET /networks/{id}` (NetworkResource). */
export interface DockerNetworkInspect {
  readonly Id: string;
  readonly Name: string;
  readonly Driver: string;
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly IPAM?: { readonly Config?: ReadonlyArray<{ readonly Subnet?: string; readonly Gateway?: string; readonly IPRange?: string }> | null } | null;
  readonly Containers?: { readonly [id: string]: { readonly Name: string } } | null;
  /** `local`, or `swarm` for a swarm's networks. */
  readonly Scope?: string;
}

/** `GET /volumes/{name}` (Volume). */
export interface DockerVolumeInspect {
  readonly Name: string;
  readonly Driver: string;
  readonly Mountpoint: string;
  readonly Labels?: { readonly [k: string]: string } | null;
  readonly Options?: { readonly [k: string]: string } | null;
}

/** A `POST /containers/create` body (ContainerConfig + HostConfig + NetworkingConfig). */
export interface DockerCreateBody {
  readonly Image: string;
  readonly Cmd?: string[];
  readonly Entrypoint?: string[];
  readonly Env: string[];
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly Hostname?: string;
  readonly Labels: { [k: string]: string };
  readonly StopSignal?: string;
  readonly StopTimeout?: number;
  readonly Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  readonly ExposedPorts?: { [portProto: string]: Record<string, never> };
  readonly Tty?: boolean;
  readonly OpenStdin?: boolean;
  readonly HostConfig: {
    NetworkMode?: string;
    PortBindings?: { [portProto: string]: Array<{ HostIp: string; HostPort: string }> };
    PublishAllPorts: boolean;
    Mounts: Array<{ Type: 'volume' | 'bind'; Source: string; Target: string; ReadOnly: boolean }>;
    Tmpfs?: { [target: string]: string };
    VolumesFrom?: string[];
    RestartPolicy: { Name: string; MaximumRetryCount: number };
    Init: boolean;
    ReadonlyRootfs: boolean;
    CapAdd?: string[];
    CapDrop?: string[];
    Privileged: boolean;
    Memory?: number;
    NanoCpus?: number;
    PidsLimit?: number;
    ExtraHosts?: string[];
    Dns?: string[];
    DnsSearch?: string[];
    DnsOptions?: string[];
    Sysctls?: { [key: string]: string };
    Ulimits?: Array<{ Name: string; Soft: number; Hard: number }>;
    ShmSize?: number;
    Devices?: Array<{ PathOnHost: string; PathInContainer: string; CgroupPermissions: string }>;
    PidMode?: string;
    IpcMode?: string;
    LogConfig?: { Type: string; Config: { [key: string]: string } };
    Runtime?: string;
  };
  readonly NetworkingConfig?: { EndpointsConfig: { [network: string]: DockerEndpointConfig } };
}

/** An endpoint to create (create's NetworkingConfig, `POST /networks/{id}/connect`). */
export interface DockerEndpointConfig {
  Aliases?: string[];
  IPAMConfig?: { IPv4Address: string };
}

/** A `POST /containers/{id}/update` body. */
export interface DockerUpdateBody {
  RestartPolicy?: { Name: string; MaximumRetryCount: number };
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
}

// --- limits Docker cannot lift ----------------------------------------------------------------

/** "No memory limit" after one was set (4e18 bytes: page-aligned, exact in JSON and in a double). */
export const UNLIMITED_MEMORY = 4e18;
/** The CPU quota that stands for "no limit" after one was set, on an engine host of `ncpu` CPUs. */
export function unlimitedNanoCpus(ncpu: number): number {
  return Math.max(1, ncpu) * 1e9 - 1;
}
function isUnlimitedNanoCpus(n: number): boolean {
  return n > 0 && (n + 1) % 1e9 === 0;
}

// --- plan → Engine API ------------------------------------------------------------------------

/** `80/tcp`. */
export function portKey(p: Pick<PortMapping, 'containerPort' | 'protocol'>): string {
  return `${p.containerPort}/${p.protocol}`;
}

/** The body of `POST /containers/create` for a request (the primary network only: Docker's create takes one). */
export function createBody(request: ContainerCreateRequest): DockerCreateBody {
  const { spec } = request;
  const [first] = spec.networkMode === 'bridge' ? spec.networks : [];
  const bindings: { [k: string]: Array<{ HostIp: string; HostPort: string }> } = {};
  for (const p of spec.ports) {
    // All addresses as the Docker CLI sends it (both families), a random port as "".
    (bindings[portKey(p)] ??= []).push({ HostIp: p.hostIp === '0.0.0.0' ? '' : p.hostIp, HostPort: p.hostPort === 0 ? '' : String(p.hostPort) });
  }
  const tmpfs = spec.mounts.filter((m): m is Extract<Mount, { type: 'tmpfs' }> => m.type === 'tmpfs');
  const health = healthBody(spec.healthcheck);
  // Docker exposes what the CLI's -p and --expose give; both here.
  const exposed = [...new Set([...Object.keys(bindings), ...(spec.expose ?? [])])];
  return {
    Image: request.imageId,
    ...(spec.command !== undefined ? { Cmd: [...spec.command] } : {}),
    ...(spec.entrypoint !== undefined ? { Entrypoint: [...spec.entrypoint] } : {}),
    Env: Object.entries(request.env).map(([k, v]) => `${k}=${v}`),
    ...(spec.workingDir !== undefined ? { WorkingDir: spec.workingDir } : {}),
    ...(spec.user !== undefined ? { User: spec.user } : {}),
    ...(spec.hostname !== undefined ? { Hostname: spec.hostname } : {}),
    Labels: { ...spec.labels, ...request.labels },
    ...(spec.stopSignal !== undefined ? { StopSignal: spec.stopSignal } : {}),
    ...(spec.stopTimeoutSeconds !== undefined ? { StopTimeout: spec.stopTimeoutSeconds } : {}),
    ...(health ? { Healthcheck: health } : {}),
    // Docker publishes only exposed ports (the CLI exposes each -p port).
    ...(exposed.length ? { ExposedPorts: Object.fromEntries(exposed.map((k) => [k, {}])) } : {}),
    ...(spec.tty ? { Tty: true } : {}),
    ...(spec.stdinOpen ? { OpenStdin: true } : {}),
    HostConfig: {
      ...(spec.networkMode === 'bridge' ? (first ? { NetworkMode: first.network } : {}) : { NetworkMode: requestNetworkMode(request) }),
      ...(spec.ports.length ? { PortBindings: bindings } : {}),
      PublishAllPorts: spec.publishAllPorts,
      Mounts: spec.mounts.flatMap((m) => (m.type === 'tmpfs' ? [] : [{ Type: m.type, Source: m.source, Target: m.target, ReadOnly: m.readOnly }])),
      ...(tmpfs.length ? { Tmpfs: Object.fromEntries(tmpfs.map((m) => [m.target, tmpfsOptions(m)])) } : {}),
      ...(spec.volumesFrom.length ? { VolumesFrom: spec.volumesFrom.map((v) => (v.readOnly ? `${v.container}:ro` : v.container)) } : {}),
      RestartPolicy: restartBody(spec.restart),
      Init: spec.init,
      ReadonlyRootfs: spec.readOnlyRootfs,
      ...(spec.capAdd.length ? { CapAdd: [...spec.capAdd] } : {}),
      ...(spec.capDrop.length ? { CapDrop: [...spec.capDrop] } : {}),
      Privileged: spec.privileged,
      ...(spec.memoryBytes !== undefined ? { Memory: spec.memoryBytes } : {}),
      ...(spec.nanoCpus !== undefined ? { NanoCpus: spec.nanoCpus } : {}),
      ...(spec.pidsLimit !== undefined ? { PidsLimit: spec.pidsLimit } : {}),
      ...hostOptionsBody(spec),
    },
    ...(first ? { NetworkingConfig: { EndpointsConfig: { [first.network]: endpointConfig(first.aliases, first.ipv4Address) } } } : {}),
  };
}

/** The host-side settings (extra hosts … IPC mode) in HostConfig's terms; absent ones left out. */
function hostOptionsBody(spec: ContainerSpec): Partial<DockerCreateBody['HostConfig']> {
  return {
    ...(spec.extraHosts ? { ExtraHosts: Object.entries(spec.extraHosts).map(([host, ip]) => `${host}:${ip}`) } : {}),
    ...(spec.dns ? { Dns: [...spec.dns] } : {}),
    ...(spec.dnsSearch ? { DnsSearch: [...spec.dnsSearch] } : {}),
    ...(spec.dnsOptions ? { DnsOptions: [...spec.dnsOptions] } : {}),
    ...(spec.sysctls ? { Sysctls: { ...spec.sysctls } } : {}),
    ...(spec.ulimits ? { Ulimits: Object.entries(spec.ulimits).map(([Name, u]) => ({ Name, Soft: u.soft, Hard: u.hard })) } : {}),
    ...(spec.shmSizeBytes !== undefined ? { ShmSize: spec.shmSizeBytes } : {}),
    ...(spec.devices ? { Devices: spec.devices.map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: d.permissions })) } : {}),
    ...(spec.pid ? { PidMode: spec.pid } : {}),
    ...(spec.ipc ? { IpcMode: spec.ipc } : {}),
    ...(spec.logging ? { LogConfig: { Type: spec.logging.driver, Config: { ...spec.logging.options } } } : {}),
    ...(spec.runtime ? { Runtime: spec.runtime } : {}),
  };
}

/** The query of `POST /containers/create`: the name, and the platform the image must be (Docker checks it against the image). */
export function createQuery(request: ContainerCreateRequest): { name: string; platform?: string } {
  return { name: request.name, ...(request.spec.platform ? { platform: request.spec.platform } : {}) };
}

/**
 * The tar that `PUT /containers/{id}/archive?path=/` extracts to put a request's secret and
 * config files into the container before it starts: one regular file per target, with its mode
 * and owner (Docker creates missing parent directories, 0755). What Compose does for files it
 * cannot bind from the engine's host; it works with a remote engine too.
 */
export async function filesArchive(files: readonly ContainerFile[]): Promise<Buffer> {
  const tar = require('tar-stream') as typeof import('tar-stream');
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const f of files) {
    pack.entry({ name: f.target.replace(/^\/+/, ''), type: 'file', mode: f.mode, uid: f.uid, gid: f.gid, size: f.content.length, mtime: new Date(0) }, f.content);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** The networks after the primary one: connected between create and start. */
export function extraNetworks(spec: ContainerSpec): ContainerSpec['networks'] {
  return spec.networkMode === 'bridge' ? spec.networks.slice(1) : [];
}

export function endpointConfig(aliases: readonly string[], ipv4Address: string | undefined): DockerEndpointConfig {
  return { ...(aliases.length ? { Aliases: [...aliases] } : {}), ...(ipv4Address ? { IPAMConfig: { IPv4Address: ipv4Address } } : {}) };
}

function tmpfsOptions(m: Extract<Mount, { type: 'tmpfs' }>): string {
  return [...(m.sizeBytes !== undefined ? [`size=${m.sizeBytes}`] : []), ...(m.mode !== undefined ? [`mode=${m.mode.toString(8)}`] : [])].join(',');
}

function restartBody(r: ContainerSpec['restart']): { Name: string; MaximumRetryCount: number } {
  return { Name: r.policy, MaximumRetryCount: r.policy === 'on-failure' ? r.maxRetries : 0 };
}

function healthBody(hc: Healthcheck | undefined): DockerCreateBody['Healthcheck'] {
  if (!hc) return undefined;
  if (hc.test[0] === 'NONE') return { Test: ['NONE'] };
  // Nanoseconds; 0 = the engine's default.
  return { Test: [...hc.test], Interval: hc.intervalMs * 1e6, Timeout: hc.timeoutMs * 1e6, StartPeriod: hc.startPeriodMs * 1e6, Retries: hc.retries };
}

/**
 * The body of `POST /containers/{id}/update` for the limits and restart policy of `update`
 * (null lifts a limit); undefined when it changes none of them. `ncpu` is the engine host's.
 */
export function updateBody(update: ContainerUpdate, ncpu: number): DockerUpdateBody | undefined {
  const body: DockerUpdateBody = {};
  if (update.restart) body.RestartPolicy = restartBody(update.restart);
  if (update.memoryBytes !== undefined) {
    body.Memory = update.memoryBytes ?? UNLIMITED_MEMORY;
    // Memory plus swap as create sets it (twice the memory), so a larger limit is never refused
    // for the swap limit of the smaller one.
    body.MemorySwap = body.Memory * 2 > UNLIMITED_MEMORY ? UNLIMITED_MEMORY : body.Memory * 2;
  }
  if (update.nanoCpus !== undefined) body.NanoCpus = update.nanoCpus ?? unlimitedNanoCpus(ncpu);
  if (update.pidsLimit !== undefined) body.PidsLimit = update.pidsLimit ?? 0;
  return Object.keys(body).length ? body : undefined;
}

/** The body of `POST /networks/create`. */
export function networkBody(name: string, spec: NetworkSpec, labels: { readonly [k: string]: string }): object {
  const ipam = spec.subnet ? [{ Subnet: spec.subnet, ...(spec.gateway ? { Gateway: spec.gateway } : {}), ...(spec.ipRange ? { IPRange: spec.ipRange } : {}) }] : [];
  return {
    Name: name,
    // Below API 1.44 Docker makes a second network of a name unless asked not to.
    CheckDuplicate: true,
    Driver: spec.driver,
    Internal: spec.internal,
    Attachable: spec.attachable,
    ...(spec.encrypted ? { Options: { encrypted: '' } } : {}),
    Labels: { ...labels },
    IPAM: { Driver: 'default', Config: ipam },
  };
}

/** The body of `POST /volumes/create`. */
export function volumeBody(name: string, spec: VolumeSpec, labels: { readonly [k: string]: string }): object {
  return { Name: name, Driver: spec.driver, DriverOpts: { ...spec.driverOpts }, Labels: { ...labels } };
}

// --- Engine API → plan ------------------------------------------------------------------------

export function toImageDefaults(image: DockerImageInspect): ImageDefaults {
  return imageDefaults(image.Config ?? {});
}

/** The label docker-compose puts on its containers (their aliases come in another order). */
const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';

/**
 * The aliases a container was given on a network, from what inspect reports. On a user network
 * Docker appends the container's short id, then its hostname when that is not its name, each
 * unless the list has it already: what comes before the short id was asked for (a hostname
 * there too), what comes from it on was Docker's. Without the short id (not a user network),
 * the hostname is Docker's only when it is last.
 */
export function askedAliases(c: Pick<DockerContainerInspect, 'Id' | 'Name' | 'Config'>, aliases: readonly string[]): string[] {
  // docker-compose 1.x connects its containers with the service name, the short id and the
  // aliases as a set (in any order): there, only the short id is not asked for.
  if (c.Config.Labels?.[COMPOSE_PROJECT_LABEL] !== undefined) return aliases.filter((a) => a !== c.Id.slice(0, 12));
  const shortId = aliases.indexOf(c.Id.slice(0, 12));
  if (shortId >= 0) return aliases.slice(0, shortId);
  const hostname = c.Config.Hostname;
  return hostname && `/${hostname}` !== c.Name && aliases[aliases.length - 1] === hostname ? aliases.slice(0, -1) : [...aliases];
}

/**
 * Docker's inspect with what Docker added taken out (see the module comment), in the shape
 * ../observed reads.
 */
export function normalizedInspect(c: DockerContainerInspect): DockerContainerInspect {
  const networks = Object.fromEntries(Object.entries(c.NetworkSettings?.Networks ?? {}).map(([name, e]) => [name, { ...e, Aliases: askedAliases(c, e.Aliases ?? []) }]));
  const order = (c.HostConfig.Mounts ?? []).map((m) => m.Target);
  const rank = (dest: string) => {
    const i = order.indexOf(dest);
    return i < 0 ? order.length : i;
  };
  const mounts = [...(c.Mounts ?? [])].sort((a, b) => rank(a.Destination) - rank(b.Destination) || (a.Destination < b.Destination ? -1 : a.Destination > b.Destination ? 1 : 0));
  const h = c.HostConfig;
  return {
    ...c,
    HostConfig: {
      ...h,
      ...((h.Memory ?? 0) >= UNLIMITED_MEMORY ? { Memory: 0 } : {}),
      ...(isUnlimitedNanoCpus(h.NanoCpus ?? 0) ? { NanoCpus: 0 } : {}),
    },
    Mounts: mounts,
    NetworkSettings: { ...c.NetworkSettings, Networks: networks },
  };
}

/** An inspected container in the plan's terms; `image` is its image's config (undefined when the image is gone). */
export function toObservedContainer(raw: DockerContainerInspect, image: ImageConfigShape | undefined, caps: DriverCapabilities, hostName: string | undefined): ObservedContainer {
  const c = normalizedInspect(raw);
  const state = c.State;
  const status: ContainerStatus = state.Status === 'removing' ? 'dead' : state.Status;
  const running = status === 'running' || status === 'paused';
  const networks: { [network: string]: { ipv4Address: string; aliases: string[] } } = {};
  const ports: Array<{ containerPort: number; protocol: string; hostIp: string; hostPort: number }> = [];
  if (running) {
    for (const [name, e] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      if (!e.IPAddress) continue;
      networks[name] = { ipv4Address: e.IPAddress, aliases: [...(e.Aliases ?? [])] };
    }
    for (const [key, list] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
      const [port, protocol = 'tcp'] = key.split('/');
      for (const b of list ?? []) {
        // Bound to all addresses: reported for both families; once, as 0.0.0.0.
        if (b.HostIp === '::' && (list ?? []).some((x) => x.HostIp === '0.0.0.0' && x.HostPort === b.HostPort)) continue;
        ports.push({ containerPort: Number(port), protocol, hostIp: b.HostIp === '::' ? '0.0.0.0' : b.HostIp || '0.0.0.0', hostPort: Number(b.HostPort) });
      }
    }
  }
  ports.sort((a, b) => a.containerPort - b.containerPort || compareText(a.protocol, b.protocol) || compareText(a.hostIp, b.hostIp));
  const health = running && state.Health && state.Health.Status !== 'none' ? state.Health.Status : undefined;
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    labels: { ...(c.Config.Labels ?? {}) },
    imageId: c.Image,
    ...(c.Config.Image ? { imageRef: c.Config.Image } : {}),
    volumeMounts: volumeMountsOf(c),
    status,
    exitCode: state.ExitCode,
    ...(health ? { health } : {}),
    restartCount: c.RestartCount ?? 0,
    spec: observedContainerSpec(c, image, { defaults: caps.defaults, hostName }),
    networks,
    ports,
  };
}
