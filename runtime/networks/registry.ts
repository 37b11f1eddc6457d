import * as fs from 'node:fs';
import * as path from 'node:path';
import { withLock, writeJsonAtomic } from '../util/files';
import { Cidr, TakenSubnet, formatCidr, parseCidr, tryParseIp } from './ipam';
import type { NetworkRecord } from './types';

/**
 * The host-wide subnet registry: which state root holds which subnet.
 *
 * Terms
 * - Every state root on a host (the default one, a second user's, a CI job's, a test's) keeps
 *   its networks in its own store and cannot see the others'. Its bridges exist on the host
 *   only while containers are attached, so the host's routes and addresses alone miss a subnet
 *   another root has allocated but not started yet. Each network therefore *claims* its subnet
 *   here, in a file keyed by the subnet (`10.89.0.0-24.json`) that names the root, the network
 *   id, its name and its bridge: enough to name the holder in an error.
 * - A claim is *live* while `<root>/networks/<id>.json` exists and still has that subnet;
 *   otherwise (the root was deleted, the network removed by a crashed command, the state
 *   restored from a backup) it is *stale* and is dropped by the next reader. So a claim can
 *   never block a subnet for ever, and the registry needs no clean-up of its own.
 *
 * Why a registry file rather than a mark on the bridge (an `ip link` alias, a name prefix):
 * the bridge does not exist while no container runs, which is exactly when a second root picks
 * its subnet, and a name prefix cannot hold a path. It lives in /var/lib rather than /run
 * because networks outlive a reboot: a tmpfs registry would forget every subnet at boot while
 * the networks stay. A subnet the registry cannot know about (another host directory, an older
 * version, Docker's docker0, libvirt) is still found on the host (`hostState`) at network
 * creation and again at container start.
 *
 * Lifecycle: `claim` under the registry's lock when a network is created (after checking the
 * live claims) and again at every container start (which repairs a missing claim), `release`
 * when the network is removed. The registry's lock is always taken inside a store's lock,
 * never the other way round.
 */

/** Where every state root of the host claims its subnets. */
export const SUBNET_REGISTRY_DIR = '/var/lib/cdk-docker-subnets';

const CLAIM_PATTERN = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})-(\d{1,2})\.json$/;
const ID_PATTERN = /^[0-9a-f]{64}$/;

/** What a claim file holds. */
export interface SubnetClaim {
  readonly version: 1;
  /** `10.89.0.0/24`. */
  readonly subnet: string;
  /** The state root (absolute, symlinks resolved). */
  readonly root: string;
  readonly networkId: string;
  readonly network: string;
  readonly bridge: string;
}

/** A live claim, with its subnet parsed. */
export interface LiveClaim extends SubnetClaim {
  readonly cidr: Cidr;
}

export class SubnetRegistry {
  constructor(public readonly dir: string = SUBNET_REGISTRY_DIR) {}

  /** Runs `fn` holding the registry's lock (host-wide; re-entrant within one async context). */
  public locked<T>(fn: () => Promise<T> | T): Promise<T> {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const lockPath = path.join(this.dir, '.lock');
    return withLock(lockPath, fn, { busy: `the host's subnet registry is locked by another cdk-docker command (${lockPath}); retry when it has finished` });
  }

  /**
   * The live claims, stale ones deleted on the way (under `locked` only). With `prune: false`,
   * nothing is deleted and no lock is needed: claims are written atomically.
   */
  public liveClaims(opts: { readonly prune?: boolean } = {}): LiveClaim[] {
    let entries: string[];
    try {
      entries = fs.readdirSync(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: LiveClaim[] = [];
    for (const entry of entries.sort()) {
      const m = CLAIM_PATTERN.exec(entry);
      if (!m) continue;
      const file = path.join(this.dir, entry);
      const claim = readClaim(file, `${m[1]}/${m[2]}`);
      if (claim === 'unreadable') continue;
      if (claim && isLive(claim)) out.push(claim);
      else if (opts.prune !== false) fs.rmSync(file, { force: true });
    }
    return out;
  }

  /** Records that `root`'s network `r` holds its subnet. Call it under `locked`. */
  public claim(root: string, r: NetworkRecord): void {
    const subnet = r.IPAM.Config[0].Subnet;
    const claim: SubnetClaim = { version: 1, subnet, root, networkId: r.Id, network: r.Name, bridge: r.netavark.network_interface };
    writeJsonAtomic(this.file(subnet), claim, 0o600);
  }

  /** Drops `root`'s claim for network `r`, if it is the one the registry holds. */
  public async release(root: string, r: NetworkRecord): Promise<void> {
    await this.locked(() => {
      const file = this.file(r.IPAM.Config[0].Subnet);
      const claim = readClaim(file, r.IPAM.Config[0].Subnet);
      if (claim && claim !== 'unreadable' && claim.root === root && claim.networkId === r.Id) fs.rmSync(file, { force: true });
    });
  }

  private file(subnet: string): string {
    return path.join(this.dir, `${subnet.replace('/', '-')}.json`);
  }
}

/** The live claims of roots other than `root`, as subnets another network holds. */
export function otherRoots(claims: readonly LiveClaim[], root: string): TakenSubnet[] {
  return claims.filter((c) => c.root !== root).map((c) => ({ cidr: c.cidr, network: c.network, bridge: c.bridge, root: c.root }));
}

/**
 * A claim file, checked strictly (it names a path we read); undefined when it is malformed (and
 * may go), 'unreadable' when it cannot be read now (it stays).
 */
function readClaim(file: string, subnet: string): LiveClaim | undefined | 'unreadable' {
  let data: Partial<SubnetClaim>;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<SubnetClaim>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    return e instanceof SyntaxError ? undefined : 'unreadable';
  }
  if (
    data.version !== 1 ||
    data.subnet !== subnet ||
    typeof data.root !== 'string' ||
    !path.isAbsolute(data.root) ||
    data.root.includes('\0') ||
    typeof data.networkId !== 'string' ||
    !ID_PATTERN.test(data.networkId) ||
    typeof data.network !== 'string' ||
    typeof data.bridge !== 'string'
  ) {
    return undefined;
  }
  const [ip] = subnet.split('/');
  if (tryParseIp(ip) === undefined) return undefined;
  let cidr: Cidr;
  try {
    cidr = parseCidr(subnet, 'subnet');
  } catch {
    return undefined;
  }
  if (formatCidr(cidr) !== subnet) return undefined;
  return { ...(data as SubnetClaim), cidr };
}

/** Whether the claimed network still exists in its root with that subnet (unreadable counts as live). */
function isLive(c: SubnetClaim): boolean {
  let r: Partial<NetworkRecord>;
  try {
    r = JSON.parse(fs.readFileSync(path.join(c.root, 'networks', `${c.networkId}.json`), 'utf8')) as Partial<NetworkRecord>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || e instanceof SyntaxError) return false;
    return true;
  }
  return r.Id === c.networkId && !!r.IPAM?.Config?.some((x) => x.Subnet === c.subnet);
}
