import * as path from 'node:path';
import type { Driver } from '../drivers/types';

/**
 * The engine the stack commands (diff, apply, destroy, drift, ps, logs, exec) talk to: the
 * built-in runtime, configured from CDK_DOCKER_ROOT / CDK_DOCKER_RUNROOT. Modules load on first use.
 */

/** The engine, and the per-stack lock that one apply or destroy at a time holds. */
export interface Engine {
  readonly driver: Driver;
  /** Runs `fn` holding `stack`'s lock; a second holder fails at once, naming the first. */
  stackLocked<T>(stack: string, fn: () => Promise<T>): Promise<T>;
}

/** The driver for this command. */
export async function commandDriver(): Promise<Driver> {
  return (await import('../drivers')).driverFor('builtin');
}

/** The driver for this command and its per-stack lock (for commands that change a stack). */
export async function engine(): Promise<Engine> {
  const [driver, { runtimeConfig }, { withLock }] = await Promise.all([commandDriver(), import('../../runtime/config'), import('../../runtime')]);
  const lockDir = path.join(runtimeConfig().root, 'stacks');
  return {
    driver,
    stackLocked: (stack, fn) => withLock(path.join(lockDir, `${stack}.lock`), fn, { noWait: true, busy: `stack ${stack} is being applied by another cdk-docker command` }),
  };
}
