import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { validateName } from '../../lib/core/names';
import type { NetworkSettings } from '../config';
import { recordEvent } from '../events';
import { JsonFileCache, removeCachedFile, withLock, writeJsonAtomic } from '../util/files';
import { LabelFilters, anyOf, enumFilter, groupFilters, matchId, matchLabels, matchName } from '../util/filters';
import {
  DEFAULT_POOL,
  IpamContext,
  USER_POOL,
  USER_PREFIX,
  checkIpam,
  chooseAddress,
  describeTaken,
  formatCidr,
  formatIp,
  hostState,
  leaseRange,
  networkSubnets,
  overlaps,
  parseCidr,
} from './ipam';
import { LiveClaim, SubnetRegistry, otherRoots } from './registry';
import {
  AttachedContainers,
  BRIDGE_NAME_OPTION,
  CreateNetworkOptions,
  DEFAULT_BRIDGE,
  DEFAULT_NETWORK,
  Endpoint,
  MTU_OPTION,
  Network,
  NetworkContainer,
  NetworkListFilters,
  NetworkRecord,
  PREDEFINED_NETWORKS,
  PruneNetworksResult,
} from './types';

const RECORD_SUFFIX = '.json';
const ID_PATTERN = /^[0-9a-f]{64}$/;
/** Linux interface names are at most 15 bytes. */
const IFNAMSIZ = 15;

/**
 * The network store of the built-in runtime (see ./types for the terms).
 *
 * Layout under `<root>/networks` (mode 0700):
 * - `<id>.json` — a network's record, endpoints (container addresses) included.
 * - `.lock` — the store's lock (proper-lockfile), held by every change and every allocation.
 *
 * The default network `bridge` is created the first time the store is read. Every network's
 * subnet is also claimed in the host-wide subnet registry (./registry), so that two state roots
 * on one host never take the same subnet.
 */
export class NetworkStore {
  /** `<root>/networks`. */
  public readonly dir: string;
  /** The state root, symlinks resolved (as the subnet registry names it). */
  public readonly root: string;
  private readonly attachedFn: AttachedContainers;
  private readonly registry: SubnetRegistry;
  /** Records read before, read again only when rewritten: each container's start reads them all several times. */
  private readonly recordFiles = new JsonFileCache<NetworkRecord>((text, file) => {
    try {
      return JSON.parse(text) as NetworkRecord;
    } catch (e) {
      throw new CdkDockerError(`network record ${file} is not valid JSON (${(e as Error).message}); move it away to drop that network`);
    }
  });

  /**
   * @param root the runtime's state root (`RuntimeConfig.root`)
   * @param attached lists the containers attached to a network; by default its endpoints
   * @param settings the default network's bridge and addresses, the pools (`RuntimeConfig.network`)
   */
  constructor(root: string, attached?: AttachedContainers, private readonly settings: Partial<NetworkSettings> = {}) {
    this.dir = path.join(root, 'networks');
    if (fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 }) !== undefined) fs.chmodSync(this.dir, 0o700);
    this.root = fs.realpathSync(root);
    this.attachedFn = attached ?? endpointContainers;
    this.registry = new SubnetRegistry();
  }

  /** Runs `fn` holding the store's lock (across processes; re-entrant within one async context). */
  public locked<T>(fn: () => Promise<T> | T): Promise<T> {
    const lockPath = path.join(this.dir, '.lock');
    return withLock(lockPath, fn, { busy: `the network store is locked by another cdk-docker command (${lockPath}); retry when it has finished` });
  }

  // --- reading (atomic writes make unlocked reads consistent) -----------------------------------

  /** Every network record, the default one created when missing, sorted by name. */
  public async records(): Promise<NetworkRecord[]> {
    let all = this.readAll();
    if (!all.some((r) => r.Name === DEFAULT_NETWORK)) {
      await this.ensureDefault();
      all = this.readAll();
    }
    return all;
  }

  /**
   * A network by full id, name, or unique id prefix (Docker's lookup order); NotFoundError
   * "network NAME not found".
   */
  public async get(ref: string): Promise<NetworkRecord> {
    const all = await this.records();
    const found = resolve(all, ref);
    if (!found) throw new NotFoundError(`network ${ref} not found`);
    return found;
  }

  /** A network as `docker network inspect` shows it; `host` and `none` too. */
  public async inspect(ref: string): Promise<Network> {
    if (ref === 'host' || ref === 'none') return pseudoNetwork(ref);
    return this.toNetwork(await this.get(ref));
  }

  /** Networks matching `filters` as Docker shows them, sorted by name, `host` and `none` included. */
  public async list(filters: NetworkListFilters = {}): Promise<Network[]> {
    const nets = [...(await this.records()).map((r) => this.toNetwork(r)), pseudoNetwork('host'), pseudoNetwork('none')];
    return nets
      .filter((n) => {
        const type = PREDEFINED_NETWORKS.includes(n.Name) ? 'builtin' : 'custom';
        return anyOf(filters.driver, (d) => d === n.Driver) && anyOf(filters.name, (f) => matchName(n.Name, f)) && anyOf(filters.id, (f) => matchId(n.Id, f)) && matchLabels(n.Labels, filters) && anyOf(filters.type, (t) => t === type);
      })
      .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  /** The containers attached to a network (by the store's `attached`), by id. */
  public attached(network: NetworkRecord): { [containerId: string]: NetworkContainer } {
    return this.attachedFn(network);
  }

  private toNetwork(r: NetworkRecord): Network {
    return {
      Name: r.Name,
      Id: r.Id,
      Created: r.Created,
      Scope: 'local',
      Driver: r.Driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: {}, Config: r.IPAM.Config.map((c) => ({ ...c })) },
      Internal: r.Internal,
      Attachable: r.Attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: this.attached(r),
      Options: { ...r.Options },
      Labels: { ...r.Labels },
    };
  }

  private readAll(): NetworkRecord[] {
    const out: NetworkRecord[] = [];
    for (const entry of fs.readdirSync(this.dir)) {
      if (!entry.endsWith(RECORD_SUFFIX) || !ID_PATTERN.test(entry.slice(0, -RECORD_SUFFIX.length))) continue;
      const r = this.readRecord(path.join(this.dir, entry));
      if (r) out.push(r);
    }
    return out.sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  }

  /** A record (frozen, shared by every reader: change a copy and write it). */
  private readRecord(file: string): NetworkRecord | undefined {
    return this.recordFiles.read(file);
  }

  private write(r: NetworkRecord): void {
    writeJsonAtomic(path.join(this.dir, `${r.Id}${RECORD_SUFFIX}`), r);
  }

  // --- changes ---------------------------------------------------------------------------------

  /**
   * Replaces a network's labels (nothing else changes: its bridge, addresses and endpoints stay).
   * Docker has no such call; the reconciler uses it to adopt a network it did not make.
   */
  public async setLabels(ref: string, labels: { readonly [key: string]: string }): Promise<NetworkRecord> {
    return this.locked(async () => {
      const r = await this.get(ref);
      if (r.Name === DEFAULT_NETWORK) throw new InvalidArgumentError(`network ${r.Name}: the default network's labels cannot change`);
      const next: NetworkRecord = { ...r, Labels: Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) };
      this.write(next);
      return next;
    });
  }

  /** Creates the default network `bridge` unless it exists. */
  public async ensureDefault(): Promise<NetworkRecord> {
    // Made once per state root: the lock is taken only to make it (records are written atomically).
    const made = () => this.readAll().find((r) => r.Name === DEFAULT_NETWORK);
    return made() ?? this.locked(async () => made() ?? this.createLocked(DEFAULT_NETWORK, {}, true));
  }

  /**
   * Creates a network (Docker's `network create`). The name must be new (ConflictError
   * "network with name web already exists"); `bridge`, `host` and `none` are Docker's own.
   */
  public async create(name: string, opts: CreateNetworkOptions = {}): Promise<NetworkRecord> {
    const driver = opts.driver ?? 'bridge';
    if (driver === 'host' || driver === 'null') throw new ConflictError(`only one instance of "${driver === 'null' ? 'none' : 'host'}" network is allowed; use --network ${driver === 'null' ? 'none' : 'host'} on the container instead`);
    if (driver !== 'bridge') throw new InvalidArgumentError(`create ${name}: network driver "${driver}" is not supported: the built-in runtime has only the "bridge" driver (drop -d/--driver)`);
    if (PREDEFINED_NETWORKS.includes(name)) throw new ConflictError(`${name} is a pre-defined network and cannot be created; choose another name`);
    validateName('network', name);
    for (const key of Object.keys(opts.labels ?? {})) if (key.length === 0) throw new InvalidArgumentError(`create ${name}: a label needs a name (KEY=VALUE)`);
    await this.ensureDefault();
    return this.locked(() => this.createLocked(name, opts, false)).then((r) => (recordEvent(path.dirname(this.dir), 'network', 'create', r.Id, { name: r.Name, type: 'bridge' }), r));
  }

  private async createLocked(name: string, opts: CreateNetworkOptions, isDefault: boolean): Promise<NetworkRecord> {
    const all = this.readAll();
    if (all.some((r) => r.Name === name)) throw new ConflictError(`network with name ${name} already exists; choose another name or remove it first (cdk-docker runtime network rm ${name})`);
    const id = randomBytes(32).toString('hex');
    const options = checkOptions(name, opts.options ?? {});
    const bridge = isDefault ? (this.settings.defaultBridge ?? DEFAULT_BRIDGE) : (options[BRIDGE_NAME_OPTION] ?? `cdkbr-${id.slice(0, IFNAMSIZ - 'cdkbr-'.length)}`);
    const clash = all.find((r) => r.netavark.network_interface === bridge);
    if (clash) throw new ConflictError(`create ${name}: bridge interface ${bridge} is already used by network "${clash.Name}"; choose another -o ${BRIDGE_NAME_OPTION}=…`);
    const host = (await hostState()).subnets;
    // The registry's lock is held from the check to the claim: two roots never both get a subnet.
    return this.registry.locked(() => {
      const others = otherRoots(this.registry.liveClaims(), this.root);
      const foreign = others.find((t) => t.bridge === bridge);
      if (foreign) throw new ConflictError(`create ${name}: bridge interface ${bridge} is already used by ${describeTaken(foreign)}; choose another -o ${BRIDGE_NAME_OPTION}=…`);
      const taken = [...networkSubnets(all), ...others];
      const pools = this.settings.defaultAddressPools;
      const config = path.join(this.root, 'config.json');
      const ipam = isDefault && this.settings.bip ? bipIpam(this.settings.bip) : opts;
      const context: IpamContext = isDefault && this.settings.bip ? { what: `default network "${name}" (bip ${this.settings.bip} in ${config})`, fix: `another "bip" in ${config}` } : {};
      const choice = isDefault
        ? checkIpam(name, ipam, taken, host, DEFAULT_POOL, 16, context)
        : checkIpam(name, ipam, taken, host, pools?.map((p) => p.base) ?? USER_POOL, pools?.[0]?.size ?? USER_PREFIX, context);
      const record = this.newRecord(id, name, opts, options, bridge, isDefault, choice);
      // Claimed first: a claim whose record never got written is stale, never the other way round.
      this.registry.claim(this.root, record);
      this.write(record);
      return record;
    });
  }

  private newRecord(id: string, name: string, opts: CreateNetworkOptions, options: { [key: string]: string }, bridge: string, isDefault: boolean, choice: ReturnType<typeof checkIpam>): NetworkRecord {
    const subnet = formatCidr(choice.subnet);
    const gateway = formatIp(choice.gateway);
    const created = rfc3339Nano(new Date());
    const dockerOptions: { [key: string]: string } = isDefault
      ? {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          [BRIDGE_NAME_OPTION]: bridge,
          [MTU_OPTION]: '1500',
        }
      : { ...options, [BRIDGE_NAME_OPTION]: bridge };
    const lease = leaseRange(choice);
    const record: NetworkRecord = {
      version: 1,
      Name: name,
      Id: id,
      Created: created,
      Driver: 'bridge',
      Scope: 'local',
      Internal: opts.internal ?? false,
      Attachable: opts.attachable ?? false,
      Labels: sortedMap(opts.labels ?? {}),
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gateway, ...(choice.ipRange ? { IPRange: formatCidr(choice.ipRange) } : {}) }] },
      Options: sortedMap(dockerOptions),
      netavark: {
        // netavark names its iptables chains and aardvark files after the network name: the id
        // keeps two state roots' networks of the same name (every root has a "bridge") apart.
        name: id,
        id,
        driver: 'bridge',
        network_interface: bridge,
        created,
        subnets: [{ subnet, gateway, ...(lease ? { lease_range: lease } : {}) }],
        ipv6_enabled: false,
        internal: opts.internal ?? false,
        dns_enabled: !isDefault,
        ipam_options: { driver: 'host-local' },
        // Docker isolates networks from each other; netavark does when asked.
        options: { isolate: 'true', ...(options[MTU_OPTION] ? { mtu: options[MTU_OPTION] } : {}) },
      },
      endpoints: {},
    };
    return record;
  }

  /**
   * Removes a network: never a pre-defined one, never one with attached containers. A bridge
   * interface left behind by a crashed command is deleted too. With `force`, a missing network
   * is not an error.
   */
  public async remove(ref: string, opts: { force?: boolean } = {}): Promise<void> {
    if (PREDEFINED_NETWORKS.includes(ref)) throw new ConflictError(`${ref} is a pre-defined network and cannot be removed`);
    await this.ensureDefault();
    await this.locked(async () => {
      const r = resolve(this.readAll(), ref);
      if (!r) {
        if (opts.force) return;
        throw new NotFoundError(`network ${ref} not found`);
      }
      if (r.Name === DEFAULT_NETWORK) throw new ConflictError(`${r.Name} is a pre-defined network and cannot be removed`);
      await this.removeLocked(r);
    });
  }

  private async removeLocked(r: NetworkRecord): Promise<void> {
    const users = Object.values(this.attached(r)).map((c) => c.Name).sort();
    if (users.length > 0) {
      throw new ConflictError(`error while removing network: network ${r.Name} id ${r.Id} has active endpoints (${users.join(', ')}); stop and remove those containers or disconnect them first (cdk-docker runtime network disconnect ${r.Name} CONTAINER)`);
    }
    await deleteLeftoverBridge(r.netavark.network_interface);
    await (require('./netavark') as typeof import('./netavark')).removeNetworkRules(r.Name, r.netavark);
    removeCachedFile(path.join(this.dir, `${r.Id}${RECORD_SUFFIX}`));
    recordEvent(path.dirname(this.dir), 'network', 'destroy', r.Id, { name: r.Name, type: 'bridge' });
    // The network is gone already: a claim left by a failed release is dropped by its next reader.
    await this.registry.release(this.root, r).catch(() => undefined);
  }

  /**
   * Checks, just before netavark sets them up for `container`, that the subnets of `networks`
   * are still theirs on this host, and claims them (repairing a claim an older version or a
   * wiped registry did not leave). Refused (ConflictError naming the holder) when another state
   * root's network claims an overlapping subnet or the same bridge, or when a network's bridge
   * does not exist yet and an interface of the host (up or down) or a route holds an
   * overlapping prefix: netavark would make a second bridge for it and the containers would
   * lose their network. Runs under the store's lock, before anything is made.
   */
  public async checkOnHost(networks: readonly NetworkRecord[], container: string): Promise<void> {
    // The host's interfaces and routes are read (two `ip` runs) only when a bridge is to be made:
    // a container joining bridges that exist needs no more than the claims.
    const toMake = networks.some((r) => !fs.existsSync(`/sys/class/net/${r.netavark.network_interface}`));
    const host = toMake ? await hostState() : undefined;
    // Refused or not, what the claims say is the same read with or without the lock; the lock is
    // needed to claim (and to drop dead claims). A container joining networks that exist and are
    // all claimed already takes no host-wide lock.
    const unclaimed = (claims: readonly LiveClaim[]): NetworkRecord[] => {
      const others = otherRoots(claims, this.root);
      const missing: NetworkRecord[] = [];
      for (const r of networks) {
        const subnet = parseCidr(r.IPAM.Config[0].Subnet, 'subnet', false);
        const bridge = r.netavark.network_interface;
        const fix = r.Name === DEFAULT_NETWORK ? 'use another network (--network)' : `recreate network "${r.Name}" with another --subnet`;
        const other = others.find((t) => overlaps(t.cidr, subnet)) ?? others.find((t) => t.bridge === bridge);
        if (other) {
          const what = overlaps(other.cidr, subnet) ? `its subnet ${formatCidr(subnet)} overlaps ${formatCidr(other.cidr)} of ${describeTaken(other)}` : `its bridge ${bridge} is the one of ${describeTaken(other)}`;
          throw new ConflictError(`cannot start container ${container} on network "${r.Name}": ${what}; remove one of the two networks or ${fix}`);
        }
        if (host && !host.links.has(bridge)) {
          const held = host.subnets.find((h) => overlaps(h.cidr, subnet));
          if (held) {
            const owner = claims.find((c) => c.bridge === held.dev && c.root !== this.root);
            const iface = `interface ${held.dev}${owner ? ` (the bridge of network "${owner.network}" of the state root ${owner.root})` : ''}`;
            const holds = held.address ? `${iface} holds ${held.address}` : `the host routes ${formatCidr(held.cidr)} through ${iface}`;
            const free = held.address ? `remove that address (ip addr del ${held.address} dev ${held.dev})` : `remove that route (ip route del ${formatCidr(held.cidr)} dev ${held.dev})`;
            throw new ConflictError(`cannot start container ${container} on network "${r.Name}": its subnet ${formatCidr(subnet)} is in use on the host: ${holds}; ${free} or ${fix}`);
          }
        }
        if (!claims.some((c) => c.root === this.root && c.networkId === r.Id)) missing.push(r);
      }
      return missing;
    };
    if (!host && unclaimed(this.registry.liveClaims({ prune: false })).length === 0) return;
    await this.registry.locked(() => {
      for (const r of unclaimed(this.registry.liveClaims())) this.registry.claim(this.root, r);
    });
  }

  /** Removes every user network no container is attached to (Docker's `network prune`). */
  public async prune(opts: LabelFilters = {}): Promise<PruneNetworksResult> {
    await this.ensureDefault();
    return this.locked(async () => {
      const deleted: string[] = [];
      for (const r of this.readAll()) {
        if (r.Name === DEFAULT_NETWORK) continue;
        if (!matchLabels(r.Labels, opts) || Object.keys(this.attached(r)).length > 0) continue;
        await this.removeLocked(r);
        deleted.push(r.Name);
      }
      return { deleted: deleted.sort() };
    });
  }

  // --- addresses -------------------------------------------------------------------------------

  /**
   * Reserves an address for a container on a network and returns it: `requestedIp` when it is
   * free and inside the subnet (`--ip`), otherwise the next free one of the range. A container
   * that already has an endpoint there keeps its address (asking for another one is a
   * ConflictError).
   */
  public async allocate(ref: string, containerId: string, opts: { requestedIp?: string; containerName?: string; aliases?: string[] } = {}): Promise<string> {
    await this.ensureDefault();
    return this.locked(async () => {
      const r = this.getLocked(ref);
      const existing = r.endpoints[containerId];
      if (existing) {
        if (opts.requestedIp !== undefined && opts.requestedIp !== existing.ip) {
          throw new ConflictError(`container ${existing.containerName} already has address ${existing.ip} on network "${r.Name}"; disconnect it first to change it to ${opts.requestedIp}`);
        }
        return existing.ip;
      }
      const ip = chooseAddress(r, containerId, opts.requestedIp);
      const endpoint: Endpoint = {
        containerId,
        containerName: opts.containerName ?? containerId.slice(0, 12),
        endpointId: randomBytes(32).toString('hex'),
        ip,
        ...(opts.aliases?.length ? { aliases: [...opts.aliases] } : {}),
      };
      this.write({ ...r, endpoints: { ...r.endpoints, [containerId]: endpoint }, lastIp: opts.requestedIp === undefined ? ip : r.lastIp });
      recordEvent(path.dirname(this.dir), 'network', 'connect', r.Id, { container: containerId, name: r.Name, type: 'bridge' });
      return ip;
    });
  }

  /** Frees a container's address on a network; nothing when it has none. */
  public async release(ref: string, containerId: string): Promise<void> {
    await this.locked(async () => {
      const r = resolve(this.readAll(), ref);
      if (!r || !r.endpoints[containerId]) return;
      const endpoints = { ...r.endpoints };
      delete endpoints[containerId];
      this.write({ ...r, endpoints });
      recordEvent(path.dirname(this.dir), 'network', 'disconnect', r.Id, { container: containerId, name: r.Name, type: 'bridge' });
    });
  }

  /** Frees a container's addresses on every network (container removal, crash repair). */
  public async releaseAll(containerId: string): Promise<string[]> {
    return this.locked(async () => {
      const released: string[] = [];
      for (const r of this.readAll()) {
        if (!r.endpoints[containerId]) continue;
        const endpoints = { ...r.endpoints };
        delete endpoints[containerId];
        this.write({ ...r, endpoints });
        recordEvent(path.dirname(this.dir), 'network', 'disconnect', r.Id, { container: containerId, name: r.Name, type: 'bridge' });
        released.push(r.Name);
      }
      return released;
    });
  }

  /** Replaces an endpoint's setup details (MAC, interface, ports). Lock held by the caller or taken. */
  public async updateEndpoint(ref: string, containerId: string, change: (e: Endpoint) => Endpoint): Promise<void> {
    await this.locked(async () => {
      const r = this.getLocked(ref);
      const e = r.endpoints[containerId];
      if (!e) throw new NotFoundError(`container ${containerId.slice(0, 12)} has no address on network "${r.Name}"; allocate one first`);
      this.write({ ...r, endpoints: { ...r.endpoints, [containerId]: change(e) } });
    });
  }

  /** A record read under the lock; NotFoundError when missing. */
  public getLocked(ref: string): NetworkRecord {
    const r = resolve(this.readAll(), ref);
    if (!r) throw new NotFoundError(`network ${ref} not found`);
    return r;
  }

  /** Every record, read now (under the caller's lock for a consistent view). */
  public readAllLocked(): NetworkRecord[] {
    return this.readAll();
  }
}

/** Docker's `bip` ("10.88.0.1/16": the gateway with the prefix) as a subnet and gateway. */
function bipIpam(bip: string): { subnet: string; gateway: string } {
  const [ip, prefix] = bip.split('/');
  const cidr = parseCidr(`${ip}/${prefix}`, 'bip', false);
  return { subnet: formatCidr(cidr), gateway: ip };
}

/** The default `attached`: the network's own endpoints. */
export function endpointContainers(r: NetworkRecord): { [containerId: string]: NetworkContainer } {
  const prefix = r.IPAM.Config[0]?.Subnet.split('/')[1] ?? '32';
  const out: { [containerId: string]: NetworkContainer } = {};
  for (const id of Object.keys(r.endpoints).sort()) {
    const e = r.endpoints[id];
    out[id] = { Name: e.containerName, EndpointID: e.endpointId, MacAddress: e.mac ?? '', IPv4Address: `${e.ip}/${prefix}`, IPv6Address: '' };
  }
  return out;
}

/** Docker's lookup: full id, then exact name, then a unique id prefix. */
function resolve(all: readonly NetworkRecord[], ref: string): NetworkRecord | undefined {
  if (!ref) return undefined;
  const byId = all.find((r) => r.Id === ref);
  if (byId) return byId;
  const byName = all.find((r) => r.Name === ref);
  if (byName) return byName;
  if (!/^[0-9a-f]+$/.test(ref)) return undefined;
  const byPrefix = all.filter((r) => r.Id.startsWith(ref));
  if (byPrefix.length > 1) throw new ConflictError(`network ${ref} is ambiguous: it matches ${byPrefix.map((r) => r.Name).join(', ')}; use more of the id or the name`);
  return byPrefix[0];
}

/** `host` and `none` as Docker lists them (stable ids derived from the name). */
function pseudoNetwork(name: 'host' | 'none'): Network {
  return {
    Name: name,
    Id: createHash('sha256').update(`cdk-docker pseudo-network ${name}`).digest('hex'),
    Created: '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: name === 'host' ? 'host' : 'null',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  };
}

function checkOptions(name: string, opts: { readonly [key: string]: string }): { [key: string]: string } {
  for (const [key, value] of Object.entries(opts)) {
    if (key === BRIDGE_NAME_OPTION) {
      if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(value) || Buffer.byteLength(value) > IFNAMSIZ) {
        throw new InvalidArgumentError(`create ${name}: bridge name "${value}" is not a valid interface name: use at most ${IFNAMSIZ} letters, digits, "_", "." or "-"`);
      }
    } else if (key === MTU_OPTION) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 68 || n > 65535) throw new InvalidArgumentError(`create ${name}: mtu "${value}" is not a number between 68 and 65535`);
    } else {
      throw new InvalidArgumentError(`create ${name}: driver option "${key}" is not supported; the bridge driver takes ${BRIDGE_NAME_OPTION} and ${MTU_OPTION}`);
    }
  }
  return { ...opts };
}

/**
 * Deletes a bridge interface left behind when a crash skipped netavark's teardown: only a
 * bridge, and only one with no ports left (nothing of anyone else's is touched).
 */
async function deleteLeftoverBridge(name: string): Promise<void> {
  let info: { linkinfo?: { info_kind?: string } }[];
  try {
    info = JSON.parse(await ipText(['-j', '-d', 'link', 'show', 'dev', name])) as typeof info;
  } catch {
    return; // not there: the normal case
  }
  if (info[0]?.linkinfo?.info_kind !== 'bridge') return;
  const ports = JSON.parse((await ipText(['-j', 'link', 'show', 'master', name])) || '[]') as unknown[];
  if (ports.length > 0) return;
  try {
    await ipText(['link', 'delete', 'dev', name]);
  } catch (e) {
    throw new CdkDockerError(`cannot delete the network's bridge ${name}: ${(e as Error).message}; delete it by hand (ip link delete ${name})`);
  }
}

function ipText(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('ip', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(stderr.trim() || err.message));
      else resolvePromise(stdout);
    });
  });
}

function sortedMap(m: { readonly [key: string]: string }): { [key: string]: string } {
  return Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
}

/** RFC 3339 with nanoseconds, as Docker prints a network's Created. */
function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, (_m, ms: string) => `.${ms}${String(process.hrtime()[1] % 1_000_000).padStart(6, '0')}Z`);
}

// --- filters -------------------------------------------------------------------------------------

/** Parses `network ls --filter` arguments: `name=`, `label=KEY[=VALUE]`, `driver=`, `id=`, `type=builtin|custom`. */
export function parseNetworkListFilters(args: readonly string[]): NetworkListFilters {
  const g = groupFilters(args, ['name', 'label', 'driver', 'id', 'type'], 'network');
  return { name: g.get('name'), label: g.get('label'), driver: g.get('driver'), id: g.get('id'), type: enumFilter(g, 'type', ['builtin', 'custom'] as const) };
}

/** Parses `network prune --filter` arguments: `label=…`, `label!=…`. */
export function parseNetworkPruneFilters(args: readonly string[]): LabelFilters {
  const g = groupFilters(args, ['label', 'label!'], 'network');
  return { label: g.get('label'), labelNot: g.get('label!') };
}
