import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';
import { ConflictError } from '../../lib/util/errors';

/**
 * Crash-safe metadata: every record is written to a temporary file beside it and renamed into
 * place, so a reader sees the old or the new content, never a torn one; writers serialise on a
 * lock directory that goes stale (and is taken over) when its holder dies.
 */

/** Writes `data` as JSON to `file` atomically. */
export function writeJsonAtomic(file: string, data: unknown, mode = 0o600): void {
  writeFileAtomic(file, JSON.stringify(data), mode);
}

/** Writes `content` to `file` atomically. */
export function writeFileAtomic(file: string, content: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, content, { mode });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Reads a JSON file, or undefined when it does not exist. */
export function readJsonIfExists<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** The locks this async context holds, so a holder can call code that takes the same lock. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

export interface LockOptions {
  /** A lock not refreshed for this long belongs to a dead holder and is taken over. @default 5000 */
  readonly staleMs?: number;
  /** The error message when the lock stays busy for the whole wait (about 100 s). */
  readonly busy?: string;
}

/**
 * Runs `fn` holding the lock `lockPath` (a directory proper-lockfile creates), across processes
 * and re-entrant within one async context. A holder killed with -9 leaves a lock that goes stale
 * after `staleMs` and is then taken over. The lock is refreshed while `fn` runs, so long
 * operations (a stop that waits 10 s) keep it.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const mine = held.getStore();
  if (mine?.has(lockPath)) return fn();
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  let release: () => Promise<void>;
  try {
    // proper-lockfile keeps its bookkeeping per locked path: each lock must be its own path
    // (locking a shared directory with several lockfilePaths mixes their releases up).
    release = await lockfile.lock(lockPath, {
      lockfilePath: lockPath,
      retries: { retries: 1_000, minTimeout: 10, maxTimeout: 100 },
      stale: options.staleMs ?? 5_000,
      realpath: false,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new ConflictError(options.busy ?? `${lockPath} is held by another cdk-docker command; retry when it has finished`);
    }
    throw e;
  }
  try {
    return await held.run(new Set([...(mine ?? []), lockPath]), fn);
  } finally {
    await release();
  }
}
