import { timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { ObservedStack } from '../drivers/types';
import { validatePlan } from '../plan/validate';
import type { Plan } from '../plan/types';
import { canonicalJson, compareText, hashObject, hmacSha256, sha256 } from '../core/canonical';
import { CdkDockerError, InvalidArgumentError } from '../core/errors';
import type { Change, StackDiff } from './types';

/**
 * Saved plans (`diff --out FILE`, `apply --plan FILE`), as Terraform's: the plans and diffs of the
 * stacks, with a fingerprint of what was observed when they were made. `apply --plan` carries out
 * exactly what was reviewed, and nothing else:
 *
 * - The file is signed: an HMAC-SHA256 over its canonical JSON, keyed by the engine's plan key
 *   (`CDK_DOCKER_PLAN_KEY` when set, so that a plan made in one CI job applies in another; else a
 *   random key kept, readable by root only, in the engine's state). An edited plan (a container
 *   made privileged, a bind of `/` added, the change list emptied) no longer matches and is refused.
 * - Its plans pass the schema and the reference checks (validatePlan).
 * - At apply, the changes are computed again from the saved plan and what the engine holds now;
 *   they must equal the saved ones, else the stack changed since and the plan is stale.
 */

const SAVED_VERSION = 2;

export interface SavedStack {
  readonly plan: Plan;
  readonly diff: StackDiff;
  /** `sha256:…` of the observed objects' identities, labels and states. */
  readonly observed: string;
  /** The `--target` paths the diff was limited to. */
  readonly targets: string[];
}

export interface SavedPlan {
  readonly cdkDockerSavedPlan: typeof SAVED_VERSION;
  /** Which key signed it: `sha256:` of the key, first 16 hex digits (names the key, reveals nothing). */
  readonly keyId: string;
  readonly stacks: SavedStack[];
  /** `hmac-sha256:…` of the canonical JSON of everything above. */
  readonly signature: string;
}

/** What a saved plan must still match: ids, names, labels and run states (not health or counters). */
export function fingerprint(observed: ObservedStack): string {
  const objects = (o: Omit<ObservedStack, 'unmanaged'>) => ({
    containers: o.containers.map((c) => ({ id: c.id, name: c.name, labels: c.labels, imageId: c.imageId, status: c.status })).sort((a, b) => compareText(a.id, b.id)),
    networks: o.networks.map((n) => ({ id: n.id, name: n.name, labels: n.labels })).sort((a, b) => compareText(a.id, b.id)),
    volumes: o.volumes.map((v) => ({ name: v.name, labels: v.labels })).sort((a, b) => compareText(a.name, b.name)),
  });
  // The objects a saved plan adopts are part of what was reviewed (absent: the same hash as before).
  return hashObject({ ...objects(observed), ...(observed.unmanaged !== undefined ? { unmanaged: objects(observed.unmanaged) } : {}) });
}

function keyId(key: Buffer): string {
  return sha256(key).slice(0, 'sha256:'.length + 16);
}

function signatureOf(key: Buffer, unsigned: Omit<SavedPlan, 'signature'>): string {
  return hmacSha256(key, canonicalJson(unsigned));
}

export function writeSavedPlan(file: string, stacks: SavedStack[], key: Buffer): void {
  const unsigned = { cdkDockerSavedPlan: SAVED_VERSION, keyId: keyId(key), stacks } as const;
  const saved: SavedPlan = { ...unsigned, signature: signatureOf(key, unsigned) };
  fs.writeFileSync(file, `${JSON.stringify(saved, undefined, 2)}\n`, { mode: 0o600 });
}

/** Reads, authenticates and validates a saved plan; any other file is refused with the fix. */
export function readSavedPlan(file: string, key: Buffer): SavedPlan {
  const again = `make it again with \`cdk-docker diff --out ${file}\` and review it`;
  let data: SavedPlan;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')) as SavedPlan;
  } catch (e) {
    throw new InvalidArgumentError(`cannot read the saved plan ${file} (${(e as Error).message.split('\n')[0]}); make it with \`cdk-docker diff --out ${file}\``);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new InvalidArgumentError(`${file} is not a saved plan; make it with \`cdk-docker diff --out ${file}\``);
  if (data.cdkDockerSavedPlan !== SAVED_VERSION) {
    throw new InvalidArgumentError(`${file} is not a saved plan of this cdk-docker version; ${again}`);
  }
  const { signature, ...unsigned } = data;
  if (typeof data.keyId === 'string' && data.keyId !== keyId(key)) {
    throw new InvalidArgumentError(`${file} was signed with another plan key (${data.keyId}; this engine's is ${keyId(key)}): apply it where it was made, set CDK_DOCKER_PLAN_KEY to the key that made it, or ${again}`);
  }
  const expected = Buffer.from(signatureOf(key, unsigned));
  if (typeof signature !== 'string' || signature.length !== expected.length || !timingSafeEqual(Buffer.from(signature), expected)) {
    throw new InvalidArgumentError(`${file} was changed after it was saved (its signature does not match its content): it is not the plan that was reviewed; ${again}`);
  }
  if (!Array.isArray(data.stacks) || data.stacks.some((s) => !s || typeof s !== 'object' || !s.diff || !Array.isArray(s.diff.changes) || !Array.isArray(s.targets))) {
    throw new InvalidArgumentError(`${file} is not a saved plan of this cdk-docker version; ${again}`);
  }
  for (const s of data.stacks) validatePlan(s.plan, `${file} (stack ${typeof s.plan?.stack === 'string' ? s.plan.stack : '?'})`);
  return data;
}

/**
 * The saved stack's changes, checked against what is observed now: the same objects in the same
 * states, and the same changes when computed again (`now` is the diff of the saved plan against
 * the engine now). Returns the changes to carry out.
 */
export function checkSaved(saved: SavedStack, observed: ObservedStack, now: StackDiff, file: string): StackDiff {
  const recomputed = targetChanges(saved.plan, now, saved.targets);
  if (fingerprint(observed) !== saved.observed || hashObject(recomputed) !== hashObject(saved.diff)) {
    throw new CdkDockerError(`stack ${saved.plan.stack} changed since the plan in ${file} was made; make a new one with \`cdk-docker diff --out ${file}\` and review it`);
  }
  return recomputed;
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
