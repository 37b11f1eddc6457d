import * as fs from 'node:fs';
import * as path from 'node:path';
import { HUB_AUTH_KEYS, authEntriesFor, authKeysFor, dockerConfigPath, readDockerConfig } from '../../lib/core/docker-config';

/**
 * Registry credentials in Docker's client config (`$DOCKER_CONFIG/config.json`, default
 * `~/.docker/config.json`): `{"auths": {"host": {"auth": base64("user:password")}}}`.
 * `runtime login` writes the same file, so `docker login` and cdk-docker share credentials.
 * The file's format is read by lib/core/docker-config (the Docker Engine client reads it too).
 */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

export { dockerConfigPath };

/** Credentials for `registry` from the Docker config, if any. */
export function lookupCredentials(registry: string, file = dockerConfigPath()): Credentials | undefined {
  for (const a of authEntriesFor(readDockerConfig(file), registry, file)) {
    if (a.username !== undefined && a.password !== undefined) return { username: a.username, password: a.password };
  }
  return undefined;
}

/** Stores credentials for `registry` (atomically, mode 0600), as `docker login` does. */
export function storeCredentials(registry: string, creds: Credentials, file = dockerConfigPath()): void {
  const config = readDockerConfig(file);
  const key = registry === 'docker.io' ? HUB_AUTH_KEYS[0] : registry;
  config.auths = { ...(config.auths ?? {}), [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(config, undefined, '\t')}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** Removes stored credentials for `registry`; returns whether there were any. */
export function removeCredentials(registry: string, file = dockerConfigPath()): boolean {
  const config = readDockerConfig(file);
  let removed = false;
  for (const key of authKeysFor(registry)) {
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
