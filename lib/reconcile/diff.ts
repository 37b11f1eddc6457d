/**
 * The diff: a plan against what a driver observed, as a list of changes with reasons.
 *
 * Pure: no engine access. The caller observes the stack (`driver.observe`) and looks up each
 * image resource (`driver.image(name)`) first, and passes the driver's capabilities: what the
 * engine applies by default and what it changes in place are the engine's to say, not the diff's.
 *
 * Matching
 * - Networks and volumes match plan resources of their type by the `io.cdk-docker.path` label;
 *   containers by path and `io.cdk-docker.replica` (missing = 1). A container resource with
 *   `replicas: N` wants replicas 1..N named `<name>` and `<name>-<N>` (N > 1).
 * - Plan resource with no observed object → `create`. Observed object with no plan resource,
 *   a replica beyond N, or a second object claiming the same path and replica → `delete`.
 * - Every field is compared, with the normalisation below, and each difference becomes a
 *   reason; no reason → `no-op`. The spec-hash label is not trusted for networks, volumes and
 *   containers: a container re-created by hand with the labels copied, or changed under them,
 *   is repaired by the next apply as Terraform's refresh would, not taken at its label's word
 *   as Compose's config-hash is. A stale or missing hash alone is not a change either.
 *
 * Normalisation (values that count as equal)
 * - What the image supplies: command absent = the image's Cmd (and `[]` when the plan sets an
 *   entrypoint, as Docker drops the image's Cmd then); entrypoint absent = the image's;
 *   workingDir absent = the image's or `/`; user absent = the image's or `""`; stopSignal absent
 *   = the image's or SIGTERM (`TERM`, `sigterm` and `SIGTERM` are equal); healthcheck absent =
 *   the image's or none; env = the image's env with the plan's merged over it; labels = the
 *   image's with the plan's merged over it.
 * - Engine defaults (`capabilities.defaults`): stopTimeout absent = the engine's (Docker's 10 s);
 *   workingDir and stopSignal absent and not from the image = the engine's (`/`, SIGTERM); no
 *   networks = the engine's default network (`bridge`); tmpfs mode absent = the engine's (1777);
 *   healthcheck timings absent or 0 = the engine's; a variable in the environment that nothing
 *   in the plan or image sets and the engine sets itself (PATH, HOSTNAME, HOME) is the engine's.
 *   A host port of 0 matches any host port; hostname absent = whatever the engine chose (the
 *   container id's first 12 digits or its name); aliases the engine adds (container name, short
 *   id, the construct id) are not differences.
 * - Env files: their variables cannot be told apart from others in the observed environment,
 *   so with env files only the plan's own variables are compared; the files' contents are
 *   compared by their sha256 in the `io.cdk-docker.inputs` label.
 * - Secrets: values are never compared or shown. A secret counts as changed only when the
 *   HMAC in the `io.cdk-docker.inputs` label differs from the plan's (a missing label is not a
 *   difference), or when the variable is missing from the environment. Any variable that is or
 *   was a secret shows as MASKED; a variable removed from the plan shows its old value only
 *   when the inputs label proves it was not a secret.
 *
 * What a difference needs
 * - In place (`update`): the container fields the driver declares in `capabilities.inPlace`
 *   (the built-in engine's and Docker's: restart policy, memory/cpus/pids limits, the name,
 *   network attachments), and a container that should run but does not (start).
 * - `replace`: everything else of a container; any property of a network or a volume (the
 *   apply step asks for --allow-data-loss before replacing a volume).
 * - Images: a registry image present → `no-op` (pullPolicy always → `update`, a pull); missing
 *   → `create`. A build image is current when its spec-hash label is the plan's; otherwise it
 *   is rebuilt (`update`). An archive is loaded again (`update`) when a container made from
 *   it was made from another archive. Images are never deleted.
 */

import { ValidationError } from '../core/errors';
import { isForeignToolLabel, ownLabels } from '../core/labels';
import { normalizeSignal } from '../core/linux';
import { LABELS } from '../drivers/types';
import type {
  ContainerFeature,
  DriverCapabilities,
  EngineDefaults,
  ImageDefaults,
  InPlaceField,
  ObservedContainer,
  ObservedContainerSpec,
  ObservedImage,
  ObservedNetwork,
  ObservedStack,
  ObservedVolume,
  UnmanagedObjects,
} from '../drivers/types';
import { DEFAULT_DEPLOY } from '../plan/types';
import type {
  ContainerResource,
  ContainerSpec,
  DeploySpec,
  Healthcheck,
  ImageResource,
  Mount,
  NetworkResource,
  Plan,
  PortMapping,
  Resource,
  ResourceType,
  VolumeResource,
} from '../plan/types';
import { containerInputs, ContainerInputs, EXTRA_LABELS, imageOf, parseInputs, replicaName, replicaOf, specHash } from './hash';
import { dependencyOrder, TYPE_RANK } from './graph';
import { serviceChanges } from './whole';
import { Adoption, Change, ChangeAction, KNOWN_AFTER_APPLY, MASKED, Reason, StackDiff } from './types';

/** Observed images by the logical id of their image resource (undefined = not present). */
export interface ObservedImages {
  readonly [imageLogicalId: string]: ObservedImage | undefined;
}

/** Computes what it takes to bring `observed` to `plan` on an engine that can do `engine`. */
export function diffStack(plan: Plan, observed: ObservedStack, images: ObservedImages, engine: DriverCapabilities): StackDiff {
  refuseUnsupported(plan, engine);
  const order = dependencyOrder(plan);
  const position = new Map(order.map((id, i) => [id, i]));
  const byPath = indexByPath(plan);

  // Observed objects by plan resource; everything unclaimed ends up deleted.
  const claimedNetworks = new Map<string, ObservedNetwork>();
  const claimedVolumes = new Map<string, ObservedVolume>();
  const claimedContainers = new Map<string, Map<number, ObservedContainer>>();
  const deletes: Array<Change & { rank: number }> = [];
  const orphan = (type: ResourceType, name: string, labels: { readonly [k: string]: string }, replica?: number): void => {
    const path = labels[LABELS.path] ?? name;
    const logicalId = byPath[type].get(path);
    deletes.push({
      logicalId: logicalId ?? path,
      path,
      type,
      name,
      action: 'delete',
      reasons: [],
      ...(replica !== undefined ? { replica } : {}),
      rank: logicalId !== undefined ? (position.get(logicalId) ?? -1) : Number.MAX_SAFE_INTEGER,
    });
  };
  for (const n of sortByName(observed.networks)) {
    const id = byPath.network.get(n.labels[LABELS.path] ?? '');
    if (id !== undefined && !claimedNetworks.has(id)) claimedNetworks.set(id, n);
    else orphan('network', n.name, n.labels);
  }
  for (const v of sortByName(observed.volumes)) {
    const id = byPath.volume.get(v.labels[LABELS.path] ?? '');
    if (id !== undefined && !claimedVolumes.has(id)) claimedVolumes.set(id, v);
    else orphan('volume', v.name, v.labels);
  }
  // Containers: prefer the one with the expected name when two claim the same replica.
  const containers = [...observed.containers].sort((a, b) => {
    const ea = expectedName(plan, byPath, a) === a.name ? 0 : 1;
    const eb = expectedName(plan, byPath, b) === b.name ? 0 : 1;
    return ea - eb || cmpStr(a.name, b.name);
  });
  for (const c of containers) {
    const replica = replicaOf(c);
    const id = byPath.container.get(c.labels[LABELS.path] ?? '');
    const res = id !== undefined ? (plan.resources[id] as ContainerResource) : undefined;
    const claimed = id !== undefined ? (claimedContainers.get(id) ?? new Map<number, ObservedContainer>()) : undefined;
    if (id !== undefined && res !== undefined && claimed !== undefined && replica >= 1 && replica <= res.spec.replicas && !claimed.has(replica)) {
      claimed.set(replica, c);
      claimedContainers.set(id, claimed);
    } else {
      orphan('container', c.name, c.labels, Number.isFinite(replica) ? replica : undefined);
    }
  }

  // Images first: containers need to know whether their image will change.
  const imageChanges = new Map<string, Change>();
  for (const id of order) {
    const r = plan.resources[id];
    if (r.type === 'image') imageChanges.set(id, diffImage(plan, id, r, images[id], claimedContainers));
  }

  const changes: Change[] = [];
  /** Replica 1's change per container resource, as far as the loop below has come (in dependency order). */
  const firstReplicaChanges = new Map<string, Change>();
  const containersByName = new Map(observed.containers.map((c) => [c.name, c]));
  const replacedNetworks = new Map<string, ObservedNetwork>();
  const replacedVolumes = new Set<string>();
  const resourceChanges = new Map<string, Change[]>();
  for (const id of order) {
    const r = plan.resources[id];
    if (r.type === 'network') {
      const obs = claimedNetworks.get(id);
      const free = obs === undefined ? unmanaged(observed.unmanaged, 'networks', r.name) : undefined;
      const change =
        free !== undefined
          ? adopted(id, r, r.name, diffNetwork(r, free, engine.defaults), engine, adoptHow(engine))
          : obs === undefined
            ? created(id, r)
            : withReasons(id, r, r.name, diffNetwork(r, obs, engine.defaults));
      if (change.action === 'replace' && obs !== undefined) replacedNetworks.set(obs.name, obs);
      resourceChanges.set(id, [change]);
    } else if (r.type === 'volume') {
      const obs = claimedVolumes.get(id);
      const free = obs === undefined ? unmanaged(observed.unmanaged, 'volumes', r.name) : undefined;
      const change =
        free !== undefined ? adopted(id, r, r.name, diffVolume(r, free), engine, adoptHow(engine)) : obs === undefined ? created(id, r) : withReasons(id, r, r.name, diffVolume(r, obs));
      if (change.action === 'replace' && obs !== undefined) replacedVolumes.add(obs.name);
      resourceChanges.set(id, [change]);
    }
  }
  for (const id of order) {
    const r = plan.resources[id];
    if (r.type === 'image') {
      changes.push(imageChanges.get(id) as Change);
    } else if (r.type === 'container') {
      const observedReplicas = claimedContainers.get(id) ?? new Map<number, ObservedContainer>();
      for (let replica = 1; replica <= r.spec.replicas; replica++) {
        const free = observedReplicas.get(replica) === undefined ? unmanaged(observed.unmanaged, 'containers', replicaName(r.name, replica)) : undefined;
        const obs = observedReplicas.get(replica) ?? free;
        const name = replicaName(r.name, replica);
        if (obs === undefined) {
          const change = { ...created(id, r), name, replica };
          if (replica === 1) firstReplicaChanges.set(id, change);
          changes.push(change);
          continue;
        }
        const shared = typeof r.spec.networkMode === 'object' ? r.spec.networkMode.container : undefined;
        const sharedResource = shared !== undefined ? plan.resources[shared] : undefined;
        const sharedName = sharedResource !== undefined ? replicaName(sharedResource.name, 1) : typeof r.spec.networkMode === 'object' ? r.spec.networkMode.containerName : undefined;
        const ctx: ContainerContext = {
          plan,
          engine,
          resource: r,
          observed: obs,
          replica,
          image: images[r.spec.image],
          imageChange: imageChanges.get(r.spec.image),
          replacedNetworks,
          replacedVolumes,
          ...(sharedName !== undefined
            ? { networkContainer: { name: sharedName, observed: containersByName.get(sharedName), change: shared !== undefined ? firstReplicaChanges.get(shared) : undefined } }
            : {}),
        };
        const reasons = diffContainer(ctx);
        if (free === undefined && reasons.length === 0) reasons.push(...restartAfter(plan, r, firstReplicaChanges));
        const change = { ...(free !== undefined ? adopted(id, r, name, reasons, engine, engine.relabel ? 'relabel' : 'replace') : withReasons(id, r, name, reasons)), replica };
        if (replica === 1) firstReplicaChanges.set(id, change);
        changes.push(change);
      }
    } else {
      changes.push(...(resourceChanges.get(id) ?? []));
    }
  }

  // Deletes last, in reverse dependency order: containers, then volumes, then networks;
  // within a type, later resources first, orphans (unknown dependencies) before them all,
  // higher replicas first.
  deletes.sort(
    (a, b) =>
      TYPE_RANK[b.type] - TYPE_RANK[a.type] || b.rank - a.rank || cmpStr(a.path, b.path) || (b.replica ?? 0) - (a.replica ?? 0) || cmpStr(a.name, b.name),
  );
  for (const { rank: _rank, ...d } of deletes) changes.push(d);
  // An engine of services: one change per service, each reason with what it does to the tasks.
  if (engine.services) return { stack: plan.stack, changes: serviceChanges(plan, changes, engine.services) };
  return { stack: plan.stack, changes };
}

// ---------------------------------------------------------------------------------------------
// Images

function diffImage(
  plan: Plan,
  id: string,
  r: ImageResource,
  obs: ObservedImage | undefined,
  claimedContainers: Map<string, Map<number, ObservedContainer>>,
): Change {
  if (obs === undefined) return created(id, r);
  const spec = r.spec;
  const reasons: Reason[] = [];
  if (spec.source === 'registry') {
    if (spec.pullPolicy === 'always') reasons.push({ field: 'pullPolicy', before: undefined, after: 'always', needs: 'update' });
  } else if (spec.source === 'build') {
    const want = specHash(r, plan);
    const have = obs.config.labels[LABELS.specHash];
    if (have !== want) {
      const context = obs.config.labels[EXTRA_LABELS.contextHash];
      if (context !== spec.contextHash) reasons.push({ field: 'contextHash', before: context, after: spec.contextHash, needs: 'update' });
      else reasons.push({ field: 'build', before: have !== undefined ? shortId(have) : undefined, after: shortId(want), needs: 'update' });
    }
  } else {
    // An archive image cannot carry labels: the containers made from it say which archive it was.
    for (const [cid, replicas] of claimedContainers) {
      const c = plan.resources[cid] as ContainerResource;
      if (c.spec.image !== id) continue;
      const want = containerInputs(plan, c).image;
      for (const o of replicas.values()) {
        const had = parseInputs(o.labels[EXTRA_LABELS.inputs])?.image;
        if (had !== undefined && had !== want && reasons.length === 0) reasons.push({ field: 'sha256', before: had, after: want, needs: 'update' });
      }
    }
  }
  return withReasons(id, r, r.name, reasons);
}

// ---------------------------------------------------------------------------------------------
// Networks and volumes

type Replace = (field: string, before: unknown, after: unknown) => void;

/**
 * Networks and volumes cannot change in place: every difference needs a replace. Name, driver
 * and user labels are compared for both; `compare` adds the kind's own fields.
 */
function replaceReasons(
  r: NetworkResource | VolumeResource,
  networkDriver: string | undefined,
  obs: { readonly name: string; readonly driver: string; readonly labels: { readonly [k: string]: string } },
  compare: (replace: Replace) => void,
): Reason[] {
  const reasons: Reason[] = [];
  const replace: Replace = (field, before, after) => reasons.push({ field, before: show(before), after: show(after), needs: 'replace' });
  if (obs.name !== r.name) replace('name', obs.name, r.name);
  const driver = (r.type === 'network' ? networkDriver : undefined) ?? r.spec.driver;
  if (obs.driver !== driver) replace('driver', obs.driver, driver);
  compare(replace);
  diffMap('labels', userLabels(obs.labels), r.spec.labels, replace);
  return reasons;
}

function diffNetwork(r: NetworkResource, obs: ObservedNetwork, engine: EngineDefaults): Reason[] {
  const s = r.spec;
  return replaceReasons(r, engine.networkDriver, obs, (replace) => {
    if (s.subnet !== undefined && obs.subnet !== s.subnet) replace('subnet', obs.subnet || undefined, s.subnet);
    if (s.gateway !== undefined && obs.gateway !== s.gateway) replace('gateway', obs.gateway || undefined, s.gateway);
    if (s.ipRange !== undefined && obs.ipRange !== s.ipRange) replace('ipRange', obs.ipRange, s.ipRange);
    if (obs.internal !== s.internal) replace('internal', obs.internal, s.internal);
    if (obs.attachable !== s.attachable) replace('attachable', obs.attachable, s.attachable);
    if (Boolean(obs.encrypted) !== Boolean(s.encrypted)) replace('encrypted', Boolean(obs.encrypted), Boolean(s.encrypted));
  });
}

function diffVolume(r: VolumeResource, obs: ObservedVolume): Reason[] {
  return replaceReasons(r, undefined, obs, (replace) => diffMap('driverOpts', obs.driverOpts, r.spec.driverOpts, replace));
}

// ---------------------------------------------------------------------------------------------
// Containers

interface ContainerContext {
  readonly plan: Plan;
  /** What the engine applies by default and changes in place. */
  readonly engine: DriverCapabilities;
  readonly resource: ContainerResource;
  readonly observed: ObservedContainer;
  readonly replica: number;
  /** The observed image of the container's image resource. */
  readonly image: ObservedImage | undefined;
  readonly imageChange: Change | undefined;
  /** Networks about to be replaced, by name. */
  readonly replacedNetworks: ReadonlyMap<string, ObservedNetwork>;
  /** Volumes about to be replaced, by name. */
  readonly replacedVolumes: ReadonlySet<string>;
  /** The container whose network the plan shares (`networkMode: { container }`): its name, what runs, what the diff does to it. */
  readonly networkContainer?: { readonly name: string; readonly observed?: ObservedContainer; readonly change?: Change };
}

function diffContainer(ctx: ContainerContext): Reason[] {
  const { plan, resource: r, observed: obs } = ctx;
  const reasons: Reason[] = [];
  const need = (needs: Reason['needs'], field: string, before: string | undefined, after: string | undefined): void => {
    reasons.push({ field, before, after, needs });
  };
  const expectedName = replicaName(r.name, ctx.replica);
  const inPlace = inPlaceNeed(ctx.engine);

  // Always checked: the image it runs, its name, whether it runs.
  const img = imageOf(plan, r.spec);
  const imageRebuilt =
    ctx.imageChange !== undefined &&
    (ctx.imageChange.action === 'create' || (ctx.imageChange.action !== 'no-op' && img !== undefined && img.spec.source !== 'registry'));
  if (imageRebuilt) {
    need('replace', 'image', shortId(obs.imageId), KNOWN_AFTER_APPLY);
  } else if (ctx.image !== undefined && ctx.image.id !== obs.imageId) {
    need('replace', 'image', shortId(obs.imageId), shortId(ctx.image.id));
  }
  if (obs.name !== expectedName) need(inPlace('name'), 'name', show(obs.name), show(expectedName));

  diffContainerFields(ctx, need);

  // Networks and volumes replaced under it.
  const planned = plannedNetworks(r.spec, ctx.engine.defaults);
  for (const n of planned) {
    const replaced = ctx.replacedNetworks.get(n.network);
    if (replaced !== undefined) need(inPlace('networks'), `networks.${n.network}`, shortId(replaced.id), KNOWN_AFTER_APPLY);
  }
  r.spec.mounts.forEach((m, i) => {
    if (m.type === 'volume' && ctx.replacedVolumes.has(m.source)) need('replace', `mounts[${i}].source`, show(m.source), `${show(m.source)} (recreated)`);
  });

  const running = obs.status === 'running' || obs.status === 'restarting';
  const completed = obs.status === 'exited' && obs.exitCode === 0 && (r.spec.restart.policy === 'no' || r.spec.restart.policy === 'on-failure');
  const replacing = reasons.some((x) => x.needs === 'replace');
  if (!running && !completed && !replacing) need('update', 'status', show(obs.status), show('running'));
  return dedupe(reasons);
}

type Need = (needs: Reason['needs'], field: string, before: string | undefined, after: string | undefined) => void;

function diffContainerFields(ctx: ContainerContext, need: Need): void {
  const { plan, resource: r, observed: obs } = ctx;
  const s = r.spec;
  const o: ObservedContainerSpec = obs.spec;
  const d: ImageDefaults | undefined = ctx.image?.config;
  const engine = ctx.engine.defaults;
  const inPlace = inPlaceNeed(ctx.engine);
  const replace = (field: string, before: unknown, after: unknown): void => need('replace', field, show(before), show(after));

  // Entrypoint and command: absent = the image's (a planned entrypoint drops the image's Cmd).
  if (s.entrypoint !== undefined) {
    const have = o.entrypoint ?? d?.entrypoint ?? [];
    if (!eq(have, s.entrypoint)) replace('entrypoint', have, s.entrypoint);
  } else if (d !== undefined && o.entrypoint !== undefined && !eq(o.entrypoint, d.entrypoint)) {
    replace('entrypoint', o.entrypoint, d.entrypoint);
  }
  if (s.command !== undefined) {
    const have = o.command ?? (o.entrypoint !== undefined ? [] : d?.cmd ?? []);
    if (!eq(have, s.command)) replace('command', have, s.command);
  } else if (d !== undefined && o.command !== undefined && !eq(o.command, d.cmd) && !(s.entrypoint !== undefined && o.command.length === 0)) {
    replace('command', o.command, s.entrypoint !== undefined ? [] : d.cmd);
  }
  /** A field the image supplies when the plan does not; with the image unknown, absent is equal. */
  const withDefault = (field: string, want: string | undefined, have: string | undefined, imageValue: string | undefined, fallback: string, norm: (x: string) => string = (x) => x): void => {
    if (want === undefined && d === undefined) return;
    const def = imageValue || fallback;
    if (norm(want ?? def) !== norm(have ?? def)) replace(field, have ?? def, want ?? def);
  };
  withDefault('workingDir', s.workingDir, o.workingDir, d?.workingDir, engine.workingDir, (x) => x || engine.workingDir);
  withDefault('user', s.user, o.user, d?.user, '');
  withDefault('stopSignal', s.stopSignal, o.stopSignal, d?.stopSignal, engine.stopSignal, (x) => normalizeSignal(x) ?? x.toUpperCase());
  if ((s.stopTimeoutSeconds ?? engine.stopTimeoutSeconds) !== (o.stopTimeoutSeconds ?? engine.stopTimeoutSeconds)) {
    replace('stopTimeoutSeconds', o.stopTimeoutSeconds ?? engine.stopTimeoutSeconds, s.stopTimeoutSeconds ?? engine.stopTimeoutSeconds);
  }
  // In another container's network, the host name is that container's (the plan cannot set it).
  const sharedHostname = typeof s.networkMode === 'object';
  if (s.hostname !== undefined ? o.hostname !== s.hostname : !sharedHostname && o.hostname !== undefined && o.hostname !== '' && o.hostname !== obs.id.slice(0, 12) && o.hostname !== obs.name) {
    replace('hostname', o.hostname, s.hostname);
  }
  for (const f of ['init', 'readOnlyRootfs', 'privileged', 'publishAllPorts'] as const) {
    if (Boolean(o[f]) !== s[f]) replace(f, Boolean(o[f]), s[f]);
  }
  diffNetworkMode(ctx, replace, (field, before, after) => need('replace', field, before, after));
  diffHostOptions(ctx, replace);
  for (const f of ['capAdd', 'capDrop'] as const) {
    const have = normCaps(o[f] ?? []);
    if (!eq(have, normCaps(s[f]))) replace(f, have, normCaps(s[f]));
  }
  {
    const key = (v: { container: string; readOnly: boolean }): string => `${v.container}:${v.readOnly ? 'ro' : 'rw'}`;
    const have = (o.volumesFrom ?? []).map(key).sort();
    const want = s.volumesFrom.map(key).sort();
    if (!eq(have, want)) replace('volumesFrom', have, want);
  }

  // In place where the engine can.
  if (o.restart.policy !== s.restart.policy || (o.restart.maxRetries ?? 0) !== s.restart.maxRetries) {
    need(inPlace('restart'), 'restart', showRestart(o.restart), showRestart(s.restart));
  }
  for (const f of ['memoryBytes', 'nanoCpus', 'pidsLimit'] as const) {
    const have = o[f] || undefined;
    const want = s[f] || undefined;
    if (have !== want) need(inPlace(f), f, show(have), show(want));
  }

  diffEnv(ctx, need);
  diffLabels(s, o, d, replace);
  diffPorts(s.ports, o.ports ?? [], replace, ctx.engine.services !== undefined);
  diffDeploy(s.deploy ?? DEFAULT_DEPLOY, o.deploy ?? DEFAULT_DEPLOY, replace);
  diffMounts(ctx, replace, (field, before, after) => need('replace', field, before, after));
  diffHealthcheck(s.healthcheck, o.healthcheck, d, engine, (field, before, after) => need('replace', field, before, after));
  diffNetworks(ctx, (field, before, after) => need(inPlace('networks'), field, before, after), (field, before, after) => need('replace', field, before, after));

  // Inputs the engine cannot report: image source (for archives), env files, secret and config files.
  const had = parseInputs(obs.labels[EXTRA_LABELS.inputs]);
  const want = containerInputs(plan, r);
  if (had !== undefined) {
    const n = Math.max(had.envFiles.length, want.envFiles.length);
    for (let i = 0; i < n; i++) {
      if (had.envFiles[i] !== want.envFiles[i]) need('replace', `envFiles[${i}]`, had.envFiles[i], want.envFiles[i]);
    }
    // A secret's HMAC is no secret, but its change is shown as MASKED like a secret variable's.
    const isSecret = (target: string): boolean => (s.secrets ?? []).some((f) => f.target === target) || (had.mounted?.[target] ?? '').startsWith('hmac-');
    const kind = (target: string): string => ((s.configs ?? []).some((f) => f.target === target) ? 'configs' : 'secrets');
    const wantMounted = want.mounted ?? {};
    for (const target of Object.keys({ ...(had.mounted ?? {}), ...wantMounted }).sort()) {
      const before = had.mounted?.[target];
      const after = wantMounted[target];
      if (before === after) continue;
      const shown = (v: string | undefined): string | undefined => (v === undefined ? undefined : isSecret(target) ? MASKED : v);
      need('replace', `${kind(target)}.${target}`, shown(before), shown(after));
    }
  }
}

/**
 * Compose's `depends_on.restart` for a container that would otherwise be left alone: one reason
 * per dependency (already diffed: dependency order) that this apply replaces or changes, not
 * only starts. Apply then restarts it once that dependency is done.
 */
function restartAfter(plan: Plan, r: ContainerResource, firstReplicaChanges: ReadonlyMap<string, Change>): Reason[] {
  const after: string[] = [];
  for (const d of r.spec.dependsOn) {
    const c = firstReplicaChanges.get(d.container);
    const changed = c !== undefined && (c.action === 'replace' || (c.action === 'update' && c.reasons.some((x) => x.field !== 'status' && x.field !== 'dependsOn.restart')));
    if (d.restart && changed) after.push(plan.resources[d.container]?.path ?? d.container);
  }
  return after.length > 0 ? [{ field: 'dependsOn.restart', before: undefined, after: `restarted after ${[...new Set(after)].join(', ')}`, needs: 'update' }] : [];
}

/** Which container settings of a spec an engine may be unable to honour (see ContainerFeature). */
export function containerFeatures(s: ContainerSpec): ContainerFeature[] {
  const out: ContainerFeature[] = [];
  if (s.pid === 'host') out.push('pid.host');
  if (s.ipc !== undefined) out.push(`ipc.${s.ipc}`);
  if (s.devices?.length) out.push('devices');
  if (s.sysctls !== undefined) out.push('sysctls');
  if (s.ulimits !== undefined) out.push('ulimits');
  if (s.shmSizeBytes !== undefined) out.push('shmSize');
  if (s.dns !== undefined || s.dnsSearch !== undefined || s.dnsOptions !== undefined) out.push('dns');
  if (s.extraHosts !== undefined) out.push('extraHosts');
  if (s.expose !== undefined) out.push('expose');
  if (typeof s.networkMode === 'object') out.push('networkMode.container');
  if (s.secrets?.length) out.push('secrets');
  if (s.configs?.length) out.push('configs');
  if ((s.secrets?.length || s.configs?.length) && s.readOnlyRootfs) out.push('files.readOnlyRootfs');
  if (s.deploy !== undefined) out.push('deploy');
  if (s.privileged) out.push('privileged');
  if (s.publishAllPorts) out.push('publishAllPorts');
  if (s.volumesFrom.length > 0) out.push('volumesFrom');
  if (s.networkMode === 'host' || s.networkMode === 'none') out.push(`networkMode.${s.networkMode}`);
  if (s.ports.some((p) => p.hostIp !== '0.0.0.0' && p.hostIp !== '::')) out.push('hostIp');
  if (s.networks.some((n) => n.ipv4Address !== undefined)) out.push('ipv4Address');
  if (s.tty) out.push('tty');
  if (s.stdinOpen) out.push('stdinOpen');
  if (s.platform !== undefined) out.push('platform');
  if (s.dependsOn.some((d) => d.restart)) out.push('dependsOn.restart');
  return out;
}

/** A plan that uses settings the engine cannot honour is refused before anything is decided. */
function refuseUnsupported(plan: Plan, engine: DriverCapabilities): void {
  const unsupported = engine.unsupported ?? {};
  const problems: string[] = [];
  for (const r of Object.values(plan.resources)) {
    if (r.type === 'network' && r.spec.driver === 'overlay' && unsupported.overlay !== undefined) problems.push(`[${plan.stack}/${r.path}] ${unsupported.overlay}`);
    if (r.type !== 'container') continue;
    for (const f of containerFeatures(r.spec)) {
      const why = unsupported[f];
      if (why !== undefined) problems.push(`[${plan.stack}/${r.path}] ${why}`);
    }
    for (const why of refuseChoices(r.spec, engine.choices)) problems.push(`[${plan.stack}/${r.path}] ${why}`);
  }
  if (problems.length > 0) throw new ValidationError(problems);
}

/** The log driver, log options and runtime of a spec that the engine does not have, each as a sentence. */
function refuseChoices(s: ContainerSpec, choices: DriverCapabilities['choices']): string[] {
  if (choices === undefined) return [];
  const out: string[] = [];
  const list = (xs: readonly string[]): string => (xs.length > 0 ? xs.map((x) => `"${x}"`).join(', ') : 'none');
  const { engine, logDrivers, logOptions, runtimes } = choices;
  if (s.logging !== undefined && logDrivers !== undefined && !logDrivers.includes(s.logging.driver)) {
    out.push(`${engine} has no "${s.logging.driver}" log driver (it has ${list(logDrivers)}); use one of those, or apply it to an engine that has it (--engine docker)`);
  }
  const badOptions = Object.keys(s.logging?.options ?? {}).filter((k) => logOptions !== undefined && !logOptions.includes(k));
  if (badOptions.length > 0) {
    out.push(`${engine} takes no log option ${badOptions.map((k) => `"${k}"`).join(', ')} (it takes ${list(logOptions ?? [])}); leave ${badOptions.length > 1 ? 'them' : 'it'} out of logging.options, or apply it to an engine that has ${badOptions.length > 1 ? 'them' : 'it'} (--engine docker)`);
  }
  if (s.runtime !== undefined && runtimes !== undefined && !runtimes.includes(s.runtime)) {
    out.push(`${engine} has no "${s.runtime}" runtime (it runs containers with ${list(runtimes)}); leave runtime out, or apply it to an engine that has it (--engine docker with the runtime configured in its daemon.json)`);
  }
  return out;
}

/** `networkMode`: the same mode; for another container's network, that container, and not one recreated under it. */
function diffNetworkMode(ctx: ContainerContext, replace: (field: string, before: unknown, after: unknown) => void, raw: (f: string, b: string | undefined, a: string | undefined) => void): void {
  const s = ctx.resource.spec.networkMode;
  const o = ctx.observed.spec.networkMode;
  const shown = (m: ContainerSpec['networkMode'] | undefined): string | undefined => (typeof m === 'object' ? `container:${m.containerName ?? m.container}` : m);
  if (typeof s !== 'object') {
    if (typeof o === 'object' || o !== s) replace('networkMode', shown(o), s);
    return;
  }
  const target = ctx.networkContainer;
  const wantName = target?.name ?? s.containerName ?? s.container;
  if (typeof o !== 'object') return replace('networkMode', shown(o), `container:${wantName}`);
  // Drivers report the other container by name; by id (a prefix of it, or the whole) where they could not resolve it.
  const have = o.containerName ?? o.container;
  const id = target?.observed?.id;
  const same = have === wantName || (id !== undefined && have.length >= 12 && id.startsWith(have));
  if (!same) return replace('networkMode', `container:${have}`, `container:${wantName}`);
  const recreated = target?.change !== undefined && (target.change.action === 'create' || target.change.action === 'replace');
  if (recreated) raw('networkMode.container', show(wantName), `${show(wantName)} (recreated)`);
}

/**
 * The host-side settings (expose … ipc). Absent in the plan = the engine's: no extra hosts, DNS,
 * sysctls, ulimits, devices; /dev/shm and IPC mode at the engine's defaults. Exposed ports: the
 * container's are the image's, the published ones (Docker's CLI exposes each) and the plan's.
 */
function diffHostOptions(ctx: ContainerContext, replace: (field: string, before: unknown, after: unknown) => void): void {
  const s = ctx.resource.spec;
  const o = ctx.observed.spec;
  const d = ctx.image?.config;
  const engine = ctx.engine.defaults;
  if (d !== undefined) {
    const implicit = new Set([...d.exposedPorts.map((k) => (k.includes('/') ? k : `${k}/tcp`)), ...s.ports.map((p) => `${p.containerPort}/${p.protocol}`)]);
    const have = (o.expose ?? []).filter((k) => !implicit.has(k));
    const want = (s.expose ?? []).filter((k) => !implicit.has(k));
    if (!eq(have, want)) replace('expose', have, want);
  }
  const maps = [
    ['extraHosts', o.extraHosts, s.extraHosts],
    ['sysctls', o.sysctls, s.sysctls],
  ] as const;
  for (const [field, have, want] of maps) diffMap(field, have ?? {}, want ?? {}, (f, b, a) => replace(f, b, a));
  for (const f of ['dns', 'dnsSearch', 'dnsOptions'] as const) {
    if (!eq(o[f] ?? [], s[f] ?? [])) replace(f, o[f] ?? [], s[f] ?? []);
  }
  const ulimit = (u: { soft: number; hard: number } | undefined): string | undefined => (u === undefined ? undefined : `${u.soft}:${u.hard}`);
  for (const k of Object.keys({ ...(o.ulimits ?? {}), ...(s.ulimits ?? {}) }).sort()) {
    const have = ulimit(o.ulimits?.[k]);
    const want = ulimit(s.ulimits?.[k]);
    if (have !== want) replace(`ulimits.${k}`, have, want);
  }
  const shm = (v: number | undefined): number | undefined => v ?? engine.shmSizeBytes;
  if (shm(o.shmSizeBytes) !== shm(s.shmSizeBytes)) replace('shmSizeBytes', shm(o.shmSizeBytes), shm(s.shmSizeBytes));
  const device = (x: { hostPath: string; containerPath: string; permissions: string }): string => `${x.hostPath}:${x.containerPath}:${x.permissions}`;
  const haveDevices = (o.devices ?? []).map(device).sort();
  const wantDevices = (s.devices ?? []).map(device).sort();
  if (!eq(haveDevices, wantDevices)) replace('devices', haveDevices, wantDevices);
  if ((o.pid ?? '') !== (s.pid ?? '')) replace('pid', o.pid, s.pid);
  // IPC left out: the engine's own namespace, private or shareable as the daemon is configured
  // (dockerd's default-ipc-mode); only host is a difference then.
  const ipc = (v: string | undefined): string => v ?? engine.ipcMode ?? 'private';
  if (s.ipc === undefined ? o.ipc === 'host' : ipc(o.ipc) !== s.ipc) replace('ipc', ipc(o.ipc), ipc(s.ipc));
  diffProcessOptions(ctx, replace);
}

/**
 * The terminal, stdin, log driver and runtime: absent in the plan = the engine's defaults (no
 * TTY, stdin closed, its default log driver without options, its default runtime). None changes
 * on an existing container (Docker's `update` has none of them): a difference replaces it. The
 * platform is not compared: it is checked against the image at create, and another platform
 * means another image, which the image comparison shows.
 */
function diffProcessOptions(ctx: ContainerContext, replace: (field: string, before: unknown, after: unknown) => void): void {
  const s = ctx.resource.spec;
  const o = ctx.observed.spec;
  const engine = ctx.engine.defaults;
  for (const f of ['tty', 'stdinOpen'] as const) {
    if (Boolean(o[f]) !== Boolean(s[f])) replace(f, Boolean(o[f]), Boolean(s[f]));
  }
  const driver = (l: ContainerSpec['logging']): string => l?.driver ?? engine.logDriver ?? 'json-file';
  if (driver(o.logging) !== driver(s.logging)) replace('logging.driver', driver(o.logging), driver(s.logging));
  diffMap('logging.options', { ...(o.logging?.options ?? {}) }, { ...(s.logging?.options ?? {}) }, (f, b, a) => replace(f, b, a));
  const runtime = (v: string | undefined): string => v ?? engine.runtime ?? 'runc';
  if (runtime(o.runtime) !== runtime(s.runtime)) replace('runtime', runtime(o.runtime), runtime(s.runtime));
}

function diffEnv(ctx: ContainerContext, need: Need): void {
  const { plan, resource: r, observed: obs } = ctx;
  const s = r.spec;
  const full = obs.spec.fullEnv ?? {};
  const imageEnv = ctx.image?.config.env ?? {};
  const had: ContainerInputs | undefined = parseInputs(obs.labels[EXTRA_LABELS.inputs]);
  const want = containerInputs(plan, r);
  const wasSecret = (k: string): boolean => had !== undefined && Object.prototype.hasOwnProperty.call(had.secrets, k);
  const isSecret = (k: string): boolean => Object.prototype.hasOwnProperty.call(s.secretEnv, k);
  const hasEnvFiles = s.envFiles.length > 0 || (had !== undefined && had.envFiles.length > 0);
  // An observed value is shown only when the inputs label proves it was not a secret.
  const shownBefore = (k: string, v: string | undefined): string | undefined =>
    v === undefined ? undefined : had === undefined || isSecret(k) || wasSecret(k) ? MASKED : show(v);
  const shownAfter = (k: string, v: string | undefined): string | undefined => (v === undefined ? undefined : isSecret(k) ? MASKED : show(v));

  // Plain variables the plan sets.
  for (const [k, v] of Object.entries(s.env)) {
    if (full[k] !== v) need('replace', `env.${k}`, shownBefore(k, full[k]), shownAfter(k, v));
  }
  // Secrets: presence, and the HMAC when the label says what it was.
  for (const k of Object.keys(s.secretEnv).sort()) {
    if (Object.prototype.hasOwnProperty.call(s.env, k)) continue;
    if (full[k] === undefined) need('replace', `env.${k}`, undefined, MASKED);
    else if (had !== undefined && had.secrets[k] !== undefined && had.secrets[k] !== want.secrets[k]) need('replace', `env.${k}`, MASKED, MASKED);
    else if (had !== undefined && !wasSecret(k)) {
      // It was a plain (or env-file) variable and is a secret now.
      need('replace', `env.${k}`, MASKED, MASKED);
    }
  }
  if (hasEnvFiles) return; // Everything else may come from an env file: compared by its hash.
  // What the image supplies, unless the plan overrides it.
  for (const [k, v] of Object.entries(imageEnv)) {
    if (k in s.env || k in s.secretEnv) continue;
    if (full[k] !== v) need('replace', `env.${k}`, shownBefore(k, full[k]), shownAfter(k, v));
  }
  // Variables nothing asks for any more.
  for (const k of Object.keys(full).sort()) {
    if (k in s.env || k in s.secretEnv || k in imageEnv) continue;
    if (ctx.engine.defaults.env.includes(k)) continue;
    need('replace', `env.${k}`, shownBefore(k, full[k]), undefined);
  }
}

function diffLabels(s: ContainerSpec, o: ObservedContainerSpec, d: ImageDefaults | undefined, replace: (f: string, b: unknown, a: unknown) => void): void {
  const have = userLabels(o.labels ?? {});
  const imageLabels = userLabels(d?.labels ?? {});
  const want: Record<string, string> = { ...imageLabels, ...s.labels };
  for (const k of Object.keys({ ...have, ...want }).sort()) {
    if (have[k] === want[k]) continue;
    // An engine that does not merge the image's labels reports them absent: still equal.
    if (have[k] === undefined && !(k in s.labels) && imageLabels[k] !== undefined) continue;
    replace(`labels.${k}`, have[k], want[k]);
  }
}

function portKey(p: { containerPort: number; protocol: string }): string {
  return `${p.containerPort}/${p.protocol}`;
}

function showPort(p: { containerPort: number; protocol: string; hostIp: string; hostPort: number }): string {
  const ip = p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp;
  return `${ip}:${p.hostPort === 0 ? '*' : p.hostPort}:${p.containerPort}/${p.protocol}`;
}

/**
 * A service's settings, field by field (`deploy.updateConfig.parallelism`); an absent `deploy` is
 * DEFAULT_DEPLOY on both sides.
 */
function diffDeploy(want: DeploySpec, have: DeploySpec, replace: (f: string, b: unknown, a: unknown) => void): void {
  const walk = (prefix: string, w: unknown, h: unknown): void => {
    if (eq(w, h)) return;
    const isObject = (x: unknown): x is { [k: string]: unknown } => x !== null && typeof x === 'object' && !Array.isArray(x);
    if (isObject(w) && isObject(h)) {
      for (const k of [...new Set([...Object.keys(h), ...Object.keys(w)])].sort()) walk(`${prefix}.${k}`, w[k], h[k]);
      return;
    }
    replace(prefix, h, w);
  };
  walk('deploy', want, have);
}

function diffPorts(want: PortMapping[], have: ObservedContainerSpec['ports'], replace: (f: string, b: unknown, a: unknown) => void, modes = false): void {
  const pool = new Map<string, PortMapping[]>();
  for (const p of have) pool.set(portKey(p), [...(pool.get(portKey(p)) ?? []), p]);
  const unmatched: PortMapping[] = [];
  want.forEach((w) => {
    const candidates = pool.get(portKey(w)) ?? [];
    const exact = candidates.findIndex((h) => normIp(h.hostIp) === normIp(w.hostIp) && (w.hostPort === 0 || h.hostPort === w.hostPort) && (!modes || h.mode === w.mode));
    if (exact >= 0) {
      candidates.splice(exact, 1);
      return;
    }
    unmatched.push(w);
  });
  for (const w of unmatched) {
    const i = want.indexOf(w);
    const candidates = pool.get(portKey(w)) ?? [];
    const h = candidates.shift();
    if (h === undefined) {
      replace(`ports[${i}]`, undefined, showPort(w));
      continue;
    }
    if (normIp(h.hostIp) !== normIp(w.hostIp)) replace(`ports[${i}].hostIp`, h.hostIp, w.hostIp);
    if (w.hostPort !== 0 && h.hostPort !== w.hostPort) replace(`ports[${i}].hostPort`, h.hostPort, w.hostPort);
    if (modes && h.mode !== w.mode) replace(`ports[${i}].mode`, h.mode ?? 'ingress', w.mode ?? 'ingress');
  }
  for (const rest of pool.values()) for (const h of rest) replace(`ports`, showPort(h), undefined);
}

function showMount(m: Mount): string {
  if (m.type === 'tmpfs') return `tmpfs:${m.target}`;
  return `${m.type}:${m.source}:${m.target}${m.readOnly ? ':ro' : ''}`;
}

function diffMounts(ctx: ContainerContext, replace: (f: string, b: unknown, a: unknown) => void, raw: (f: string, b: string | undefined, a: string | undefined) => void): void {
  const want = ctx.resource.spec.mounts;
  const have = ctx.observed.spec.mounts ?? [];
  const had = parseInputs(ctx.observed.labels[EXTRA_LABELS.inputs]);
  const byTarget = new Map(have.map((m) => [m.target, m]));
  want.forEach((w, i) => {
    const h = byTarget.get(w.target);
    byTarget.delete(w.target);
    // An anonymous volume (the spec leaves those out) that the plan names: the same mount.
    const named = (ctx.observed.volumeMounts ?? []).some((v) => w.type === 'volume' && v.target === w.target && v.name === w.source && v.readOnly === w.readOnly);
    if (h === undefined && named) return undefined;
    if (h === undefined) return replace(`mounts[${i}]`, undefined, showMount(w));
    if (h.type !== w.type) return replace(`mounts[${i}]`, showMount(h), showMount(w));
    if (w.type !== 'tmpfs' && h.type !== 'tmpfs') {
      if (h.source !== w.source) replace(`mounts[${i}].source`, h.source, w.source);
      if (Boolean(h.readOnly) !== w.readOnly) replace(`mounts[${i}].readOnly`, Boolean(h.readOnly), w.readOnly);
    }
    if (w.type === 'bind' && h.type === 'bind') {
      const before = h.sha256 ?? had?.files[w.target];
      if (w.sha256 !== undefined && before !== undefined && before !== w.sha256) raw(`mounts[${i}].sha256`, before, w.sha256);
      if (w.sha256 === undefined && had !== undefined && had.files[w.target] !== undefined) raw(`mounts[${i}].sha256`, had.files[w.target], undefined);
    }
    if (w.type === 'tmpfs' && h.type === 'tmpfs') {
      const mode = ctx.engine.defaults.tmpfsMode;
      if (h.sizeBytes !== w.sizeBytes) replace(`mounts[${i}].sizeBytes`, h.sizeBytes, w.sizeBytes);
      if ((h.mode ?? mode) !== (w.mode ?? mode)) raw(`mounts[${i}].mode`, (h.mode ?? mode).toString(8), (w.mode ?? mode).toString(8));
    }
    return undefined;
  });
  for (const h of byTarget.values()) replace('mounts', showMount(h), undefined);
}

function showHealth(h: Partial<Healthcheck> | undefined, engine: EngineDefaults): string | undefined {
  if (h === undefined || h.test === undefined) return undefined;
  const n = normHealth(h, engine);
  return `${JSON.stringify(n.test)} every ${n.intervalMs}ms, timeout ${n.timeoutMs}ms, ${n.retries} retries, start period ${n.startPeriodMs}ms`;
}

/** A healthcheck with the engine's timings where it has none (or 0, as engines report "default"). */
function normHealth(h: Partial<Healthcheck>, engine: EngineDefaults): Healthcheck {
  const d = engine.healthcheck;
  return {
    test: h.test ?? [],
    intervalMs: h.intervalMs || d.intervalMs,
    timeoutMs: h.timeoutMs || d.timeoutMs,
    retries: h.retries || d.retries,
    startPeriodMs: h.startPeriodMs || d.startPeriodMs,
  };
}

function diffHealthcheck(
  want: Healthcheck | undefined,
  have: Healthcheck | undefined,
  d: ImageDefaults | undefined,
  engine: EngineDefaults,
  replace: (f: string, b: string | undefined, a: string | undefined) => void,
): void {
  if (want === undefined) {
    // Absent = the image's (or none): equal when the engine reports none or the image's test.
    if (have === undefined || (d?.healthcheck !== undefined && eq(have.test, d.healthcheck.test))) return;
    if (d === undefined) return;
    replace('healthcheck', showHealth(have, engine), showHealth(d.healthcheck, engine));
    return;
  }
  if (have === undefined) return replace('healthcheck', undefined, showHealth(want, engine));
  const a = normHealth(have, engine);
  const b = normHealth(want, engine);
  if (!eq(a.test, b.test)) replace('healthcheck.test', show(a.test), show(b.test));
  for (const f of ['intervalMs', 'timeoutMs', 'retries', 'startPeriodMs'] as const) {
    if (a[f] !== b[f]) replace(`healthcheck.${f}`, String(a[f]), String(b[f]));
  }
}

function plannedNetworks(s: ContainerSpec, engine: EngineDefaults): ContainerSpec['networks'] {
  if (s.networkMode !== 'bridge') return [];
  return s.networks.length > 0 ? s.networks : [{ network: engine.network, aliases: [] }];
}

/**
 * Joining or leaving a network is an update (where the engine can connect in place); other
 * aliases or another address on a network it stays on replace the container, as Compose and
 * Terraform's Docker provider do (an engine has no call to change an endpoint).
 */
function diffNetworks(
  ctx: ContainerContext,
  update: (f: string, b: string | undefined, a: string | undefined) => void,
  replace: (f: string, b: string | undefined, a: string | undefined) => void,
): void {
  const s = ctx.resource.spec;
  const obs = ctx.observed;
  if (s.networkMode !== 'bridge' || obs.spec.networkMode !== 'bridge') return;
  const want = plannedNetworks(s, ctx.engine.defaults);
  const haveList = obs.spec.networks ?? [];
  const have = new Map((haveList.length > 0 ? haveList : [{ network: ctx.engine.defaults.network, aliases: [] }]).map((n) => [n.network, n]));
  const auto = new Set([obs.name, obs.id, obs.id.slice(0, 12), ctx.resource.path, ctx.resource.path.split('/').pop() ?? '', ctx.resource.name, replicaName(ctx.resource.name, ctx.replica)]);
  for (const w of want) {
    const h = have.get(w.network);
    have.delete(w.network);
    if (h === undefined) {
      update(`networks.${w.network}`, undefined, w.aliases.length > 0 ? `aliases ${w.aliases.join(',')}` : 'attached');
      continue;
    }
    const ha = [...new Set(h.aliases ?? [])].filter((a) => !auto.has(a) || w.aliases.includes(a)).sort();
    // Its own name resolves on every network it joins: wanted as an alias, it is there already.
    const wa = [...new Set(w.aliases)].filter((a) => a !== obs.name || ha.includes(a)).sort();
    if (!eq(ha, wa)) replace(`networks.${w.network}.aliases`, show(ha), show(wa));
    if (w.ipv4Address !== undefined && h.ipv4Address !== w.ipv4Address) replace(`networks.${w.network}.ipv4Address`, show(h.ipv4Address), show(w.ipv4Address));
  }
  for (const h of have.values()) update(`networks.${h.network}`, 'attached', undefined);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function indexByPath(plan: Plan): { [t in ResourceType]: Map<string, string> } {
  const out = { image: new Map<string, string>(), container: new Map<string, string>(), network: new Map<string, string>(), volume: new Map<string, string>() };
  for (const [id, r] of Object.entries(plan.resources)) out[r.type].set(r.path, id);
  return out;
}

function expectedName(plan: Plan, byPath: { container: Map<string, string> }, c: ObservedContainer): string | undefined {
  const id = byPath.container.get(c.labels[LABELS.path] ?? '');
  if (id === undefined) return undefined;
  const replica = replicaOf(c);
  return Number.isFinite(replica) ? replicaName(plan.resources[id].name, replica) : undefined;
}

/** What a difference in `field` needs on this engine: in place when it says so, else a replace. */
function inPlaceNeed(engine: DriverCapabilities): (field: InPlaceField) => Reason['needs'] {
  return (field) => (engine.inPlace.includes(field) ? 'update' : 'replace');
}

/**
 * The unmanaged object of `kind` named `name`, if the caller found one (ObservedStack.unmanaged),
 * with the labels of the tool that made it (Compose's) left out: they are not the user's, and
 * adoption drops them.
 */
function unmanaged<K extends keyof UnmanagedObjects>(objects: UnmanagedObjects | undefined, kind: K, name: string): UnmanagedObjects[K][number] | undefined {
  const o = (objects?.[kind] as ReadonlyArray<UnmanagedObjects[K][number]> | undefined)?.find((x) => x.name === name);
  if (o === undefined) return undefined;
  const strip = (labels: { readonly [k: string]: string }): { [k: string]: string } => Object.fromEntries(Object.entries(labels).filter(([k]) => !isForeignToolLabel(k)));
  const spec = 'spec' in o ? { spec: { ...o.spec, labels: strip(o.spec.labels ?? {}) } } : {};
  return { ...o, labels: strip(o.labels), ...spec } as UnmanagedObjects[K][number];
}

/** How an engine adopts a network or a volume whose settings are the plan's. */
function adoptHow(engine: DriverCapabilities): 'relabel' | 'record' {
  return engine.relabelNetworksAndVolumes ? 'relabel' : 'record';
}

/**
 * An existing object without our labels becomes the resource when its settings are the plan's
 * (differences the engine changes in place are made too): relabelled, recorded, or — a container
 * on an engine that cannot relabel — replaced by one of the same settings. One whose settings
 * differ is a conflict: the reasons say which, and apply refuses it.
 */
function adopted(logicalId: string, r: Resource, name: string, reasons: Reason[], engine: DriverCapabilities, by: 'relabel' | 'replace' | 'record'): Change {
  const differs = reasons.filter((x) => x.needs === 'replace');
  const adopt: Adoption =
    differs.length > 0
      ? { by: 'conflict', note: differing(differs) }
      : by === 'replace'
        ? { by, note: engine.noRelabel ?? 'the engine cannot relabel' }
        : { by };
  return { logicalId, path: r.path, type: r.type, name, action: 'adopt', reasons, adopt };
}

/** `its command and env differ from the plan`: the settings behind an adoption's replacement. */
function differing(reasons: readonly Reason[]): string {
  const fields = [...new Set(reasons.map((x) => x.field.split(/[.[]/)[0]))];
  const list = fields.length === 1 ? fields[0] : `${fields.slice(0, -1).join(', ')} and ${fields[fields.length - 1]}`;
  return `its ${list} ${fields.length === 1 && !fields[0].endsWith('s') ? 'differs' : 'differ'} from the plan`;
}

function created(logicalId: string, r: Resource): Change {
  return { logicalId, path: r.path, type: r.type, name: r.name, action: 'create', reasons: [] };
}

function withReasons(logicalId: string, r: Resource, name: string, reasons: Reason[]): Change {
  const action: ChangeAction = reasons.some((x) => x.needs === 'replace') ? 'replace' : reasons.length > 0 ? 'update' : 'no-op';
  return { logicalId, path: r.path, type: r.type, name, action, reasons };
}

function dedupe(reasons: Reason[]): Reason[] {
  const seen = new Set<string>();
  return reasons.filter((r) => {
    const k = JSON.stringify([r.field, r.before, r.after, r.needs]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function diffMap(
  prefix: string,
  have: { readonly [k: string]: string },
  want: { readonly [k: string]: string },
  report: (field: string, before: string | undefined, after: string | undefined) => void,
): void {
  for (const k of Object.keys({ ...have, ...want }).sort()) {
    if (have[k] !== want[k]) report(`${prefix}.${k}`, have[k], want[k]);
  }
}

/** Labels without cdk-docker's own. */
function userLabels(labels: { readonly [k: string]: string }): { [k: string]: string } {
  return ownLabels(labels, false);
}

/** A value as shown to users: strings and lists as JSON, numbers and booleans as such. */
export function show(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function showRestart(r: { policy: string; maxRetries?: number }): string {
  return r.policy === 'on-failure' && (r.maxRetries ?? 0) > 0 ? `on-failure:${r.maxRetries}` : r.policy;
}

/** `sha256:` and the first 12 hex digits, as Docker shows ids. */
function shortId(id: string): string {
  const m = /^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/.exec(id);
  return m ? `${m[1] ?? ''}${m[2]}` : id;
}


function normCaps(caps: string[]): string[] {
  return [...new Set(caps.map((c) => c.toUpperCase().replace(/^CAP_/, '')))].sort();
}

function normIp(ip: string | undefined): string {
  return ip === undefined || ip === '' ? '0.0.0.0' : ip;
}

function eq(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortByName<T extends { name: string }>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => cmpStr(a.name, b.name));
}

export { renderDiff, diffToJson, summarize, hasChanges } from './render';
export type { RenderOptions, DiffSummary } from './render';
