import type { Driver, ObservedStack } from '../drivers/types';
import type { Plan } from '../plan/types';
import type { ObservedImages } from '../reconcile/diff';

/** What the engine runs of `plan`'s stack, and its images by logical id. */
export async function observePlan(plan: Plan, driver: Driver): Promise<{ observed: ObservedStack; images: ObservedImages }> {
  const observed = await driver.observe(plan.stack);
  const images: { [id: string]: Awaited<ReturnType<Driver['image']>> } = {};
  for (const [id, r] of Object.entries(plan.resources)) if (r.type === 'image') images[id] = await driver.image(r.name);
  return { observed, images };
}
