import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import type { Netavark, NetworkStore } from '../networks';
import type { Endpoint, NetworkRecord, PortMapping, SetupResult } from '../networks';
import { DEFAULT_NETWORK } from '../networks/types';
import type { ContainerRecord, ContainerState, EndpointConfig, PortBinding } from './types';

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


// --- /etc/hosts, /etc/resolv.conf and legacy links ----------------------------------------------

/** The first lines of every container's /etc/hosts, as Docker writes them. */
export const BASE_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
].join('\n');

/**
 * A container's resolv.conf: the host's without loopback nameservers (unreachable from a
 * container), as Docker copies it; on networks with DNS, their name servers (aardvark-dns)
 * instead of the host's.
 */
export function resolvConf(nameservers: readonly string[] = [], hostFile = '/etc/resolv.conf', dns: DnsSettings = {}): string {
  let text = '';
  try {
    text = fs.readFileSync(hostFile, 'utf8');
  } catch {
    // none
  }
  // --dns: after the networks' own servers (which resolve container names), else instead of the host's.
  const servers = [...nameservers, ...(dns.servers ?? []).filter((s) => !nameservers.includes(s))];
  let lines = text.split('\n').filter((l) => (servers.length ? !/^\s*nameserver\s/.test(l) : !/^\s*nameserver\s+(127\.|::1\b)/.test(l)));
  if (dns.search?.length) {
    lines = lines.filter((l) => !/^\s*(search|domain)\s/.test(l));
    // "." alone means no search domains (Docker's --dns-search .).
    const domains = dns.search.filter((d) => d !== '.');
    if (domains.length) lines.push(`search ${domains.join(' ')}`);
  }
  if (dns.options?.length) lines = [...lines.filter((l) => !/^\s*options\s/.test(l)), `options ${dns.options.join(' ')}`];
  if (servers.length) lines.unshift(...servers.map((n) => `nameserver ${n}`));
  if (!lines.some((l) => /^\s*nameserver\s/.test(l))) lines.push('nameserver 8.8.8.8', 'nameserver 8.8.4.4');
  return `${lines.filter((l, i, a) => l !== '' || i < a.length - 1).join('\n')}\n`;
}

/** A container's own DNS settings (`--dns`, `--dns-search`, `--dns-option`). */
export interface DnsSettings {
  readonly servers?: readonly string[];
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** The DNS settings a container record asks for. */
export function dnsSettingsOf(record: ContainerRecord): DnsSettings {
  const h = record.HostConfig;
  return { servers: h.Dns ?? [], search: h.DnsSearch ?? [], options: h.DnsOptions ?? [] };
}

/**
 * Replaces the content of `file` keeping its inode: the file is bind-mounted into a running
 * container, which would keep seeing the old inode if it were replaced by a rename.
 * Nothing when the file is not there (the container never started).
 */
export function rewriteInPlace(file: string, content: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    const buf = Buffer.from(content, 'utf8');
    fs.writeSync(fd, buf, 0, buf.length, 0);
    fs.ftruncateSync(fd, buf.length);
  } finally {
    fs.closeSync(fd);
  }
}

/** A running container's own /etc/hosts and resolv.conf (host paths of the bind-mounted files). */
export interface ContainerNetFiles {
  readonly hosts: string;
  readonly resolv: string;
}

/** Rewrites the lines of an /etc/hosts file in place; nothing when it is not there. */
function editHosts(file: string, edit: (lines: string[]) => string[]): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return;
  }
  const next = `${edit(text.replace(/\n$/, '').split('\n')).join('\n')}\n`;
  if (next !== text) rewriteInPlace(file, next);
}

/** Names of containers and link aliases: Docker's container-name rule. */
const LINK_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A `--link NAME[:ALIAS]` of a new container, as the CLI parses it. */
export interface LinkRequest {
  readonly name: string;
  readonly alias: string;
}

/** A container another one links to, as the start of the linking one sees it. */
export interface LinkedContainer {
  readonly record: ContainerRecord;
  readonly state: ContainerState;
}

/**
 * Checks `--link` requests of a new container named `self` and returns them as Docker's
 * `HostConfig.Links` (`/NAME:/SELF/ALIAS`). The linked container must exist (`find` throws
 * NotFoundError otherwise) and must not use the host's network; a container on the host's
 * network or another container's cannot have links (Docker's messages).
 */
export function recordLinks(links: readonly LinkRequest[], self: string, networkMode: string, find: (name: string) => ContainerRecord): string[] {
  if (links.length === 0) return [];
  if (networkMode === 'host') throw new ConflictError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
  if (networkMode.startsWith('container:')) throw new ConflictError("conflicting options: container type network can't be used with links. This would result in undefined behavior");
  const out: string[] = [];
  for (const l of links) {
    const name = l.name.replace(/^\//, '');
    const alias = (l.alias || name).replace(/^\//, '');
    if (!LINK_NAME.test(l.name) || !LINK_NAME.test(l.alias || name)) {
      throw new InvalidArgumentError(`invalid link "${l.name}:${l.alias}": give --link NAME[:ALIAS], both a container name of letters, digits, "_", "." and "-"`);
    }
    let child: ContainerRecord;
    try {
      child = find(name);
    } catch {
      throw new InvalidArgumentError(`could not get container for ${name}: No such container: ${name}; create it first or fix the --link`);
    }
    if (child.HostConfig.NetworkMode === 'host') throw new ConflictError("conflicting options: host type networking can't be used with links. This would result in undefined behavior");
    const entry = `/${child.Name}:/${self}/${alias}`;
    if (out.some((o) => o.endsWith(`:/${self}/${alias}`))) throw new ConflictError(`conflicting links: the alias ${alias} is given twice; give each --link its own alias`);
    out.push(entry);
  }
  return out;
}

/** `/NAME:/SELF/ALIAS` → its parts; undefined for anything else. */
export function parseLinkEntry(entry: string): { name: string; linkName: string; alias: string } | undefined {
  const m = /^\/([^:/]+):(\/[^:/]+\/([^:/]+))$/.exec(entry);
  return m ? { name: m[1], linkName: m[2], alias: m[3] } : undefined;
}

/**
 * Docker's link environment (moby's daemon/links): `ALIAS_PORT`, `ALIAS_PORT_80_TCP…`,
 * `ALIAS_NAME=/self/alias` and `ALIAS_ENV_X` for the linked container's own environment
 * (less HOME and PATH).
 */
export function linkEnv(linkName: string, childIp: string, childEnv: readonly string[], exposedPorts: readonly string[]): string[] {
  const alias = path.posix.basename(linkName).toUpperCase().replace(/-/g, '_');
  const ports = exposedPorts
    .map((p) => {
      const [num, proto = 'tcp'] = p.split('/');
      return { num: Number(num), proto: proto.toLowerCase() };
    })
    .filter((p) => Number.isInteger(p.num) && p.num > 0 && /^[a-z]+$/.test(p.proto))
    .sort((a, b) => (a.proto === b.proto ? a.num - b.num : a.proto === 'tcp' ? -1 : b.proto === 'tcp' ? 1 : a.proto.localeCompare(b.proto)));
  const env: string[] = [];
  let start = ports[0];
  let end = ports[0];
  ports.forEach((p, i) => {
    if (i === 0) env.push(`${alias}_PORT=${p.proto}://${childIp}:${p.num}`);
    const prefix = `${alias}_PORT_${p.num}_${p.proto.toUpperCase()}`;
    env.push(`${prefix}=${p.proto}://${childIp}:${p.num}`, `${prefix}_ADDR=${childIp}`, `${prefix}_PORT=${p.num}`, `${prefix}_PROTO=${p.proto}`);
    if (i > 0 && p.num === end.num + 1 && p.proto === end.proto) {
      end = p;
      if (i < ports.length - 1) return;
    }
    if (end !== start) {
      const rp = `${alias}_PORT_${start.num}_${start.proto.toUpperCase()}`;
      env.push(`${rp}_START=${start.proto}://${childIp}:${start.num}`, `${rp}_PORT_START=${start.num}`, `${rp}_END=${end.proto}://${childIp}:${end.num}`, `${rp}_PORT_END=${end.num}`);
    }
    start = p;
    end = p;
  });
  env.push(`${alias}_NAME=${linkName}`);
  for (const v of childEnv) {
    const i = v.indexOf('=');
    if (i < 0) continue;
    const key = v.slice(0, i);
    if (key === 'HOME' || key === 'PATH') continue;
    env.push(`${alias}_ENV_${key}=${v.slice(i + 1)}`);
  }
  return env;
}

/** A hostname safe on a line of /etc/hosts. */
const HOSTS_WORD = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class ContainerNetworking {
  private netavarkCache?: Netavark;

  constructor(
    private readonly runRoot: string,
    public readonly store: NetworkStore,
  ) {}

  private get netavark(): Netavark {
    // Loaded on first use: containers without networks never pay for it.
    this.netavarkCache ??= new (require('../networks/netavark') as typeof import('../networks/netavark')).Netavark(this.store, { runRoot: this.runRoot });
    return this.netavarkCache;
  }

  /**
   * The name servers of a container's resolv.conf now: aardvark-dns on the gateway of each
   * DNS-enabled network it is connected to (any of them answers the names of all its networks);
   * none (the host's resolvers, as Docker copies them) on the default network alone.
   */
  public async dnsServers(id: string): Promise<string[]> {
    const out: string[] = [];
    for (const { network, endpoint } of await this.endpoints(id)) {
      if (!endpoint.interfaceName) continue;
      for (const g of dnsGateways(network)) if (!out.includes(g)) out.push(g);
    }
    return out;
  }

  /**
   * Rewrites a running container's resolv.conf (`file`, bind-mounted into it: the same inode)
   * for the networks it is connected to now, after `network connect` or `disconnect`, as
   * Docker switches a container to its embedded resolver and back. Call under the container's lock.
   */
  public async updateResolvConf(id: string, file: string, dns: DnsSettings = {}): Promise<void> {
    const content = resolvConf(await this.dnsServers(id), undefined, dns);
    let current: string | undefined;
    try {
      current = fs.readFileSync(file, 'utf8');
    } catch {
      return;
    }
    if (current !== content) rewriteInPlace(file, content);
  }

  /**
   * What a starting container's links give it (Docker's legacy links): on the default network,
   * a line `IP ALIAS HOSTNAME [NAME]` in /etc/hosts and the link environment for each linked
   * container, which must be running and on the default network too; on user networks, the
   * alias as a name only this container resolves (an /etc/hosts line `IP ALIAS`), to the linked
   * container's address on a network both share, when it runs.
   */
  public async links(record: ContainerRecord, find: (name: string) => LinkedContainer | undefined): Promise<{ hosts: string[]; env: string[] }> {
    const hosts: string[] = [];
    const env: string[] = [];
    const entries = (record.HostConfig.Links ?? []).map((e) => parseLinkEntry(e)).filter((e): e is NonNullable<typeof e> => e !== undefined);
    if (entries.length === 0) return { hosts, env };
    const legacy = endpointsConfig(record).some(([name]) => name === DEFAULT_NETWORK);
    for (const link of entries) {
      const child = find(link.name);
      const running = child !== undefined && (child.state.Status === 'running' || child.state.Status === 'paused');
      if (legacy && !running) throw new ConflictError(`Cannot link to a non running container: /${link.name} AS ${link.linkName}; start ${link.name} first`);
      if (!child || !running) continue;
      const line = await this.linkHostsLine(record, link, child.record);
      if (legacy && !line) throw new ConflictError(`Cannot link to /${child.record.Name}, as it does not belong to the default network; connect it to bridge or use a user-defined network`);
      if (!line) continue;
      hosts.push(line.text);
      if (legacy) env.push(...linkEnv(link.linkName, line.ip, child.record.Config.Env, Object.keys(child.record.Config.ExposedPorts ?? {})));
    }
    return { hosts, env };
  }

  /**
   * The /etc/hosts line of `record` for its link to `child`: `IP ALIAS HOSTNAME [NAME]` with the
   * child's address on the default network (legacy links), or `IP ALIAS` with its address on a
   * DNS-enabled network both share; undefined when the child has no such address now.
   */
  private async linkHostsLine(record: ContainerRecord, link: { alias: string }, child: ContainerRecord): Promise<{ ip: string; text: string } | undefined> {
    const own = endpointsConfig(record).map(([name]) => name);
    const endpoints = await this.endpoints(child.Id);
    if (own.includes(DEFAULT_NETWORK)) {
      const ep = endpoints.find((e) => e.network.Name === DEFAULT_NETWORK);
      if (!ep) return undefined;
      const names = [link.alias, child.Config.Hostname, ...(link.alias !== child.Name ? [child.Name] : [])].filter((n) => HOSTS_WORD.test(n));
      return { ip: ep.endpoint.ip, text: `${ep.endpoint.ip}\t${names.join(' ')}` };
    }
    const ep = endpoints.find((e) => own.includes(e.network.Name) && e.network.netavark.dns_enabled);
    return ep && HOSTS_WORD.test(link.alias) ? { ip: ep.endpoint.ip, text: `${ep.endpoint.ip}\t${link.alias}` } : undefined;
  }

  /**
   * After `child` got its addresses (a start, a restart), the /etc/hosts of the running
   * containers that link to it follow its new address, as Docker updates a link's parents. Each
   * file (bind-mounted into its container) is rewritten in place; lines of other names stay.
   */
  public async updateLinkers(child: ContainerRecord, linkers: ReadonlyArray<{ readonly record: ContainerRecord; readonly hostsFile: string }>): Promise<void> {
    for (const { record, hostsFile } of linkers) {
      for (const link of (record.HostConfig.Links ?? []).map((e) => parseLinkEntry(e))) {
        if (!link || link.name !== child.Name) continue;
        const line = await this.linkHostsLine(record, link, child);
        if (!line) continue;
        const first = (l: string) => l.split('\t')[1]?.split(' ')[0];
        editHosts(hostsFile, (lines) => {
          // A user network's link to a container that was not running yet gets its line now.
          const out = lines.some((l) => first(l) === link.alias) ? lines : [...lines, line.text];
          return out.map((l) => (first(l) === link.alias ? line.text : l));
        });
      }
    }
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
   * Gives a starting container its namespace, addresses, interfaces and published ports. What
   * the container's files need is known once its addresses are allocated (ours, not netavark's):
   * the first address and the name servers come back at once, and netavark's setup runs on in
   * `ready` — beside the container's creation, which only needs the namespace to exist; the
   * container may start once `ready` resolved. When `ready` rejects (the port already taken),
   * netavark has undone its part; the caller calls `detach` once nothing uses the namespace any
   * more (a runc create in progress fails if it is taken away). A failure before that is undone here.
   */
  public async attach(record: ContainerRecord): Promise<{ readonly ip?: string; readonly dnsServers: string[]; readonly ready: Promise<SetupResult> }> {
    const netns = this.netnsPath(record.Id);
    const networks = endpointsConfig(record);
    const attach = [];
    const ips: string[] = [];
    const dnsServers: string[] = [];
    try {
      await this.createNetns(netns);
      for (const [i, [name, cfg]] of networks.entries()) {
        ips.push(await this.store.allocate(name, record.Id, { requestedIp: cfg.IPAMConfig?.IPv4Address, containerName: record.Name, aliases: cfg.Aliases }));
        attach.push({ network: name, aliases: networkAliases(record, cfg), interfaceName: `eth${i}` });
        for (const g of dnsGateways(await this.store.get(name))) if (!dnsServers.includes(g)) dnsServers.push(g);
      }
    } catch (e) {
      await this.detach(record.Id).catch(() => undefined);
      throw e;
    }
    const ready = this.netavark.setup(netns, { containerId: record.Id, containerName: record.Name, networks: attach, ports: publishedPorts(record) });
    return { ip: ips[0], dnsServers, ready };
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

  /**
   * `network connect` of a running container: an address and an interface on one more network.
   * With `files` (the container's own /etc/hosts and resolv.conf), as Docker: /etc/hosts gets a
   * line for the new address and resolv.conf the network's DNS (`updateResolvConf`).
   */
  public async connectRunning(record: ContainerRecord, network: string, cfg: EndpointConfig, files?: ContainerNetFiles): Promise<void> {
    const existing = await this.endpoints(record.Id);
    const index = Math.max(-1, ...existing.map((e) => ifIndex(e.endpoint))) + 1;
    const ip = await this.store.allocate(network, record.Id, { requestedIp: cfg.IPAMConfig?.IPv4Address, containerName: record.Name, aliases: cfg.Aliases });
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
    if (!files) return;
    editHosts(files.hosts, (lines) => [...lines, `${ip}\t${record.Config.Hostname}`]);
    await this.updateResolvConf(record.Id, files.resolv, dnsSettingsOf(record));
  }

  /**
   * `network disconnect` of a running container. With `files`, the line of the address it had
   * there leaves /etc/hosts and resolv.conf follows the networks it is still on.
   */
  public async disconnectRunning(record: ContainerRecord, network: string, files?: ContainerNetFiles): Promise<void> {
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
    if (!files) return;
    editHosts(files.hosts, (lines) => lines.filter((l) => l !== `${endpoint.ip}\t${record.Config.Hostname}`));
    await this.updateResolvConf(record.Id, files.resolv, dnsSettingsOf(record));
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

/** Where aardvark-dns answers for a network: its gateways when DNS is enabled (netavark's dns_server_ips), else nowhere. */
function dnsGateways(network: NetworkRecord): string[] {
  return network.netavark.dns_enabled ? network.netavark.subnets.flatMap((s) => (s.gateway ? [s.gateway] : [])) : [];
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
