import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../lib/core/errors';

/** Where the built-in runtime keeps its state, and its settings. */
export interface RuntimeConfig {
  /** State root: images, containers, volumes. `CDK_DOCKER_ROOT`, default /var/lib/cdk-docker. */
  readonly root: string;
  /** Run dir: runtime state that a reboot clears. `CDK_DOCKER_RUNROOT`, default /run/cdk-docker. */
  readonly runRoot: string;
  /** Registries (`host[:port]`) that may be reached over plain HTTP, from `<root>/config.json`. */
  readonly insecureRegistries: string[];
  /** Addresses of the networks, from `<root>/config.json` (Docker's daemon.json names). */
  readonly network: NetworkSettings;
}

/** Where networks get their addresses, as Docker's daemon.json says it. */
export interface NetworkSettings {
  /** The default network's gateway and subnet, `"10.88.0.1/16"` (Docker's `bip`). @default - the first free /16 of 10.88.0.0/16 … 10.85.0.0/16 */
  readonly bip?: string;
  /** Pools for user networks without `--subnet` (Docker's `default-address-pools`). @default 10.89.0.0/16 … 10.93.0.0/16 in /24s */
  readonly defaultAddressPools?: ReadonlyArray<{ readonly base: string; readonly size: number }>;
  /** The default network's bridge: `cdk0` for the default state root, `cdk0-<hash>` for others. */
  readonly defaultBridge: string;
}

const DEFAULT_ROOT = '/var/lib/cdk-docker';

/** Reads the runtime's configuration from the environment and `<root>/config.json`. */
export function runtimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const root = path.resolve(env.CDK_DOCKER_ROOT ?? DEFAULT_ROOT);
  const runRoot = path.resolve(env.CDK_DOCKER_RUNROOT ?? '/run/cdk-docker');
  const file = path.join(root, 'config.json');
  let insecureRegistries: string[] = [];
  let data: { 'insecure-registries'?: unknown; bip?: unknown; 'default-address-pools'?: unknown } = {};
  if (fs.existsSync(file)) {
    try {
      data = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new InvalidArgumentError(`${file} is not valid JSON (${(e as Error).message}); fix it, e.g. {"insecure-registries": ["registry.lan:5000"]}`);
    }
    const list = data['insecure-registries'] ?? [];
    if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
      throw new InvalidArgumentError(`${file}: "insecure-registries" must be a list of "host[:port]" strings`);
    }
    insecureRegistries = list as string[];
  }
  if (data.bip !== undefined && (typeof data.bip !== 'string' || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(data.bip))) {
    throw new InvalidArgumentError(`${file}: "bip" must be the default network's gateway with its prefix, e.g. "10.88.0.1/16"`);
  }
  const pools = data['default-address-pools'];
  if (pools !== undefined && (!Array.isArray(pools) || !pools.every((p) => typeof p?.base === 'string' && Number.isInteger(p?.size)))) {
    throw new InvalidArgumentError(`${file}: "default-address-pools" must be a list like [{"base": "10.89.0.0/16", "size": 24}]`);
  }
  // Another state root (tests, a second engine) must not share the default bridge.
  const defaultBridge = root === DEFAULT_ROOT ? 'cdk0' : `cdk0-${createHash('sha256').update(root).digest('hex').slice(0, 8)}`;
  return { root, runRoot, insecureRegistries, network: { bip: data.bip as string | undefined, defaultAddressPools: pools as NetworkSettings['defaultAddressPools'], defaultBridge } };
}
