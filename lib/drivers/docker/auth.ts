/**
 * Registry credentials for the Engine API, as the Docker CLI sends them.
 *
 * - `X-Registry-Auth` (pull `POST /images/create`, push `POST /images/{name}/push`): base64url of
 *   `{"username","password","serveraddress"}` or `{"identitytoken","serveraddress"}` for the
 *   image's registry.
 * - `X-Registry-Config` (`POST /build`, for its FROM pulls): base64url of a map from registry to
 *   the same objects, for every registry with credentials.
 *
 * Credentials come from `$DOCKER_CONFIG/config.json` (see lib/core/docker-config): a credential
 * helper (`credHelpers[registry]`, else `credsStore`: the program `docker-credential-<name>`,
 * asked `get` with the server address on stdin, as the Docker CLI does) or else the `auths`
 * entries. No credentials: `{}` (anonymous pulls and pushes work).
 */
import { spawnSync } from 'node:child_process';
import { authEntriesFor, credentialHelperFor, dockerConfigPath, readDockerConfig } from '../../core/docker-config';
import type { DockerConfigFile } from '../../core/docker-config';
import { InvalidArgumentError } from '../../core/errors';
import { DEFAULT_REGISTRY, parseReference } from '../../core/reference';

/** The Engine API's AuthConfig. */
export interface DockerRegistryAuth {
  readonly username?: string;
  readonly password?: string;
  readonly identitytoken?: string;
  readonly serveraddress: string;
}

/** The server address Docker uses for Docker Hub's credentials. */
const HUB_SERVER = 'https://index.docker.io/v1/';

/** base64url of the JSON of `value`, as the Docker CLI encodes registry headers. */
export function encodeRegistryHeader(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** The registry host of an image reference (`nginx` → `docker.io`, `127.0.0.1:5000/a/b:1` → `127.0.0.1:5000`). */
export function registryOf(image: string): string {
  return parseReference(image).registry;
}

/** Runs `docker-credential-<helper> get` for `server`; undefined when it has none for it. */
function fromHelper(helper: string, server: string, env: NodeJS.ProcessEnv, configFile: string): DockerRegistryAuth | undefined {
  const program = `docker-credential-${helper}`;
  const r = spawnSync(program, ['get'], { input: server, encoding: 'utf8', env, timeout: 30_000 });
  // A helper that exits without reading the server name (EPIPE) is judged by its exit and output.
  if (r.error && !((r.error as NodeJS.ErrnoException).code === 'EPIPE' && r.status !== null)) {
    if ((r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidArgumentError(`${configFile} names the credential helper "${helper}" but ${program} is not on the PATH; install it or remove "${helper}" from credsStore/credHelpers`);
    }
    throw new InvalidArgumentError(`the credential helper ${program} failed for ${server} (${r.error.message}); check it with \`echo ${server} | ${program} get\``);
  }
  if (r.status !== 0) {
    // Docker's helpers say "credentials not found in native keychain" for an unknown server.
    if (/credentials not found/i.test(`${r.stdout}${r.stderr}`)) return undefined;
    const why = (r.stderr || r.stdout).trim().split('\n')[0] ?? `exit ${r.status}`;
    throw new InvalidArgumentError(`the credential helper ${program} failed for ${server}: ${why}; check it with \`echo ${server} | ${program} get\``);
  }
  let answer: { Username?: unknown; Secret?: unknown };
  try {
    answer = JSON.parse(r.stdout) as { Username?: unknown; Secret?: unknown };
  } catch {
    throw new InvalidArgumentError(`the credential helper ${program} answered ${server} with something that is not JSON; check it with \`echo ${server} | ${program} get\``);
  }
  const username = typeof answer.Username === 'string' ? answer.Username : '';
  const secret = typeof answer.Secret === 'string' ? answer.Secret : '';
  if (!secret) return undefined;
  // "<token>" as the user name marks an identity token, as in the Docker CLI.
  return username === '<token>' ? { identitytoken: secret, serveraddress: server } : { username, password: secret, serveraddress: server };
}

function lookup(config: DockerConfigFile, registry: string, env: NodeJS.ProcessEnv, file: string): DockerRegistryAuth | undefined {
  const server = registry === DEFAULT_REGISTRY ? HUB_SERVER : registry;
  const helper = credentialHelperFor(config, registry);
  if (helper) return fromHelper(helper, server, env, file);
  const first = authEntriesFor(config, registry, file).next();
  if (first.done) return undefined;
  const a = first.value;
  return a.identityToken ? { identitytoken: a.identityToken, serveraddress: server } : { username: a.username, password: a.password, serveraddress: server };
}

/**
 * The credentials for `registry` (a host, `docker.io` for Docker Hub) from the Docker config of
 * `env`, or undefined. Throws an InvalidArgumentError for a config or helper that fails.
 */
export function registryAuth(registry: string, env: NodeJS.ProcessEnv = process.env): DockerRegistryAuth | undefined {
  const file = dockerConfigPath(env);
  return lookup(readDockerConfig(file), registry, env, file);
}

/**
 * The `X-Registry-Auth` header for pulling or pushing `image`. Always present, as the Docker CLI
 * sends it: without credentials it is `{}` encoded (dockerd 20.10 refuses a push without the
 * header: "Bad parameters and missing X-Registry-Auth").
 */
export function registryAuthHeaders(image: string, env: NodeJS.ProcessEnv = process.env): { [name: string]: string } {
  const auth = registryAuth(registryOf(image), env);
  return { 'X-Registry-Auth': encodeRegistryHeader(auth ?? {}) };
}

/**
 * The `X-Registry-Config` headers for a build: credentials of every registry in `auths` (and
 * `credHelpers`); `{}` when there are none. (With a `credsStore`, the store's registries are
 * those `auths` lists, as `docker login` records them there.)
 */
export function registryConfigHeaders(env: NodeJS.ProcessEnv = process.env): { [name: string]: string } {
  const file = dockerConfigPath(env);
  const config = readDockerConfig(file);
  const registries = new Set<string>();
  for (const key of [...Object.keys(config.auths ?? {}), ...Object.keys(config.credHelpers ?? {})]) {
    const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    registries.add(['index.docker.io', 'registry-1.docker.io'].includes(host) ? DEFAULT_REGISTRY : host);
  }
  const out: { [server: string]: DockerRegistryAuth } = {};
  for (const registry of [...registries].sort()) {
    const auth = lookup(config, registry, env, file);
    if (auth) out[auth.serveraddress] = auth;
  }
  return Object.keys(out).length ? { 'X-Registry-Config': encodeRegistryHeader(out) } : {};
}
