/**
 * The Docker CLI's client configuration, `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`), as both the built-in runtime (`runtime login`, pulls, pushes) and the
 * Docker Engine client (X-Registry-Auth, `currentContext`) read it:
 *
 *   { "auths": { "<registry>": { "auth": base64("user:password") | "username"/"password" |
 *                                "identitytoken" } },
 *     "credsStore": "<helper>", "credHelpers": { "<registry>": "<helper>" },
 *     "currentContext": "<name>" }
 *
 * Parsing only: running a credential helper is the caller's business.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from './errors';

/** One `auths` entry as the file holds it. */
export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  [other: string]: unknown;
}

/** The parts of config.json we read (the rest is kept as it is when writing). */
export interface DockerConfigFile {
  auths?: { [key: string]: DockerAuthEntry };
  credsStore?: string;
  credHelpers?: { [registry: string]: string };
  currentContext?: string;
  [other: string]: unknown;
}

/** Credentials found for a registry: a user and password, or an identity token (OAuth refresh token). */
export interface DockerAuth {
  /** The `auths` key they were found under (Docker's `serveraddress`). */
  readonly key: string;
  readonly username?: string;
  readonly password?: string;
  readonly identityToken?: string;
}

/** The keys Docker uses for Docker Hub in `auths`; the first is what `docker login` writes. */
export const HUB_AUTH_KEYS = ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];

/** `$DOCKER_CONFIG`, or `$HOME/.docker` (an empty DOCKER_CONFIG counts as unset, as in the Docker CLI). */
export function dockerConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || path.join(env.HOME || os.homedir(), '.docker');
}

/** `$DOCKER_CONFIG/config.json`. */
export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(dockerConfigDir(env), 'config.json');
}

/** The parsed config file; `{}` when it does not exist. Invalid JSON is refused, naming the file. */
export function readDockerConfig(file: string): DockerConfigFile {
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

/** The `auths` keys that may hold credentials for `registry` (Docker writes several forms), in the order tried. */
export function authKeysFor(registry: string): string[] {
  if (registry === 'docker.io') return HUB_AUTH_KEYS;
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/**
 * The usable `auths` entries for `registry`, decoded one by one in the order of `authKeysFor`:
 * an `auth` (base64 of `user:password`; anything else is refused naming the file and key), a
 * `username`+`password`, or an `identitytoken`. Entries with none of them are left out.
 */
export function* authEntriesFor(config: DockerConfigFile, registry: string, file: string): Generator<DockerAuth> {
  const auths = config.auths ?? {};
  for (const key of authKeysFor(registry)) {
    const entry = auths[key];
    if (!entry || typeof entry !== 'object') continue;
    const identityToken = typeof entry.identitytoken === 'string' && entry.identitytoken ? entry.identitytoken : undefined;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new InvalidArgumentError(`${file}: the "auth" of ${key} is not base64 of "user:password"; run \`cdk-docker runtime login ${registry}\` again`);
      yield { key, username: decoded.slice(0, colon), password: decoded.slice(colon + 1), identityToken };
    } else if (entry.username && entry.password) yield { key, username: entry.username, password: entry.password, identityToken };
    else if (identityToken) yield { key, username: typeof entry.username === 'string' ? entry.username : undefined, identityToken };
  }
}

/** The credential helper configured for `registry` (`credHelpers`, else `credsStore`), if any. */
export function credentialHelperFor(config: DockerConfigFile, registry: string): string | undefined {
  const helpers = config.credHelpers ?? {};
  for (const key of authKeysFor(registry)) {
    const h = helpers[key];
    if (typeof h === 'string' && h) return h;
  }
  return typeof config.credsStore === 'string' && config.credsStore ? config.credsStore : undefined;
}
