/**
 * Spec hashes and the labels that carry them: the only state cdk-docker keeps.
 *
 * Terms
 * - The *spec hash* of a resource (`specHash`) is `sha256:` over the canonical JSON of what
 *   identifies it and what, when changed, needs the runtime object changed: its stack, type,
 *   path, name and spec — minus what never needs the object touched:
 *   - every resource: `dependsOn` (ordering only);
 *   - containers: `spec.dependsOn` (start conditions), `replicas` (scaling creates or
 *     removes other replicas, never this one; all replicas of a resource share one hash) and
 *     `develop` (what `cdk-docker watch` does, never the container itself);
 *     the image is hashed by its *source identity* (registry ref; build context hash,
 *     Dockerfile, args and target; archive digest), not by its logical id, so renaming the
 *     image construct changes nothing while a new build context or archive does; secrets by
 *     their HMAC only (not where they are read from); env files by content only; secret and
 *     config files by their HMAC or sha256, target, mode and owner (not where they are read from);
 *   - volumes: `removalPolicy` (read by `destroy` only);
 *   - images: `pullPolicy`, a build's absolute context path and `noCache`, an archive's path
 *     (content hashes cover them).
 *   Secret values never enter a hash: the plan holds only their HMACs.
 * - The *inputs* of a container (`containerInputs`) are the hashed things an engine cannot
 *   report back — the image's source identity, each secret's HMAC, each env file's and each
 *   bind-mounted file's sha256 — kept as canonical JSON in the `io.cdk-docker.inputs` label so
 *   that `diff` can name *which* of them changed (`env.DB_PASSWORD`, `envFiles[0]`).
 *
 * Labels an apply puts on objects (`managedLabels`): `io.cdk-docker.stack`, `…path`,
 * `…spec-hash`; containers also `…replica` (1-based, always written; a missing one reads as 1)
 * and `…inputs`; build images also `…context-hash`.
 */

import { LABELS, ManagedLabels } from '../drivers/types';
import type { ContainerResource, ContainerSpec, ImageResource, Plan, Resource } from '../plan/types';
import { canonicalJson, hashObject } from '../core/canonical';
import { NotFoundError } from '../core/errors';

/** Version of the hashed form: bump when what goes into a hash changes. */
export const SPEC_HASH_VERSION = 1;

import { EXTRA_LABELS } from '../core/labels';

export { EXTRA_LABELS };

/** What a container was made from that the engine cannot report (see the module comment). */
export interface ContainerInputs {
  /** The image's source identity (`imageIdentity`). */
  readonly image: string;
  /** Secret environment variable → `hmac-sha256:…`. */
  readonly secrets: { readonly [name: string]: string };
  /** `sha256:…` of each env file, in order. */
  readonly envFiles: string[];
  /** Bind-mount target → `sha256:…` of the mounted file. */
  readonly files: { readonly [target: string]: string };
  /**
   * Secret and config file target → what it holds and how: `<hmac-sha256:… or sha256:…> <mode
   * in octal> <uid>:<gid>`. Absent when the container has none (and in labels written before).
   */
  readonly mounted?: { readonly [target: string]: string };
}

/** A secret's or config's file as `ContainerInputs.mounted` has it. */
export function mountedInput(digest: string, f: { readonly mode: number; readonly uid: number; readonly gid: number }): string {
  return `${digest} ${f.mode.toString(8).padStart(4, '0')} ${f.uid}:${f.gid}`;
}

/**
 * The source identity of an image: a registry reference, or a digest over what a build or an
 * archive load produces the image from. Equal identities produce equal images (registry tags
 * aside: a tag that moved is caught by comparing image ids).
 */
export function imageIdentity(resource: ImageResource): string {
  const spec = resource.spec;
  switch (spec.source) {
    case 'registry':
      return spec.ref;
    case 'archive':
      return spec.sha256;
    case 'build':
      return hashObject({ contextHash: spec.contextHash, dockerfile: spec.dockerfile, buildArgs: spec.buildArgs, target: spec.target });
  }
}

/** The name of replica `replica` (1-based) of a container resource named `name`. */
export function replicaName(name: string, replica: number): string {
  return replica === 1 ? name : `${name}-${replica}`;
}

/**
 * The replica a container is, by its `io.cdk-docker.replica` label: none (or empty) = 1; NaN for a
 * label that is not a whole number from 1 (nobody's replica: the diff removes it as an orphan).
 */
export function replicaOf(c: { readonly labels: { readonly [k: string]: string } }): number {
  const label = c.labels[LABELS.replica];
  if (label === undefined || label === '') return 1;
  return /^[1-9][0-9]*$/.test(label) ? Number(label) : Number.NaN;
}

/** The image resource a container uses, or undefined when the plan lacks it. */
export function imageOf(plan: Plan, spec: ContainerSpec): ImageResource | undefined {
  const r = plan.resources[spec.image];
  return r !== undefined && r.type === 'image' ? r : undefined;
}

/** The inputs of a container resource (what goes into its `io.cdk-docker.inputs` label). */
export function containerInputs(plan: Plan, resource: ContainerResource): ContainerInputs {
  const spec = resource.spec;
  const image = imageOf(plan, spec);
  const secrets: Record<string, string> = {};
  for (const [name, ref] of Object.entries(spec.secretEnv)) secrets[name] = ref.hmac;
  const files: Record<string, string> = {};
  for (const m of spec.mounts) if (m.type === 'bind' && m.sha256 !== undefined) files[m.target] = m.sha256;
  const mounted: Record<string, string> = {};
  for (const f of spec.secrets ?? []) mounted[f.target] = mountedInput(f.secret.hmac, f);
  for (const f of spec.configs ?? []) mounted[f.target] = mountedInput(f.sha256, f);
  return {
    image: image !== undefined ? imageIdentity(image) : spec.image,
    secrets,
    envFiles: spec.envFiles.map((f) => f.sha256),
    files,
    ...(Object.keys(mounted).length > 0 ? { mounted } : {}),
  };
}

/** Parses an `io.cdk-docker.inputs` label; undefined when absent or unreadable. */
export function parseInputs(label: string | undefined): ContainerInputs | undefined {
  if (label === undefined) return undefined;
  try {
    const v = JSON.parse(label) as Partial<ContainerInputs>;
    if (v === null || typeof v !== 'object') return undefined;
    return {
      image: typeof v.image === 'string' ? v.image : '',
      secrets: v.secrets !== null && typeof v.secrets === 'object' ? v.secrets : {},
      envFiles: Array.isArray(v.envFiles) ? v.envFiles.filter((x): x is string => typeof x === 'string') : [],
      files: v.files !== null && typeof v.files === 'object' ? v.files : {},
      mounted: v.mounted !== null && typeof v.mounted === 'object' ? v.mounted : {},
    };
  } catch {
    return undefined;
  }
}

/** The hashed form of a resource's spec (see the module comment for what is left out). */
export function hashedSpec(resource: Resource, plan: Plan): unknown {
  switch (resource.type) {
    case 'image': {
      const s = resource.spec;
      if (s.source === 'registry') return { source: s.source, ref: s.ref };
      if (s.source === 'archive') return { source: s.source, sha256: s.sha256 };
      return { source: s.source, contextHash: s.contextHash, dockerfile: s.dockerfile, buildArgs: s.buildArgs, target: s.target };
    }
    case 'container': {
      const { dependsOn: _d, replicas: _r, develop: _w, image, secretEnv, envFiles, secrets: secretFiles, configs, ...rest } = resource.spec;
      const img = plan.resources[image];
      const secrets: Record<string, string> = {};
      for (const [name, ref] of Object.entries(secretEnv)) secrets[name] = ref.hmac;
      return {
        ...rest,
        image: img !== undefined && img.type === 'image' ? { name: img.name, identity: imageIdentity(img) } : image,
        secretEnv: secrets,
        envFiles: envFiles.map((f) => f.sha256),
        // By content and how they are mounted, never by where they are read from.
        secrets: secretFiles?.map((f) => mountedInput(f.secret.hmac, f) + ` ${f.target}`),
        configs: configs?.map((f) => mountedInput(f.sha256, f) + ` ${f.target}`),
      };
    }
    case 'network':
      return resource.spec;
    case 'volume': {
      const { removalPolicy: _p, ...rest } = resource.spec;
      return rest;
    }
  }
}

/** `sha256:…` of a resource's canonical spec (see the module comment). */
export function specHash(resource: Resource, plan: Plan): string {
  return hashObject({
    v: SPEC_HASH_VERSION,
    stack: plan.stack,
    type: resource.type,
    path: resource.path,
    name: resource.name,
    spec: hashedSpec(resource, plan),
  });
}

/** The labels apply puts on the object of `logicalId` (replica `replica` for containers, default 1). */
export function managedLabels(plan: Plan, logicalId: string, replica?: number): ManagedLabels {
  const resource = plan.resources[logicalId];
  if (resource === undefined) throw new NotFoundError(`resource "${logicalId}" is not in the plan of stack ${plan.stack}`);
  const labels: Record<string, string> = {
    [LABELS.stack]: plan.stack,
    [LABELS.path]: resource.path,
    [LABELS.specHash]: specHash(resource, plan),
  };
  if (resource.type === 'container') {
    labels[LABELS.replica] = String(replica ?? 1);
    labels[EXTRA_LABELS.inputs] = canonicalJson(containerInputs(plan, resource));
  }
  if (resource.type === 'image' && resource.spec.source === 'build') {
    labels[EXTRA_LABELS.contextHash] = resource.spec.contextHash;
  }
  return labels as unknown as ManagedLabels;
}
