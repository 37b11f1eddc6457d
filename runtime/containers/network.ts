import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError } from '../../lib/util/errors';
import type { Netavark, NetworkStore } from '../networks';
import type { Endpoint, NetworkRecord, PortMapping, SetupResult } from '../networks';
import { DEFAULT_NETWORK } from '../networks/types';
import type { ContainerRecord, EndpointConfig, PortBinding } from './types';

const run = promisify(execFile);

/**
 * A container's networking on the bridge networks of the runtime: a network namespace of its
 * own, bind-mounted at `<runRoot>/netns/<id>` so it outlives a crash and can be torn down, with
 * an address on each network it joins (IPAM of the network store) and interfaces, published
 * ports and DNS entries made by netavark. Addresses are held while the container runs, as
 * Docker's: `start` reserves them, the exit releases them.
 */

/** Whether a network mode means bridge networking (a network name) rather than none, host or container:. */
export function joinsNetwork(mode: string): boolean {
  return mode !== 'none' && mode !== 'host' && !mode.startsWith('container:');
}

/** Whether the container gets its own network namespace on bridge networks. */
export function joinsNetworks(record: ContainerRecord): boolean {
  return joinsNetwork(record.HostConfig.NetworkMode);
}

/** The networks a container joins, in order (NetworkMode first), with their settings. */
export function endpointsConfig(record: ContainerRecord): Array<[string, EndpointConfig]> {
  if (!joinsNetworks(record)) return [];
  const configs = { ...(record.EndpointsConfig ?? {}) };
  const first = record.HostConfig.NetworkMode === 'default' ? DEFAULT_NETWORK : record.HostConfig.NetworkMode;
  const out: Array<[string, EndpointConfig]> = [[first, configs[first] ?? { Aliases: [] }]];
  for (const [name, cfg] of Object.entries(configs)) if (name !== first) out.push([name, cfg]);
  return out;
}

/** The ports to publish: PortBindings, plus every exposed port on a free one with `-P`. */
export function publishedPorts(record: ContainerRecord): PortMapping[] {
  const out: PortMapping[] = [];
  const bindings: { [portProto: string]: PortBinding[] } = { ...(record.HostConfig.PortBindings ?? {}) };
  if (record.HostConfig.PublishAllPorts) {
    for (const key of Object.keys(record.Config.ExposedPorts ?? {})) bindings[key] ??= [{ HostIp: '', HostPort: '' }];
  }
  for (const [key, list] of Object.entries(bindings)) {
    const [port, proto = 'tcp'] = key.split('/');
    for (const b of list) {
      out.push({ hostIp: b.HostIp || '0.0.0.0', hostPort: Number(b.HostPort) || 0, containerPort: Number(port), protocol: proto as PortMapping['protocol'] });
    }
  }
  return out;
}

/** Docker's `NetworkSettings.Ports` from the ports an endpoint publishes. */
export function portsMap(record: ContainerRecord, ports: readonly PortMapping[]): { [portProto: string]: Array<{ HostIp: string; HostPort: string }> | null } {
  const out: { [portProto: string]: Array<{ HostIp: string; HostPort: string }> | null } = {};
  for (const key of Object.keys(record.Config.ExposedPorts ?? {})) out[key] = null;
  for (const p of ports) {
    for (let i = 0; i < (p.range ?? 1); i++) {
      const key = `${p.containerPort + i}/${p.protocol}`;
      out[key] = [...(out[key] ?? []), { HostIp: p.hostIp, HostPort: String(p.hostPort + i) }];
    }
  }
  return out;
}

/** `0.0.0.0:8080->80/tcp, 53/udp`, as `docker ps` shows ports. */
export function formatPorts(record: ContainerRecord, ports: readonly PortMapping[]): string {
  const map = portsMap(record, ports);
  return Object.entries(map)
    .sort(([a], [b]) => Number(a.split('/')[0]) - Number(b.split('/')[0]))
    .flatMap(([key, list]) => (list ? list.map((b) => `${b.HostIp}:${b.HostPort}->${key}`) : [key]))
    .join(', ');
}

export class ContainerNetworking {
  private netavarkCache?: Netavark;

  constructor(
    private readonly runRoot: string,
    public readonly store: NetworkStore,
  ) {}

  private get netavark(): Netavark {
    // Loaded on first use: containers without networks never pay for it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.netavarkCache ??= new (require('../networks/netavark') as typeof import('../networks/netavark')).Netavark(this.store, { runRoot: this.runRoot });
    return this.netavarkCache;
  }

  /** Where the container's network namespace is bind-mounted while it runs. */
  public netnsPath(id: string): string {
    return path.join(this.runRoot, 'netns', id);
  }

  /** Checks that the networks a new container names exist (at create, as Docker). */
  public async check(networks: readonly string[]): Promise<void> {
    for (const n of networks) await this.store.get(n);
  }

  /** The container's endpoints now, in the order of its interfaces. */
  public async endpoints(id: string): Promise<Array<{ network: NetworkRecord; endpoint: Endpoint }>> {
    const out: Array<{ network: NetworkRecord; endpoint: Endpoint }> = [];
    for (const r of await this.store.records()) if (r.endpoints[id]) out.push({ network: r, endpoint: r.endpoints[id] });
    return out.sort((a, b) => ifIndex(a.endpoint) - ifIndex(b.endpoint));
  }

  /**
   * Gives a starting container its namespace, addresses, interfaces and published ports.
   * Anything made is undone when a step fails (the port already taken, an address in use).
   */
  public async attach(record: ContainerRecord): Promise<SetupResult> {
    const netns = this.netnsPath(record.Id);
    const networks = endpointsConfig(record);
    try {
      await this.createNetns(netns);
      const attach = [];
      for (const [i, [name, cfg]] of networks.entries()) {
        await this.store.allocate(name, record.Id, { requestedIp: cfg.IPAMConfig?.IPv4Address, containerName: record.Name, aliases: cfg.Aliases });
        attach.push({ network: name, aliases: networkAliases(record, cfg), interfaceName: `eth${i}` });
      }
      return await this.netavark.setup(netns, { containerId: record.Id, containerName: record.Name, networks: attach, ports: publishedPorts(record) });
    } catch (e) {
      await this.detach(record.Id).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Undoes `attach` (after the exit, or to repair a crash): netavark teardown while the
   * namespace exists, then the addresses and the namespace. Safe to repeat.
   */
  public async detach(id: string): Promise<void> {
    const netns = this.netnsPath(id);
    const endpoints = await this.endpoints(id);
    let failure: unknown;
    const live = endpoints.filter((e) => e.endpoint.interfaceName);
    if (live.length && fs.existsSync(netns)) {
      // The network holding the published ports goes first: teardown removes them with it.
      live.sort((a, b) => Number(!!b.endpoint.ports?.length) - Number(!!a.endpoint.ports?.length));
      try {
        await this.netavark.teardown(netns, {
          containerId: id,
          containerName: live[0].endpoint.containerName,
          networks: live.map((e) => ({ network: e.network.Id, interfaceName: e.endpoint.interfaceName, aliases: e.endpoint.aliases })),
        });
      } catch (e) {
        failure = e;
      }
    }
    await this.store.releaseAll(id);
    await removeNetns(netns);
    if (failure) throw failure;
  }

  /** `network connect` of a running container: an address and an interface on one more network. */
  public async connectRunning(record: ContainerRecord, network: string, cfg: EndpointConfig): Promise<void> {
    const existing = await this.endpoints(record.Id);
    const index = Math.max(-1, ...existing.map((e) => ifIndex(e.endpoint))) + 1;
    await this.store.allocate(network, record.Id, { requestedIp: cfg.IPAMConfig?.IPv4Address, containerName: record.Name, aliases: cfg.Aliases });
    try {
      await this.netavark.setup(this.netnsPath(record.Id), {
        containerId: record.Id,
        containerName: record.Name,
        networks: [{ network, aliases: networkAliases(record, cfg), interfaceName: `eth${index}` }],
      });
    } catch (e) {
      await this.store.release(network, record.Id);
      throw e;
    }
  }

  /** `network disconnect` of a running container. */
  public async disconnectRunning(record: ContainerRecord, network: string): Promise<void> {
    const net = await this.store.get(network);
    const endpoint = net.endpoints[record.Id];
    if (!endpoint) return;
    if (endpoint.interfaceName) {
      await this.netavark.teardown(this.netnsPath(record.Id), {
        containerId: record.Id,
        containerName: record.Name,
        networks: [{ network: net.Id, interfaceName: endpoint.interfaceName, aliases: endpoint.aliases }],
        ports: endpoint.ports ?? [],
      });
    }
    await this.store.release(net.Id, record.Id);
  }

  private async createNetns(file: string): Promise<void> {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    if (fs.existsSync(file)) await removeNetns(file);
    fs.writeFileSync(file, '', { mode: 0o600 });
    try {
      // A new network namespace, kept alive by a bind mount on `file` (as `ip netns add` does).
      await run('unshare', [`--net=${file}`, 'true']);
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw new InvalidArgumentError(`cannot create a network namespace at ${file}: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}; unshare (util-linux) and root are needed`);
    }
  }
}

/** The names a container answers to on a network: its aliases, plus its short id as Docker adds. */
function networkAliases(record: ContainerRecord, cfg: EndpointConfig): string[] {
  return [...new Set([...cfg.Aliases, record.Id.slice(0, 12)])];
}

function ifIndex(e: Endpoint): number {
  const m = /(\d+)$/.exec(e.interfaceName ?? '');
  return m ? Number(m[1]) : 1000;
}

/** Unmounts and deletes a bind-mounted namespace file; nothing when it is not there. */
async function removeNetns(file: string): Promise<void> {
  if (!fs.existsSync(file)) return;
  await run('umount', [file]).catch(() => undefined);
  fs.rmSync(file, { force: true });
}
