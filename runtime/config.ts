import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../lib/util/errors';

/** Where the built-in runtime keeps its state, and its settings. */
export interface RuntimeConfig {
  /** State root: images, containers, volumes. `CDK_DOCKER_ROOT`, default /var/lib/cdk-docker. */
  readonly root: string;
  /** Run dir: runtime state that a reboot clears. `CDK_DOCKER_RUNROOT`, default /run/cdk-docker. */
  readonly runRoot: string;
  /** Registries (`host[:port]`) that may be reached over plain HTTP, from `<root>/config.json`. */
  readonly insecureRegistries: string[];
}

/** Reads the runtime's configuration from the environment and `<root>/config.json`. */
export function runtimeConfig(env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const root = path.resolve(env.CDK_DOCKER_ROOT ?? '/var/lib/cdk-docker');
  const runRoot = path.resolve(env.CDK_DOCKER_RUNROOT ?? '/run/cdk-docker');
  const file = path.join(root, 'config.json');
  let insecureRegistries: string[] = [];
  if (fs.existsSync(file)) {
    let data: { 'insecure-registries'?: unknown };
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
  return { root, runRoot, insecureRegistries };
}
