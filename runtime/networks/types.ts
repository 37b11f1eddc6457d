/**
 * Networks of the built-in runtime.
 *
 * Terms
 * - A *network* is a Linux bridge with an IPv4 subnet that containers join through a veth pair,
 *   set up by netavark. Only Docker's `bridge` driver exists (plus the pseudo-networks `host`
 *   and `none`, which are container settings, not records).
 * - The *default network* is named `bridge` (as Docker's), uses the bridge interface `cdk0`,
 *   always exists (created on first use) and cannot be removed. As Docker's default bridge it
 *   has no DNS: containers reach each other there by IP only. User networks have DNS
 *   (aardvark-dns answers container names and aliases on the gateway address).
 * - *IPAM* is the engine's: netavark only takes static addresses. Subnets come from a pool
 *   (`10.88.0.0/16` for the default network, `10.89.0.0/24`, `10.89.1.0/24`, … for user
 *   networks), skipping those the host routes or has an address in (on any interface, up or
 *   down) and those other networks use — of this state root or of another one on the host (the
 *   host-wide subnet registry, ./registry). A container start checks again that its networks'
 *   subnets are still theirs on the host. Every container
 *   on a network holds an *endpoint*: its address there, reserved by `allocate` and freed by
 *   `release`, written in the network's record under the store's lock (two processes never
 *   get the same address).
 * - A network is *in use* while any container has an endpoint on it (the `attached` callback
 *   of the store lists them). A network in use is never removed.
 * - *Published ports* map a host address and port to a container port (iptables DNAT rules
 *   made by netavark). They hold no socket on the host, so the engine keeps them in the
 *   endpoints and refuses a host port another container or another program already holds.
 *
 * Lifecycle: `create` → (`allocate` → netavark `setup` → … → netavark `teardown` → `release`)*
 * → `remove` or `prune`. Records are written atomically (write + rename) under the store's
 * lock, so a command killed at any moment leaves records the next one reads.
 */

/** The name of the default network. */
export const DEFAULT_NETWORK = 'bridge';
/** The bridge interface of the default network. */
export const DEFAULT_BRIDGE = 'cdk0';
/** Networks Docker predefines: they can be neither created nor removed. */
export const PREDEFINED_NETWORKS: readonly string[] = ['bridge', 'host', 'none'];

/** Docker's option naming the bridge interface (`-o com.docker.network.bridge.name=br0`). */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** Docker's option setting the MTU of the bridge and the veths. */
export const MTU_OPTION = 'com.docker.network.driver.mtu';

/**
 * A network as netavark takes it (`network_info` of its setup/teardown input).
 * @see https://github.com/containers/netavark/blob/main/src/network/types.rs
 */
export interface NetavarkNetwork {
  readonly name: string;
  /** 64 hex digits; netavark names its iptables chains after it. */
  readonly id: string;
  readonly driver: 'bridge';
  /** The bridge interface, at most 15 characters: `cdk0`, `cdkbr-<9 hex of the id>`. */
  readonly network_interface: string;
  readonly created: string;
  readonly subnets: NetavarkSubnet[];
  readonly ipv6_enabled: false;
  /** No route out and no NAT. */
  readonly internal: boolean;
  /** aardvark-dns answers container names and aliases on the gateway address. */
  readonly dns_enabled: boolean;
  readonly ipam_options: { readonly driver: 'host-local' };
  /** `isolate: "true"` (no traffic between networks, as Docker) and `mtu` when set. */
  readonly options: { readonly [key: string]: string };
}

export interface NetavarkSubnet {
  /** `10.89.0.0/24`. */
  readonly subnet: string;
  readonly gateway: string;
  /** The addresses given to containers (`--ip-range`), when narrower than the subnet. */
  readonly lease_range?: { readonly start_ip: string; readonly end_ip: string };
}

/** One IPAM configuration of a network, as Docker shows it. */
export interface IpamConfig {
  readonly Subnet: string;
  readonly Gateway: string;
  /** Present when `--ip-range` was given. */
  readonly IPRange?: string;
}

/** A container on a network, as `docker network inspect` shows it under `Containers`. */
export interface NetworkContainer {
  readonly Name: string;
  readonly EndpointID: string;
  /** Empty until the container's network is set up. */
  readonly MacAddress: string;
  /** `10.89.0.2/24`. */
  readonly IPv4Address: string;
  readonly IPv6Address: string;
}

/**
 * A network as Docker shows it (`docker network inspect`).
 * @see https://docs.docker.com/reference/cli/docker/network/inspect/
 */
export interface Network {
  readonly Name: string;
  readonly Id: string;
  /** RFC 3339 with nanoseconds, as Docker prints it. */
  readonly Created: string;
  readonly Scope: 'local';
  /** `bridge`, or `host`/`null` for the pseudo-networks. */
  readonly Driver: string;
  readonly EnableIPv6: false;
  readonly IPAM: { readonly Driver: 'default'; readonly Options: { readonly [key: string]: string }; readonly Config: IpamConfig[] };
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Ingress: false;
  readonly ConfigFrom: { readonly Network: string };
  readonly ConfigOnly: false;
  /** Attached containers by id. */
  readonly Containers: { readonly [containerId: string]: NetworkContainer };
  readonly Options: { readonly [key: string]: string };
  readonly Labels: { readonly [key: string]: string };
}

/** A published port, as netavark takes it (`port_mappings`). */
export interface PortMapping {
  /** The host address to listen on; `''` or `0.0.0.0` for every address. */
  readonly hostIp: string;
  /** The first host port; 0 asks for a free one (chosen at setup). */
  readonly hostPort: number;
  /** The first container port. */
  readonly containerPort: number;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  /**
   * How many consecutive ports (`-p 8000-8002:8000-8002` is 3).
   * @default 1
   */
  readonly range?: number;
}

/** A container's place on a network: the address IPAM gave it and what setup made of it. */
export interface Endpoint {
  readonly containerId: string;
  readonly containerName: string;
  /** 64 hex digits, as Docker's EndpointID. */
  readonly endpointId: string;
  /** IPv4 address without prefix length. */
  readonly ip: string;
  /** Set by setup, cleared by teardown. */
  readonly mac?: string;
  /** The container's interface in its namespace (`eth0`), set by setup. */
  readonly interfaceName?: string;
  /**
   * Set (with `interfaceName` and `ports`) just before netavark's setup runs and cleared when it
   * returns: an endpoint still marked after a crash may be half set up, and its teardown is a
   * best-effort repair whose errors about missing pieces are expected.
   */
  readonly settingUp?: true;
  readonly aliases?: string[];
  /** Ports published through this endpoint while it is set up (host ports resolved). */
  readonly ports?: PortMapping[];
}

/** What `<root>/networks/<id>.json` holds: the Docker fields, netavark's and the endpoints. */
export interface NetworkRecord {
  readonly version: 1;
  readonly Name: string;
  readonly Id: string;
  readonly Created: string;
  readonly Driver: 'bridge';
  readonly Scope: 'local';
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Labels: { readonly [key: string]: string };
  readonly IPAM: { readonly Driver: 'default'; readonly Config: IpamConfig[] };
  readonly Options: { readonly [key: string]: string };
  readonly netavark: NetavarkNetwork;
  /** Endpoints by container id. */
  readonly endpoints: { readonly [containerId: string]: Endpoint };
  /** The address given last: the next allocation starts after it (Docker's rolling allocator). */
  readonly lastIp?: string;
}

/** Options of `NetworkStore.create` (`network create`'s flags). */
export interface CreateNetworkOptions {
  /**
   * The driver.
   * @default 'bridge' (the only one)
   */
  readonly driver?: string;
  /**
   * The IPv4 subnet, `10.1.0.0/16`.
   * @default - the next free one of the pool
   */
  readonly subnet?: string;
  /**
   * The gateway (the bridge's address). Needs `subnet`.
   * @default - the first address of the subnet
   */
  readonly gateway?: string;
  /**
   * The part of the subnet containers get addresses from. Needs `subnet`.
   * @default - the whole subnet
   */
  readonly ipRange?: string;
  /**
   * No route out of the network, no NAT, no published ports reachable.
   * @default false
   */
  readonly internal?: boolean;
  /**
   * Docker's flag for swarm networks; recorded and shown.
   * @default false
   */
  readonly attachable?: boolean;
  /** @default - none */
  readonly labels?: { readonly [key: string]: string };
  /**
   * Driver options: `com.docker.network.bridge.name` and `com.docker.network.driver.mtu`.
   * @default - none
   */
  readonly options?: { readonly [key: string]: string };
}

/** `network ls` filters; different keys must all match, values of one key any (label: all). */
export interface NetworkListFilters {
  /** Exact names or regular expressions (Docker's matching); any may match. */
  readonly name?: readonly string[];
  /** `KEY` or `KEY=VALUE`; every one must match. */
  readonly label?: readonly string[];
  /** `bridge`, `host`, `null`; any may match. */
  readonly driver?: readonly string[];
  /** Id prefixes; any may match. */
  readonly id?: readonly string[];
  /** `builtin` (bridge, host, none) or `custom`. */
  readonly type?: readonly ('builtin' | 'custom')[];
}

/** What `prune` did. */
export interface PruneNetworksResult {
  /** Names of the removed networks, sorted. */
  readonly deleted: string[];
}

/**
 * Lists the containers attached to a network, by container id. The store's default reads its
 * own endpoints; the container engine may pass one that checks its container records too.
 */
export type AttachedContainers = (network: NetworkRecord) => { [containerId: string]: NetworkContainer };
