import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Driver } from '../drivers/types';
import { InvalidArgumentError } from '../core/errors';
import type { EngineChoice } from '../toolkit/engine';

/**
 * The engine the stack commands (diff, apply, destroy, drift, ps, logs, exec) talk to: the driver
 * `driverFor` makes for the engine's name (`builtin`, the default; an unknown name is refused,
 * naming the known ones) from this process's environment and, for Docker, cdk-docker.json's
 * endpoint settings; its stack lock is the driver's (`lockStack`: where every user of that
 * engine sees it). Modules load on first use.
 */

/** The engine, and the per-stack lock that one apply or destroy at a time holds. */
export interface Engine {
  readonly driver: Driver;
  /** Runs `fn` holding `stack`'s lock (the driver's); a second holder fails at once, naming the first. */
  stackLocked<T>(stack: string, fn: () => Promise<T>): Promise<T>;
  /** The key that signs saved plans (`diff --out`) and authenticates them (`apply --plan`). */
  planKey(): Buffer;
}

/** The driver of the chosen engine. */
export async function commandDriver(choice: EngineChoice = { name: 'builtin' }): Promise<Driver> {
  return (await import('../drivers/select')).driverFor(choice.name, process.env, { docker: choice.docker, swarm: choice.swarm });
}

/** The driver of the chosen engine and its per-stack lock (for commands that change a stack). */
export async function engine(choice: EngineChoice = { name: 'builtin' }): Promise<Engine> {
  const [driver, { runtimeConfig }] = await Promise.all([commandDriver(choice), import('../../runtime')]);
  return {
    driver,
    stackLocked: (stack, fn) => driver.lockStack(stack, fn),
    // The key is this machine's (it signs what was reviewed here), kept in the local state root.
    planKey: () => planKey(runtimeConfig().root),
  };
}

/**
 * The plan key: `CDK_DOCKER_PLAN_KEY` when set (the same secret in the CI job that plans and the
 * one that applies), else 32 random bytes made on first use in the engine's state root, readable
 * by its owner only. Whoever can read it can sign a plan; whoever cannot, cannot forge one.
 */
export function planKey(root: string): Buffer {
  const given = process.env.CDK_DOCKER_PLAN_KEY;
  if (given !== undefined) {
    if (given.length < 16) throw new InvalidArgumentError(`CDK_DOCKER_PLAN_KEY has ${given.length} characters: give a secret of at least 16 (e.g. \`openssl rand -hex 32\`)`);
    return Buffer.from(given, 'utf8');
  }
  const file = path.join(root, 'plan.key');
  const read = (): Buffer | undefined => {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new InvalidArgumentError(`cannot read the plan key ${file} (${(e as Error).message}); run as the user who owns the engine's state`);
    }
  };
  let key = read();
  if (!key) {
    // Made aside and linked into place: two first users at once end up with the same key.
    fs.mkdirSync(root, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    fs.writeFileSync(tmp, randomBytes(32), { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    key = read()!;
  }
  if (key.length !== 32) throw new InvalidArgumentError(`the plan key ${file} is damaged (${key.length} bytes, not 32); remove it (saved plans made with it can no longer be applied) or set CDK_DOCKER_PLAN_KEY`);
  return key;
}
