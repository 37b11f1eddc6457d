/**
 * How a diff is shown: plain text in the style of `terraform plan`, and JSON for `--json`.
 *
 * Text: one line per resource that changes — `+` create, `~` update in place, `-/+` replace,
 * `-` delete — with its type, construct path and runtime name, then one indented line per
 * reason, `field: before → after`, marked `(forces replacement)` when that field is why the
 * resource is replaced, or with what an update does to a service's tasks (`(rolls tasks)`,
 * `(scale only)`, `(metadata only)`). No-ops are not listed. A summary line ends it.
 */

import { createColors } from 'picocolors';
import type { Change, ChangeAction, Reason, StackDiff } from './types';

export interface RenderOptions {
  /** ANSI colours. */
  readonly color: boolean;
}

/** How many changes of each kind a diff has. */
export interface DiffSummary {
  readonly add: number;
  readonly change: number;
  readonly replace: number;
  readonly destroy: number;
  /** Existing objects without our labels that become the stack's (present only when there are some). */
  readonly adopt?: number;
}

const SYMBOL: { readonly [a in ChangeAction]: string } = { create: '  +', update: '  ~', replace: '-/+', delete: '  -', 'no-op': '   ', adopt: ' <=' };
const ABSENT = '(none)';

/** Counts of changes by kind. */
export function summarize(diff: StackDiff): DiffSummary {
  const n = (a: ChangeAction): number => diff.changes.filter((c) => c.action === a).length;
  const adopt = n('adopt');
  return { add: n('create'), change: n('update'), replace: n('replace'), destroy: n('delete'), ...(adopt > 0 ? { adopt } : {}) };
}

/** True when applying `diff` would do anything. */
export function hasChanges(diff: StackDiff): boolean {
  return diff.changes.some((c) => c.action !== 'no-op');
}

/** A reason as shown under its resource: `field: engine's → plan's`. */
export function reasonText(r: Reason): string {
  return `${r.field}: ${r.before ?? ABSENT} → ${r.after ?? ABSENT}`;
}

/** The diff as text (ends with a newline). */
export function renderDiff(diff: StackDiff, opts: RenderOptions): string {
  const pc = createColors(opts.color);
  const paint: { readonly [a in ChangeAction]: (s: string) => string } = {
    create: pc.green,
    update: pc.yellow,
    replace: pc.magenta,
    delete: pc.red,
    'no-op': (s) => s,
    adopt: pc.cyan,
  };
  if (!hasChanges(diff)) return 'No changes. The stack matches the plan.\n';
  const lines: string[] = [];
  for (const c of diff.changes) {
    if (c.action === 'no-op') continue;
    const how =
      c.adopt === undefined
        ? ''
        : c.adopt.by === 'conflict'
          ? ` adopt refused: exists without cdk-docker's labels and ${c.adopt.note ?? 'its settings differ from the plan'}; make the code match it (cdk-docker import containers) or rename it`
          : c.adopt.by === 'replace'
            ? ` adopt (replace: ${c.adopt.note ?? 'the engine cannot relabel'})`
            : c.adopt.by === 'record'
              ? ' adopt (kept as it is, recorded)'
              : ' adopt';
    lines.push(`${paint[c.action](SYMBOL[c.action])} ${c.type} ${pc.bold(c.path)} (${c.name})${paint[c.action](how)}`);
    for (const r of c.reasons) {
      const forces = (c.action === 'replace' || c.adopt?.by === 'replace') && r.needs === 'replace';
      const note = forces ? (c.type === 'volume' ? ' (forces replacement: the volume and its data are deleted; apply needs --allow-data-loss)' : ' (forces replacement)') : r.effect ? ` (${r.effect})` : '';
      lines.push(`      ${reasonText(r)}${forces ? pc.red(note) : note}`);
    }
  }
  const s = summarize(diff);
  lines.push('', `Plan: ${s.adopt ? `${s.adopt} to adopt, ` : ''}${s.add} to add, ${s.change} to change, ${s.replace} to replace, ${s.destroy} to destroy.`);
  return `${lines.join('\n')}\n`;
}

/** The diff for `--json`: every change (no-ops included) and the summary. */
export function diffToJson(diff: StackDiff): { stack: string; summary: DiffSummary; changes: Change[] } {
  return {
    stack: diff.stack,
    summary: summarize(diff),
    changes: diff.changes.map((c) => ({
      logicalId: c.logicalId,
      path: c.path,
      type: c.type,
      name: c.name,
      action: c.action,
      ...(c.replica !== undefined ? { replica: c.replica } : {}),
      ...(c.adopt !== undefined ? { adopt: c.adopt } : {}),
      reasons: c.reasons.map((r) => ({ field: r.field, ...(r.before !== undefined ? { before: r.before } : {}), ...(r.after !== undefined ? { after: r.after } : {}), needs: r.needs, ...(r.effect !== undefined ? { effect: r.effect } : {}) })),
    })),
  };
}
