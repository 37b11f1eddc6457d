import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { DEFAULT_NETWORK } from '../networks/types';
import { writeFileAtomic } from '../util/files';
import type { ContainerContext } from './context';
import { refresh } from './exit';
import { BASE_HOSTS, dnsSettingsOf, endpointsConfig, joinsNetworks, resolvConf } from './network';
import { pidAlive } from './runc';
import type { ContainerRecord } from './types';

/**
 * A container's network as its processes see it: the namespace it runs in and its own
 * /etc/hosts and /etc/resolv.conf (Docker's: files of the container, bind-mounted), written at
 * start and rewritten by `network connect`/`disconnect` and by the restarts of linked containers.
 */

/** What a starting container's network is: its namespace, its /etc/hosts and resolv.conf, and the env of its links. */
export interface ContainerNetworkSetup {
  /** A namespace to join; `host` shares the host's; undefined: a new one with loopback only. */
  readonly netns?: string;
  readonly hosts: string;
  readonly resolv: string;
  readonly linkEnv: string[];
  /** Settles when the namespace's interfaces are up (netavark's setup, run beside the container's creation); start the container after it. */
  readonly ready: Promise<void>;
}

/**
 * The network namespace a starting container runs in, and its /etc/hosts and resolv.conf:
 * the host's (`host`), another container's (`container:C`, which must be running), a new
 * one with loopback only (`none`), or its own on bridge networks, set up now by netavark.
 */
export async function networkFor(ctx: ContainerContext, record: ContainerRecord): Promise<ContainerNetworkSetup> {
  const mode = record.HostConfig.NetworkMode;
  const extra: string[] = [];
  for (const h of record.HostConfig.ExtraHosts ?? []) {
    const i = h.indexOf(':');
    let ip = h.slice(i + 1);
    // Docker's special value: the host, as the default network's gateway.
    if (ip === 'host-gateway') ip = (await ctx.networking.store.get(DEFAULT_NETWORK)).IPAM.Config[0].Gateway;
    extra.push(`${ip}\t${h.slice(0, i)}`);
  }
  const dns = dnsSettingsOf(record);
  if (mode === 'host') return { netns: 'host', hosts: [fs.readFileSync('/etc/hosts', 'utf8').trimEnd(), ...extra, ''].join('\n'), resolv: resolvConf([], undefined, dns), linkEnv: [], ready: Promise.resolve() };
  if (mode.startsWith('container:')) {
    const other = mode.slice('container:'.length);
    const state = ctx.store.state(other);
    const name = ctx.store.tryRecord(other)?.Name ?? other.slice(0, 12);
    if ((state.Status !== 'running' && state.Status !== 'paused') || !pidAlive(state.MonitorPid ?? 0)) {
      throw new ConflictError(`cannot join network of a non running container: ${name}; start ${name} first`);
    }
    const otherRecord = ctx.store.record(other);
    const netns = joinsNetworks(otherRecord) ? ctx.networking.netnsPath(other) : `/proc/${state.Pid}/ns/net`;
    const read = (f: string) => fs.readFileSync(path.join(ctx.store.containerDir(other), f), 'utf8');
    return { netns: otherRecord.HostConfig.NetworkMode === 'host' ? 'host' : netns, hosts: read('hosts'), resolv: read('resolv.conf'), linkEnv: [], ready: Promise.resolve() };
  }
  if (!joinsNetworks(record)) return { hosts: [BASE_HOSTS, ...extra, ''].join('\n'), resolv: resolvConf([], undefined, dns), linkEnv: [], ready: Promise.resolve() };
  // Links are checked before anything is set up: a linked container that is not running fails the start.
  const links = await ctx.networking.links(record, (n) => {
    const r = ctx.store.records().find((c) => c.Name === n);
    return r && { record: r, state: ctx.store.state(r.Id) };
  });
  const setup = await ctx.networking.attach(record);
  // The containers that link to this one learn its address once it answers there.
  const ready = setup.ready.then(() => ctx.networking.updateLinkers(record, linkersOf(ctx, record)));
  const own = setup.ip ? [`${setup.ip}\t${record.Config.Hostname}`] : [];
  // Docker's order: --add-host lines, then links, then the container's own address.
  return { netns: ctx.networking.netnsPath(record.Id), hosts: [BASE_HOSTS, ...extra, ...links.hosts, ...own, ''].join('\n'), resolv: resolvConf(setup.dnsServers, undefined, dns), linkEnv: links.env, ready };
}

/**
 * Writes the container's own /etc/hostname, /etc/hosts and /etc/resolv.conf (as Docker's, files
 * of the container); returns where each is, to be bind-mounted at its place in /etc.
 */
export function writeNetworkFiles(ctx: ContainerContext, record: ContainerRecord, setup: ContainerNetworkSetup): Array<{ source: string; destination: string }> {
  const dir = ctx.store.containerDir(record.Id);
  const files: Array<[string, string]> = [['hostname', `${record.Config.Hostname}\n`], ['hosts', setup.hosts], ['resolv.conf', setup.resolv]];
  return files.map(([name, text]) => {
    writeFileAtomic(path.join(dir, name), text, 0o644);
    return { source: path.join(dir, name), destination: `/etc/${name}` };
  });
}

/** A container's own /etc/hosts and resolv.conf, which `network connect`/`disconnect` update. */
function netFiles(ctx: ContainerContext, id: string): { hosts: string; resolv: string } {
  return { hosts: path.join(ctx.store.containerDir(id), 'hosts'), resolv: path.join(ctx.store.containerDir(id), 'resolv.conf') };
}

/** The running containers with a `--link` to `record`, and their /etc/hosts. */
function linkersOf(ctx: ContainerContext, record: ContainerRecord): Array<{ record: ContainerRecord; hostsFile: string }> {
  return ctx.store
    .records()
    .filter((r) => r.Id !== record.Id && (r.HostConfig.Links ?? []).some((l) => l.startsWith(`/${record.Name}:`)))
    .filter((r) => ['running', 'paused'].includes(ctx.store.state(r.Id).Status))
    .map((r) => ({ record: r, hostsFile: path.join(ctx.store.containerDir(r.Id), 'hosts') }));
}

/** `network connect`: joins one more network, at once when running, else from the next start. */
export async function connectContainer(ctx: ContainerContext, network: string, nameOrId: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  const net = await ctx.networking.store.get(network);
  await ctx.store.locked(id, async () => {
    const record = ctx.store.record(id);
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
    const state = await refresh(ctx, id);
    if (state.Status === 'running' || state.Status === 'paused') await ctx.networking.connectRunning(record, net.Name, cfg, netFiles(ctx, id));
    ctx.store.writeRecord({ ...record, EndpointsConfig: { ...(record.EndpointsConfig ?? {}), [net.Name]: cfg } });
  });
}

/** `network disconnect`: leaves a network (the next one becomes the primary, or none). */
export async function disconnectContainer(ctx: ContainerContext, network: string, nameOrId: string): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  const net = await ctx.networking.store.get(network);
  await ctx.store.locked(id, async () => {
    const record = ctx.store.record(id);
    const joined = endpointsConfig(record).map(([name]) => name);
    if (!joined.includes(net.Name)) throw new ConflictError(`container ${record.Name} is not connected to network ${net.Name}`);
    const state = await refresh(ctx, id);
    if (state.Status === 'running' || state.Status === 'paused') await ctx.networking.disconnectRunning(record, net.Name, netFiles(ctx, id));
    const rest = { ...(record.EndpointsConfig ?? {}) };
    delete rest[net.Name];
    const mode = record.HostConfig.NetworkMode === net.Name ? (joined.find((n) => n !== net.Name) ?? 'none') : record.HostConfig.NetworkMode;
    ctx.store.writeRecord({ ...record, HostConfig: { ...record.HostConfig, NetworkMode: mode }, EndpointsConfig: rest });
  });
}

/** `runtime port`: the published ports of a running container. */
export async function publishedPorts(ctx: ContainerContext, nameOrId: string): Promise<Array<{ container: string; host: string }>> {
  const id = ctx.store.resolve(nameOrId);
  const out: Array<{ container: string; host: string }> = [];
  for (const { endpoint } of await ctx.networking.endpoints(id)) {
    for (const p of endpoint.ports ?? []) {
      for (let i = 0; i < (p.range ?? 1); i++) out.push({ container: `${p.containerPort + i}/${p.protocol}`, host: `${p.hostIp}:${p.hostPort + i}` });
    }
  }
  return out;
}
