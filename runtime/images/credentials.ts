import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';

/**
 * Registry credentials in Docker's client config (`$DOCKER_CONFIG/config.json`, default
 * `~/.docker/config.json`): `{"auths": {"host": {"auth": base64("user:password")}}}`.
 * `runtime login` writes the same file, so `docker login` and cdk-docker share credentials.
 */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The keys Docker uses for Docker Hub in `auths`. */
const HUB_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.DOCKER_CONFIG ?? path.join(os.homedir(), '.docker');
  return path.join(dir, 'config.json');
}

interface DockerConfigFile {
  auths?: { [key: string]: { auth?: string; username?: string; password?: string; identitytoken?: string } };
  [other: string]: unknown;
}

function readConfig(file: string): DockerConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const data = JSON.parse(text) as DockerConfigFile;
    return data && typeof data === 'object' ? data : {};
  } catch (e) {
    throw new InvalidArgumentError(`${file} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

/** The auths keys that may hold credentials for `registry` (Docker writes several forms). */
function keysFor(registry: string): string[] {
  if (registry === 'docker.io') return HUB_KEYS;
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** Credentials for `registry` from the Docker config, if any. */
export function lookupCredentials(registry: string, file = dockerConfigPath()): Credentials | undefined {
  const auths = readConfig(file).auths ?? {};
  for (const key of keysFor(registry)) {
    const entry = auths[key];
    if (!entry) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new InvalidArgumentError(`${file}: the "auth" of ${key} is not base64 of "user:password"; run \`cdk-docker runtime login ${registry}\` again`);
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Stores credentials for `registry` (atomically, mode 0600), as `docker login` does. */
export function storeCredentials(registry: string, creds: Credentials, file = dockerConfigPath()): void {
  const config = readConfig(file);
  const key = registry === 'docker.io' ? HUB_KEYS[0] : registry;
  config.auths = { ...(config.auths ?? {}), [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, undefined, '\t')}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Removes stored credentials for `registry`; returns whether there were any. */
export function removeCredentials(registry: string, file = dockerConfigPath()): boolean {
  const config = readConfig(file);
  let removed = false;
  for (const key of keysFor(registry)) {
    if (config.auths?.[key]) {
      delete config.auths[key];
      removed = true;
    }
  }
  if (removed) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(config, undefined, '\t')}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
  }
  return removed;
}
