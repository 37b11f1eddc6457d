/**
 * "What a faithful engine would report" for a plan: the observed stack and images that an
 * apply of `plan` leaves behind, built without an engine, for the pure diff tests.
 */
import { createHash } from 'node:crypto';
import { BUILTIN_CAPABILITIES } from '../../lib/drivers/builtin';
import type { DriverCapabilities, ImageDefaults, ObservedContainer, ObservedImage, ObservedNetwork, ObservedStack, ObservedVolume } from '../../lib/drivers/types';
import { LABELS } from '../../lib/drivers/types';
import type { ContainerResource, Plan } from '../../lib/plan/types';
import { managedLabels, replicaName } from '../../lib/reconcile/hash';
import type { ObservedImages } from '../../lib/reconcile/diff';

/** The engine a faithful observation comes from (its defaults, what it changes in place): the built-in one. */
export const ENGINE: DriverCapabilities = BUILTIN_CAPABILITIES;

/** Busybox's config, roughly. */
export const BUSYBOX_DEFAULTS: ImageDefaults = {
  cmd: ['sh'],
  entrypoint: [],
  env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
  workingDir: '',
  user: '',
  exposedPorts: [],
  labels: {},
};

export interface FaithfulOptions {
  /** Put the managed labels on (false: an engine that lost them; the path label stays). */
  readonly labels?: boolean;
  /**
   * Report what the engine effectively runs, as `docker inspect` does: the image's Cmd,
   * WorkingDir, User, labels and env filled in, runtime hostnames, aliases and host ports.
   * false: only what the container was created with.
   */
  readonly effective?: boolean;
  /** Secret values at apply (by variable name). */
  readonly secrets?: { readonly [name: string]: string };
  /** Variables the env files provide. */
  readonly envFileVars?: { readonly [name: string]: string };
  /** Image config per image logical id (default BUSYBOX_DEFAULTS). */
  readonly imageDefaults?: { readonly [id: string]: ImageDefaults };
}

export function hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export interface Faithful {
  observed: ObservedStack;
  images: { [id: string]: ObservedImage | undefined };
}

export function faithful(plan: Plan, opts: FaithfulOptions = {}): Faithful {
  const withLabels = opts.labels ?? true;
  const labelsOf = (id: string, replica?: number): { [k: string]: string } => {
    const all: { [k: string]: string } = { ...managedLabels(plan, id, replica) };
    if (withLabels) return all;
    return { [LABELS.stack]: all[LABELS.stack], [LABELS.path]: all[LABELS.path], ...(replica !== undefined ? { [LABELS.replica]: String(replica) } : {}) };
  };
  const images: { [id: string]: ObservedImage | undefined } = {};
  const networks: ObservedNetwork[] = [];
  const volumes: ObservedVolume[] = [];
  const containers: ObservedContainer[] = [];
  for (const [id, r] of Object.entries(plan.resources)) {
    if (r.type !== 'image') continue;
    const config = opts.imageDefaults?.[id] ?? BUSYBOX_DEFAULTS;
    images[id] = { id: `sha256:${hex(`image ${r.name}`)}`, config: { ...config, labels: { ...config.labels, ...(r.spec.source === 'build' ? labelsOf(id) : {}) } } };
  }
  for (const [id, r] of Object.entries(plan.resources)) {
    if (r.type === 'network') {
      networks.push({
        id: hex(`network ${r.name}`),
        name: r.name,
        labels: { ...r.spec.labels, ...labelsOf(id) },
        driver: r.spec.driver,
        subnet: r.spec.subnet ?? '10.89.3.0/24',
        gateway: r.spec.gateway ?? '10.89.3.1',
        ...(r.spec.ipRange !== undefined ? { ipRange: r.spec.ipRange } : {}),
        internal: r.spec.internal,
        attachable: r.spec.attachable,
      });
    } else if (r.type === 'volume') {
      volumes.push({ name: r.name, labels: { ...r.spec.labels, ...labelsOf(id) }, driver: r.spec.driver, driverOpts: { ...r.spec.driverOpts }, mountpoint: `/var/lib/cdk-docker/volumes/${r.name}/_data` });
    } else if (r.type === 'container') {
      for (let replica = 1; replica <= r.spec.replicas; replica++) containers.push(container(plan, id, r, replica, labelsOf(id, replica), images, opts));
    }
  }
  return { observed: { networks, volumes, containers }, images };
}

function container(
  plan: Plan,
  _id: string,
  r: ContainerResource,
  replica: number,
  labels: { [k: string]: string },
  images: ObservedImages,
  opts: FaithfulOptions,
): ObservedContainer {
  const effective = opts.effective ?? false;
  const s = r.spec;
  const name = replicaName(r.name, replica);
  const id = hex(`container ${name}`);
  const image = images[s.image];
  const d = image?.config ?? BUSYBOX_DEFAULTS;
  const secrets: { [k: string]: string } = {};
  for (const k of Object.keys(s.secretEnv)) secrets[k] = opts.secrets?.[k] ?? `secret-value-of-${k}`;
  const fullEnv = { ...d.env, ...(s.envFiles.length > 0 ? (opts.envFileVars ?? {}) : {}), ...secrets, ...s.env };
  const { image: _i, secretEnv: _s, envFiles: _e, dependsOn: _d, replicas: _r, ...rest } = s;
  // Another container's network: drivers report it by name (by id where they cannot resolve it).
  const mode = s.networkMode;
  const shared = typeof mode === 'object' ? (mode.container !== undefined ? replicaName(plan.resources[mode.container].name, 1) : mode.containerName) : undefined;
  if (shared !== undefined) rest.networkMode = { containerName: effective ? hex(`container ${shared}`) : shared };
  const spec = effective
    ? {
        ...rest,
        command: s.command ?? (s.entrypoint !== undefined ? undefined : d.cmd),
        entrypoint: s.entrypoint ?? d.entrypoint,
        workingDir: s.workingDir ?? d.workingDir,
        user: s.user ?? d.user,
        hostname: s.hostname ?? id.slice(0, 12),
        stopSignal: s.stopSignal ?? d.stopSignal ?? ENGINE.defaults.stopSignal,
        stopTimeoutSeconds: s.stopTimeoutSeconds ?? ENGINE.defaults.stopTimeoutSeconds,
        labels: { ...d.labels, ...s.labels, ...labels },
        ports: s.ports.map((p, i) => ({ ...p, hostPort: p.hostPort === 0 ? 32768 + i : p.hostPort })),
        networks:
          s.networkMode !== 'bridge'
            ? []
            : (s.networks.length > 0 ? s.networks : [{ network: ENGINE.defaults.network, aliases: [] }]).map((n) => ({ ...n, aliases: [...n.aliases, name, id.slice(0, 12)].sort() })),
        fullEnv,
      }
    : { ...rest, fullEnv };
  return {
    id,
    name,
    labels,
    imageId: image?.id ?? 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
    status: 'running',
    exitCode: 0,
    restartCount: 0,
    spec,
    networks: {},
    ports: [],
  };
}
