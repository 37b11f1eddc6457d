/**
 * Dependency order of a plan's resources.
 *
 * A resource comes after everything in its `dependsOn`. Among resources that are ready at the
 * same time, images come first, then networks, volumes and containers, each by logical id, so
 * the order is deterministic. A cycle (which validation should have refused) does not hang:
 * the resources left are appended in that same tie-break order.
 */

import type { Plan, ResourceType } from '../plan/types';

/** Images, then networks, volumes, containers. */
export const TYPE_RANK: { readonly [t in ResourceType]: number } = { image: 0, network: 1, volume: 2, container: 3 };

/** Logical ids of `plan` in dependency order. */
export function dependencyOrder(plan: Plan): string[] {
  const ids = Object.keys(plan.resources);
  const cmp = (a: string, b: string): number =>
    TYPE_RANK[plan.resources[a].type] - TYPE_RANK[plan.resources[b].type] || (a < b ? -1 : a > b ? 1 : 0);
  const pending = new Map<string, Set<string>>();
  for (const id of ids) {
    pending.set(id, new Set(plan.resources[id].dependsOn.filter((d) => d !== id && plan.resources[d] !== undefined)));
  }
  const out: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending.entries()].filter(([, deps]) => deps.size === 0).map(([id]) => id).sort(cmp);
    const next = ready.length > 0 ? ready[0] : [...pending.keys()].sort(cmp)[0];
    out.push(next);
    pending.delete(next);
    for (const deps of pending.values()) deps.delete(next);
  }
  return out;
}
