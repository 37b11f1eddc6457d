import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidArgumentError } from '../../lib/core/errors';

/**
 * Reading conmon's k8s-file logs: one line per chunk, `<RFC3339Nano> <stdout|stderr> <F|P> <text>`;
 * `P` (partial) lines continue on the next line of the same stream. conmon truncates the file
 * when it reaches the size cap; a follower notices the file shrinking and starts over.
 */

export interface LogLine {
  /** Docker's form: RFC 3339 in UTC with nine digits, `2026-12-04T18:00:00.123456789Z`. */
  readonly time: string;
  readonly stream: 'stdout' | 'stderr';
  /** The text, with its newline when the line was complete. */
  readonly text: string;
}

export interface LogOptions {
  /** Only the last N lines (complete lines). */
  readonly tail?: number;
  /** Only lines at or after this time (ms since epoch). */
  readonly since?: number;
  /** Only lines before this time (ms since epoch). */
  readonly until?: number;
}

/** Parses k8s-file text into lines, joining partial chunks. `rest` is an unfinished last line. */
export function parseLog(text: string): { lines: LogLine[]; rest: string } {
  const out: LogLine[] = [];
  const raw = text.split('\n');
  const rest = raw.pop() ?? '';
  const pending: { [s: string]: { time: string; text: string } | undefined } = {};
  for (const l of raw) {
    if (l.startsWith('{')) {
      // Docker's json-file: one object per chunk, `log` with its newline when complete.
      const j = jsonLine(l);
      if (!j) continue;
      const prev = pending[j.stream];
      if (!j.log.endsWith('\n')) {
        pending[j.stream] = { time: prev?.time ?? j.time, text: (prev?.text ?? '') + j.log };
        continue;
      }
      out.push({ time: prev?.time ?? j.time, stream: j.stream, text: `${prev?.text ?? ''}${j.log}` });
      pending[j.stream] = undefined;
      continue;
    }
    const m = /^(\S+) (stdout|stderr) ([FP])(?:\S*) ?(.*)$/.exec(l);
    if (!m) continue;
    const [stream, kind, body] = m.slice(2);
    const time = dockerLogTime(m[1]);
    const prev = pending[stream];
    if (kind === 'P') {
      pending[stream] = { time: prev?.time ?? time, text: (prev?.text ?? '') + body };
      continue;
    }
    out.push({ time: prev?.time ?? time, stream: stream as 'stdout' | 'stderr', text: `${prev?.text ?? ''}${body}\n` });
    pending[stream] = undefined;
  }
  // Partial chunks not finished yet are returned as they are (a prompt without a newline).
  for (const [stream, p] of Object.entries(pending)) if (p) out.push({ time: p.time, stream: stream as 'stdout' | 'stderr', text: p.text });
  return { lines: out, rest };
}

/** The log's lines selected by `opts`. */
export function readLog(file: string, opts: LogOptions = {}): LogLine[] {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return pickLines(parseLog(text).lines, opts);
}

/** The lines `opts` picks: those in its time window, then the last `tail` of them. */
export function pickLines(lines: LogLine[], opts: LogOptions): LogLine[] {
  const picked = lines.filter((l) => inWindow(l, opts));
  if (opts.tail !== undefined && opts.tail >= 0) return opts.tail === 0 ? [] : picked.slice(-opts.tail);
  return picked;
}

function inWindow(l: LogLine, opts: LogOptions): boolean {
  const t = Date.parse(l.time);
  if (opts.since !== undefined && t < opts.since) return false;
  if (opts.until !== undefined && t >= opts.until) return false;
  return true;
}

/**
 * Follows a log from byte `offset`: calls `onLine` for each new complete (or partial) chunk
 * until `done()` says the writer is finished, then drains what is left. Survives truncation.
 */
export async function followLog(file: string, offset: number, onLine: (l: LogLine) => void, done: () => Promise<boolean> | boolean, opts: LogOptions = {}): Promise<void> {
  let pos = offset;
  let carry = '';
  const readMore = () => {
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch {
      return;
    }
    if (size < pos) {
      // Truncated by the size cap: the new content starts at 0.
      pos = 0;
      carry = '';
    }
    if (size === pos) return;
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - pos);
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      pos += n;
      const { lines, rest } = parseLogComplete(carry + buf.subarray(0, n).toString('utf8'));
      carry = rest;
      for (const l of lines) if (inWindow(l, opts)) onLine(l);
    } finally {
      fs.closeSync(fd);
    }
  };
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    const before = pos;
    readMore();
    if (await done()) {
      readMore();
      if (carry) for (const l of parseLog(`${carry}\n`).lines) onLine(l);
      return;
    }
    if (pos !== before) delay = 5;
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** Like parseLog, but keeps trailing partial chunks in `rest` (more may follow). */
function parseLogComplete(text: string): { lines: LogLine[]; rest: string } {
  const raw = text.split('\n');
  let rest = raw.pop() ?? '';
  // Hold back trailing P chunks: their line is not finished.
  while (raw.length > 0 && / (stdout|stderr) P/.test(raw[raw.length - 1])) rest = `${raw.pop()}\n${rest}`;
  return { lines: parseLog(raw.length ? `${raw.join('\n')}\n` : '').lines, rest };
}

/** Size of the log now (the offset a follower starts at to skip what is there). */
export function logSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * A log time as Docker's `logs -t` prints it (Go's RFC3339NanoFixed in UTC):
 * `2026-12-04T18:00:00.123456789Z`. conmon writes the local offset (`+01:00`) and the
 * nanoseconds; the instant and the nine digits are kept. Text that is not such a time is
 * returned as it is.
 */
export function dockerLogTime(time: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/.exec(time);
  if (!m) return time;
  const [, base, frac = '', zone] = m;
  const ms = Date.parse(`${base}${zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (!Number.isFinite(ms)) return time;
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac.padEnd(9, '0')}Z`;
}

/** conmon truncates a container's log at this size unless `--log-opt max-size` says otherwise (20 MiB). */
export const DEFAULT_LOG_SIZE_MAX = 20 * 1024 * 1024;

/** The log drivers of the built-in engine: conmon's k8s-file, Docker's json-file (converted from it), none. */
export const LOG_DRIVERS = ['k8s-file', 'json-file', 'none'] as const;
export type LogDriver = (typeof LOG_DRIVERS)[number];

/** `--log-driver` checked: one of LOG_DRIVERS, else an error naming them. */
export function checkLogDriver(driver: string): LogDriver {
  if ((LOG_DRIVERS as readonly string[]).includes(driver)) return driver as LogDriver;
  throw new InvalidArgumentError(`failed to initialize logging driver: no log driver named '${driver}' is registered: use --log-driver k8s-file (the default), json-file or none`);
}

/** A json-file line, or undefined when it is not one (a torn or hostile line is skipped). */
function jsonLine(line: string): { log: string; stream: 'stdout' | 'stderr'; time: string } | undefined {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return undefined;
  }
  const o = j as { log?: unknown; stream?: unknown; time?: unknown };
  if (typeof o?.log !== 'string' || (o.stream !== 'stdout' && o.stream !== 'stderr') || typeof o.time !== 'string') return undefined;
  return { log: o.log, stream: o.stream, time: dockerLogTime(o.time) };
}

/**
 * One json-file line as Docker's jsonfilelog writes it: `{"log":…,"stream":…,"time":…}` with
 * Go's escaping of <, > and & and the time in RFC3339Nano (trailing zeros dropped).
 */
export function jsonLogLine(l: LogLine): string {
  const time = l.time.replace(/\.?0+Z$/, 'Z');
  const esc = (v: string) => JSON.stringify(v).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return `{"log":${esc(l.text)},"stream":"${l.stream}","time":"${time}"}\n`;
}

/**
 * Writes `jsonFile` (Docker's json-file format) from conmon's k8s-file log `k8sFile`, atomically
 * (a reader sees the old file or the new one); the file is private to root, as conmon's.
 */
export function syncJsonLog(k8sFile: string, jsonFile: string): void {
  let text: string;
  try {
    text = fs.readFileSync(k8sFile, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    text = '';
  }
  const tmp = path.join(path.dirname(jsonFile), `.${path.basename(jsonFile)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, parseLog(text).lines.map(jsonLogLine).join(''), { mode: 0o600 });
    fs.renameSync(tmp, jsonFile);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
