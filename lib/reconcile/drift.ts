/**
 * Drift: what the engine runs against the last synthesized plan, as a list of findings.
 *
 * Pure: no engine access. The caller reads the plan (cdk.out), observes the stack
 * (`driver.observe`) and looks up each image resource (`driver.image(name)`) first, and passes
 * the driver's capabilities (as to `diffStack`).
 *
 * Categories (one finding per resource and category; a container can have several)
 * - `missing`: a plan resource (image, network, volume, container replica) the engine does not have.
 * - `stopped`: a container that should run and does not. A one-shot container (restart `no` or
 *   `on-failure`) that exited 0 has done its job and is not stopped.
 * - `changed`: a resource whose settings differ from the plan (changed out of band, or a plan
 *   synthesized since the last apply), field by field with the diff engine's reasons.
 * - `orphan`: a resource labelled for the stack that the plan does not have (or a replica beyond
 *   `replicas`, or a second container claiming the same path and replica).
 * - `image-moved`: a container runs another image id than the plan's image reference names now
 *   (the tag was pulled, loaded or built again under it).
 *
 * As `diff`, drift never trusts the spec-hash label: a container changed by hand keeps its
 * labels, so every field is compared (with the diff engine's normalisation). Consequences of
 * other findings (an image or network to be recreated) are reported on those resources only.
 */

import { createColors } from 'picocolors';
import { LABELS } from '../drivers/types';
import type { DriverCapabilities, ObservedContainer, ObservedStack } from '../drivers/types';
import type { ContainerResource, Plan, ResourceType } from '../plan/types';
import { diffStack, ObservedImages, show } from './diff';
import { replicaName, replicaOf } from './hash';
import { reasonText } from './render';
import type { RenderOptions } from './render';
import { KNOWN_AFTER_APPLY, Reason } from './types';

export type DriftCategory = 'missing' | 'stopped' | 'changed' | 'orphan' | 'image-moved';

/** The categories in the order they are reported and counted. */
export const DRIFT_CATEGORIES: readonly DriftCategory[] = ['missing', 'stopped', 'changed', 'orphan', 'image-moved'];

export interface DriftFinding {
  readonly category: DriftCategory;
  /** Logical id in the plan (for orphans: the `io.cdk-docker.path` label). */
  readonly logicalId: string;
  readonly path: string;
  readonly type: ResourceType;
  /** Runtime name (container name with replica suffix, network or volume name, image ref). */
  readonly name: string;
  /** For containers: which replica (1-based). */
  readonly replica?: number;
  /** What differs, in the diff engine's terms (`before` = the engine's, `after` = the plan's). */
  readonly reasons: Reason[];
}

/** The drift of one stack. */
export interface StackDrift {
  readonly stack: string;
  /** In the plan's dependency order, orphans last. */
  readonly findings: DriftFinding[];
}

export type DriftSummary = { readonly [c in DriftCategory]: number };

/** Fields the drift reports under a category of their own. */
const OWN_CATEGORY_FIELDS = new Set(['status', 'image']);

/** Computes how `observed` departs from `plan`. */
export function driftStack(plan: Plan, observed: ObservedStack, images: ObservedImages, engine: DriverCapabilities): StackDrift {
  const diff = diffStack(plan, observed, images, engine);
  const containersByKey = new Map<string, ObservedContainer>();
  for (const c of observed.containers) containersByKey.set(`${c.labels[LABELS.path] ?? ''}\u0000${c.name}`, c);

  const findings: DriftFinding[] = [];
  for (const change of diff.changes) {
    const base = {
      logicalId: change.logicalId,
      path: change.path,
      type: change.type,
      name: change.name,
      ...(change.replica !== undefined ? { replica: change.replica } : {}),
    };
    if (change.action === 'create') {
      findings.push({ ...base, category: 'missing', reasons: [] });
      continue;
    }
    if (change.action === 'delete') {
      findings.push({ ...base, category: 'orphan', reasons: [] });
      continue;
    }
    if (change.type === 'container') {
      const r = plan.resources[change.logicalId] as ContainerResource;
      const obs = containersByKey.get(`${r.path}\u0000${observedName(observed, r, change.replica ?? 1) ?? ''}`);
      if (obs === undefined) continue; // Not possible: diff claimed it; keep the types honest.
      if (engine.services && change.replica === undefined) {
        // A service: its tasks as a whole (`2/3 running`).
        const tasks = observed.containers.filter((c) => c.labels[LABELS.path] === r.path);
        const running = tasks.filter((c) => isRunningAsPlanned(r, c)).length;
        if (running < tasks.length) {
          findings.push({ ...base, category: 'stopped', reasons: [{ field: 'status', before: `${running}/${tasks.length} tasks running`, after: `${tasks.length}/${tasks.length}`, needs: 'update' }] });
        }
      } else if (!isRunningAsPlanned(r, obs)) {
        findings.push({ ...base, category: 'stopped', reasons: [{ field: 'status', before: showStatus(obs), after: show('running'), needs: 'update' }] });
      }
      const image = images[r.spec.image];
      if (image !== undefined && image.id !== obs.imageId) {
        const ref = plan.resources[r.spec.image]?.name ?? r.spec.image;
        findings.push({ ...base, category: 'image-moved', reasons: [{ field: 'image', before: shortId(obs.imageId), after: `${shortId(image.id)} (${ref} now)`, needs: 'replace' }] });
      }
      const rest = change.reasons.filter((x) => !OWN_CATEGORY_FIELDS.has(x.field) && x.after !== KNOWN_AFTER_APPLY && !/ \(recreated\)$/.test(x.after ?? ''));
      if (rest.length > 0) findings.push({ ...base, category: 'changed', reasons: rest });
      continue;
    }
    if (change.action === 'no-op') continue;
    // Images: a forced pull (pullPolicy always) is policy, not drift.
    const rest = change.reasons.filter((x) => !(change.type === 'image' && x.field === 'pullPolicy'));
    if (rest.length > 0) findings.push({ ...base, category: 'changed', reasons: rest });
  }
  return { stack: plan.stack, findings };
}

/** True when `drift` found anything. */
export function hasDrift(drift: StackDrift): boolean {
  return drift.findings.length > 0;
}

/** How many findings of each category. */
export function summarizeDrift(drift: StackDrift): DriftSummary {
  const out = { missing: 0, stopped: 0, changed: 0, orphan: 0, 'image-moved': 0 };
  for (const f of drift.findings) out[f.category]++;
  return out;
}

/** Whether a container is running, or is a one-shot that completed. */
export function isRunningAsPlanned(r: ContainerResource, obs: ObservedContainer): boolean {
  if (obs.status === 'running' || obs.status === 'restarting') return true;
  const oneShot = r.spec.restart.policy === 'no' || r.spec.restart.policy === 'on-failure';
  return obs.status === 'exited' && obs.exitCode === 0 && oneShot;
}

/** The name of the observed container the diff matched to replica `replica` of `r`. */
function observedName(observed: ObservedStack, r: ContainerResource, replica: number): string | undefined {
  const mine = observed.containers.filter((c) => c.labels[LABELS.path] === r.path && replicaOf(c) === replica);
  // As the diff does: the one with the expected name first, then by name.
  const expected = replicaName(r.name, replica);
  mine.sort((a, b) => (a.name === expected ? 0 : 1) - (b.name === expected ? 0 : 1) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return mine[0]?.name;
}

function showStatus(c: ObservedContainer): string {
  return c.status === 'exited' || c.status === 'dead' ? `${c.status} (exit code ${c.exitCode})` : c.status;
}

function shortId(id: string): string {
  const m = /^(sha256:)?([0-9a-f]{12})[0-9a-f]*$/.exec(id);
  return m ? `${m[1] ?? ''}${m[2]}` : id;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** The label of a category in text output. */
const CATEGORY_TEXT: { readonly [c in DriftCategory]: string } = {
  missing: 'missing',
  stopped: 'stopped',
  changed: 'changed',
  orphan: 'orphan',
  'image-moved': 'image moved',
};

/**
 * The drift as text (ends with a newline), in the style of the diff: one line per finding —
 * category, type, construct path (`:N` for replica N > 1) and runtime name — then one indented
 * line per reason, `field: engine's → plan's`; a summary line ends it.
 */
export function renderDrift(drift: StackDrift, opts: RenderOptions): string {
  const pc = createColors(opts.color);
  const paint: { readonly [c in DriftCategory]: (s: string) => string } = {
    missing: pc.red,
    stopped: pc.yellow,
    changed: pc.magenta,
    orphan: pc.red,
    'image-moved': pc.cyan,
  };
  if (!hasDrift(drift)) return `No drift. Stack ${drift.stack} matches its last synthesized plan.\n`;
  const width = Math.max(...Object.values(CATEGORY_TEXT).map((t) => t.length));
  const lines: string[] = [];
  for (const f of drift.findings) {
    const where = f.replica !== undefined && f.replica > 1 ? `${f.path}:${f.replica}` : f.path;
    lines.push(`  ${paint[f.category](CATEGORY_TEXT[f.category].padEnd(width))} ${f.type} ${pc.bold(where)} (${f.name})`);
    for (const r of f.reasons) lines.push(`      ${reasonText(r)}`);
  }
  const s = summarizeDrift(drift);
  lines.push('', `Drift: ${DRIFT_CATEGORIES.map((c) => `${s[c]} ${CATEGORY_TEXT[c]}`).join(', ')}.`);
  return `${lines.join('\n')}\n`;
}

/** The drift for `--json`: whether there is any, the counts, and every finding. */
export function driftToJson(drift: StackDrift): { stack: string; drift: boolean; summary: DriftSummary; findings: DriftFinding[] } {
  return {
    stack: drift.stack,
    drift: hasDrift(drift),
    summary: summarizeDrift(drift),
    findings: drift.findings.map((f) => ({
      category: f.category,
      logicalId: f.logicalId,
      path: f.path,
      type: f.type,
      name: f.name,
      ...(f.replica !== undefined ? { replica: f.replica } : {}),
      reasons: f.reasons.map((r) => ({ field: r.field, ...(r.before !== undefined ? { before: r.before } : {}), ...(r.after !== undefined ? { after: r.after } : {}), needs: r.needs })),
    })),
  };
}
