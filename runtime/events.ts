import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { InvalidArgumentError } from '../lib/core/errors';
import { type FilterGroups, groupFilters, matchLabel } from './util/filters';

/**
 * The engine's event log: what `docker events` streams from a daemon, kept by a daemonless engine
 * in a file. Every command that changes a container, image, network or volume appends one line
 * of Docker's event JSON (`Type`, `Action`, `Actor {ID, Attributes}`, `scope`, `time`, `timeNano`,
 * and for containers and images the legacy `status`, `id`, `from`) to `<root>/events/events.log`.
 *
 * Concurrency: each event is ONE `write(2)` of one line to a file opened with O_APPEND, so lines
 * of concurrent writers (CLI commands, conmon's exit command, health loops) never interleave;
 * a line is kept under 4 KiB (long attributes are cut) so no write is split.
 *
 * Size: when the log passes 1 MiB it is renamed to `events.log.1` (replacing the older one), so
 * the log keeps between 1 and 2 MiB — several thousand events, where Docker keeps the last 1000
 * in memory (and none across daemon restarts). One rotator at a time (a lock directory).
 *
 * Times: `timeNano` is rounded down to 256 ns, so it is exactly representable as a JavaScript
 * number (below 2^61) and `{{json .}}` prints the same digits the default line shows.
 *
 * Recording never fails the command that records: an event that cannot be written (disk full,
 * read-only root) is dropped.
 *
 * Compared with a private dockerd 20.10.24 running the same commands (test/runtime/events.test.ts:
 * create/start/pause/unpause/rename/kill/stop/run/restart/rm, exec (attached, detached, failing),
 * commit, start -a, network and volume create/rm, tag, push, pull, rmi, load, save, import), the
 * lines are the same after numbering ids and dropping times, but for these differences, kept:
 * - no connect/disconnect to the `none` and `host` networks (not network objects here);
 * - no `resize` when a terminal attaches (Docker's client resizes twice, to force a redraw);
 * - no `tag` for `build -t`; `image prune -a` logs `delete` without `untag`;
 * - no daemon, plugin, service, node, secret or config events;
 * - kept in a file between 1 and 2 MiB (Docker: the last 1000 in memory, gone on restart);
 * - `timeNano` has 256 ns resolution.
 */

/** Docker's events.Actor. */
export interface EventActor {
  readonly ID: string;
  readonly Attributes: { readonly [key: string]: string };
}

/** Docker's events.Message (API 1.41), as `docker events --format '{{json .}}'` prints it. */
export interface EngineEvent {
  readonly status?: string;
  readonly id?: string;
  readonly from?: string;
  readonly Type: EventType;
  readonly Action: string;
  readonly Actor: EventActor;
  readonly scope: 'local';
  /** Seconds since the epoch. */
  readonly time: number;
  /** Nanoseconds since the epoch (multiple of 256). */
  readonly timeNano: number;
}

export type EventType = 'container' | 'image' | 'network' | 'volume';

/** The log is rotated past this size; one older file is kept. */
export const EVENTS_ROTATE_BYTES = 1024 * 1024;
/** Longest line written (Linux appends one write atomically; this keeps a line one small write). */
const MAX_LINE = 4000;
/** A rotation lock older than this belongs to a dead rotator. */
const ROTATE_LOCK_STALE_MS = 10_000;

export function eventsDir(root: string): string {
  return path.join(root, 'events');
}

export function eventsLog(root: string): string {
  return path.join(eventsDir(root), 'events.log');
}

/** Now, in nanoseconds since the epoch, rounded down to 256 ns. */
export function nowNano(): number {
  const micros = BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
  return Number(((micros * 1000n) >> 8n) << 8n);
}

/** Builds an event (not yet written). */
export function makeEvent(type: EventType, action: string, id: string, attributes: { readonly [key: string]: string | undefined } = {}, timeNano = nowNano()): EngineEvent {
  const attrs: { [key: string]: string } = {};
  // Sorted, as Go marshals a map.
  for (const k of Object.keys(attributes).sort()) if (attributes[k] !== undefined) attrs[k] = attributes[k]!;
  const legacy = type === 'container' ? { status: action, id, from: attrs.image ?? '' } : type === 'image' ? { status: action, id } : {};
  return { ...legacy, Type: type, Action: action, Actor: { ID: id, Attributes: attrs }, scope: 'local', time: Math.floor(timeNano / 1e9), timeNano };
}

/**
 * Appends one event to the state root's log. Never throws: the operation it reports happened.
 * `attributes` with undefined values are left out.
 */
export function recordEvent(root: string, type: EventType, action: string, id: string, attributes: { readonly [key: string]: string | undefined } = {}): void {
  try {
    appendEvent(root, makeEvent(type, action, id, attributes));
  } catch {
    // Dropped: see the module comment.
  }
}

/** A container's event attributes as Docker gives them: its labels, then image and name (and `extra`). */
export function containerAttributes(
  record: { readonly Name: string; readonly Config: { readonly Image: string; readonly Labels?: { readonly [k: string]: string } | null } },
  extra: { readonly [key: string]: string | undefined } = {},
): { [key: string]: string | undefined } {
  return { ...(record.Config.Labels ?? {}), image: record.Config.Image, name: record.Name, ...extra };
}

/** Records a container event (`create`, `start`, `die` …) for a container record. */
export function recordContainerEvent(
  root: string,
  action: string,
  record: { readonly Id: string; readonly Name: string; readonly Config: { readonly Image: string; readonly Labels?: { readonly [k: string]: string } | null } },
  extra: { readonly [key: string]: string | undefined } = {},
): void {
  recordEvent(root, 'container', action, record.Id, containerAttributes(record, extra));
}

/** Writes `event` as one line with one O_APPEND write, rotating the log first when it is full. */
export function appendEvent(root: string, event: EngineEvent): void {
  const dir = eventsDir(root);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = eventsLog(root);
  try {
    rotateIfFull(file);
  } catch {
    // A log that could not be rotated still takes the event: it only grows past its bound.
  }
  const line = Buffer.from(`${serialize(event)}\n`, 'utf8');
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, line);
  } finally {
    fs.closeSync(fd);
  }
}

/** One JSON line under MAX_LINE bytes: attribute values are cut (longest first) until it fits. */
function serialize(event: EngineEvent): string {
  let text = JSON.stringify(event);
  if (Buffer.byteLength(text) <= MAX_LINE) return text;
  const attrs = { ...event.Actor.Attributes };
  for (let budget = 512; budget >= 0; budget = budget === 0 ? -1 : Math.floor(budget / 2)) {
    for (const k of Object.keys(attrs)) if (attrs[k].length > budget) attrs[k] = `${attrs[k].slice(0, budget)}…`;
    text = JSON.stringify({ ...event, Actor: { ID: event.Actor.ID.slice(0, 256), Attributes: attrs } });
    if (Buffer.byteLength(text) <= MAX_LINE) return text;
  }
  return JSON.stringify({ ...event, Actor: { ID: event.Actor.ID.slice(0, 256), Attributes: {} } });
}

/** The log's size; 0 when there is none (a rotation just renamed it, and no one has written since). */
function logSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/**
 * Renames a full log to `events.log.1` under a lock directory; a busy lock means someone else
 * rotates. The size is looked at again under the lock: a writer that saw the log full may take
 * the lock just after another rotated it, when there is a new small log or none at all.
 */
function rotateIfFull(file: string): void {
  if (logSize(file) < EVENTS_ROTATE_BYTES) return;
  const lock = `${file}.rotating`;
  try {
    fs.mkdirSync(lock, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs > ROTATE_LOCK_STALE_MS) fs.rmdirSync(lock);
    } catch {
      // Another writer took it over first.
    }
    return;
  }
  try {
    if (logSize(file) >= EVENTS_ROTATE_BYTES) fs.renameSync(file, `${file}.1`);
  } finally {
    fs.rmdirSync(lock);
  }
}

/** Parses one log line; undefined for a line that is not an event (a torn write after a crash). */
export function parseEventLine(line: string): EngineEvent | undefined {
  if (line.trim() === '') return undefined;
  try {
    const e = JSON.parse(line) as EngineEvent;
    if (typeof e !== 'object' || e === null || typeof e.Type !== 'string' || typeof e.Action !== 'string' || typeof e.timeNano !== 'number' || typeof e.Actor?.ID !== 'string') return undefined;
    return { ...e, Actor: { ID: e.Actor.ID, Attributes: e.Actor.Attributes && typeof e.Actor.Attributes === 'object' ? e.Actor.Attributes : {} } };
  } catch {
    return undefined;
  }
}

/**
 * Every event in the log (the rotated file first), oldest first; with `upTo`, those before that
 * cursor (what `readEventsSince(root, upTo)` then reads is the rest, without a gap or a repeat).
 */
export function readEvents(root: string, upTo?: EventCursor): EngineEvent[] {
  const file = eventsLog(root);
  const out: EngineEvent[] = [];
  for (const f of [`${file}.1`, file]) {
    // No log at the cursor's time: whatever it has now came after.
    if (upTo?.ino === 0 && f === file) break;
    let bytes: Buffer;
    let ino: number;
    try {
      const fd = fs.openSync(f, 'r');
      try {
        ino = fs.fstatSync(fd).ino;
        bytes = fs.readFileSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    // Up to a cursor: the file it points into ends at its offset, and what came after that file is not read.
    const last = upTo !== undefined && ino === upTo.ino;
    for (const line of (last ? bytes.subarray(0, upTo.offset) : bytes).toString('utf8').split('\n')) {
      const e = parseEventLine(line);
      if (e) out.push(e);
    }
    if (last) break;
  }
  return out;
}

/** Where a follower has read up to: the log file (by inode) and the offset after its last whole line. */
export interface EventCursor {
  ino: number;
  offset: number;
}

/** A cursor at the end of the log now (what `readEvents` returned is before it). */
export function endCursor(root: string): EventCursor {
  try {
    const st = fs.statSync(eventsLog(root));
    return { ino: st.ino, offset: st.size };
  } catch {
    return { ino: 0, offset: 0 };
  }
}

/**
 * The events written since `cursor`, and the cursor after them. A log rotated meanwhile is read
 * to its end (as `events.log.1`) before the new one; a line still being written is left for the
 * next call.
 */
export function readEventsSince(root: string, cursor: EventCursor): { events: EngineEvent[]; cursor: EventCursor } {
  const file = eventsLog(root);
  const events: EngineEvent[] = [];
  const readFrom = (f: string, offset: number): number => {
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch {
      return offset;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return size < offset ? 0 : offset;
      const buf = Buffer.alloc(size - offset);
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      const text = buf.subarray(0, n).toString('utf8');
      const end = text.lastIndexOf('\n');
      if (end < 0) return offset;
      for (const line of text.slice(0, end).split('\n')) {
        const e = parseEventLine(line);
        if (e) events.push(e);
      }
      return offset + Buffer.byteLength(text.slice(0, end + 1));
    } finally {
      fs.closeSync(fd);
    }
  };
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    st = undefined;
  }
  let { ino, offset } = cursor;
  if (!st || st.ino !== ino) {
    // Rotated (or created) since: finish the old file if it is the rotated one, then start the new.
    try {
      if (ino !== 0 && fs.statSync(`${file}.1`).ino === ino) readFrom(`${file}.1`, offset);
    } catch {
      // No rotated file.
    }
    if (!st) return { events, cursor: { ino: 0, offset: 0 } };
    ino = st.ino;
    offset = 0;
  }
  offset = readFrom(file, offset);
  return { events, cursor: { ino, offset } };
}

// --- filters ---------------------------------------------------------------------------------

/** The keys of `events --filter` the engine knows (Docker's, without swarm's and plugins'). */
export const EVENT_FILTER_KEYS = ['container', 'event', 'image', 'label', 'network', 'scope', 'type', 'volume'] as const;

/** Parses `--filter KEY=VALUE` arguments of `events`. */
export function parseEventFilters(args: readonly string[]): FilterGroups {
  const groups = groupFilters(args, EVENT_FILTER_KEYS, 'events');
  for (const t of groups.get('type') ?? []) {
    if (!['container', 'image', 'network', 'volume', 'daemon', 'plugin', 'service', 'node', 'secret', 'config'].includes(t)) {
      throw new InvalidArgumentError(`invalid filter 'type=${t}': use type=container, type=image, type=network or type=volume`);
    }
  }
  for (const s of groups.get('scope') ?? []) {
    if (s !== 'local' && s !== 'swarm') throw new InvalidArgumentError(`invalid filter 'scope=${s}': use scope=local or scope=swarm`);
  }
  return groups;
}

/** Docker's events filter (daemon/events/filter.go): keys AND, values of one key OR, labels all. */
export function matchEvent(e: EngineEvent, f: FilterGroups): boolean {
  const exact = (key: string, ...sources: Array<string | undefined>) => {
    const values = f.get(key);
    return values === undefined || values.some((v) => sources.some((s) => s !== undefined && s === v));
  };
  const fuzzy = (key: string) => {
    const values = f.get(key);
    const sources = [e.Actor.ID, e.Actor.Attributes.name].filter((s): s is string => s !== undefined);
    return values === undefined || values.some((v) => sources.some((s) => s === v || s.startsWith(v)));
  };
  const events = f.get('event');
  const action = events?.some((v) => ['health_status', 'exec_create', 'exec_start'].includes(v)) ? events.some((v) => e.Action.startsWith(v)) : exact('event', e.Action);
  const imageName = e.Type === 'image' ? e.Actor.Attributes.name : e.Actor.Attributes.image;
  return (
    action &&
    exact('type', e.Type) &&
    exact('scope', e.scope) &&
    fuzzy('container') &&
    fuzzy('network') &&
    fuzzy('volume') &&
    exact('image', e.Actor.ID, imageName, stripTag(e.Actor.ID), stripTag(imageName)) &&
    (f.get('label') ?? []).every((l) => matchLabel(e.Actor.Attributes, l))
  );
}

/** `name:tag` → `name` (Docker's stripTag for the image filter); digests and ids stay. */
function stripTag(ref: string | undefined): string | undefined {
  if (ref === undefined || ref.startsWith('sha256:') || ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? ref.slice(0, colon) : ref;
}

/** Docker's default `events` line: `TIME TYPE ACTION ID (k=v, …)`, attributes sorted by key. */
export function formatEventLine(e: EngineEvent): string {
  const attrs = Object.keys(e.Actor.Attributes)
    .sort()
    .map((k) => `${k}=${e.Actor.Attributes[k]}`);
  return `${formatNano(e.timeNano)} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs.length ? ` (${attrs.join(', ')})` : ''}`;
}

/** RFC 3339 with nine digits of fraction and `Z` (Go's RFC3339NanoFixed in UTC). */
export function formatNano(timeNano: number): string {
  const ns = BigInt(timeNano);
  const secs = ns / 1_000_000_000n;
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(secs) * 1000).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Records an image event: Docker's `name` attribute, with the image's labels when it is known. */
export function recordImageEvent(root: string, action: string, id: string, name: string, labels?: { readonly [k: string]: string } | null): void {
  recordEvent(root, 'image', action, id, { ...(labels ?? {}), name });
}
