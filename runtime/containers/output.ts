import * as fs from 'node:fs';
import { CdkDockerError, InvalidArgumentError } from '../../lib/core/errors';
import type { ContainerContext } from './context';
import { followLog, LogDriver, LogLine, logSize, parseLog, pickLines, readLog, syncJsonLog } from './logs';

/**
 * A container's output as `logs` reads it: conmon's k8s-file log (a `json-file` container's
 * Docker file is written from it, see logs.ts), the lines picked by tail and time, and followed
 * while the container runs (or may run again: a restart).
 */

/** The log driver of a container (`none` keeps nothing to read). */
export function logDriverOf(ctx: ContainerContext, id: string): LogDriver {
  return ctx.store.record(id).HostConfig.LogDriver ?? 'k8s-file';
}

/**
 * Brings a json-file container's `<id>-json.log` up to date with conmon's k8s-file log (conmon
 * has no json-file writer): called when the container stops and before `logs` reads.
 */
export function syncContainerJsonLog(ctx: ContainerContext, id: string): void {
  if (ctx.store.tryRecord(id)?.HostConfig.LogDriver !== 'json-file') return;
  syncJsonLog(ctx.logPath(id), ctx.jsonLogPath(id));
}

/** What `logs` reads. */
export interface ReadLogsOptions {
  /** Keep following while the container runs (or waits to restart). @default false */
  readonly follow?: boolean;
  /** Only the last N lines of what is there. @default all */
  readonly tail?: number;
  /** Only lines at or after this time (ms since the epoch). */
  readonly since?: number;
  /** Only lines before this time (ms since the epoch). */
  readonly until?: number;
  /** Ends a follow. */
  readonly signal?: AbortSignal;
}

/**
 * `logs`: calls `onLine` for each line of the container's output that `opts` picks, in order;
 * with `follow`, then for each new one until the container is stopped for good, removed, or
 * `signal` aborts. Throws Docker's error for a container whose log driver is `none`.
 */
export async function readContainerLogs(ctx: ContainerContext, nameOrId: string, opts: ReadLogsOptions, onLine: (line: LogLine) => void): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  const driver = logDriverOf(ctx, id);
  if (driver === 'none') throw new CdkDockerError('configured logging driver does not support reading');
  if (opts.tail !== undefined && (!Number.isInteger(opts.tail) || opts.tail < 0)) throw new InvalidArgumentError(`logs of ${nameOrId}: tail must be a whole number of lines, not ${opts.tail}`);
  const file = ctx.logPath(id);
  const window = { since: opts.since, until: opts.until };
  let start: number;
  let lines: LogLine[];
  if (driver === 'json-file') {
    // What is there is read from Docker's file (brought up to date), what follows from conmon's.
    syncContainerJsonLog(ctx, id);
    start = logSize(file);
    lines = readLog(ctx.jsonLogPath(id), { ...window, tail: opts.tail });
  } else {
    // One read: a follow goes on exactly where it ended (before an unfinished last line).
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const parsed = parseLog(text);
    start = Buffer.byteLength(text) - Buffer.byteLength(parsed.rest);
    lines = pickLines(parsed.lines, { ...window, tail: opts.tail });
  }
  for (const l of lines) onLine(l);
  if (!opts.follow || opts.signal?.aborted) return;
  const running = () => {
    if (!ctx.store.tryRecord(id)) return false;
    const s = ctx.store.state(id).Status;
    return s === 'running' || s === 'paused' || s === 'restarting';
  };
  await followLog(file, start, onLine, () => opts.signal?.aborted === true || !running(), window);
}
