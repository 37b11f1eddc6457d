import { bootSeen } from './boot';
import type { ContainerContext } from './context';

/**
 * `restoreIfRebooted` of ./start, which loads the start path (spec, seccomp, conmon) only when
 * this boot has not been seen (or `force`): `ps`, `inspect`, `create` and an apply's
 * observation call it on every run.
 */
export async function restoreIfRebooted(ctx: ContainerContext, force = false): Promise<string[]> {
  if (bootSeen(ctx) && !force) return [];
  return (require('./start') as typeof import('./start')).restoreIfRebooted(ctx, force);
}
