import type { Driver, ObservedContainer, ObservedStack } from '../drivers/types';
import { LABELS } from '../drivers/types';
import { replicaOf } from '../reconcile/hash';
import type { Plan } from '../plan/types';
import type { ObservedImages } from '../reconcile/diff';

/** What the engine runs of `plan`'s stack, and its images by logical id. */
export async function observePlan(plan: Plan, driver: Driver): Promise<{ observed: ObservedStack; images: ObservedImages }> {
  const observed = await driver.observe(plan.stack);
  const images: { [id: string]: Awaited<ReturnType<Driver['image']>> } = {};
  for (const [id, r] of Object.entries(plan.resources)) if (r.type === 'image') images[id] = await driver.image(r.name);
  return { observed, images };
}

/** How a container is named within its stack: its construct path, `:N` for replica N > 1. */
export function stackPathOf(c: ObservedContainer): string {
  const r = replicaOf(c);
  return `${c.labels[LABELS.path] ?? '?'}${r > 1 ? `:${r}` : ''}`;
}
