/** Networks of the built-in runtime: the store, IPAM and netavark (see ./types for the terms). */
export { NetworkStore, endpointContainers } from './store';
export { Netavark, NetavarkError, checkPort } from './netavark';
export type { AttachNetwork, AttachRequest, NetavarkOptions, SetupInterface, SetupResult } from './netavark';
export { parseNetworkListFilters, parseNetworkPruneFilters } from './store';
export { BRIDGE_NAME_OPTION, DEFAULT_BRIDGE, DEFAULT_NETWORK, MTU_OPTION, PREDEFINED_NETWORKS } from './types';
export type {
  AttachedContainers,
  CreateNetworkOptions,
  Endpoint,
  IpamConfig,
  NetavarkNetwork,
  Network,
  NetworkContainer,
  NetworkListFilters,
  NetworkRecord,
  PortMapping,
  PruneNetworksResult,
} from './types';
