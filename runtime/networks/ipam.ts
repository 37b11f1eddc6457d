import { execFile } from 'node:child_process';
import { CdkDockerError, ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { bounds, Cidr, contains, formatCidr, formatIp, overlaps, readCidr, tryParseIp } from '../../lib/core/ip';
import type { NetworkRecord } from './types';

export { bounds, contains, formatCidr, formatIp, overlaps, tryParseIp } from '../../lib/core/ip';
export type { Cidr } from '../../lib/core/ip';

/**
 * IPv4 address management: CIDR arithmetic, the subnets the host already routes, the choice of
 * a free subnet from the pool, checks of explicit subnets, and the choice of a container's
 * address. Everything here is pure except `hostSubnets`; the store calls it under its lock.
 */

/** A prefix the host routes or has an address in, and the interface that has it. */
export interface HostSubnet {
  readonly cidr: Cidr;
  readonly dev: string;
  /** For an interface address: the address with its prefix length (`10.1.0.1/24`); absent for a route. */
  readonly address?: string;
}

/** The subnet of the default network is the first free one of these /16s. */
export const DEFAULT_POOL: readonly string[] = ['10.88.0.0/16', '10.87.0.0/16', '10.86.0.0/16', '10.85.0.0/16'];
/** User networks get the first free /24 of these /16s (10.89.0.0/24, 10.89.1.0/24, …). */
export const USER_POOL: readonly string[] = ['10.89.0.0/16', '10.90.0.0/16', '10.91.0.0/16', '10.92.0.0/16', '10.93.0.0/16'];
export const USER_PREFIX = 24;

/** Parses an IPv4 address; InvalidArgumentError naming `what` otherwise. */
export function parseIp(s: string, what: string): number {
  const n = tryParseIp(s);
  if (n === undefined) {
    const v6 = s.includes(':') ? ': IPv6 is not supported by the built-in runtime yet' : ' (expected an IPv4 address such as 10.1.0.1)';
    throw new InvalidArgumentError(`invalid ${what} "${s}"${v6}`);
  }
  return n;
}

/**
 * Parses `a.b.c.d/n`. With `strict`, host bits must be zero (Docker: "invalid subnet
 * 10.1.2.3/24: it should be 10.1.2.0/24"); otherwise they are dropped (routes, addresses).
 */
export function parseCidr(s: string, what: string, strict = true): Cidr {
  const read = readCidr(s);
  if (!read) {
    const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
    if (m && Number(m[2]) <= 32) parseIp(m[1], what); // names the address when only it is wrong
    const v6 = s.includes(':') ? ': IPv6 is not supported by the built-in runtime yet' : ' (expected CIDR notation such as 10.1.0.0/16)';
    throw new InvalidArgumentError(`invalid ${what} "${s}"${v6}`);
  }
  if (strict && read.cidr.base !== read.address) throw new InvalidArgumentError(`invalid ${what} ${s}: it should be ${formatCidr(read.cidr)}`);
  return read.cidr;
}

/** Every /`prefix` inside `pool`, in order. */
function* split(pool: Cidr, prefix: number): Generator<Cidr> {
  const step = 2 ** (32 - prefix);
  const [first, last] = bounds(pool);
  for (let b = first; b <= last; b += step) yield { base: b >>> 0, prefix };
}

function runIp(args: string[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new CdkDockerError(`ip ${args.join(' ')} failed: ${stderr.trim() || err.message}; is iproute2 installed (apt-get install iproute2)?`));
        return;
      }
      try {
        resolve(JSON.parse(stdout || '[]'));
      } catch (e) {
        reject(new CdkDockerError(`ip ${args.join(' ')} printed no JSON (${(e as Error).message}); the runtime needs iproute2 ≥ 4.14`));
      }
    });
  });
}

/** What the host has: its prefixes (routes and addresses) and the names of its interfaces. */
export interface HostState {
  readonly subnets: HostSubnet[];
  /** Every interface, up or down, with or without an address. */
  readonly links: ReadonlySet<string>;
}

/**
 * The IPv4 prefixes the host routes (every table; the default route excepted) and those of its
 * addresses (on any interface, up or down: a down bridge's address has no route but is taken),
 * with their interfaces. A new network must avoid them all.
 */
export async function hostSubnets(): Promise<HostSubnet[]> {
  return (await hostState()).subnets;
}

/** `hostSubnets` with the names of the host's interfaces (`ip -j route` and `ip -j addr`). */
export async function hostState(): Promise<HostState> {
  const [routes, addrs] = await Promise.all([
    runIp(['-j', '-4', 'route', 'show', 'table', 'all']) as Promise<{ dst?: string; dev?: string; type?: string }[]>,
    runIp(['-j', 'addr', 'show']) as Promise<{ ifname: string; addr_info?: { family: string; local: string; prefixlen: number }[] }[]>,
  ]);
  const out: HostSubnet[] = [];
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || (r.type && r.type !== 'unicast')) continue;
    const dst = r.dst.includes('/') ? r.dst : `${r.dst}/32`;
    if (tryParseIp(dst.split('/')[0]) === undefined) continue;
    out.push({ cidr: parseCidr(dst, 'route', false), dev: r.dev ?? '?' });
  }
  for (const link of addrs) {
    for (const a of link.addr_info ?? []) {
      if (a.family !== 'inet' || a.prefixlen === 32 || tryParseIp(a.local) === undefined) continue;
      out.push({ cidr: parseCidr(`${a.local}/${a.prefixlen}`, 'address', false), dev: link.ifname, address: `${a.local}/${a.prefixlen}` });
    }
  }
  // 127.0.0.0/8 is the host's even when no route table shows it.
  out.push({ cidr: { base: tryParseIp('127.0.0.0')!, prefix: 8 }, dev: 'lo' });
  return { subnets: out, links: new Set(addrs.map((l) => l.ifname)) };
}

/** The subnets of other networks, each with its network's name and bridge. */
export interface TakenSubnet {
  readonly cidr: Cidr;
  readonly network: string;
  readonly bridge: string;
  /** The state root of that network when it is another root's (see ./registry); absent for this root's own. */
  readonly root?: string;
}

/** `network "web" of the state root /var/lib/other (bridge cdkbr-…)`, or `network "web"` for this root's own. */
export function describeTaken(t: TakenSubnet): string {
  return t.root === undefined ? `network "${t.network}"` : `network "${t.network}" of the state root ${t.root} (bridge ${t.bridge})`;
}

/** How to free a subnet another network holds. */
function freeHint(t: TakenSubnet): string {
  if (t.root === undefined) return `remove that network (cdk-docker runtime network rm ${t.network})`;
  if (t.network === 'bridge') return `give that root another "bip" (${t.root}/config.json)`;
  return `remove that network (CDK_DOCKER_ROOT=${t.root} cdk-docker runtime network rm ${t.network})`;
}

export function networkSubnets(records: readonly NetworkRecord[]): TakenSubnet[] {
  return records.flatMap((r) => r.IPAM.Config.map((c) => ({ cidr: parseCidr(c.Subnet, 'subnet', false), network: r.Name, bridge: r.netavark.network_interface })));
}

/** The first prefix of the pools that overlaps neither a network nor a host route. */
export function chooseSubnet(pools: readonly string[], prefix: number, taken: readonly TakenSubnet[], host: readonly HostSubnet[]): Cidr {
  for (const p of pools) {
    for (const c of split(parseCidr(p, 'pool'), prefix)) {
      if (taken.some((t) => overlaps(t.cidr, c))) continue;
      if (host.some((h) => overlaps(h.cidr, c))) continue;
      return c;
    }
  }
  throw new ConflictError(`no free subnet left in the address pools ${pools.join(', ')}: every one overlaps a network (of this or another state root) or a host route or address; remove unused networks (cdk-docker runtime network prune) or give one with --subnet`);
}

/** A checked IPAM configuration. */
export interface IpamChoice {
  readonly subnet: Cidr;
  readonly gateway: number;
  readonly ipRange?: Cidr;
}

/** How `checkIpam` words its errors. */
export interface IpamContext {
  /**
   * What is being made, the start of every message.
   * @default `create NAME`
   */
  readonly what?: string;
  /**
   * Where the subnet came from, in the fix of an overlap.
   * @default 'another --subnet'
   */
  readonly fix?: string;
}

/**
 * Checks `--subnet/--gateway/--ip-range` (or chooses them): the subnet must be free (not
 * another network's, of this state root or another, not routed by the host or held by one of
 * its interfaces that is not one of ours), the gateway and the range inside it.
 */
export function checkIpam(
  name: string,
  opts: { subnet?: string; gateway?: string; ipRange?: string },
  taken: readonly TakenSubnet[],
  host: readonly HostSubnet[],
  pools: readonly string[],
  poolPrefix: number,
  context: IpamContext = {},
): IpamChoice {
  const what = context.what ?? `create ${name}`;
  const fix = context.fix ?? 'another --subnet';
  if (opts.subnet === undefined) {
    if (opts.gateway !== undefined) throw new InvalidArgumentError(`create ${name}: --gateway ${opts.gateway} needs --subnet (a gateway only makes sense with the subnet it is in)`);
    if (opts.ipRange !== undefined) throw new InvalidArgumentError(`create ${name}: --ip-range ${opts.ipRange} needs --subnet (the range must lie inside it)`);
    const subnet = chooseSubnet(pools, poolPrefix, taken, host);
    return { subnet, gateway: subnet.base + 1 };
  }
  const subnet = parseCidr(opts.subnet, 'subnet');
  if (subnet.prefix > 30) throw new InvalidArgumentError(`create ${name}: subnet ${opts.subnet} is too small: it leaves no address for a container next to the gateway; use a /30 or larger`);
  const [first, last] = bounds(subnet);
  let gateway = first + 1;
  if (opts.gateway !== undefined) {
    gateway = parseIp(opts.gateway, 'gateway');
    if (!contains(subnet, gateway)) throw new InvalidArgumentError(`create ${name}: gateway ${opts.gateway} is not in subnet ${opts.subnet}; give an address inside it (e.g. ${formatIp(first + 1)})`);
    if (gateway === first || gateway === last) throw new InvalidArgumentError(`create ${name}: gateway ${opts.gateway} is the ${gateway === first ? 'network' : 'broadcast'} address of ${opts.subnet}; give a host address (e.g. ${formatIp(first + 1)})`);
  }
  let ipRange: Cidr | undefined;
  if (opts.ipRange !== undefined) {
    ipRange = parseCidr(opts.ipRange, 'ip-range');
    if (ipRange.prefix < subnet.prefix || !contains(subnet, ipRange.base)) {
      throw new InvalidArgumentError(`create ${name}: ip-range ${opts.ipRange} is not inside subnet ${opts.subnet}; give a range within it (e.g. ${formatIp(first + 2 ** (31 - subnet.prefix))}/${Math.min(subnet.prefix + 1, 30)})`);
    }
    if (usable(subnet, gateway, ipRange).count === 0) throw new InvalidArgumentError(`create ${name}: ip-range ${opts.ipRange} has no address left for containers (the gateway takes it); give a larger range`);
  }
  // The arguments are checked first: a typo is reported before what the host holds.
  // This root's networks first (the message a single-root user knows), then other roots'.
  const other = taken.find((t) => t.root === undefined && overlaps(t.cidr, subnet)) ?? taken.find((t) => overlaps(t.cidr, subnet));
  if (other) {
    throw new ConflictError(`${what}: subnet ${opts.subnet} overlaps ${formatCidr(other.cidr)} of ${describeTaken(other)}; choose ${fix} or ${freeHint(other)}`);
  }
  const ours = new Set(taken.filter((t) => t.root === undefined).map((t) => t.bridge));
  const routed = host.find((h) => !ours.has(h.dev) && overlaps(h.cidr, subnet));
  if (routed) {
    const holder = routed.address ? `which interface ${routed.dev} holds (address ${routed.address})` : `which the host routes through ${routed.dev}`;
    throw new ConflictError(`${what}: subnet ${opts.subnet} overlaps ${formatCidr(routed.cidr)}, ${holder}; choose ${fix} (ip route and ip addr show what is in use)`);
  }
  return { subnet, gateway, ipRange };
}

/** The addresses containers may get: inside the range (or subnet), not the network, broadcast or gateway. */
function usable(subnet: Cidr, gateway: number, range?: Cidr): { first: number; last: number; count: number } {
  const [sFirst, sLast] = bounds(subnet);
  const [rFirst, rLast] = range ? bounds(range) : [sFirst, sLast];
  const first = Math.max(rFirst, sFirst + 1);
  const last = Math.min(rLast, sLast - 1);
  const count = Math.max(0, last - first + 1 - (gateway >= first && gateway <= last ? 1 : 0));
  return { first, last, count };
}

/** The lease range netavark shows for an `--ip-range`. */
export function leaseRange(c: IpamChoice): { start_ip: string; end_ip: string } | undefined {
  if (!c.ipRange) return undefined;
  const u = usable(c.subnet, c.gateway, c.ipRange);
  return { start_ip: formatIp(u.first), end_ip: formatIp(u.last) };
}

/**
 * The address for `containerId` on `network`: the requested one when it is free and in the
 * subnet (else ConflictError/InvalidArgumentError with the reason), otherwise the next free
 * one of the range after the last one given (Docker's rolling allocation, so a released
 * address is not reused at once).
 */
export function chooseAddress(network: NetworkRecord, containerId: string, requested?: string): string {
  const cfg = network.IPAM.Config[0];
  const subnet = parseCidr(cfg.Subnet, 'subnet', false);
  const gateway = parseIp(cfg.Gateway, 'gateway');
  const inUse = new Map<number, string>();
  for (const e of Object.values(network.endpoints)) if (e.containerId !== containerId) inUse.set(parseIp(e.ip, 'address'), e.containerName);
  const [first, last] = bounds(subnet);
  if (requested !== undefined) {
    const ip = parseIp(requested, 'IP address');
    if (!contains(subnet, ip)) {
      throw new InvalidArgumentError(`address ${requested} is not in subnet ${cfg.Subnet} of network "${network.Name}"; give one inside it (--ip ${formatIp(first + 2)}) or leave --ip out`);
    }
    if (ip === gateway) throw new ConflictError(`address ${requested} is the gateway of network "${network.Name}"; give another --ip or leave it out`);
    if (ip === first || ip === last) throw new InvalidArgumentError(`address ${requested} is the ${ip === first ? 'network' : 'broadcast'} address of ${cfg.Subnet} (network "${network.Name}"); give a host address`);
    const holder = inUse.get(ip);
    if (holder !== undefined) throw new ConflictError(`address ${requested} is already in use on network "${network.Name}" by container "${holder}"; give another --ip or leave it out`);
    return requested;
  }
  const range = cfg.IPRange ? parseCidr(cfg.IPRange, 'ip-range', false) : undefined;
  const u = usable(subnet, gateway, range);
  const size = u.last - u.first + 1;
  const last0 = network.lastIp !== undefined ? tryParseIp(network.lastIp) : undefined;
  const start = last0 !== undefined && last0 >= u.first && last0 <= u.last ? last0 + 1 - u.first : 0;
  for (let i = 0; i < size; i++) {
    const ip = u.first + ((start + i) % size);
    if (ip !== gateway && !inUse.has(ip)) return formatIp(ip);
  }
  throw new ConflictError(`no free address left on network "${network.Name}" (${cfg.IPRange ?? cfg.Subnet}, ${inUse.size} in use); remove containers from it or create a network with a larger --subnet`);
}
