import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as Lockfile from 'proper-lockfile';
import { ConflictError } from '../../lib/core/errors';
import { processIdentity } from '../../lib/core/process';

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
  cachedFiles.delete(file);
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
 * Parsed JSON files kept between reads in one process, each read again only when its file is
 * another (inode, mtime, ctime, size): writeJsonAtomic makes a new inode, and forgets what this
 * process kept of the file. (Timestamps are as coarse as the kernel's tick and a freed inode
 * number can come back: another process would have to replace a file twice within one tick,
 * the second time with the first inode's number and the same size, for a stale read; this
 * process's own writes cannot cause one.) For stores whose every command scans all their
 * records (a container's create checks every name). What it returns is frozen and shared by
 * every caller: copy to change (as the stores' writers do).
 */
export class JsonFileCache<T> {
  private readonly entries = cachedFiles as Map<string, { readonly key: string; readonly value: T }>;

  /** `parse` turns a file's text into its value (and says what is wrong with a bad one). */
  constructor(private readonly parse: (text: string, file: string) => T = (text) => JSON.parse(text) as T) {}

  /** The file's content, undefined when there is none. */
  public read(file: string): T | undefined {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) {
      this.entries.delete(file);
      return undefined;
    }
    const key = `${st.ino}:${st.mtimeMs}:${st.ctimeMs}:${st.size}`;
    const hit = this.entries.get(file);
    if (hit?.key === key) return hit.value;
    // Replaced between the stat and the read: the next read sees another key and reads again.
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.entries.delete(file);
      return undefined;
    }
    const value = deepFreeze(this.parse(text, file));
    this.entries.set(file, { key, value });
    return value;
  }
}

/** What every JsonFileCache of this process holds, by file (a file is read by one kind of cache). */
const cachedFiles = new Map<string, { readonly key: string; readonly value: unknown }>();

/**
 * Deletes `file` (a record a JsonFileCache may hold) and what this process kept of it: a
 * long-lived process (`watch`) would otherwise keep every removed container's record.
 */
export function removeCachedFile(file: string): void {
  cachedFiles.delete(file);
  fs.rmSync(file, { force: true });
}

/** Whether this process keeps `file`'s content (for the tests of the above). */
export function isFileCached(file: string): boolean {
  return cachedFiles.has(file);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** The locks this async context holds, so a holder can call code that takes the same lock. */
const held = new AsyncLocalStorage<ReadonlySet<string>>();

export interface LockOptions {
  /** A lock not refreshed for this long belongs to a dead holder and is taken over. @default 5000 */
  readonly staleMs?: number;
  /** The error message when the lock stays busy for the whole wait (about 100 s). */
  readonly busy?: string;
  /**
   * Fail at once when the lock is held by a live process (ConflictError naming the holder: pid,
   * host, since), instead of waiting for it. A dead holder's lock is still taken over.
   * @default false
   */
  readonly noWait?: boolean;
}

/** Who holds a lock, from the note in it. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/**
 * Runs `fn` holding the lock `lockPath` (a directory proper-lockfile creates), across processes
 * and re-entrant within one async context. The holder writes its pid (and the process's start
 * time, against pid reuse) into the lock, so a lock whose holder was killed with -9 is taken
 * over at once; a lock without that note (its holder died between creating the lock and
 * writing it) goes stale after `staleMs` — with `noWait` too, which waits that long for a
 * note-less lock rather than failing without a holder to name. The lock is refreshed while
 * `fn` runs, so long operations (a stop that waits 10 s) keep it.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
  const mine = held.getStore();
  if (mine?.has(lockPath)) return fn();
  const deadline = Date.now() + LOCK_WAIT_MS;
  if (options.noWait) return lockAndRun(lockPath, fn, options, mine, deadline);
  // Waiters of this process queue here, so that each takes the lock as soon as the one before
  // lets go, instead of polling the lock directory with back-off (up to 100 ms lost per hand-over:
  // an apply's containers take the network locks one after another).
  const before = queues.get(lockPath) ?? Promise.resolve();
  let done!: () => void;
  const turn = new Promise<void>((resolve) => (done = resolve));
  const tail = before.then(() => turn);
  queues.set(lockPath, tail);
  try {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ConflictError(options.busy ?? `${lockPath} is held by another cdk-docker command; retry when it has finished`)), LOCK_WAIT_MS);
    });
    await Promise.race([before, expired]).finally(() => clearTimeout(timer));
    return await lockAndRun(lockPath, fn, options, mine, deadline);
  } finally {
    done();
    if (queues.get(lockPath) === tail) queues.delete(lockPath);
  }
}

/** The waiters of this process for each lock path, in order (the tail of each queue). */
const queues = new Map<string, Promise<void>>();

async function lockAndRun<T>(lockPath: string, fn: () => Promise<T> | T, options: LockOptions, mine: ReadonlySet<string> | undefined, deadline: number): Promise<T> {
  fs.mkdirSync(path.dirname(lockPath), { recursive: true, mode: 0o700 });
  const staleMs = options.staleMs ?? 5_000;
  // A lock without a note is being taken right now, or its taker died before writing the note:
  // a `noWait` caller waits until the note appears or the lock goes stale.
  const noteDeadline = Date.now() + staleMs + 1_000;
  let release: () => Promise<void>;
  for (let attempt = 0; ; attempt++) {
    try {
      // proper-lockfile keeps its bookkeeping per locked path: each lock must be its own path
      // (locking a shared directory with several lockfilePaths mixes their releases up).
      release = await (require('proper-lockfile') as typeof Lockfile).lock(lockPath, { lockfilePath: lockPath, retries: 0, stale: staleMs, realpath: false });
      break;
    } catch (e) {
      // ENOTEMPTY: proper-lockfile found the lock stale but could not rmdir it (a note left in it).
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED' && code !== 'ENOTEMPTY') throw e;
      if (takeOverDeadLock(lockPath, staleMs)) continue;
      if (options.noWait) {
        const h = lockHolder(lockPath);
        if (!h && Date.now() < noteDeadline) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw new ConflictError(`${options.busy ?? `${lockPath} is held by another cdk-docker command`}${h ? ` (pid ${h.pid} on ${h.host}, since ${h.since})` : ''}; wait for it to finish`);
      }
      if (Date.now() > deadline) throw new ConflictError(options.busy ?? `${lockPath} is held by another cdk-docker command; retry when it has finished`);
      await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** attempt, 100)));
    }
  }
  const owner = path.join(lockPath, OWNER);
  // One write of a few bytes into a file of the lock just made: a reader sees it empty or whole
  // (readNote takes a note without its final newline for none), so no temporary file and rename
  // (an apply takes hundreds of locks). Writing it changes the lock directory's mtime, which
  // proper-lockfile checks as its own when it refreshes the lock (every staleMs / 2): put it
  // back, or a lock held that long is "compromised" and the process dies.
  const { atime, mtime } = fs.statSync(lockPath);
  fs.writeFileSync(owner, `${processIdentity(process.pid) ?? String(process.pid)}\n${os.hostname()} ${new Date().toISOString()}\n`, { mode: 0o644 });
  fs.utimesSync(lockPath, atime, mtime);
  try {
    return await held.run(new Set([...(mine ?? []), lockPath]), fn);
  } finally {
    fs.rmSync(owner, { force: true });
    await release();
  }
}

const LOCK_WAIT_MS = 100_000;

/** The holder named in a lock's note, if it can be read. */
export function lockHolder(lockPath: string): LockHolder | undefined {
  const note = readNote(lockPath);
  if (note === undefined) return undefined;
  try {
    const [ident, where = ''] = note.split('\n');
    const [host = '?', since = '?'] = where.split(' ');
    const pid = Number(ident.split(' ')[0]);
    return Number.isInteger(pid) && pid > 0 ? { pid, host, since } : undefined;
  } catch {
    return undefined;
  }
}
const OWNER = 'owner';

/**
 * Removes `lockPath` when the process that holds it is gone; true when the caller should try
 * again at once. A lock with a note is dead when the process it names is; a lock without one
 * (its taker died before writing it) when it has not been refreshed for `staleMs`. The lock is
 * renamed away first and checked to be the same one (same directory, same note), so a lock
 * another process has just taken is not removed by mistake.
 */
function takeOverDeadLock(lockPath: string, staleMs: number): boolean {
  let before: fs.Stats;
  try {
    before = fs.statSync(lockPath);
  } catch {
    return true; // gone already: try again
  }
  const note = readNote(lockPath);
  const ident = note?.split('\n')[0];
  const pid = ident === undefined ? NaN : Number(ident.split(' ')[0]);
  if (Number.isInteger(pid) && pid > 0) {
    if (processIdentity(pid) === ident) return false;
  } else if (before.mtimeMs > Date.now() - staleMs) return false;
  const aside = `${lockPath}.dead-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockPath, aside);
  } catch {
    return true; // someone else moved it first
  }
  let same = false;
  try {
    same = fs.statSync(aside).ino === before.ino && readNote(aside) === note;
  } catch {
    // not the lock we looked at
  }
  if (same) fs.rmSync(aside, { recursive: true, force: true });
  else {
    try {
      fs.renameSync(aside, lockPath);
    } catch {
      fs.rmSync(aside, { recursive: true, force: true });
    }
  }
  return true;
}

/** A lock's note, whole (ending in a newline: the one write that makes it may not have happened yet). */
function readNote(lockPath: string): string | undefined {
  try {
    const note = fs.readFileSync(path.join(lockPath, OWNER), 'utf8');
    return note.endsWith('\n') ? note : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes of a directory tree as Docker counts them: non-empty non-directories, hard links once. */
export async function dataSize(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    let entries: fs.Dirent[];
    try {
      entries = await fs.promises.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        await walk(p);
        continue;
      }
      let st: fs.Stats;
      try {
        st = await fs.promises.lstat(p);
      } catch {
        continue;
      }
      const key = `${st.dev}:${st.ino}`;
      if (st.size === 0 || seen.has(key)) continue;
      seen.add(key);
      total += st.size;
    }
  };
  await walk(dir);
  return total;
}
