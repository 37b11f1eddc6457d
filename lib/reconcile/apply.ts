import { createHash } from 'node:crypto';
import type { ContainerResource, ContainerSpec, Plan, Resource } from '../plan/types';
import type { ContainerFile, ContainerUpdate, Driver, ImageProgress, ManagedLabels, ObservedContainer, ObservedStack } from '../drivers/types';
import { LABELS } from '../drivers/types';
import { lastOutput } from '../drivers/output';
import { CdkDockerError } from '../core/errors';
import { isForeignToolLabel } from '../core/labels';
import { limiter, mapLimit } from '../core/concurrency';
import { readEnvFile } from '../core/env';
import { readInputFile } from '../core/input-file';
import { managedLabels, replicaName } from './hash';
import { wholeContainerChanges } from './whole';
import type { ObservedImages } from './diff';
import type { Change, StackDiff } from './types';

/**
 * Carrying out a diff: the changes run as a dependency graph (a resource starts when the
 * resources it depends on are done), at most `parallelism` at once; deletions run last, in
 * reverse dependency order. Containers wait for their `dependsOn` conditions before they start
 * and the run fails at once when a dependency cannot reach its condition.
 *
 * Every step is idempotent, so an apply killed at any point and run again converges: objects
 * are found again by their labels, never duplicated.
 *
 * How a container is changed is the driver's to say (its capabilities): an update passes only the
 * settings it changes in place, and labels only when it can relabel; a replacement starts the new
 * container first (as `<name>-next`, renamed once the old one is gone) when the engine can rename
 * and no fixed host port or host networking stands in the way, else removes the old one first. A
 * driver that owns replicas gets each changed container resource whole (`applyContainer`).
 */

export interface ApplyEvent {
  readonly change: Change;
  readonly phase: 'start' | 'progress' | 'done' | 'failed';
  /** What happened, for the progress display (`created`, `replaced`, the error; while in progress: `web 2/3 running`). */
  readonly message?: string;
  readonly ms?: number;
}

export interface ApplyOptions {
  /** Changes carried out at once. @default 4 */
  readonly parallelism?: number;
  /** Allow a change that recreates a volume (its data is lost). @default false */
  readonly allowDataLoss?: boolean;
  /** How long a `dependsOn` condition may take. @default 120 s */
  readonly waitTimeoutMs?: number;
  /** The images the diff observed, by logical id (saves reading them again). @default - read now */
  readonly images?: ObservedImages;
  /** Where secrets from the environment are read. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly onEvent?: (e: ApplyEvent) => void;
  /** Where an image change reports its pull's layers and its build's steps. @default - not reported */
  readonly imageProgress?: (change: Change) => ImageProgress | undefined;
}

/**
 * How long a replacement started beside the container it replaces must keep running before the
 * old one goes (Swarm's update `monitor`, in short): one that dies at once — a crash at start —
 * is kept with its logs and the old one serves on, whether or not the first look saw it running.
 */
const REPLACE_SETTLE_MS = 1_000;

/** A failed apply: what failed and why; the rest of what could run has run. */
export class ApplyError extends CdkDockerError {
  public override readonly code = 'APPLY_FAILED';
}

/** The environment a container starts with: env files in order, then `env`, then secrets. */
export function resolveEnv(spec: ContainerSpec, env: NodeJS.ProcessEnv = process.env): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const f of spec.envFiles) {
    for (const line of readEnvFile(f.path, env)) {
      const i = line.indexOf('=');
      out[line.slice(0, i)] = line.slice(i + 1);
    }
  }
  Object.assign(out, spec.env);
  for (const [name, ref] of Object.entries(spec.secretEnv)) {
    if (ref.source === 'env') {
      const value = env[ref.from];
      if (value === undefined) throw new CdkDockerError(`secret ${name} comes from the environment variable ${ref.from}, which is not set; export it before apply`);
      out[name] = value;
    } else {
      try {
        out[name] = readInputFile(ref.from, 'secret file').toString('utf8').replace(/\r?\n$/, '');
      } catch (e) {
        if (e instanceof CdkDockerError) throw new CdkDockerError(`secret ${name}: ${e.message}`);
        throw new CdkDockerError(`secret ${name} comes from the file ${ref.from}, which cannot be read (${(e as Error).message})`);
      }
    }
  }
  return out;
}

/**
 * The files of a container's secrets and configs, read now: a secret's value exactly as its file
 * or variable holds it; a config file only when its content is still what the plan was made
 * from (a saved plan carries out only what was reviewed).
 */
export function resolveFiles(spec: ContainerSpec, env: NodeJS.ProcessEnv = process.env): ContainerFile[] {
  const out: ContainerFile[] = [];
  for (const f of spec.secrets ?? []) {
    let content: Buffer;
    if (f.secret.source === 'env') {
      const value = env[f.secret.from];
      if (value === undefined) throw new CdkDockerError(`secret ${f.target} comes from the environment variable ${f.secret.from}, which is not set; export it before apply`);
      content = Buffer.from(value, 'utf8');
    } else {
      try {
        content = readInputFile(f.secret.from, 'secret file');
      } catch (e) {
        if (e instanceof CdkDockerError) throw new CdkDockerError(`secret ${f.target}: ${e.message}`);
        throw new CdkDockerError(`secret ${f.target} comes from the file ${f.secret.from}, which cannot be read (${(e as Error).message})`);
      }
    }
    out.push({ target: f.target, content, mode: f.mode, uid: f.uid, gid: f.gid, secret: true });
  }
  for (const f of spec.configs ?? []) {
    let content: Buffer;
    if (f.source === 'string') {
      content = Buffer.from(f.content, 'utf8');
    } else {
      try {
        content = readInputFile(f.file, 'config file');
      } catch (e) {
        if (e instanceof CdkDockerError) throw new CdkDockerError(`config ${f.target}: ${e.message}`);
        throw new CdkDockerError(`config ${f.target} comes from the file ${f.file}, which cannot be read (${(e as Error).message}); restore it or synth again`);
      }
    }
    const sha256 = `sha256:${createHash('sha256').update(content).digest('hex')}`;
    if (sha256 !== f.sha256) {
      throw new CdkDockerError(`config ${f.target}: ${f.source === 'file' ? `the file ${f.file}` : 'the text'} is not what the plan was made from (${sha256}, the plan has ${f.sha256}); synth and review the plan again`);
    }
    out.push({ target: f.target, content, mode: f.mode, uid: f.uid, gid: f.gid, secret: false });
  }
  return out;
}

/** The name of the container whose network a spec shares (replica 1 of that resource), if any. */
export function networkContainerOf(plan: Plan, spec: ContainerSpec): string | undefined {
  if (typeof spec.networkMode !== 'object') return undefined;
  if (spec.networkMode.containerName !== undefined) return spec.networkMode.containerName;
  const target = plan.resources[spec.networkMode.container];
  if (target === undefined || target.type !== 'container') {
    throw new CdkDockerError(`the plan shares the network of container resource ${spec.networkMode.container}, which it does not have; synth the stack again`);
  }
  return replicaName(target.name, 1);
}

/** Applies `diff` (computed from `observed`) to the engine behind `driver`. */
export async function applyDiff(plan: Plan, diff: StackDiff, observed: ObservedStack, driver: Driver, opts: ApplyOptions = {}): Promise<void> {
  const emit = opts.onEvent ?? (() => undefined);
  const caps = driver.capabilities;
  if (caps.ownsReplicas && !driver.applyContainer) throw new ApplyError(`the ${driver.name} driver says it owns replicas but cannot apply a container resource (no applyContainer); this is a bug of the driver`);
  const canRename = caps.inPlace.includes('name');
  // A driver that owns replicas gets each container resource's changes as one.
  const changes = caps.ownsReplicas ? wholeContainerChanges(plan, diff.changes) : diff.changes;
  const imageIds = new Map<string, string>();
  // Unmanaged containers the diff adopts are found by name like the stack's own.
  const containers = new Map([...(observed.unmanaged?.containers ?? []), ...observed.containers].map((c) => [c.name, c]));
  const failures: string[] = [];
  // Container resources this apply replaced or changed (not only started): their dependents that
  // ask for it (`dependsOn` restart) are restarted once everything else has run.
  const changedContainers = new Set<string>();
  // Containers adopted by replacement go one at a time: a service is never down twice at once.
  const oneAtATime = limiter(1);

  // Image ids for every image resource (containers are created from them): those the diff
  // observed, unless the apply changes them (then ensureImage gives the id).
  for (const [id, r] of Object.entries(plan.resources)) {
    if (r.type !== 'image') continue;
    const pending = changes.find((c) => c.logicalId === id && c.action !== 'no-op');
    if (pending) continue;
    const img = opts.images ? opts.images[id] : await driver.image(r.name);
    if (img) imageIds.set(id, img.id);
  }

  const step = async (change: Change): Promise<void> => {
    const started = Date.now();
    emit({ change, phase: 'start' });
    try {
      const message = await carryOut(change);
      if (change.type === 'container' && (change.action === 'replace' || (change.action === 'update' && change.reasons.some((r) => r.field !== 'status' && r.field !== 'dependsOn.restart')))) {
        changedContainers.add(change.logicalId);
      }
      emit({ change, phase: 'done', message, ms: Date.now() - started });
    } catch (e) {
      const message = (e as Error).message;
      emit({ change, phase: 'failed', message, ms: Date.now() - started });
      failures.push(`${change.path}${change.replica && change.replica > 1 ? ` (replica ${change.replica})` : ''}: ${message}`);
      throw e;
    }
  };

  const carryOut = async (change: Change): Promise<string> => {
    const resource = plan.resources[change.logicalId] as Resource | undefined;
    if (change.action === 'delete') return remove(change);
    if (change.reasons.length === 1 && change.reasons[0].field === 'dependsOn.restart') return restartContainer(change);
    if (change.adopt?.by === 'conflict') {
      throw new ApplyError(
        `${change.type} ${change.name} exists without cdk-docker's labels and ${change.adopt.note ?? 'its settings differ from the plan'} (${change.reasons.map((r) => r.field).join(', ')}); ` +
          'apply does not replace what it did not make: make the code match it (cdk-docker import containers), or rename or remove it',
      );
    }
    if (!resource) throw new ApplyError(`${change.path} is not in the plan`);
    const labels = managedLabels(plan, change.logicalId, change.type === 'container' ? change.replica ?? 1 : undefined);
    switch (resource.type) {
      case 'image': {
        const img = await driver.ensureImage(resource, labels, { progress: opts.imageProgress?.(change) });
        imageIds.set(change.logicalId, img.id);
        return change.action === 'create' ? `ready (${img.id.slice(7, 19)})` : `updated (${img.id.slice(7, 19)})`;
      }
      case 'network':
      case 'volume':
        if (change.action === 'adopt' && change.adopt?.by !== 'replace') {
          if (!driver.adoptObject) throw new ApplyError(`${resource.type} ${resource.name} exists without cdk-docker's labels and the ${driver.name} driver cannot adopt it; remove it or rename the resource`);
          await driver.adoptObject(resource.type, resource.name, labels);
          return change.adopt?.by === 'record' ? 'adopted (kept as it is, recorded)' : 'adopted (relabelled in place)';
        }
        break;
    }
    const replacing = change.action === 'replace' || change.action === 'adopt';
    switch (resource.type) {
      case 'network':
        if (replacing) await driver.removeNetwork(resource.name);
        if (change.action !== 'no-op') await driver.createNetwork(resource.name, resource.spec, labels);
        return replacing ? 'replaced' : 'created';
      case 'volume':
        if (replacing) {
          if (!opts.allowDataLoss) {
            throw new ApplyError(`volume ${resource.name} would have to be recreated (${change.reasons.map((r) => r.field).join(', ')} changed) and its data would be lost; apply with --allow-data-loss to accept that`);
          }
          await driver.removeVolume(resource.name);
        }
        await driver.createVolume(resource.name, resource.spec, labels);
        return replacing ? 'recreated' : 'created';
      case 'container':
        return container(change, resource, labels);
    }
    return '';
  };

  const container = async (change: Change, resource: ContainerResource, labels: ManagedLabels): Promise<string> => {
    if (caps.ownsReplicas) return wholeContainer(change, resource, labels);
    const name = change.name;
    const existing = containers.get(name);
    if (change.action === 'adopt' && existing) {
      if (change.adopt?.by === 'relabel') {
        // In place: the labels become ours (the other tool's go), the process runs on.
        const dropLabels = Object.keys(existing.labels).filter(isForeignToolLabel);
        await updateInPlace(change, resource, existing, labels, dropLabels);
        return 'adopted (relabelled in place)';
      }
      return oneAtATime(async () => `adopted, ${await replaceContainer(change, resource, labels, existing)}`);
    }
    if (change.action === 'update' && existing) {
      await updateInPlace(change, resource, existing, labels);
      return `updated (${change.reasons.map((r) => r.field).join(', ')})`;
    }
    return replaceContainer(change, resource, labels, existing);
  };

  /** Creates the container, replacing `existing` if there is one. */
  const replaceContainer = async (change: Change, resource: ContainerResource, labels: ManagedLabels, existing: ObservedContainer | undefined): Promise<string> => {
    const name = change.name;
    const imageId = imageIdOf(change, resource);
    await waitForDependencies(resource);
    const env = resolveEnv(resource.spec, opts.env);
    const files = resolveFiles(resource.spec, opts.env);
    const networkContainer = networkContainerOf(plan, resource.spec);
    const extra = { ...(files.length > 0 ? { files } : {}), ...(networkContainer !== undefined ? { networkContainer } : {}) };
    const fixedPorts = resource.spec.ports.some((p) => p.hostPort !== 0);
    const replacing = change.action === 'replace' || change.action === 'adopt';
    // An adopted container's anonymous volumes are named in the plan: they stay.
    const removeOld = { force: true, ...(change.action === 'adopt' ? { keepAnonymousVolumes: true } : {}) };
    if (replacing && existing && canRename && !fixedPorts && resource.spec.networkMode !== 'host') {
      // Start the new one first; the old one goes once the new one runs.
      const temp = `${name}-next`;
      if (containers.has(temp)) await driver.removeContainer(temp, { force: true });
      await driver.createContainer({ name: temp, spec: resource.spec, imageId, env, labels, ...extra });
      await startAndCheck(temp, REPLACE_SETTLE_MS);
      await driver.removeContainer(existing.id, removeOld);
      await driver.updateContainer(temp, { name });
      return `replaced${change.reasons.length > 0 ? ` (${change.reasons.map((r) => r.field).join(', ')})` : ''}`;
    }
    if (existing) await driver.removeContainer(existing.id, removeOld);
    // A crashed earlier apply may have left the temporary container of a replacement (it carries
    // the stack's labels, so observe saw it).
    if (canRename && containers.has(`${name}-next`)) await driver.removeContainer(`${name}-next`, { force: true });
    await driver.createContainer({ name, spec: resource.spec, imageId, env, labels, ...extra });
    await startAndCheck(name);
    return replacing ? `replaced${change.reasons.length > 0 ? ` (${change.reasons.map((r) => r.field).join(', ')})` : ''}` : 'created and started';
  };

  const imageIdOf = (change: Change, resource: ContainerResource): string => {
    const imageId = imageIds.get(resource.spec.image);
    if (!imageId) throw new ApplyError(`${change.path}: its image ${plan.resources[resource.spec.image]?.name ?? resource.spec.image} is not available`);
    return imageId;
  };

  /** A container resource handed whole to a driver that owns its replicas. */
  const wholeContainer = async (change: Change, resource: ContainerResource, labels: ManagedLabels): Promise<string> => {
    const imageId = imageIdOf(change, resource);
    if (change.action !== 'update') await waitForDependencies(resource);
    const { [LABELS.replica]: _replica, ...resourceLabels } = labels as { readonly [k: string]: string };
    return driver.applyContainer!({
      resource,
      imageId,
      env: resolveEnv(resource.spec, opts.env),
      progress: (message) => emit({ change, phase: 'progress', message }),
      files: resolveFiles(resource.spec, opts.env),
      labels: resourceLabels as ManagedLabels,
      observed: observed.containers.filter((c) => c.labels[LABELS.path] === resource.path),
      action: change.action === 'create' || change.action === 'replace' ? change.action : 'update',
      fields: [...new Set(change.reasons.map((r) => r.field))],
    });
  };

  const startAndCheck = async (name: string, settleMs = 0): Promise<void> => {
    try {
      await driver.startContainer(name);
      await driver.wait(name, 'started', 10_000);
      // Still up a moment later: a process that dies at once is not taken for a running one.
      if (settleMs > 0) {
        await new Promise((r) => setTimeout(r, settleMs));
        await driver.wait(name, 'started', 10_000);
      }
    } catch (e) {
      const logs = await lastOutput(driver, name, 20).catch(() => '');
      // The failed container stays, with its logs, for the user to look at.
      throw new ApplyError(`${(e as Error).message}${logs ? `\n--- last output of ${name} ---\n${logs.trimEnd()}` : ''}`);
    }
  };

  const updateInPlace = async (change: Change, resource: ContainerResource, existing: ObservedContainer, labels: ManagedLabels, dropLabels: readonly string[] = []): Promise<void> => {
    const spec = resource.spec;
    const can = (f: (typeof caps.inPlace)[number]) => caps.inPlace.includes(f);
    const update: ContainerUpdate = {
      ...(can('restart') ? { restart: spec.restart } : {}),
      ...(can('memoryBytes') ? { memoryBytes: spec.memoryBytes ?? null } : {}),
      ...(can('nanoCpus') ? { nanoCpus: spec.nanoCpus ?? null } : {}),
      ...(can('pidsLimit') ? { pidsLimit: spec.pidsLimit ?? null } : {}),
      ...(caps.relabel ? { labels } : {}),
      ...(caps.relabel && dropLabels.length > 0 ? { dropLabels } : {}),
      ...(existing.name !== change.name ? { name: change.name } : {}),
    };
    if (Object.keys(update).length > 0) await driver.updateContainer(existing.id, update);
    if (change.reasons.some((r) => r.field.startsWith('networks'))) {
      // As diff plans them: no networks listed means the engine's default one.
      const planned = spec.networks.length > 0 ? spec.networks : [{ network: caps.defaults.network, aliases: [] as string[], ipv4Address: undefined }];
      const wanted = new Map(planned.map((n) => [n.network, n]));
      for (const n of Object.keys(existing.networks)) if (!wanted.has(n)) await driver.disconnectNetwork(existing.id, n);
      for (const [n, a] of wanted) if (!(n in existing.networks)) await driver.connectNetwork(existing.id, n, { aliases: a.aliases, ipv4Address: a.ipv4Address });
    }
    if (existing.status !== 'running' && existing.status !== 'restarting') await startAndCheck(change.name);
  };

  const waitForDependencies = async (resource: ContainerResource): Promise<void> => {
    // The container whose network it shares must run first (the engine joins its namespace).
    const networkContainer = networkContainerOf(plan, resource.spec);
    if (networkContainer !== undefined) await driver.wait(networkContainer, 'started', opts.waitTimeoutMs ?? 120_000);
    for (const dep of resource.spec.dependsOn) {
      const target = plan.resources[dep.container];
      if (!target || target.type !== 'container') continue;
      // A driver that owns replicas answers for the resource as a whole.
      if (caps.ownsReplicas) {
        await driver.wait(target.name, dep.condition, opts.waitTimeoutMs ?? 120_000);
        continue;
      }
      for (let r = 1; r <= target.spec.replicas; r++) {
        await driver.wait(replicaName(target.name, r), dep.condition, opts.waitTimeoutMs ?? 120_000);
      }
    }
  };

  /**
   * Compose's `depends_on.restart`: the diff plans a restart of a container it would otherwise
   * leave alone (reason `dependsOn.restart`, carried out after the dependency, in graph order);
   * one this apply changes in place, or whose dependency turned out changed only here, is
   * restarted (stopped, started, checked) at the end, unless the apply made it anew (then it
   * started after the dependency). A replica that does not exist or is not running is left alone.
   */
  const restartDependents = async (): Promise<void> => {
    if (caps.ownsReplicas) return;
    // Made anew by this apply (started after the dependency), or restarted already as the diff planned it.
    const handled = (c: Change): boolean => c.action === 'create' || c.action === 'replace' || c.reasons.some((x) => x.field === 'dependsOn.restart');
    const madeAnew = new Set(changes.filter((c) => c.type === 'container' && handled(c)).map((c) => `${c.logicalId}#${c.replica ?? 1}`));
    for (const [id, r] of Object.entries(plan.resources)) {
      if (r.type !== 'container') continue;
      const deps = r.spec.dependsOn.filter((d) => d.restart && changedContainers.has(d.container));
      if (deps.length === 0) continue;
      const after = deps.map((d) => plan.resources[d.container]?.path ?? d.container).join(', ');
      for (let replica = 1; replica <= r.spec.replicas; replica++) {
        if (madeAnew.has(`${id}#${replica}`)) continue;
        const name = replicaName(r.name, replica);
        const change: Change = {
          logicalId: id, path: r.path, type: 'container', name, action: 'update', replica,
          reasons: [{ field: 'dependsOn.restart', before: undefined, after: `restarted after ${after}`, needs: 'update' }],
        };
        const before = containers.get(name);
        if (before === undefined || (before.status !== 'running' && before.status !== 'restarting')) continue;
        await step(change).catch(() => undefined);
      }
    }
  };

  const restartContainer = async (change: Change): Promise<string> => {
    await driver.stopContainer(change.name);
    await startAndCheck(change.name);
    return `restarted (${change.reasons.map((r) => r.after).join('; ')})`;
  };

  const remove = async (change: Change): Promise<string> => {
    if (change.type === 'container') {
      await driver.removeContainer(change.name, { force: true });
      return 'removed';
    }
    if (change.type === 'network') {
      await driver.removeNetwork(change.name);
      return 'removed';
    }
    if (change.type === 'volume') return 'kept (volumes are never deleted by apply; `cdk-docker destroy --volumes` or `runtime volume rm` removes it)';
    return 'left in the image store';
  };

  const skipped = (c: Change) => {
    const message = 'not changed: a resource it depends on failed';
    emit({ change: c, phase: 'failed', message });
    failures.push(`${c.path}: ${message}`);
  };
  await runGraph(plan, changes.filter((c) => c.action !== 'no-op' && c.action !== 'delete'), step, opts.parallelism ?? 4, skipped);
  await restartDependents();
  for (const c of changes.filter((x) => x.action === 'delete')) await step(c).catch(() => undefined);
  if (failures.length) throw new ApplyError(`apply of stack ${plan.stack} failed:\n  ${failures.join('\n  ')}`);
}

/**
 * Runs `changes` so that each starts after the changes of the resources it depends on have
 * finished, at most `parallelism` at once. A failed change fails the changes that depend on
 * it; independent ones still run.
 */
async function runGraph(plan: Plan, changes: Change[], run: (c: Change) => Promise<void>, parallelism: number, skipped: (c: Change) => void): Promise<void> {
  const byId = new Map<string, Change[]>();
  for (const c of changes) byId.set(c.logicalId, [...(byId.get(c.logicalId) ?? []), c]);
  const done = new Map<Change, Promise<boolean>>();
  const slot = limiter(parallelism);
  const start = (c: Change): Promise<boolean> => {
    let p = done.get(c);
    if (p) return p;
    p = (async () => {
      const deps = (plan.resources[c.logicalId]?.dependsOn ?? []).flatMap((d) => byId.get(d) ?? []);
      const ok = (await Promise.all(deps.map(start))).every(Boolean);
      if (!ok) {
        skipped(c);
        return false;
      }
      return slot(() => run(c).then(
        () => true,
        () => false,
      ));
    })();
    done.set(c, p);
    return p;
  };
  await Promise.all(changes.map(start));
}

export interface DestroyOptions {
  /** Containers removed at once. @default the engine's (DriverCapabilities.parallelism), else 4 */
  readonly parallelism?: number;
  /** Remove the stack's volumes too, whatever their removal policy. @default false */
  readonly volumes?: boolean;
  readonly onEvent?: (e: { readonly kind: string; readonly name: string; readonly message: string }) => void;
}

/**
 * Removes a stack's containers, then its networks, then the volumes whose removal policy is
 * `destroy` (all with `volumes`); the others are kept and reported. Images stay.
 */
export async function destroyStack(stack: string, plan: Plan | undefined, driver: Driver, opts: DestroyOptions = {}): Promise<{ removed: number; keptVolumes: string[] }> {
  const emit = opts.onEvent ?? (() => undefined);
  const observed = await driver.observe(stack);
  let removed = 0;
  await mapLimit(observed.containers, opts.parallelism ?? driver.capabilities.parallelism ?? 4, async (c) => {
    await driver.removeContainer(c.id, { force: true });
    emit({ kind: 'container', name: c.name, message: 'removed' });
    removed++;
  });
  for (const n of observed.networks) {
    await driver.removeNetwork(n.name);
    emit({ kind: 'network', name: n.name, message: 'removed' });
    removed++;
  }
  const keptVolumes: string[] = [];
  const policy = new Map(Object.values(plan?.resources ?? {}).flatMap((r) => (r.type === 'volume' ? [[r.path, r.spec.removalPolicy] as const] : [])));
  for (const v of observed.volumes) {
    if (opts.volumes || policy.get(v.labels[LABELS.path]) === 'destroy') {
      await driver.removeVolume(v.name);
      emit({ kind: 'volume', name: v.name, message: 'removed' });
      removed++;
    } else {
      keptVolumes.push(v.name);
      emit({ kind: 'volume', name: v.name, message: 'kept (removalPolicy retain; --volumes removes it)' });
    }
  }
  return { removed, keptVolumes };
}
