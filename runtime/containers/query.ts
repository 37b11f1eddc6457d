import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';
import { humanDuration } from '../../lib/core/duration';
import { BUILD_LABELS } from '../../lib/core/labels';
import { DEFAULT_NETWORK } from '../networks/types';
import { dataSize } from '../util/files';
import { anyOf, enumFilter, groupFilters, matchId, matchLabels, matchName } from '../util/filters';
import type { ContainerContext } from './context';
import { refresh } from './exit';
import { DEFAULT_LOG_SIZE_MAX } from './logs';
import { formatPorts, joinsNetworks, portsMap } from './network';
import { pidAlive } from './runc';
import { restoreIfRebooted } from './restore';
import type { ContainerRecord, ContainerState, ContainerStatus } from './types';
import { compareText } from '../../lib/core/canonical';

/**
 * The queries of containers: `ps` (Docker's rows, filters and order), `inspect` (Docker-like
 * JSON, the network settings of each endpoint) and the sizes `ps -s` shows.
 */

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
  /** Bytes of its own changes (Docker's SizeRw), when the listing asked for sizes. */
  readonly sizeRw?: number;
  /** Bytes of its image and its changes (Docker's SizeRootFs), when the listing asked for sizes. */
  readonly sizeRootFs?: number;
  /** The record the row was made from (read once per listing). */
  readonly record: ContainerRecord;
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

/**
 * `ps`: running and paused containers (all with `all`, or when filtering by status or exit
 * code, as Docker), newest first, matching `filters`.
 */
export async function listContainers(ctx: ContainerContext, all = false, filters: ContainerListFilters = {}, opts: { size?: boolean } = {}): Promise<ContainerSummary[]> {
  const everyState = all || filters.status !== undefined || filters.exited !== undefined;
  await restoreIfRebooted(ctx);
  const rows: ContainerSummary[] = [];
  const records = ctx.store.records();
  // Network records are read only when some container may publish ports.
  const networks = records.some((r) => joinsNetworks(r)) ? await ctx.networking.store.records() : [];
  const portsOf = (id: string) => networks.flatMap((n) => n.endpoints[id]?.ports ?? []);
  // Each image name resolved once per listing (each lookup reads the image index).
  const resolved = new Map<string, string | undefined>();
  const imageIdOf = (ref: string) => (resolved.has(ref) ? resolved.get(ref) : resolved.set(ref, ctx.images.tryResolve(ref)?.id).get(ref));
  for (const r of records) {
    // A build's step containers are the builder's own: ps never lists them (as with BuildKit).
    if (r.Config.Labels?.[BUILD_LABELS.step] !== undefined) continue;
    let state = ctx.store.state(r.Id);
    if ((state.Status === 'running' || state.Status === 'paused') && (fs.existsSync(ctx.exitFile(r.Id)) || !pidAlive(state.MonitorPid ?? 0))) {
      state = await ctx.store.locked(r.Id, () => refresh(ctx, r.Id));
    }
    if (!everyState && state.Status !== 'running' && state.Status !== 'paused' && state.Status !== 'restarting') continue;
    // As Docker: a name that no longer means the container's image (untagged, moved) shows as its id.
    const image = imageIdOf(r.Config.Image) === r.ImageId ? r.Config.Image : r.ImageId.replace(/^sha256:/, '').slice(0, 12);
    const row: ContainerSummary = { id: r.Id, name: r.Name, image, command: [r.Path, ...r.Args].join(' '), created: r.Created, status: statusText(state), state, labels: r.Config.Labels, ports: state.Status === 'running' || state.Status === 'paused' ? formatPorts(r, portsOf(r.Id)) : '', record: r };
    if (matchContainer(row, filters)) rows.push(row);
  }
  rows.sort((a, b) => compareText(b.created, a.created));
  return opts.size ? Promise.all(rows.map((r) => withSizes(ctx, r))) : rows;
}

/** A row with Docker's sizes: the container's own changes (its overlay upper directory), and with its image's. */
async function withSizes(ctx: ContainerContext, row: ContainerSummary): Promise<ContainerSummary> {
  const record = ctx.store.tryRecord(row.id);
  const rw = await dataSize(ctx.upperDir(row.id));
  const image = record ? ctx.images.tryResolve(record.ImageId) : undefined;
  return { ...row, sizeRw: rw, sizeRootFs: rw + (image ? ctx.images.size(image) : 0) };
}

/** Docker's NetworkSettings: an entry per network (address while running), the published ports. */
async function networkSettings(ctx: ContainerContext, r: ContainerRecord): Promise<object> {
  const mode = r.HostConfig.NetworkMode;
  const endpoints = joinsNetworks(r) ? await ctx.networking.endpoints(r.Id) : [];
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
    SandboxKey: joinsNetworks(r) && endpoints.length ? ctx.networking.netnsPath(r.Id) : '',
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

/** Docker-like `inspect` JSON of a container. */
export async function inspectContainer(ctx: ContainerContext, nameOrId: string): Promise<object> {
  const id = ctx.store.resolve(nameOrId);
  let state = ctx.store.state(id);
  if (state.Status === 'running' || state.Status === 'paused') state = await ctx.store.locked(id, () => refresh(ctx, id));
  const r = ctx.store.record(id);
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
    ResolvConfPath: path.join(ctx.store.containerDir(id), 'resolv.conf'),
    HostnamePath: path.join(ctx.store.containerDir(id), 'hostname'),
    HostsPath: path.join(ctx.store.containerDir(id), 'hosts'),
    LogPath: r.HostConfig.LogDriver === 'none' ? '' : r.HostConfig.LogDriver === 'json-file' ? ctx.jsonLogPath(id) : ctx.logPath(id),
    Name: `/${r.Name}`,
    RestartCount: state.RestartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: { ...r.HostConfig, Binds: r.HostConfig.Binds?.length ? r.HostConfig.Binds : null, LogConfig: { Type: r.HostConfig.LogDriver ?? 'k8s-file', Config: { 'max-size': String(r.HostConfig.LogMaxSize ?? DEFAULT_LOG_SIZE_MAX) } } },
    GraphDriver: { Name: 'overlay2', Data: { UpperDir: path.join(ctx.store.containerDir(id), 'diff'), WorkDir: path.join(ctx.store.containerDir(id), 'work'), MergedDir: path.join(ctx.store.bundleDir(id), 'rootfs') } },
    Mounts: r.Mounts.map((m) => ({ Type: m.Type, ...(m.Name ? { Name: m.Name } : {}), Source: m.Source, Destination: m.Destination, Mode: m.RW ? '' : 'ro', RW: m.RW, Propagation: m.Type === 'bind' ? 'rprivate' : '', ...(m.Type === 'volume' ? { Driver: 'local' } : {}) })),
    Config: { ...r.Config, Labels: r.Config.Labels },
    NetworkSettings: await networkSettings(ctx, r),
  };
}

/** The STATUS column of `ps`, as Docker words it. */
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
