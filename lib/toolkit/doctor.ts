import { spawnSync } from 'node:child_process';
import pc from 'picocolors';
import { checkHost, fixCommands, HostCheck } from '../../runtime';
import { CdkDockerError } from '../core/errors';
import type { DockerEngineConfig } from './config';

/**
 * `doctor`: checks the chosen engine. For the built-in runtime: the host components, says how to
 * install what is missing, and with `fix` installs it with apt-get (and loads overlay when the
 * kernel lacks it). For a Docker Engine (`dockerDoctor`): that it answers at the endpoint the
 * Docker CLI would use, its API and server versions, storage driver and swarm state.
 */

export interface DoctorOptions extends NonNullable<Parameters<typeof checkHost>[0]> {
  /** Install what is missing with apt-get (as root), then check again. */
  readonly fix?: boolean;
  /** Where the commands `fix` runs, and their output, go. @default process.stderr */
  readonly log?: NodeJS.WritableStream & { readonly fd?: number };
}

export interface DoctorResult {
  readonly checks: HostCheck[];
  /** No required component is missing. */
  readonly ok: boolean;
}

/** Checks the host (after fixing what it can, with `fix`). */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorResult> {
  let checks = await checkHost(options);
  if (options.fix && checks.some((c) => c.status !== 'ok')) {
    applyFixes(checks, options);
    checks = await checkHost(options);
  }
  return { checks, ok: !checks.some((c) => c.status === 'missing') };
}

const MARK: Record<HostCheck['status'], string> = { ok: pc.green('ok'), missing: pc.red('MISSING'), warning: pc.yellow('optional') };

/** The report a user reads: one line per component, then what to run. */
export function renderDoctor(checks: HostCheck[]): string {
  const w = Math.max(...checks.map((c) => c.name.length));
  const lines = ['Host components of the built-in runtime:', ''];
  for (const c of checks) {
    lines.push(`  ${c.name.padEnd(w)}  ${MARK[c.status].padEnd(pc.isColorSupported ? 17 : 8)}  ${c.status === 'ok' ? c.detail : `${c.detail} (needed for: ${c.role})`}`);
  }
  const missing = checks.filter((c) => c.status === 'missing');
  const optional = checks.filter((c) => c.status === 'warning');
  lines.push('');
  if (missing.length === 0 && optional.length === 0) {
    lines.push('Everything the built-in runtime needs is in place.');
  } else {
    const { packages, other } = fixCommands([...missing, ...optional]);
    if (missing.length > 0) lines.push(`${missing.length} required component${missing.length === 1 ? ' is' : 's are'} missing: ${missing.map((c) => c.name).join(', ')}.`);
    if (optional.length > 0) lines.push(`Optional, for some features: ${optional.map((c) => `${c.name} (${c.role})`).join(', ')}.`);
    lines.push('To fix:');
    if (packages.length > 0) lines.push(`  apt-get update && apt-get install -y ${packages.join(' ')}`);
    for (const o of other) lines.push(`  ${o}`);
    if (packages.length > 0) lines.push('or run `cdk-docker doctor --fix`.');
  }
  return `${lines.join('\n')}\n`;
}

/** Installs the missing packages with apt-get (as root), and loads overlay when the kernel lacks it. */
function applyFixes(checks: HostCheck[], options: DoctorOptions): void {
  const log = options.log ?? process.stderr;
  const { packages, other } = fixCommands(checks);
  if (packages.length === 0 && !other.includes('modprobe overlay')) {
    log.write('Nothing that --fix can install.\n');
    return;
  }
  if ((options.uid ?? process.getuid?.()) !== 0) {
    throw new CdkDockerError(`--fix installs packages with apt-get and must run as root; run \`sudo cdk-docker doctor --fix\` or \`apt-get install -y ${packages.join(' ')}\``);
  }
  const run = (cmd: string, args: string[]) => {
    log.write(`$ ${cmd} ${args.join(' ')}\n`);
    // The command's output goes to the log as it comes when the log is a file descriptor (apt-get takes minutes).
    const live = typeof log.fd === 'number';
    const r = spawnSync(cmd, args, { stdio: ['ignore', live ? log.fd! : 'pipe', live ? log.fd! : 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.error) throw new CdkDockerError(`could not run ${cmd}: ${r.error.message}`);
    if (!live) log.write(Buffer.concat([r.stdout ?? Buffer.alloc(0), r.stderr ?? Buffer.alloc(0)]));
    return r.status ?? 1;
  };
  if (packages.length > 0) {
    if (run('apt-get', ['update', '-q']) !== 0) throw new CdkDockerError('apt-get update failed (see above); fix the apt sources, then run `cdk-docker doctor --fix` again');
    if (run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages]) !== 0) {
      throw new CdkDockerError(`apt-get install ${packages.join(' ')} failed (see above)`);
    }
  }
  if (other.includes('modprobe overlay') && run('modprobe', ['overlay']) !== 0) {
    throw new CdkDockerError('modprobe overlay failed: this kernel has no overlayfs module; the built-in runtime cannot run here');
  }
}

/** One check of a Docker Engine: `failed` stops cdk-docker working, `warning` works less well. */
export interface DockerCheck {
  /** `endpoint`, `API version`, `server version`, `storage driver`, `swarm`, `routing mesh`. */
  readonly name: string;
  readonly status: 'ok' | 'warning' | 'failed';
  /** What was found. */
  readonly detail: string;
  /** What to do, when not ok. */
  readonly fix?: string;
}

export interface DockerDoctorOptions {
  /** cdk-docker.json's `"engine": { "docker": … }` (see resolveEngine). */
  readonly docker?: DockerEngineConfig;
  /** DOCKER_HOST, DOCKER_CONTEXT, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** The file whose presence says the kernel has IPVS (for tests). @default '/proc/net/ip_vs' */
  readonly ipvsProbe?: string;
}

export interface DockerDoctorResult {
  /** The endpoint, as messages name it (`unix:///var/run/docker.sock`, `tcp://host:2376`). */
  readonly endpoint: string;
  readonly checks: DockerCheck[];
  /** No check failed. */
  readonly ok: boolean;
}

/** The parts of `GET /info` doctor reads. */
interface DoctorInfo {
  readonly Driver?: string;
  readonly ServerVersion?: string;
  readonly OperatingSystem?: string;
  readonly Swarm?: { readonly LocalNodeState?: string; readonly ControlAvailable?: boolean; readonly Error?: string; readonly NodeID?: string };
}

/**
 * Checks the Docker Engine the stack commands would talk to. An engine that cannot be reached
 * (no socket, refused, TLS, permission, a bad endpoint setting) is thrown as the client's
 * one-line error naming the endpoint and the fix: nothing else can be checked then.
 */
export async function dockerDoctor(options: DockerDoctorOptions = {}): Promise<DockerDoctorResult> {
  const { DockerClient, DockerApiVersionError, MAX_API_VERSION, MIN_API_VERSION, resolveDockerEndpoint } = await import('../drivers/docker');
  const env = options.env ?? process.env;
  const endpoint = resolveDockerEndpoint(options.docker ?? {}, env);
  const client = new DockerClient(endpoint);
  try {
    const ping = await client.ping();
    const checks: DockerCheck[] = [{ name: 'endpoint', status: 'ok', detail: `${endpoint.host} (${endpoint.source === 'the default' ? 'the default' : `from ${endpoint.source}`}) answers` }];
    try {
      await client.negotiate();
    } catch (e) {
      if (!(e instanceof DockerApiVersionError)) throw e;
      checks.push({ name: 'API version', status: 'failed', detail: `${e.engineVersion || ping.apiVersion || '(unknown)'}; cdk-docker speaks ${MIN_API_VERSION} to ${MAX_API_VERSION}`, fix: e.message });
      return { endpoint: endpoint.host, checks, ok: false };
    }
    const version = client.engineVersion!;
    checks.push({ name: 'API version', status: 'ok', detail: `${client.apiVersion} (the engine's ${version.ApiVersion}; cdk-docker speaks ${MIN_API_VERSION} to ${MAX_API_VERSION})` });
    checks.push({ name: 'server version', status: 'ok', detail: `Docker ${version.Version} (${version.Os}/${version.Arch})` });
    const info = await client.request<DoctorInfo>('GET', '/info');
    checks.push(storageCheck(info.Driver));
    checks.push(swarmCheck(info.Swarm));
    if (info.Swarm?.LocalNodeState === 'active' && endpoint.kind === 'unix') checks.push(routingMeshCheck(options.ipvsProbe ?? '/proc/net/ip_vs'));
    return { endpoint: endpoint.host, checks, ok: !checks.some((c) => c.status === 'failed') };
  } finally {
    await client.close();
  }
}

/**
 * A swarm's routing mesh (ingress-published ports on every node) and service VIPs are IPVS in
 * the kernel. Checked for an engine on this machine only (same kernel): `probe` is the file IPVS
 * makes (/proc/net/ip_vs).
 */
function routingMeshCheck(probe: string): DockerCheck {
  const fs = require('node:fs') as typeof import('node:fs');
  if (fs.existsSync(probe)) return { name: 'routing mesh', status: 'ok', detail: 'IPVS in the kernel (published ports answer on every node, service VIPs work)' };
  return {
    name: 'routing mesh',
    status: 'warning',
    detail: 'this kernel has no IPVS (ip_vs): ports published through the routing mesh do not answer and service VIPs do not route on this node',
    fix: "load it (modprobe ip_vs), or publish ports with mode: 'host' and use deploy.endpointMode 'dnsrr'",
  };
}

function storageCheck(driver: string | undefined): DockerCheck {
  if (!driver) return { name: 'storage driver', status: 'warning', detail: 'the engine did not say', fix: 'check `docker info` on the engine\'s host' };
  if (driver === 'vfs') {
    return { name: 'storage driver', status: 'warning', detail: 'vfs (copies every layer: slow builds and starts, much disk)', fix: 'run dockerd with --storage-driver overlay2 (or "storage-driver" in /etc/docker/daemon.json)' };
  }
  return { name: 'storage driver', status: 'ok', detail: driver };
}

function swarmCheck(swarm: DoctorInfo['Swarm']): DockerCheck {
  const state = swarm?.LocalNodeState || 'inactive';
  if (state === 'inactive') return { name: 'swarm', status: 'ok', detail: 'inactive (stacks run as containers)' };
  if (state === 'active') return { name: 'swarm', status: 'ok', detail: `active, ${swarm?.ControlAvailable ? 'manager' : 'worker'} (stacks still run as plain containers on this engine)` };
  if (state === 'locked') return { name: 'swarm', status: 'warning', detail: 'locked', fix: 'unlock it with `docker swarm unlock` on the engine' };
  if (state === 'pending') return { name: 'swarm', status: 'warning', detail: 'pending (joining a swarm)', fix: 'wait for the join to finish, or `docker swarm leave --force`' };
  return { name: 'swarm', status: 'warning', detail: `${state}${swarm?.Error ? `: ${swarm.Error}` : ''}`, fix: 'see `docker info`; `docker swarm leave --force` returns the engine to plain containers' };
}

const DOCKER_MARK: Record<DockerCheck['status'], string> = { ok: pc.green('ok'), failed: pc.red('FAILED'), warning: pc.yellow('warning') };

/** The Docker report a user reads: one line per check, then what to do. */
export function renderDockerDoctor(result: DockerDoctorResult): string {
  const w = Math.max(...result.checks.map((c) => c.name.length));
  const lines = [`Docker Engine at ${result.endpoint}:`, ''];
  for (const c of result.checks) lines.push(`  ${c.name.padEnd(w)}  ${DOCKER_MARK[c.status].padEnd(pc.isColorSupported ? 17 : 8)}  ${c.detail}`);
  lines.push('');
  const failed = result.checks.filter((c) => c.status === 'failed');
  const warned = result.checks.filter((c) => c.status === 'warning');
  if (failed.length === 0) lines.push(`The Docker Engine is ready for cdk-docker${warned.length > 0 ? ', with warnings' : ''}.`);
  if (failed.length + warned.length > 0) {
    lines.push('To fix:');
    for (const c of [...failed, ...warned]) lines.push(`  ${c.name}: ${c.fix}`);
  }
  return `${lines.join('\n')}\n`;
}
