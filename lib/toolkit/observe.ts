import type { Driver, ObservedContainer, ObservedStack } from '../drivers/types';
import { LABELS } from '../drivers/types';
import { replicaOf } from '../reconcile/hash';
import type { Plan } from '../plan/types';
import type { ObservedImages } from '../reconcile/diff';
import { replicaName } from '../reconcile/hash';

/**
 * What the engine runs of `plan`'s stack, and its images by logical id. `early`: the stack as
 * observed earlier in the same command (undefined when that observation failed). Where a plan resource has
 * no object of the stack yet, the driver is also asked for an object of its name without
 * cdk-docker's labels (`unmanaged`): the diff adopts it instead of creating a duplicate.
 */
export async function observePlan(plan: Plan, driver: Driver, early?: Promise<ObservedStack | undefined>): Promise<{ observed: ObservedStack; images: ObservedImages }> {
  // An observation made earlier in this command (while the app ran), else one now.
  const stack = (await early) ?? (await driver.observe(plan.stack));
  const images: { [id: string]: Awaited<ReturnType<Driver['image']>> } = {};
  for (const [id, r] of Object.entries(plan.resources)) if (r.type === 'image') images[id] = await driver.image(r.name);
  const have = {
    containers: new Set(stack.containers.map((c) => c.name)),
    networks: new Set(stack.networks.map((n) => n.name)),
    volumes: new Set(stack.volumes.map((v) => v.name)),
  };
  const missing = { containers: [] as string[], networks: [] as string[], volumes: [] as string[] };
  for (const r of Object.values(plan.resources)) {
    if (r.type === 'container') {
      for (let i = 1; i <= r.spec.replicas; i++) if (!have.containers.has(replicaName(r.name, i))) missing.containers.push(replicaName(r.name, i));
    } else if (r.type === 'network' && !have.networks.has(r.name)) missing.networks.push(r.name);
    else if (r.type === 'volume' && !have.volumes.has(r.name)) missing.volumes.push(r.name);
  }
  const any = missing.containers.length + missing.networks.length + missing.volumes.length > 0;
  if (!any || !driver.unmanaged) return { observed: stack, images };
  const unmanaged = await driver.unmanaged(missing);
  const found = unmanaged.containers.length + unmanaged.networks.length + unmanaged.volumes.length > 0;
  return { observed: found ? { ...stack, unmanaged } : stack, images };
}

/** How a container is named within its stack: its construct path, `:N` for replica N > 1. */
export function stackPathOf(c: ObservedContainer): string {
  const r = replicaOf(c);
  return `${c.labels[LABELS.path] ?? '?'}${r > 1 ? `:${r}` : ''}`;
}
