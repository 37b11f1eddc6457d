/**
 * Where the Docker Engine is, resolved exactly as the Docker CLI resolves it.
 *
 * Terms
 * - An *endpoint* is an address (`unix:///var/run/docker.sock`, `tcp://host:2376`,
 *   `ssh://user@host:22`) plus how to secure it (TLS material, or the ssh command).
 * - A *context* is a named endpoint the Docker CLI stores under `$DOCKER_CONFIG/contexts`
 *   (default `~/.docker/contexts`): `meta/<sha256(name)>/meta.json` holds
 *   `Endpoints.docker.{Host,SkipTLSVerify}`, `tls/<sha256(name)>/docker/{ca,cert,key}.pem` its
 *   TLS files. The context called `default` is the environment's endpoint.
 *
 * Order (the Docker CLI's): an explicit context, else an explicit host, else `DOCKER_HOST`
 * (default context), else `DOCKER_CONTEXT`, else `currentContext` of `$DOCKER_CONFIG/config.json`,
 * else the default context. The default context is `DOCKER_HOST` (or
 * `unix:///var/run/docker.sock`), TLS when `DOCKER_TLS_VERIFY` is set (to anything, as the
 * Docker CLI) or `DOCKER_TLS` is, with `ca.pem`, `cert.pem`, `key.pem` from `DOCKER_CERT_PATH`
 * (default `$DOCKER_CONFIG`, i.e. `~/.docker`). An explicit `host` and `context` together are refused.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dockerConfigDir, readDockerConfig } from '../../core/docker-config';
import { InvalidArgumentError } from '../../core/errors';

export { dockerConfigDir };

/** The default Docker Engine socket on Linux. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** How the engine is chosen in `cdk-docker.json` (`"engine": { "docker": { … } }`); every field overrides the environment. */
export interface DockerEndpointOptions {
  /** An engine address, as `DOCKER_HOST` (`unix://…`, `tcp://host:port`, `ssh://user@host`). Exclusive with `context`. */
  readonly host?: string;
  /** A Docker CLI context name. Exclusive with `host`. */
  readonly context?: string;
  /** Use TLS and verify the engine's certificate against `ca.pem` (as `DOCKER_TLS_VERIFY`). */
  readonly tlsVerify?: boolean;
  /** The directory of `ca.pem`, `cert.pem` and `key.pem` (as `DOCKER_CERT_PATH`). */
  readonly certPath?: string;
  /** Extra `ssh` arguments for `ssh://` hosts (as `CDK_DOCKER_SSH_OPTS`, e.g. `-F`, `-i`, `-o`). */
  readonly sshArgs?: readonly string[];
}

/** TLS material for a `tcp://` endpoint. */
export interface DockerTls {
  /** Verify the engine's certificate (against `ca`, or the system CAs when there is none). */
  readonly verify: boolean;
  /** PEM of the CA that signed the engine's certificate. */
  readonly ca?: Buffer;
  /** PEM of our client certificate and its key (both or neither). */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Where the files came from, for messages (`/root/.docker`, `context prod`). */
  readonly source: string;
}

/** How to reach an `ssh://` endpoint: `ssh <args> -- <host> docker [--host unix://path] system dial-stdio`. */
export interface DockerSsh {
  /** `user@host` or `host`. */
  readonly destination: string;
  readonly user?: string;
  readonly hostname: string;
  readonly port?: number;
  /** The remote engine's socket (the URL's path), when not the remote default. */
  readonly socketPath?: string;
  /** The full ssh argument list (without the `ssh` program itself). */
  readonly args: readonly string[];
}

/** A resolved Docker Engine endpoint. */
export interface DockerEndpoint {
  /** The address, normalised (`tcp://` with its port): what messages name. */
  readonly host: string;
  readonly kind: 'unix' | 'tcp' | 'ssh';
  /** For `unix`: the socket's path. */
  readonly socketPath?: string;
  /** For `tcp`: host name or address and port. */
  readonly hostname?: string;
  readonly port?: number;
  /** For `tcp` with TLS. */
  readonly tls?: DockerTls;
  /** For `ssh`. */
  readonly ssh?: DockerSsh;
  /** The context it came from (`default` for the environment). */
  readonly context: string;
  /** What chose it, for messages: `DOCKER_HOST`, `context "prod"`, `cdk-docker.json`, `the default`. */
  readonly source: string;
}

/** The directory of a context's `meta.json` and TLS files: the sha256 of its name, in hex. */
export function contextDirName(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

interface ContextMeta {
  readonly Name?: string;
  readonly Endpoints?: { readonly docker?: { readonly Host?: string; readonly SkipTLSVerify?: boolean } };
}

function readJson<T>(file: string, what: string, fix: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidArgumentError(`cannot read ${what} ${file} (${(e as Error).message}); ${fix}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new InvalidArgumentError(`${what} ${file} is not valid JSON (${(e as Error).message}); ${fix}`);
  }
}

function readOptional(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InvalidArgumentError(`cannot read ${file} (${(e as Error).message}); make it readable by this user`);
  }
}

/** Splits `CDK_DOCKER_SSH_OPTS` into arguments: whitespace separates, single or double quotes group. */
export function splitArgs(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|([^\s"']+)/g;
  let m: RegExpExecArray | null;
  let current: string | undefined;
  let lastEnd = -1;
  while ((m = re.exec(text))) {
    const piece = m[1] ?? m[2] ?? m[3];
    if (current !== undefined && m.index === lastEnd) current += piece;
    else {
      if (current !== undefined) out.push(current);
      current = piece;
    }
    lastEnd = m.index + m[0].length;
  }
  if (current !== undefined) out.push(current);
  return out;
}

/**
 * Parses an engine address as the Docker CLI does (`opts.ParseHost`): `unix://path` (empty path:
 * the default socket), `tcp://host[:port]` (port 2376 with TLS, else 2375), `ssh://[user@]host[:port][/socket]`.
 * A bare `host:port` is not accepted (the Docker CLI refuses it too).
 */
export function parseDockerHost(
  host: string,
  tls: DockerTls | undefined,
  sshArgs: readonly string[],
  where: { context: string; source: string },
): DockerEndpoint {
  const fix = `set it to unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]`;
  const trimmed = host.trim();
  const m = /^([a-z]+):\/\/(.*)$/.exec(trimmed);
  if (!m) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) has no scheme; ${fix}`);
  const [, scheme, rest] = m;
  if (scheme === 'unix') {
    const socketPath = rest || '/var/run/docker.sock';
    if (!socketPath.startsWith('/')) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}): the socket path must be absolute; ${fix}`);
    return { host: `unix://${socketPath}`, kind: 'unix', socketPath, context: where.context, source: where.source };
  }
  if (scheme === 'tcp' || scheme === 'http' || scheme === 'https') {
    let url: URL;
    try {
      url = new URL(`http://${rest}`);
    } catch {
      throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) is not a valid address; ${fix}`);
    }
    if (!url.hostname) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) names no host; ${fix}`);
    if (url.pathname !== '/' && url.pathname !== '') throw new InvalidArgumentError(`Docker host "${host}" (${where.source}): a tcp address takes no path; ${fix}`);
    const useTls = tls ?? (scheme === 'https' ? { verify: true, source: where.source } : undefined);
    const port = url.port ? Number(url.port) : useTls ? 2376 : 2375;
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const shown = hostname.includes(':') ? `[${hostname}]` : hostname;
    return { host: `tcp://${shown}:${port}`, kind: 'tcp', hostname, port, tls: useTls, context: where.context, source: where.source };
  }
  if (scheme === 'ssh') {
    let url: URL;
    try {
      url = new URL(`ssh://${rest}`);
    } catch {
      throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) is not a valid ssh address; ${fix}`);
    }
    if (!url.hostname) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) names no host; ${fix}`);
    if (url.password) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}): ssh addresses take no password (use a key or an ssh agent)`);
    if (url.search || url.hash) throw new InvalidArgumentError(`Docker host "${host}" (${where.source}): ssh addresses take no query or fragment; ${fix}`);
    const user = url.username ? decodeURIComponent(url.username) : undefined;
    const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port ? Number(url.port) : undefined;
    const socketPath = url.pathname && url.pathname !== '/' ? decodeURIComponent(url.pathname) : undefined;
    const args = [
      ...sshArgs,
      '-o', 'ConnectTimeout=30',
      '-T',
      ...(user ? ['-l', user] : []),
      ...(port ? ['-p', String(port)] : []),
      '--', hostname,
      'docker', ...(socketPath ? [`--host=unix://${socketPath}`] : []), 'system', 'dial-stdio',
    ];
    const shown = `ssh://${user ? `${user}@` : ''}${hostname.includes(':') ? `[${hostname}]` : hostname}${port ? `:${port}` : ''}${socketPath ?? ''}`;
    return {
      host: shown,
      kind: 'ssh',
      ssh: { destination: user ? `${user}@${hostname}` : hostname, user, hostname, port, socketPath, args },
      context: where.context,
      source: where.source,
    };
  }
  throw new InvalidArgumentError(`Docker host "${host}" (${where.source}) has an unsupported scheme "${scheme}"; ${fix}`);
}

/** TLS material from a directory of ca.pem, cert.pem, key.pem, as the Docker CLI's environment. */
function tlsFromCertPath(dir: string, verify: boolean, source: string): DockerTls {
  const ca = readOptional(path.join(dir, 'ca.pem'));
  if (verify && !ca) {
    throw new InvalidArgumentError(`${source} asks to verify the engine's certificate but ${path.join(dir, 'ca.pem')} does not exist; put the CA certificate there or set DOCKER_CERT_PATH to the directory that has ca.pem, cert.pem and key.pem`);
  }
  const cert = readOptional(path.join(dir, 'cert.pem'));
  const key = readOptional(path.join(dir, 'key.pem'));
  if (!!cert !== !!key) {
    throw new InvalidArgumentError(`${dir} has ${cert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}; a client certificate needs both`);
  }
  return { verify, ca, cert, key, source: dir };
}

function loadContext(name: string, env: NodeJS.ProcessEnv, sshArgs: readonly string[], source: string): DockerEndpoint {
  const configDir = dockerConfigDir(env);
  const id = contextDirName(name);
  const metaFile = path.join(configDir, 'contexts', 'meta', id, 'meta.json');
  const fix = `list contexts with \`docker context ls\`, or create it with \`docker context create ${name} --docker host=…\``;
  const meta = readJson<ContextMeta>(metaFile, `Docker context "${name}"`, fix);
  if (!meta) throw new InvalidArgumentError(`Docker context "${name}" (${source}) does not exist (no ${metaFile}); ${fix}`);
  const docker = meta.Endpoints?.docker;
  if (!docker || typeof docker.Host !== 'string' || !docker.Host) {
    throw new InvalidArgumentError(`Docker context "${name}" (${metaFile}) has no docker endpoint host; ${fix}`);
  }
  const tlsDir = path.join(configDir, 'contexts', 'tls', id, 'docker');
  const ca = readOptional(path.join(tlsDir, 'ca.pem'));
  const cert = readOptional(path.join(tlsDir, 'cert.pem'));
  const key = readOptional(path.join(tlsDir, 'key.pem'));
  const skip = docker.SkipTLSVerify === true;
  // As the Docker CLI: TLS when the context has TLS files or says to skip verification.
  const tls: DockerTls | undefined = ca || cert || key || skip ? { verify: !skip, ca, cert, key, source: `context "${name}" (${tlsDir})` } : undefined;
  if (tls && !!cert !== !!key) throw new InvalidArgumentError(`Docker context "${name}": ${tlsDir} has ${cert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}; a client certificate needs both`);
  return parseDockerHost(docker.Host, tls, sshArgs, { context: name, source: `context "${name}"` });
}

/**
 * The Docker Engine endpoint to use, from `options` (cdk-docker.json's `engine.docker`) and the
 * environment, resolved as the Docker CLI resolves it (see the module comment). Throws an
 * InvalidArgumentError naming the setting and the fix for a bad host, a missing context or
 * missing certificates; does not connect.
 */
export function resolveDockerEndpoint(options: DockerEndpointOptions = {}, env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  if (options.host && options.context) {
    throw new InvalidArgumentError(`the Docker engine options give both host "${options.host}" and context "${options.context}"; give one of them`);
  }
  const sshArgs = options.sshArgs ?? splitArgs(env.CDK_DOCKER_SSH_OPTS ?? '');
  let contextName: string;
  let contextSource: string;
  if (options.context) {
    contextName = options.context;
    contextSource = 'cdk-docker.json';
  } else if (options.host) {
    contextName = 'default';
    contextSource = 'cdk-docker.json';
  } else if (env.DOCKER_HOST !== undefined) {
    // Set, even empty, DOCKER_HOST means the default context (os.LookupEnv in the Docker CLI).
    contextName = 'default';
    contextSource = 'DOCKER_HOST';
  } else if (env.DOCKER_CONTEXT) {
    contextName = env.DOCKER_CONTEXT;
    contextSource = 'DOCKER_CONTEXT';
  } else {
    const configFile = path.join(dockerConfigDir(env), 'config.json');
    const config = readDockerConfig(configFile);
    const current = typeof config.currentContext === 'string' ? config.currentContext : '';
    contextName = current || 'default';
    contextSource = current ? `currentContext of ${configFile}` : 'the default';
  }
  if (contextName !== 'default') return loadContext(contextName, env, sshArgs, contextSource);

  const host = options.host || env.DOCKER_HOST || DEFAULT_DOCKER_HOST;
  const source = options.host ? 'cdk-docker.json' : env.DOCKER_HOST ? 'DOCKER_HOST' : 'the default';
  const verify = options.tlsVerify ?? !!env.DOCKER_TLS_VERIFY;
  const useTls = verify || options.tlsVerify === false ? verify : !!env.DOCKER_TLS;
  let tls: DockerTls | undefined;
  if (useTls && /^(tcp|https?):\/\//.test(host.trim())) {
    const certDir = options.certPath || env.DOCKER_CERT_PATH || dockerConfigDir(env);
    const what = options.tlsVerify !== undefined ? 'cdk-docker.json\'s tlsVerify' : verify ? 'DOCKER_TLS_VERIFY' : 'DOCKER_TLS';
    tls = tlsFromCertPath(certDir, verify, what);
  }
  return parseDockerHost(host, tls, sshArgs, { context: 'default', source });
}
