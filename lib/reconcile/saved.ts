import * as fs from 'node:fs';
import type { ObservedStack } from '../drivers/types';
import { validatePlan } from '../plan/validate';
import type { Plan } from '../plan/types';
import { hashObject } from '../util/canonical';
import { CdkDockerError, InvalidArgumentError } from '../util/errors';
import type { Change, StackDiff } from './types';

/**
 * Saved plans (`diff -out FILE`, `apply --plan FILE`), as Terraform's: the plans and diffs of the
 * stacks, with a fingerprint of what was observed when they were made. `apply --plan` carries
 * out exactly those changes, and refuses when the engine changed since (the diff would be stale).
 */

const SAVED_VERSION = 1;

export interface SavedStack {
  readonly plan: Plan;
  readonly diff: StackDiff;
  /** `sha256:…` of the observed objects' identities, labels and states. */
  readonly observed: string;
}

export interface SavedPlan {
  readonly cdkDockerSavedPlan: typeof SAVED_VERSION;
  readonly stacks: SavedStack[];
}

/** What a saved plan must still match: ids, names, labels and run states (not health or counters). */
export function fingerprint(observed: ObservedStack): string {
  return hashObject({
    containers: observed.containers.map((c) => ({ id: c.id, name: c.name, labels: c.labels, imageId: c.imageId, status: c.status })).sort((a, b) => a.id.localeCompare(b.id)),
    networks: observed.networks.map((n) => ({ id: n.id, name: n.name, labels: n.labels })).sort((a, b) => a.id.localeCompare(b.id)),
    volumes: observed.volumes.map((v) => ({ name: v.name, labels: v.labels })).sort((a, b) => a.name.localeCompare(b.name)),
  });
}

export function writeSavedPlan(file: string, stacks: SavedStack[]): void {
  const saved: SavedPlan = { cdkDockerSavedPlan: SAVED_VERSION, stacks };
  fs.writeFileSync(file, `${JSON.stringify(saved, undefined, 2)}\n`, { mode: 0o600 });
}

export function readSavedPlan(file: string): SavedPlan {
  let data: SavedPlan;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedPlan;
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the saved plan ${file} (${(e as Error).message}); make it with \`cdk-docker diff --out ${file}\``);
  }
  if (data?.cdkDockerSavedPlan !== SAVED_VERSION || !Array.isArray(data.stacks)) {
    throw new InvalidArgumentError(`${file} is not a saved plan of this cdk-docker version; make it again with \`cdk-docker diff --out ${file}\``);
  }
  for (const s of data.stacks) validatePlan(s.plan, `${file} (stack ${s.plan?.stack ?? "?"})`);
  return data;
}

/** The saved stack, checked against what is observed now. */
export function checkSaved(saved: SavedStack, observed: ObservedStack, file: string): void {
  if (fingerprint(observed) !== saved.observed) {
    throw new CdkDockerError(`stack ${saved.plan.stack} changed since the plan in ${file} was made; make a new one with \`cdk-docker diff --out ${file}\` and review it`);
  }
}

/**
 * The changes that `--target PATH…` keeps: those of the targeted resources (a path or a path
 * prefix followed by `/`) and of everything they depend on, as Terraform's -target. Unknown
 * targets are an error naming the stack's paths.
 */
export function targetChanges(plan: Plan, diff: StackDiff, targets: string[]): StackDiff {
  if (targets.length === 0) return diff;
  const ids = Object.keys(plan.resources);
  const matching = (t: string) => ids.filter((id) => plan.resources[id].path === t || plan.resources[id].path.startsWith(`${t.replace(/\/$/, '')}/`));
  const keep = new Set<string>();
  const add = (id: string): void => {
    if (keep.has(id)) return;
    keep.add(id);
    for (const d of plan.resources[id]?.dependsOn ?? []) add(d);
  };
  for (const t of targets) {
    const found = matching(t);
    if (!found.length) throw new InvalidArgumentError(`--target ${t}: no resource of stack ${plan.stack} has that path; its paths are ${ids.map((id) => plan.resources[id].path).sort().join(', ')}`);
    found.forEach(add);
  }
  const kept = diff.changes.filter((c: Change) => keep.has(c.logicalId));
  return { ...diff, changes: kept };
}
