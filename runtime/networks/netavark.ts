import { spawn } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CdkDockerError, ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { findHelper } from '../host';
import { withLock } from '../util/files';
import * as firewall from './firewall';
import type { NetworkStore } from './store';
import type { NetavarkNetwork, NetworkRecord, PortMapping } from './types';

/**
 * The runtime's use of netavark: one `setup` when a container's network namespace is made, one
 * `teardown` before it goes. netavark creates the bridge, the veth pair, the addresses, routes
 * and sysctls and the aardvark-dns entries; it keeps no state of its own except aardvark's files
 * under the config directory, so both calls take the same full description of the container's
 * networks. The iptables rules (NAT, isolation, published ports) are written around those calls
 * by `firewall`, in one iptables-restore each, not by netavark (see there why).
 *
 * Input (stdin JSON, podman's contract): `{container_id, container_name, networks: {NAME:
 * {interface_name, static_ips, aliases}}, network_info: {NAME: Network}, port_mappings:
 * [{host_ip, host_port, container_port, protocol, range}], dns_servers}`. Output of setup: `{NAME:
 * {dns_server_ips, dns_search_domains, interfaces: {IFACE: {mac_address, subnets: [{ipnet,
 * gateway}]}}}}`; errors are `{"error": "…"}` on stdout with exit status 1.
 */

/** A network the container joins, and how. */
export interface AttachNetwork {
  /** Name, id or unique id prefix. */
  readonly network: string;
  /**
   * The container's address there: for setup, the one `NetworkStore.allocate` reserved (setup
   * refuses a container without a reservation, or another address); for teardown, needed only
   * when the reservation is already released.
   * @default - the reserved one
   */
  readonly ip?: string;
  /** Extra DNS names on this network (`--network-alias`); the container name always resolves. */
  readonly aliases?: readonly string[];
  /**
   * The interface inside the container.
   * @default `eth<N>` by position
   */
  readonly interfaceName?: string;
}

/** What `setup` and `teardown` take. */
export interface AttachRequest {
  readonly containerId: string;
  readonly containerName: string;
  /** The networks, the first being the one published ports go through. */
  readonly networks: readonly AttachNetwork[];
  /**
   * Published ports. For teardown, the default is what setup recorded.
   * @default - none (setup), the recorded ones (teardown)
   */
  readonly ports?: readonly PortMapping[];
  /**
   * Upstream DNS servers aardvark-dns asks for names it does not know (`--dns`).
   * @default - the host's resolv.conf, read by aardvark-dns
   */
  readonly dnsServers?: readonly string[];
}

/** One interface netavark made in the container. */
export interface SetupInterface {
  readonly network: string;
  readonly interfaceName: string;
  readonly macAddress: string;
  /** Address without prefix length. */
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string;
}

/** What `setup` made. */
export interface SetupResult {
  readonly interfaces: SetupInterface[];
  /** The published ports, host ports chosen where 0 was asked. */
  readonly ports: PortMapping[];
  /** Name servers for the container's resolv.conf (aardvark-dns on the gateways of DNS-enabled networks). */
  readonly dnsServers: string[];
  /** Search domains netavark suggests (`dns.podman`). */
  readonly dnsSearch: string[];
}

export interface NetavarkOptions {
  /** The runtime's run dir; netavark's config dir (aardvark-dns files) is `<runRoot>/networks`. */
  readonly runRoot: string;
  /** Environment for finding the binaries (`findHelper`). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}


/** Where host-wide locks live (a tmpfs cleared at boot, as podman's netavark.lock). */
const HOST_LOCK_DIR = '/run/lock';

/** A failure reported by netavark. */
export class NetavarkError extends CdkDockerError {
  public override readonly code = 'NETAVARK';
}

interface NetavarkStatus {
  readonly dns_search_domains?: string[];
  readonly dns_server_ips?: string[];
  readonly interfaces?: { [name: string]: { mac_address: string; subnets?: { ipnet: string; gateway?: string }[] } };
}

/**
 * The host lock around netavark and the firewall (HOST_LOCK_DIR/cdk-docker-netavark.lock, taken
 * with `withLock` as by every cdk-docker version): the iptables chains every network on the host
 * shares (isolation, NAT, port forwarding) are read and rewritten (`firewall`), and netavark makes
 * and deletes bridges, so two state roots doing that at once could drop each other's rules or
 * bridges (podman serialises its netavark calls the same way).
 *
 * A setup that joins networks whose bridges and rules are in place — each already has a container
 * set up and attached to its bridge — makes no bridge and no network rule: netavark adds the veth
 * and aardvark's entry (aardvark's commits are locked by netavark), the firewall at most the
 * container's published ports (one change at a time within the process). Such setups of one
 * process share one holding of the lock (`shared`), so an apply's containers join a network side
 * by side instead of one after another; so do teardowns that leave a container on each of their
 * bridges (`leaving`); everything else holds the lock alone (`exclusive`). Other processes see one
 * holder either way. A group takes no new members once an exclusive caller waits, so it cannot
 * starve one.
 */
export class HostLock {
  private group?: { members: number; open: boolean; ready: Promise<void>; finish?: () => void; released?: Promise<void> };
  private exclusiveWaiting = 0;

  constructor(private readonly lockPath: string) {}

  public async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.exclusiveWaiting++;
    if (this.group) this.group.open = false;
    let counted = true;
    try {
      return await this.lock(() => {
        this.exclusiveWaiting--;
        counted = false;
        return fn();
      });
    } finally {
      if (counted) this.exclusiveWaiting--;
    }
  }

  public async shared<T>(fn: () => Promise<T>): Promise<T> {
    let group = this.group;
    if (!group?.open || this.exclusiveWaiting > 0) {
      const g: NonNullable<HostLock['group']> = { members: 0, open: true, ready: Promise.resolve() };
      g.ready = new Promise<void>((ready, failed) => {
        g.released = this.lock(() => {
          ready();
          return new Promise<void>((finish) => (g.finish = finish));
        }).catch(failed);
      });
      this.group = group = g;
    }
    const mine = group;
    mine.members++;
    try {
      await mine.ready;
      return await fn();
    } finally {
      if (--mine.members === 0) {
        mine.open = false;
        if (this.group === mine) this.group = undefined;
        mine.finish?.();
        // The last member returns once the lock is let go, as an exclusive holder does.
        await mine.released;
      }
    }
  }

  private lock<T>(fn: () => Promise<T>): Promise<T> {
    fs.mkdirSync(path.dirname(this.lockPath), { recursive: true, mode: 0o755 });
    return withLock(this.lockPath, fn, {
      busy: 'another cdk-docker command has been changing the host firewall through netavark for over 100 s; retry when it has finished',
    });
  }
}

const hostLock = new HostLock(path.join(HOST_LOCK_DIR, 'cdk-docker-netavark.lock'));

/** Teardowns of this process in flight in a shared hold, by bridge (see `leaving`). */
const leavingNow = new Map<string, number>();

/**
 * Runs a teardown in a shared hold of the host lock when it cannot be netavark's complete
 * teardown of any of `bridges`: each keeps an interface once every teardown in flight here is
 * done (the others of the hold count as gone already). Undefined, without running, otherwise —
 * the caller then holds the lock alone. Counting and claiming happen in one synchronous step.
 */
export async function leaving(bridges: readonly string[], fn: () => Promise<string>): Promise<string | undefined> {
  if (bridges.length === 0 || bridges.some((b) => attachedInterfaces(b) - (leavingNow.get(b) ?? 0) - 1 < 1)) return undefined;
  for (const b of bridges) leavingNow.set(b, (leavingNow.get(b) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    for (const b of bridges) {
      const n = (leavingNow.get(b) ?? 1) - 1;
      if (n) leavingNow.set(b, n);
      else leavingNow.delete(b);
    }
  }
}

/** How many interfaces are attached to `bridge` (0 when it does not exist). */
function attachedInterfaces(bridge: string): number {
  try {
    return fs.readdirSync(`/sys/class/net/${bridge}/brif`).length;
  } catch {
    return 0;
  }
}

/** Whether a container other than `containerId` has finished its setup on `record` (and not been torn down). */
function hasLiveEndpoint(record: NetworkRecord, containerId: string): boolean {
  return Object.entries(record.endpoints).some(([id, e]) => id !== containerId && e.interfaceName !== undefined && !e.settingUp);
}

export class Netavark {
  /** netavark's `--config`: aardvark-dns keeps its per-network files under `aardvark-dns/` here. */
  public readonly configDir: string;
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly store: NetworkStore, opts: NetavarkOptions) {
    this.configDir = path.join(opts.runRoot, 'networks');
    this.env = opts.env ?? process.env;
  }

  /** The netavark binary; InvalidArgumentError with the install command when missing. */
  public binary(): string {
    const found = findHelper('netavark', this.env);
    if (!found) throw new CdkDockerError('netavark not found on PATH or in /usr/lib/podman (it is needed for container networks): install it with `apt-get install netavark aardvark-dns` (cdk-docker doctor --fix)');
    return found;
  }

  /**
   * Connects the network namespace at `netnsPath` to the networks of `req` and publishes its
   * ports. The subnets are checked against the host and other state roots first
   * (`NetworkStore.checkOnHost`), then the host ports (ConflictError "Bind for 0.0.0.0:8080 failed: port is
   * already allocated"); a failed setup is torn down again, so nothing is left half-made. The
   * endpoints record the MAC, the interface and the ports.
   */
  public async setup(netnsPath: string, req: AttachRequest): Promise<SetupResult> {
    const ports = (req.ports ?? []).map(checkPort);
    // The bookkeeping holds the store's lock, netavark only the host's: the containers of one
    // apply join their networks side by side (see `HostLock`), not one after another.
    const prepared = await this.store.locked(async () => {
      const records = this.store.readAllLocked();
      const resolved = this.resolveNetworks(req, true);
      // Another state root or interface holding a subnet is refused before anything is made.
      await this.store.checkOnHost(resolved.map((r) => r.record), req.containerName);
      const used = usedPorts(records, req.containerId);
      const chosen: PortMapping[] = [];
      for (const p of ports) chosen.push(await reservePort(p, [...used, ...chosen]));
      // Recorded before netavark runs, so that a process killed meanwhile leaves an endpoint
      // its container's teardown still undoes (iptables rules, aardvark entries).
      await this.mark(req.containerId, resolved, chosen, false);
      return { resolved, chosen, input: this.input(req, resolved, chosen), joining: resolved.every(({ record }) => hasLiveEndpoint(record, req.containerId)) };
    });
    const { resolved, chosen, input } = prepared;
    const rules = firewallOf(req, resolved, chosen);
    let status: { [network: string]: NetavarkStatus };
    try {
      const bridges = resolved.map(({ record }) => record.netavark.network_interface);
      // Joining networks whose bridges and rules are in place: at most the ports are written.
      const joined = prepared.joining
        ? await hostLock.shared(async () => {
          if (!bridges.every((b) => attachedInterfaces(b) > 0)) return undefined;
          if (chosen.length > 0) await installRules(rules, req.containerName);
          return this.runUnlocked('setup', netnsPath, input);
        })
        : undefined;
      status = JSON.parse(joined ?? (await this.run('setup', netnsPath, input, rules, req.containerName))) as { [network: string]: NetavarkStatus };
    } catch (e) {
      await this.run('teardown', netnsPath, input, rules, req.containerName).catch(() => undefined);
      await this.store.locked(() => this.mark(req.containerId, resolved, chosen, true));
      throw e;
    }
    return this.store.locked(async () => {
      const interfaces: SetupInterface[] = [];
      const dnsServers: string[] = [];
      const dnsSearch: string[] = [];
      for (const [i, { record, attach }] of resolved.entries()) {
        const s = status[record.netavark.name] ?? {};
        const ifname = attach.interfaceName;
        const iface = s.interfaces?.[ifname];
        const sub = iface?.subnets?.[0];
        const [ip, prefix] = (sub?.ipnet ?? `${attach.ip}/32`).split('/');
        interfaces.push({ network: record.Name, interfaceName: ifname, macAddress: iface?.mac_address ?? '', ip, prefixLength: Number(prefix), gateway: sub?.gateway ?? record.IPAM.Config[0].Gateway });
        for (const d of s.dns_server_ips ?? []) if (!dnsServers.includes(d)) dnsServers.push(d);
        for (const d of s.dns_search_domains ?? []) if (!dnsSearch.includes(d)) dnsSearch.push(d);
        await this.store.updateEndpoint(record.Id, req.containerId, (e) => ({
          ...e,
          mac: iface?.mac_address,
          interfaceName: ifname,
          settingUp: undefined,
          aliases: attach.aliases.length ? attach.aliases : e.aliases,
          ports: i === 0 && chosen.length ? chosen : undefined,
        }));
      }
      return { interfaces, ports: chosen, dnsServers, dnsSearch };
    });
  }

  /** Marks the endpoints of a setup about to run (`settingUp`, interface, ports), or clears them after a failed one. */
  private async mark(containerId: string, resolved: ReturnType<Netavark['resolveNetworks']>, chosen: readonly PortMapping[], clear: boolean): Promise<void> {
    for (const [i, { record, attach }] of resolved.entries()) {
      await this.store.updateEndpoint(record.Id, containerId, (e) =>
        clear
          ? { ...e, interfaceName: undefined, ports: undefined, settingUp: undefined }
          : { ...e, interfaceName: attach.interfaceName, ports: i === 0 && chosen.length ? [...chosen] : undefined, settingUp: true },
      );
    }
  }

  /**
   * Undoes `setup`: veths, iptables rules, aardvark entries (netavark removes the bridge with
   * its last container). The addresses stay reserved until `NetworkStore.release`.
   */
  public async teardown(netnsPath: string, req: AttachRequest): Promise<void> {
    // As for setup: the bookkeeping holds the store's lock, netavark only the host's.
    const { resolved, input, ports, halfMade } = await this.store.locked(async () => {
      const resolved = this.resolveNetworks(req);
      const ports = req.ports?.map(checkPort) ?? resolved[0]?.record.endpoints[req.containerId]?.ports ?? [];
      const halfMade = resolved.some(({ record }) => record.endpoints[req.containerId]?.settingUp);
      return { resolved, ports, halfMade, input: this.input(req, resolved, ports) };
    });
    const rules = firewallOf(req, resolved, ports);
    try {
      // Leaving networks where others stay: netavark removes the veth and aardvark's entry, the
      // firewall at most the ports — such teardowns share the host lock (`leaving`).
      const left = !halfMade ? await hostLock.shared(() => leaving(bridgesOf(input), () => this.teardownUnlocked(netnsPath, input, rules, req.containerName, false))) : undefined;
      if (left === undefined) await this.run('teardown', netnsPath, input, rules, req.containerName);
    } catch (e) {
      // Repairing a setup a crash interrupted: netavark removed what was there and reports
      // the pieces that never were (the veth, aardvark's entry).
      if (!halfMade) throw e;
    }
    await this.store.locked(async () => {
      const now = this.store.readAllLocked();
      for (const { record } of resolved) {
        if (!now.find((r) => r.Id === record.Id)?.endpoints[req.containerId]) continue;
        await this.store.updateEndpoint(record.Id, req.containerId, (e) => ({ ...e, mac: undefined, interfaceName: undefined, ports: undefined, settingUp: undefined }));
      }
    });
  }

  private resolveNetworks(req: AttachRequest, forSetup = false): { record: NetworkRecord; attach: { ip: string; aliases: string[]; interfaceName: string } }[] {
    if (req.networks.length === 0) throw new InvalidArgumentError(`container ${req.containerName}: no network to set up (give at least one)`);
    const seen = new Set<string>();
    return req.networks.map((n, i) => {
      const record = this.store.getLocked(n.network);
      if (seen.has(record.Id)) throw new InvalidArgumentError(`container ${req.containerName}: network "${record.Name}" is given twice`);
      seen.add(record.Id);
      const reserved = record.endpoints[req.containerId]?.ip;
      if (forSetup && reserved === undefined) throw new InvalidArgumentError(`container ${req.containerName} has no address on network "${record.Name}"; reserve one first (NetworkStore.allocate)`);
      if (forSetup && n.ip !== undefined && n.ip !== reserved) {
        throw new ConflictError(`container ${req.containerName} holds address ${reserved} on network "${record.Name}", not ${n.ip}; release it and allocate ${n.ip} to change it`);
      }
      const ip = n.ip ?? reserved;
      if (!ip) throw new InvalidArgumentError(`container ${req.containerName} has no address on network "${record.Name}" to tear down; give it (networks[].ip)`);
      return { record, attach: { ip, aliases: [...(n.aliases ?? [])], interfaceName: n.interfaceName ?? `eth${i}` } };
    });
  }

  private input(req: AttachRequest, resolved: ReturnType<Netavark['resolveNetworks']>, ports: readonly PortMapping[]): string {
    const networks: { [name: string]: { interface_name: string; static_ips: string[]; aliases?: string[] } } = {};
    const info: { [name: string]: NetavarkNetwork } = {};
    for (const { record, attach } of resolved) {
      networks[record.netavark.name] = { interface_name: attach.interfaceName, static_ips: [attach.ip], ...(record.netavark.dns_enabled && attach.aliases.length ? { aliases: attach.aliases } : {}) };
      info[record.netavark.name] = record.netavark;
    }
    return JSON.stringify({
      container_id: req.containerId,
      container_name: req.containerName,
      networks,
      network_info: info,
      port_mappings: ports.map((p) => ({ host_ip: p.hostIp === '0.0.0.0' ? '' : p.hostIp, host_port: p.hostPort, container_port: p.containerPort, protocol: p.protocol, range: p.range ?? 1 })),
      ...(req.dnsServers?.length ? { dns_servers: [...req.dnsServers] } : {}),
    });
  }

  /**
   * Runs a setup or teardown holding the host lock alone (`HostLock.exclusive`): a setup writes
   * the firewall first (the container is isolated before its interface is up), a teardown removes
   * it after netavark — a network's own rules when netavark took its bridge's last interface —
   * and also when netavark failed.
   */
  private run(command: 'setup' | 'teardown', netnsPath: string, input: string, rules: readonly FirewallOf[], container: string): Promise<string> {
    return hostLock.exclusive(async () => {
      if (command === 'teardown') return this.teardownUnlocked(netnsPath, input, rules, container, true);
      await installRules(rules, container);
      return this.runUnlocked('setup', netnsPath, input);
    });
  }

  /** netavark's teardown, then the firewall's: `complete` lets a network's rules go with its bridge's last interface. */
  private async teardownUnlocked(netnsPath: string, input: string, rules: readonly FirewallOf[], container: string, complete: boolean): Promise<string> {
    let out = '';
    let failed: unknown;
    try {
      out = await this.runUnlocked('teardown', netnsPath, input);
    } catch (e) {
      failed = e;
    }
    await firewall.remove(
      rules.flatMap((r) => [{ set: r.ports, complete: false }, { set: r.network, complete: complete && attachedInterfaces(r.bridge) === 0 }]),
      `remove the firewall rules of container ${container}`,
    );
    if (failed) throw failed;
    return out;
  }

  private runUnlocked(command: 'setup' | 'teardown', netnsPath: string, input: string): Promise<string> {
    const bin = this.binary();
    const aardvark = findHelper('aardvark-dns', this.env);
    fs.mkdirSync(this.configDir, { recursive: true, mode: 0o700 });
    const args = ['--config', this.configDir, '--rootless', 'false', ...(aardvark ? ['--aardvark-binary', aardvark] : []), command, netnsPath];
    return new Promise((resolve, reject) => {
      // aardvark-dns, started by netavark, must not inherit our pipes: it outlives the call.
      const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'], env: netavarkEnv(this.env, Object.keys(networkInfoOf(input)), command) });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (e) => reject(new NetavarkError(`cannot run ${bin}: ${e.message}; check the installation (cdk-docker doctor)`)));
      let stdoutEnded = false;
      child.stdout.once('end', () => (stdoutEnded = true));
      child.on('exit', (code, signal) => {
        // Read what is buffered, without waiting for pipes a daemonised child may hold open. A
        // busy process can see the exit before netavark's output: a setup's is complete when it
        // parses (its JSON status), else it is awaited until the pipe ends, for a second at most.
        const complete = (): boolean => {
          try {
            JSON.parse(stdout);
            return true;
          } catch {
            return false;
          }
        };
        const settle = () => setImmediate(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          if (code === 0) return resolve(stdout);
          let message = '';
          try {
            message = (JSON.parse(stdout) as { error?: string }).error ?? '';
          } catch {
            // not JSON
          }
          message ||= stderrLines(stderr) || stdout.trim() || `exit ${signal ?? code}`;
          reject(new NetavarkError(`netavark ${command} failed: ${message}; ${hint(command, message, netnsPath)}`));
        });
        if (stdoutEnded || (code === 0 && (command === 'teardown' || complete()))) {
          settle();
        } else {
          const timer = setTimeout(settle, 1_000);
          child.stdout.once('end', () => {
            clearTimeout(timer);
            settle();
          });
        }
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    });
  }
}

/**
 * netavark's environment: `env` with `firewall.noFirewallPath()` first on PATH, so that its
 * iptables calls change nothing (the firewall is written around it), NETAVARK_FW=iptables so
 * that a running firewalld does not take that part over, and for that iptables: the chains of
 * `networks` (netavark names) to list as made, and the command (a teardown finds no rule).
 */
export function netavarkEnv(env: NodeJS.ProcessEnv, networks: readonly string[] = [], command: 'setup' | 'teardown' = 'setup'): NodeJS.ProcessEnv {
  return {
    ...env,
    PATH: [firewall.noFirewallPath(), env.PATH].filter(Boolean).join(':'),
    NETAVARK_FW: 'iptables',
    CDK_DOCKER_NETAVARK_CHAINS: firewall.netavarkChains(networks).join(' '),
    CDK_DOCKER_NETAVARK_COMMAND: command,
  };
}

/** stderr without netavark's "failed to connect to syslog" noise. */
function stderrLines(stderr: string): string {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => l && !/failed to connect to syslog/.test(l)).join('; ');
}

function hint(command: string, message: string, netnsPath: string): string {
  if (/namespace/i.test(message)) return `the network namespace ${netnsPath} is missing or not one; the container must be running`;
  if (/already exists/i.test(message)) return 'an interface of an earlier run is left over: remove the container (its teardown repairs it) or delete that interface (ip link delete NAME)';
  if (/iptables|xtables|nftables/i.test(message)) return 'check that iptables works here (iptables -L; apt-get install iptables) and that the kernel has the nat table';
  if (/aardvark/i.test(message)) return 'check aardvark-dns (apt-get install aardvark-dns; cdk-docker doctor) and that nothing else listens on port 53 of the gateway';
  if (command === 'teardown') return 'the container may be left connected: remove it again once the cause is fixed';
  return 'run cdk-docker doctor to check netavark, aardvark-dns and iptables';
}

// --- published ports -----------------------------------------------------------------------------

const PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** Checks a port mapping's numbers (the constructs validate earlier; this is the engine's guard). */
export function checkPort(p: PortMapping): PortMapping {
  const range = p.range ?? 1;
  const protocol = p.protocol ?? 'tcp';
  if (!PROTOCOLS.includes(protocol)) throw new InvalidArgumentError(`published port ${p.hostPort}:${p.containerPort}: unknown protocol "${protocol}"; use tcp, udp or sctp`);
  if (!Number.isInteger(range) || range < 1) throw new InvalidArgumentError(`published port ${p.hostPort}:${p.containerPort}/${protocol}: range ${range} must be a positive integer`);
  if (!Number.isInteger(p.containerPort) || p.containerPort < 1 || p.containerPort + range - 1 > 65535) {
    throw new InvalidArgumentError(`published port ${p.hostPort}:${p.containerPort}/${protocol}: container port ${p.containerPort} is out of range 1-65535`);
  }
  if (!Number.isInteger(p.hostPort) || p.hostPort < 0 || p.hostPort + range - 1 > 65535) {
    throw new InvalidArgumentError(`published port ${p.hostPort}:${p.containerPort}/${protocol}: host port ${p.hostPort} is out of range 1-65535`);
  }
  const hostIp = p.hostIp === '' ? '0.0.0.0' : p.hostIp;
  if (net.isIP(hostIp) !== 4) throw new InvalidArgumentError(`published port ${p.hostIp}:${p.hostPort}:${p.containerPort}: host address "${p.hostIp}" is not an IPv4 address (IPv6 is not supported by the built-in runtime yet)`);
  return { hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol, range };
}

/** The ports other containers publish (from the endpoints of every network). */
function usedPorts(records: readonly NetworkRecord[], except: string): PortMapping[] {
  return records.flatMap((r) => Object.values(r.endpoints).filter((e) => e.containerId !== except).flatMap((e) => e.ports ?? []));
}

function clash(a: PortMapping, b: PortMapping): boolean {
  if (a.protocol !== b.protocol) return false;
  if (a.hostIp !== b.hostIp && a.hostIp !== '0.0.0.0' && b.hostIp !== '0.0.0.0') return false;
  const aEnd = a.hostPort + (a.range ?? 1) - 1;
  const bEnd = b.hostPort + (b.range ?? 1) - 1;
  return a.hostPort <= bEnd && b.hostPort <= aEnd;
}

function allocated(hostIp: string, port: number): ConflictError {
  return new ConflictError(`Bind for ${hostIp}:${port} failed: port is already allocated; publish on another host port or stop what holds it (ss -lntup shows it)`);
}

/**
 * Makes sure `p`'s host ports are free — no other container publishes them, and binding them
 * on the host works — choosing free ones when the host port is 0.
 */
async function reservePort(p: PortMapping, used: readonly PortMapping[]): Promise<PortMapping> {
  const range = p.range ?? 1;
  if (p.hostPort !== 0) {
    const other = used.find((u) => clash(u, p));
    if (other) {
      const port = Math.max(p.hostPort, other.hostPort);
      throw allocated(p.hostIp, port);
    }
    for (let port = p.hostPort; port < p.hostPort + range; port++) {
      const problem = await tryBind(p.protocol, p.hostIp, port);
      if (problem === 'EADDRINUSE' || problem === 'EACCES') throw allocated(p.hostIp, port);
      if (problem) throw new InvalidArgumentError(`cannot publish ${p.hostIp}:${port}/${p.protocol}: ${problem}; publish on an address of this host (or 0.0.0.0)`);
    }
    return p;
  }
  for (let attempt = 0; attempt < 64; attempt++) {
    const base = range === 1 ? await freePort(p.protocol, p.hostIp) : 32768 + Math.floor(Math.random() * (60999 - 32768 - range));
    const candidate = { ...p, hostPort: base };
    if (used.some((u) => clash(u, candidate))) continue;
    let free = true;
    for (let port = base; port < base + range && free; port++) free = (await tryBind(p.protocol, p.hostIp, port)) === undefined;
    if (free) return candidate;
  }
  throw new ConflictError(`no free host port found for ${p.hostIp}:0-${p.containerPort}/${p.protocol} (range ${range}); give a host port explicitly`);
}

/** undefined when `port` can be bound on `ip`, else the error code (EADDRINUSE, EADDRNOTAVAIL…). */
function tryBind(protocol: string, ip: string, port: number): Promise<string | undefined> {
  if (protocol === 'sctp') return Promise.resolve(undefined); // Node has no SCTP sockets
  return new Promise((resolve) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', (e: NodeJS.ErrnoException) => {
        s.close();
        resolve(e.code ?? e.message);
      });
      s.bind(port, ip, () => s.close(() => resolve(undefined)));
      return;
    }
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.listen({ port, host: ip, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/** A port the kernel says is free on `ip` now. */
function freePort(protocol: string, ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', reject);
      s.bind(0, ip, () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
      return;
    }
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ port: 0, host: ip === '' ? '0.0.0.0' : ip, exclusive: true }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Removes what is left of `network`'s own firewall rules (as its last container's teardown does)
 * when the network goes: a command killed between netavark's teardown and the firewall's leaves
 * them, and nothing else would remove them once the network is gone.
 */
export function removeNetworkRules(name: string, network: NetavarkNetwork): Promise<void> {
  return hostLock.exclusive(() => firewall.remove([{ set: firewall.networkRules(network), complete: true }], `remove the firewall rules of network ${name}`));
}

/** The firewall of one network of a setup or teardown: the network's own rules and the container's ports there. */
interface FirewallOf {
  readonly bridge: string;
  readonly network: firewall.RuleSet;
  readonly ports: firewall.RuleSet;
}

function firewallOf(req: AttachRequest, resolved: readonly { record: NetworkRecord; attach: { ip: string } }[], ports: readonly PortMapping[]): FirewallOf[] {
  return resolved.map(({ record, attach }) => ({
    bridge: record.netavark.network_interface,
    network: firewall.networkRules(record.netavark),
    ports: firewall.portRules(record.netavark, req.containerId, attach.ip, ports),
  }));
}

function installRules(rules: readonly FirewallOf[], container: string): Promise<void> {
  return firewall.install(rules.flatMap((r) => [r.network, r.ports]), `set up the firewall of container ${container}`);
}

/** The bridge devices of the networks a netavark call names (its `network_info`). */
function bridgesOf(input: string): string[] {
  return Object.values(networkInfoOf(input)).map((n) => n.network_interface ?? '').filter((b) => b !== '');
}

/** The networks of a netavark input (see `Netavark.input`), by netavark name; none when it does not parse. */
function networkInfoOf(input: string): { [name: string]: { network_interface?: string } } {
  try {
    return (JSON.parse(input) as { network_info?: { [name: string]: { network_interface?: string } } }).network_info ?? {};
  } catch {
    return {};
  }
}
