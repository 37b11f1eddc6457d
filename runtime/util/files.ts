import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as lockfile from 'proper-lockfile';

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

/**
 * Runs `fn` holding the lock `lockPath` (a directory proper-lockfile creates). A holder killed
 * with -9 leaves a lock that goes stale after `staleMs` and is then taken over. The lock is
 * refreshed while `fn` runs, so long operations (a stop that waits 10 s) keep it.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T, staleMs = 5_000): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  const release = await lockfile.lock(path.dirname(lockPath), {
    lockfilePath: lockPath,
    retries: { retries: 1_000, minTimeout: 10, maxTimeout: 100 },
    stale: staleMs,
    realpath: false,
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
