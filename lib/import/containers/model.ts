/**
 * Existing containers as a compose model: what `import containers` hands to the compose
 * importer's code writer (../compose/generate), so that both imports write the same code.
 *
 * Each container becomes a service named after it (Compose's service name for a container of a
 * Compose project) with `container_name` fixed; its networks and named volumes become top-level
 * networks and volumes with their names fixed (`name:`), so that `apply` of the code finds them
 * again and adopts them. Only what differs from the image is written: command and entrypoint
 * where they are not the image's, environment without the image's variables (a variable whose
 * name says it is a secret — PASSWORD, TOKEN, API_KEY… — as `Secret.fromEnv(NAME)`, never its
 * value), labels without the image's and without the engines'/tools' own (io.cdk-docker.*,
 * com.docker.compose.*), healthcheck timings that are not the engine's defaults.
 */

import { isForeignToolLabel, isOwnLabel } from '../../core/labels';
import type { EngineDefaults, ImageDefaults, ObservedContainer, ObservedNetwork, ObservedVolume } from '../../drivers/types';
import { code, quote } from '../compose/code';
import type { ComposeProject, ComposeService } from '../compose/load';

/** Variable names whose values are secrets: never written into code, read from the environment at apply. */
const SECRET_NAME = /PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY/i;

/** Compose's labels that name a container's project, service, network and volume. */
export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  network: 'com.docker.compose.network',
  volume: 'com.docker.compose.volume',
} as const;

export interface ContainersModelInput {
  /** The containers to import, in order. */
  readonly containers: readonly ObservedContainer[];
  /** The engine's networks and volumes (those the containers use are taken). */
  readonly networks: readonly ObservedNetwork[];
  readonly volumes: readonly ObservedVolume[];
  /** Each container's image config, by image id (what the image supplies is left out). */
  readonly images: ReadonlyMap<string, ImageDefaults | undefined>;
  readonly defaults: EngineDefaults;
  /** The project (stack) name, for the code's comments. */
  readonly name: string;
  /** The directory the project is written to. */
  readonly dir: string;
}

/** The compose model of `input.containers`. */
export function containersModel(input: ContainersModelInput): ComposeProject {
  const services: { [name: string]: ComposeService } = {};
  const networks: { [key: string]: Record<string, unknown> } = {};
  const volumes: { [key: string]: Record<string, unknown> } = {};
  const warnings: string[] = [];
  const byName = new Map(input.containers.map((c) => [c.name, c]));
  const serviceOf = new Map<string, string>();
  // Service names: Compose's when it has one and it is unique, else the container's name.
  const composeNames = input.containers.map((c) => c.labels[COMPOSE_LABELS.service]);
  for (const c of input.containers) {
    const svc = c.labels[COMPOSE_LABELS.service];
    // A label is anyone's text: only a name that is a valid construct id and Docker name is taken.
    const usable = svc !== undefined && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(svc) && composeNames.filter((n) => n === svc).length === 1 && !byName.has(svc);
    serviceOf.set(c.name, usable ? svc : c.name);
  }
  const networkKey = (name: string): string => {
    const n = input.networks.find((x) => x.name === name);
    const key = n?.labels[COMPOSE_LABELS.network] ?? name;
    if (networks[key] === undefined && n === undefined) networks[key] = { external: true, name };
    else if (networks[key] === undefined && n !== undefined) networks[key] = networkEntry(n);
    return key;
  };
  /** A volume's key: Compose's name for it, else its name; an anonymous one's (64 hex digits) after its container and target. */
  const volumeKey = (name: string, service: string, target: string): string => {
    const v = input.volumes.find((x) => x.name === name);
    const anonymous = /^[0-9a-f]{64}$/.test(name) ? `${service}-${target.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}` : undefined;
    const key = v?.labels[COMPOSE_LABELS.volume] ?? anonymous ?? name;
    if (volumes[key] === undefined) volumes[key] = v !== undefined ? volumeEntry(v) : { name };
    return key;
  };

  for (const c of input.containers) {
    const name = serviceOf.get(c.name)!;
    const o = c.spec;
    const d = input.images.get(c.imageId);
    if (d === undefined) warnings.push(`container ${c.name}: its image ${c.imageRef ?? c.imageId} is not on the engine any more, so what the image supplies cannot be told apart; everything is written`);
    const s: ComposeService = {};
    s.image = c.imageRef && !/^sha256:/.test(c.imageRef) ? c.imageRef : c.imageId;
    s.container_name = c.name;
    const entrypointDiffers = o.entrypoint !== undefined && !same(o.entrypoint, d?.entrypoint ?? []);
    if (entrypointDiffers) s.entrypoint = [...o.entrypoint!];
    if (o.command !== undefined && (entrypointDiffers ? o.command.length > 0 : !same(o.command, d?.cmd ?? []))) s.command = [...o.command];
    const env = Object.fromEntries(Object.entries(o.env ?? {}).filter(([k, v]) => d?.env[k] !== v && !(input.defaults.env.includes(k) && d?.env[k] === undefined)));
    const secretNames = Object.keys(env).filter((k) => SECRET_NAME.test(k));
    for (const k of secretNames) warnings.push(`container ${c.name}: ${k} looks like a secret: written as Secret.fromEnv(${quote(k)}), not its value; export ${k} before apply`);
    if (Object.keys(env).length > 0) s.environment = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, secretNames.includes(k) ? code(`Secret.fromEnv(${quote(k)})`) : v]));
    if (o.workingDir && o.workingDir !== (d?.workingDir || input.defaults.workingDir)) s.working_dir = o.workingDir;
    if (o.user && o.user !== (d?.user ?? '')) s.user = o.user;
    if (o.hostname) s.hostname = o.hostname;
    if (o.ports?.length) {
      s.ports = o.ports.map((p) => ({
        target: p.containerPort,
        ...(p.hostPort !== 0 ? { published: String(p.hostPort) } : {}),
        ...(p.hostIp && p.hostIp !== '0.0.0.0' ? { host_ip: p.hostIp } : {}),
        ...(p.protocol !== 'tcp' ? { protocol: p.protocol } : {}),
      }));
    }
    if (o.publishAllPorts) warnings.push(`container ${c.name}: publishAllPorts (-P) has no compose key; the ports it published are written as they are`);
    const implicit = new Set([...(d?.exposedPorts ?? []), ...(o.ports ?? []).map((p) => `${p.containerPort}/${p.protocol}`)]);
    const expose = (o.expose ?? []).filter((e) => !implicit.has(e));
    if (expose.length > 0) s.expose = expose.map((e) => (e.endsWith('/tcp') ? Number(e.slice(0, -4)) : e));
    // Anonymous volumes (the image's VOLUMEs, `-v /path`) are not in the spec: named here, their data stays.
    const anonymous = (c.volumeMounts ?? []).filter((v) => !(o.mounts ?? []).some((m) => m.target === v.target));
    const mounts = [...(o.mounts ?? []), ...anonymous.map((v) => ({ type: 'volume' as const, source: v.name, target: v.target, readOnly: v.readOnly }))];
    if (mounts.length > 0) {
      s.volumes = mounts.map((m) => {
        if (m.type === 'tmpfs') {
          const tmpfs = { ...(m.sizeBytes !== undefined ? { size: m.sizeBytes } : {}), ...(m.mode !== undefined && m.mode !== input.defaults.tmpfsMode ? { mode: m.mode } : {}) };
          return { type: 'tmpfs', target: m.target, ...(Object.keys(tmpfs).length > 0 ? { tmpfs } : {}) };
        }
        if (m.type === 'bind') return { type: 'bind', source: m.source, target: m.target, ...(m.readOnly ? { read_only: true } : {}) };
        return { type: 'volume', source: volumeKey(m.source, name, m.target), target: m.target, ...(m.readOnly ? { read_only: true } : {}) };
      });
    }
    if (o.volumesFrom?.length) s.volumes_from = o.volumesFrom.map((v) => (byName.has(v.container) ? `${serviceOf.get(v.container)}${v.readOnly ? ':ro' : ''}` : `container:${v.container}${v.readOnly ? ':ro' : ''}`));
    const mode = o.networkMode;
    if (typeof mode === 'object') {
      const ref = mode.container ?? mode.containerName;
      const other = [...byName.values()].find((x) => x.name === ref || (ref.length >= 12 && x.id.startsWith(ref)));
      s.network_mode = other !== undefined ? `service:${serviceOf.get(other.name)}` : `container:${ref}`;
    } else if (mode === 'host' || mode === 'none') {
      s.network_mode = mode;
    } else {
      const attached = o.networks ?? [];
      if (attached.length === 0 || (attached.length === 1 && attached[0].network === input.defaults.network && attached[0].ipv4Address === undefined)) {
        s.network_mode = 'bridge';
      } else {
        // Aliases the engine adds itself (the name, the short id, Compose's service name) are not written.
        const auto = new Set([c.name, c.id.slice(0, 12), name]);
        s.networks = Object.fromEntries(
          attached.map((a) => {
            const aliases = a.aliases.filter((x) => !auto.has(x));
            const opts = { ...(aliases.length > 0 ? { aliases } : {}), ...(a.ipv4Address ? { ipv4_address: a.ipv4Address } : {}) };
            return [networkKey(a.network), Object.keys(opts).length > 0 ? opts : null];
          }),
        );
      }
    }
    if (o.restart && o.restart.policy !== 'no') s.restart = o.restart.policy === 'on-failure' && (o.restart.maxRetries ?? 0) > 0 ? `on-failure:${o.restart.maxRetries}` : o.restart.policy;
    if (o.healthcheck && !same(o.healthcheck.test, d?.healthcheck?.test)) {
      const h = o.healthcheck;
      const def = input.defaults.healthcheck;
      s.healthcheck = {
        test: [...h.test],
        ...(h.intervalMs && h.intervalMs !== def.intervalMs ? { interval: duration(h.intervalMs) } : {}),
        ...(h.timeoutMs && h.timeoutMs !== def.timeoutMs ? { timeout: duration(h.timeoutMs) } : {}),
        ...(h.retries && h.retries !== def.retries ? { retries: h.retries } : {}),
        ...(h.startPeriodMs && h.startPeriodMs !== def.startPeriodMs ? { start_period: duration(h.startPeriodMs) } : {}),
      };
    }
    const labels = Object.fromEntries(Object.entries(o.labels ?? {}).filter(([k, v]) => !isOwnLabel(k) && !isForeignToolLabel(k) && d?.labels[k] !== v));
    if (Object.keys(labels).length > 0) s.labels = labels;
    if (o.capAdd?.length) s.cap_add = [...o.capAdd];
    if (o.capDrop?.length) s.cap_drop = [...o.capDrop];
    if (o.privileged) s.privileged = true;
    if (o.init) s.init = true;
    if (o.readOnlyRootfs) s.read_only = true;
    if (o.memoryBytes) s.mem_limit = `${o.memoryBytes}b`;
    if (o.nanoCpus) s.cpus = o.nanoCpus / 1e9;
    if (o.pidsLimit) s.pids_limit = o.pidsLimit;
    const signal = (x: string | undefined) => (x ?? '').toUpperCase().replace(/^(?!SIG)/, 'SIG');
    if (o.stopSignal && signal(o.stopSignal) !== signal(d?.stopSignal ?? input.defaults.stopSignal)) s.stop_signal = o.stopSignal;
    if (o.stopTimeoutSeconds !== undefined && o.stopTimeoutSeconds !== input.defaults.stopTimeoutSeconds) s.stop_grace_period = `${o.stopTimeoutSeconds}s`;
    if (o.extraHosts && Object.keys(o.extraHosts).length > 0) s.extra_hosts = { ...o.extraHosts };
    if (o.dns?.length) s.dns = [...o.dns];
    if (o.dnsSearch?.length) s.dns_search = [...o.dnsSearch];
    if (o.dnsOptions?.length) s.dns_opt = [...o.dnsOptions];
    if (o.sysctls && Object.keys(o.sysctls).length > 0) s.sysctls = { ...o.sysctls };
    if (o.ulimits && Object.keys(o.ulimits).length > 0) s.ulimits = Object.fromEntries(Object.entries(o.ulimits).map(([k, u]) => [k, { soft: u.soft, hard: u.hard }]));
    if (o.shmSizeBytes !== undefined && o.shmSizeBytes !== input.defaults.shmSizeBytes) s.shm_size = o.shmSizeBytes;
    if (o.devices?.length) s.devices = o.devices.map((x) => ({ source: x.hostPath, target: x.containerPath, permissions: x.permissions }));
    if (o.pid) s.pid = o.pid;
    if (o.ipc && o.ipc !== (input.defaults.ipcMode ?? 'private')) s.ipc = o.ipc;
    if (o.tty) s.tty = true;
    if (o.stdinOpen) s.stdin_open = true;
    // Observed only when not the engine's default driver without options.
    if (o.logging) s.logging = Object.keys(o.logging.options).length > 0 ? { driver: o.logging.driver, options: { ...o.logging.options } } : { driver: o.logging.driver };
    if (o.runtime) s.runtime = o.runtime;
    services[name] = s;
  }
  return {
    name: input.name,
    nameFixed: false,
    dir: input.dir,
    files: [],
    services,
    networks,
    volumes,
    secrets: {},
    configs: {},
    comments: {},
    warnings,
    otherKeys: [],
  };
}

function networkEntry(n: ObservedNetwork): Record<string, unknown> {
  const labels = userLabels(n.labels);
  return {
    name: n.name,
    ...(n.driver !== 'bridge' ? { driver: n.driver } : {}),
    ...(n.internal ? { internal: true } : {}),
    ...(n.attachable ? { attachable: true } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(n.subnet ? { ipam: { config: [{ subnet: n.subnet, ...(n.gateway ? { gateway: n.gateway } : {}), ...(n.ipRange ? { ip_range: n.ipRange } : {}) }] } } : {}),
  };
}

function volumeEntry(v: ObservedVolume): Record<string, unknown> {
  const labels = userLabels(v.labels);
  return {
    name: v.name,
    ...(v.driver !== 'local' ? { driver: v.driver } : {}),
    ...(Object.keys(v.driverOpts).length > 0 ? { driver_opts: { ...v.driverOpts } } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
  };
}

function userLabels(labels: { readonly [k: string]: string }): { [k: string]: string } {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => !isOwnLabel(k) && !isForeignToolLabel(k)));
}

/** `1s`, `1500ms`: a duration as a person writes it. */
function duration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function same(a: readonly unknown[] | undefined, b: readonly unknown[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}
