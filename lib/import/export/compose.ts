/**
 * `export compose`: a synthesized plan as a compose file — the way back, so that trying
 * cdk-docker locks nobody in. Written for what Debian's docker-compose 1.29 accepts (the Compose
 * Specification without `version:`), keeping every name the plan fixes (`container_name`,
 * networks' and volumes' `name:`), so that `docker-compose up` makes the containers `apply`
 * makes.
 *
 * Secrets never appear in the file: a secret variable becomes `${FROM}` (interpolated by Compose
 * from its environment, required: `${FROM:?…}`) when it comes from the environment, and a
 * `secrets:` entry naming the file when it comes from a file; secret files keep their source
 * (`file:`, or `environment:` — which only Compose v2 reads, said in a warning).
 */

import * as path from 'node:path';
import { stringify } from 'yaml';
import type { ContainerResource, ImageResource, NetworkResource, Plan, VolumeResource } from '../../plan/types';

export interface ExportedCompose {
  /** The YAML text. */
  readonly text: string;
  /** What a compose file cannot say the same way (each names the resource and what to do). */
  readonly warnings: string[];
}

/** The compose file of `plan`; relative paths are written relative to `dir` (where the file goes). */
export function exportCompose(plan: Plan, dir: string): ExportedCompose {
  const warnings: string[] = [];
  const rel = (p: string): string => {
    const r = path.relative(dir, p);
    return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : `./${r.split(path.sep).join('/')}`;
  };
  const resources = Object.entries(plan.resources);
  const key = new Map<string, string>();
  const used = new Set<string>();
  const keyOf = (id: string, p: string): string => {
    let k = (p.split('/').pop() ?? id).replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || id;
    for (let i = 2; used.has(k); i++) k = `${k.replace(/-\d+$/, '')}-${i}`;
    used.add(k);
    key.set(id, k);
    return k;
  };
  const networks: Record<string, unknown> = {};
  const volumes: Record<string, unknown> = {};
  const secrets: Record<string, unknown> = {};
  const configs: Record<string, unknown> = {};
  const services: Record<string, unknown> = {};
  const networkKeyByName = new Map<string, string>();
  const volumeKeyByName = new Map<string, string>();
  for (const [id, r] of resources) {
    if (r.type === 'network') {
      const n = r as NetworkResource;
      const k = keyOf(id, n.path);
      networkKeyByName.set(n.name, k);
      const s = n.spec;
      const ipam = s.subnet !== undefined ? { ipam: { config: [{ subnet: s.subnet, ...(s.gateway ? { gateway: s.gateway } : {}), ...(s.ipRange ? { ip_range: s.ipRange } : {}) }] } } : {};
      networks[k] = {
        name: n.name,
        driver: s.driver,
        ...(s.internal ? { internal: true } : {}),
        ...(s.attachable ? { attachable: true } : {}),
        ...(Object.keys(s.labels).length > 0 ? { labels: { ...s.labels } } : {}),
        ...ipam,
      };
    } else if (r.type === 'volume') {
      const v = r as VolumeResource;
      const k = keyOf(id, v.path);
      volumeKeyByName.set(v.name, k);
      volumes[k] = {
        name: v.name,
        ...(v.spec.driver !== 'local' ? { driver: v.spec.driver } : {}),
        ...(Object.keys(v.spec.driverOpts).length > 0 ? { driver_opts: { ...v.spec.driverOpts } } : {}),
        ...(Object.keys(v.spec.labels).length > 0 ? { labels: { ...v.spec.labels } } : {}),
      };
    }
  }
  for (const [id, r] of resources) if (r.type === 'container') keyOf(id, r.path);

  for (const [id, r] of resources) {
    if (r.type !== 'container') continue;
    const c = r as ContainerResource;
    const s = c.spec;
    const k = key.get(id)!;
    const svc: Record<string, unknown> = {};
    const img = plan.resources[s.image] as ImageResource | undefined;
    if (img?.spec.source === 'build') {
      const b = img.spec;
      svc.image = img.name;
      svc.build = {
        context: rel(b.context),
        ...(b.dockerfile !== 'Dockerfile' ? { dockerfile: b.dockerfile } : {}),
        ...(Object.keys(b.buildArgs).length > 0 ? { args: { ...b.buildArgs } } : {}),
        ...(b.target ? { target: b.target } : {}),
      };
    } else if (img?.spec.source === 'archive') {
      svc.image = img.name;
      warnings.push(`${c.path}: its image ${img.name} comes from the archive ${img.spec.path}, which compose cannot load; run \`docker load -i ${img.spec.path}\` before \`docker-compose up\``);
    } else if (img !== undefined) {
      svc.image = img.spec.source === 'registry' ? img.spec.ref : img.name;
      if (img.spec.source === 'registry' && img.spec.pullPolicy !== 'missing') svc.pull_policy = img.spec.pullPolicy;
    }
    if (s.replicas === 1) svc.container_name = c.name;
    else {
      svc.scale = s.replicas;
      warnings.push(`${c.path}: ${s.replicas} replicas are named <project>_${k}_N by compose, not ${c.name}, ${c.name}-2…`);
    }
    if (s.entrypoint !== undefined) svc.entrypoint = [...s.entrypoint];
    if (s.command !== undefined) svc.command = [...s.command];
    const env: Record<string, string> = { ...s.env };
    for (const [name, ref] of Object.entries(s.secretEnv)) {
      if (ref.source === 'env') env[name] = `\${${ref.from}:?the secret ${name} of ${c.path} comes from the environment variable ${ref.from}; export it}`;
      else {
        env[name] = `\${${name}:?the secret ${name} of ${c.path} comes from the file ${ref.from}; export ${name}=$(cat ${ref.from})}`;
        warnings.push(`${c.path}: the secret variable ${name} comes from the file ${ref.from}, which compose cannot read into a variable: export ${name} before \`docker-compose up\``);
      }
    }
    if (Object.keys(env).length > 0) svc.environment = escapeDollars(env, new Set(Object.keys(s.secretEnv)));
    if (s.envFiles.length > 0) svc.env_file = s.envFiles.map((f) => rel(f.path));
    if (s.workingDir !== undefined) svc.working_dir = s.workingDir;
    if (s.user !== undefined) svc.user = s.user;
    if (s.hostname !== undefined) svc.hostname = s.hostname;
    if (s.ports.length > 0) {
      svc.ports = s.ports.map((p) => `${p.hostIp !== '0.0.0.0' ? `${p.hostIp}:` : ''}${p.hostPort !== 0 ? `${p.hostPort}:` : p.hostIp !== '0.0.0.0' ? ':' : ''}${p.containerPort}/${p.protocol}`);
    }
    if (s.publishAllPorts) warnings.push(`${c.path}: publishAllPorts (-P) has no compose key; list the ports`);
    if (s.expose?.length) svc.expose = [...s.expose];
    // tmpfs mounts as the service's `tmpfs:` (HostConfig.Tmpfs, with size and mode, as apply makes them).
    const tmpfs = s.mounts.flatMap((m) => {
      if (m.type !== 'tmpfs') return [];
      const opts = [...(m.sizeBytes !== undefined ? [`size=${m.sizeBytes}`] : []), ...(m.mode !== undefined ? [`mode=${m.mode.toString(8)}`] : [])];
      return [`${m.target}${opts.length > 0 ? `:${opts.join(',')}` : ''}`];
    });
    if (tmpfs.length > 0) svc.tmpfs = tmpfs;
    const mounts = s.mounts.flatMap((m) => {
      if (m.type === 'tmpfs') return [];
      if (m.type === 'bind') return [{ type: 'bind', source: rel(m.source), target: m.target, ...(m.readOnly ? { read_only: true } : {}) }];
      return [{ type: 'volume', source: volumeKeyByName.get(m.source) ?? m.source, target: m.target, ...(m.readOnly ? { read_only: true } : {}) }];
    });
    for (const m of s.mounts) {
      if (m.type === 'volume' && !volumeKeyByName.has(m.source)) {
        volumes[m.source] = { external: true };
        volumeKeyByName.set(m.source, m.source);
      }
    }
    if (mounts.length > 0) svc.volumes = mounts;
    if (s.volumesFrom.length > 0) {
      svc.volumes_from = s.volumesFrom.map((v) => {
        const other = resources.find(([, x]) => x.type === 'container' && x.name === v.container);
        return `${other ? key.get(other[0]) : `container:${v.container}`}${v.readOnly ? ':ro' : ''}`;
      });
    }
    if (typeof s.networkMode === 'object') {
      svc.network_mode = s.networkMode.container !== undefined ? `service:${key.get(s.networkMode.container)}` : `container:${s.networkMode.containerName}`;
    }
    else if (s.networkMode !== 'bridge') svc.network_mode = s.networkMode;
    else if (s.networks.length === 0) svc.network_mode = 'bridge';
    else {
      const nets: Record<string, unknown> = {};
      for (const a of s.networks) {
        let nk = networkKeyByName.get(a.network);
        if (nk === undefined) {
          nk = a.network;
          networks[nk] = { external: true, name: a.network };
          networkKeyByName.set(a.network, nk);
        }
        const aliases = a.aliases.filter((x) => x !== k);
        nets[nk] = aliases.length > 0 || a.ipv4Address ? { ...(aliases.length > 0 ? { aliases } : {}), ...(a.ipv4Address ? { ipv4_address: a.ipv4Address } : {}) } : null;
      }
      svc.networks = nets;
    }
    if (s.restart.policy !== 'no') svc.restart = s.restart.policy === 'on-failure' && s.restart.maxRetries > 0 ? `on-failure:${s.restart.maxRetries}` : s.restart.policy;
    if (s.healthcheck) {
      const h = s.healthcheck;
      svc.healthcheck = { test: [...h.test], interval: `${h.intervalMs}ms`, timeout: `${h.timeoutMs}ms`, retries: h.retries, start_period: `${h.startPeriodMs}ms` };
    }
    if (s.dependsOn.length > 0) {
      svc.depends_on = Object.fromEntries(
        s.dependsOn.map((d) => [
          key.get(d.container) ?? d.container,
          { condition: { started: 'service_started', healthy: 'service_healthy', completed: 'service_completed_successfully' }[d.condition] },
        ]),
      );
    }
    if (Object.keys(s.labels).length > 0) svc.labels = escapeDollars(s.labels, new Set());
    if (s.stopSignal !== undefined) svc.stop_signal = s.stopSignal;
    if (s.stopTimeoutSeconds !== undefined) svc.stop_grace_period = `${s.stopTimeoutSeconds}s`;
    if (s.init) svc.init = true;
    if (s.readOnlyRootfs) svc.read_only = true;
    if (s.capAdd.length > 0) svc.cap_add = [...s.capAdd];
    if (s.capDrop.length > 0) svc.cap_drop = [...s.capDrop];
    if (s.privileged) svc.privileged = true;
    if (s.memoryBytes !== undefined) svc.mem_limit = `${s.memoryBytes}b`;
    if (s.nanoCpus !== undefined) svc.cpus = s.nanoCpus / 1e9;
    if (s.pidsLimit !== undefined) svc.pids_limit = s.pidsLimit;
    if (s.extraHosts) svc.extra_hosts = Object.entries(s.extraHosts).map(([h, ip]) => `${h}:${ip}`);
    if (s.dns) svc.dns = [...s.dns];
    if (s.dnsSearch) svc.dns_search = [...s.dnsSearch];
    if (s.dnsOptions) svc.dns_opt = [...s.dnsOptions];
    if (s.sysctls) svc.sysctls = { ...s.sysctls };
    if (s.ulimits) svc.ulimits = Object.fromEntries(Object.entries(s.ulimits).map(([n, u]) => [n, { soft: u.soft, hard: u.hard }]));
    if (s.shmSizeBytes !== undefined) svc.shm_size = `${s.shmSizeBytes}b`;
    if (s.devices?.length) svc.devices = s.devices.map((d) => `${d.hostPath}:${d.containerPath}:${d.permissions}`);
    if (s.pid) svc.pid = s.pid;
    if (s.ipc) svc.ipc = s.ipc;
    if (s.tty) svc.tty = true;
    if (s.stdinOpen) svc.stdin_open = true;
    if (s.logging) svc.logging = Object.keys(s.logging.options).length > 0 ? { driver: s.logging.driver, options: { ...s.logging.options } } : { driver: s.logging.driver };
    if (s.platform) svc.platform = s.platform;
    if (s.runtime) svc.runtime = s.runtime;
    if (s.dependsOn.some((d) => d.restart)) warnings.push(`${c.path}: dependsOn restart is not exported: docker-compose 1.29 refuses depends_on restart (compose v2 takes it)`);
    if (s.secrets?.length) {
      svc.secrets = s.secrets.map((f) => {
        const sk = `${k}_${path.posix.basename(f.target).replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
        secrets[sk] = f.secret.source === 'file' ? { file: rel(f.secret.from) } : { environment: f.secret.from };
        if (f.secret.source === 'env') warnings.push(`${c.path}: the secret file ${f.target} comes from the environment variable ${f.secret.from}: docker-compose 1.29 cannot read a secret from the environment (compose v2 can)`);
        return { source: sk, target: f.target, mode: f.mode, uid: String(f.uid), gid: String(f.gid) };
      });
    }
    if (s.configs?.length) {
      svc.configs = s.configs.map((f) => {
        const ck = `${k}_${path.posix.basename(f.target).replace(/[^A-Za-z0-9_.-]+/g, '_')}`;
        if (f.source === 'file') configs[ck] = { file: rel(f.file) };
        else {
          configs[ck] = { content: f.content };
          warnings.push(`${c.path}: the config ${f.target} is text, which docker-compose 1.29 cannot mount (compose v2 can: configs.content)`);
        }
        return { source: ck, target: f.target, mode: f.mode, uid: String(f.uid), gid: String(f.gid) };
      });
    }
    if (s.develop !== undefined) warnings.push(`${c.path}: develop (files synced by \`cdk-docker watch\`) is not exported: docker-compose 1.29 has no watch`);
    // A field added to the plan after this exporter is said, never silently dropped.
    for (const f of Object.keys(s)) if (!EXPORTED.has(f)) warnings.push(`${c.path}: ${f} is not exported (the exporter does not know it yet)`);
    services[k] = svc;
  }
  const doc: Record<string, unknown> = { services };
  if (Object.keys(networks).length > 0) doc.networks = networks;
  if (Object.keys(volumes).length > 0) doc.volumes = volumes;
  if (Object.keys(secrets).length > 0) doc.secrets = secrets;
  if (Object.keys(configs).length > 0) doc.configs = configs;
  const header = `# Exported from the plan of stack "${plan.stack}" by \`cdk-docker export compose\`: secrets are references, never values.\n# docker-compose -p ${plan.stack} up -d\n`;
  return { text: header + stringify(doc, { lineWidth: 0 }), warnings };
}

/** The ContainerSpec fields the exporter writes (or warns about). */
const EXPORTED = new Set([
  'image', 'command', 'entrypoint', 'env', 'secretEnv', 'envFiles', 'workingDir', 'user', 'hostname', 'ports', 'publishAllPorts', 'mounts', 'volumesFrom',
  'networkMode', 'networks', 'restart', 'healthcheck', 'dependsOn', 'labels', 'stopSignal', 'stopTimeoutSeconds', 'init', 'readOnlyRootfs', 'capAdd', 'capDrop',
  'privileged', 'memoryBytes', 'nanoCpus', 'pidsLimit', 'replicas', 'develop', 'expose', 'extraHosts', 'dns', 'dnsSearch', 'dnsOptions', 'sysctls', 'ulimits',
  'shmSizeBytes', 'devices', 'pid', 'ipc', 'secrets', 'configs', 'tty', 'stdinOpen', 'logging', 'platform', 'runtime',
]);

/** Values with `$` written as `$$` (Compose interpolates `$`), except the secret references. */
function escapeDollars(map: { readonly [k: string]: string }, keep: ReadonlySet<string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, keep.has(k) ? v : v.replace(/\$/g, '$$$$')]));
}
