import { Command } from 'commander';
import type { Events } from '../../../runtime';
import { parseGoDuration } from '../../core/duration';
import { InvalidArgumentError } from '../../core/errors';
import { renderTemplate } from './format';
import { collect } from '../options';
import { loadRuntime } from './services';

/** What `runtime events` takes. */
export interface EventsOptions {
  readonly since?: string;
  readonly until?: string;
  readonly filter?: string[];
  readonly format?: string;
}

/**
 * Docker's `--since`/`--until` value (timetypes.GetTimestamp) in ns since the epoch: a Unix
 * timestamp (`1700000000`, `1700000000.5`), an RFC 3339 time or date, or a Go duration before now (`10m`).
 */
export function parseEventTime(text: string, flag: string, now = Date.now()): number {
  if (/^\d+(\.\d{1,9})?$/.test(text)) {
    const [s, f = ''] = text.split('.');
    return Number(BigInt(s) * 1_000_000_000n + BigInt(f.padEnd(9, '0')));
  }
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/.test(text)) {
    const frac = /\.(\d{1,9})/.exec(text)?.[1] ?? '';
    const ms = Date.parse(text.replace(' ', 'T').replace(/\.\d+/, '') + (/(Z|[+-]\d{2}:\d{2})$/.test(text) || text.length === 10 ? '' : 'Z'));
    if (Number.isFinite(ms)) return ms * 1e6 + Number(frac.padEnd(9, '0'));
  }
  try {
    // Go's ParseDuration takes a sign: `-2s` is two seconds from now.
    const sign = text.startsWith('-') ? -1 : 1;
    return (now * 1e6) - sign * parseGoDuration(/^[-+]/.test(text) ? text.slice(1) : text);
  } catch {
    throw new InvalidArgumentError(`invalid value "${text}" for ${flag}: use an RFC 3339 time (2026-12-04T18:00:00Z), a Unix timestamp or a duration such as 10m`);
  }
}

/** The event as templates see it: its JSON fields, and Go's field names (`.ID`, `.Status`, `.TimeNano` …) as well. */
function templateData(e: Events.EngineEvent): object {
  const data = { ...e };
  // goJson sorts objects with keys that are not Go field names (status, scope, time) as maps:
  // an event is a struct, printed in Docker's field order.
  Object.defineProperty(data, 'toJSON', { value: () => ({ ...e }), enumerable: false });
  const go: Array<[string, unknown]> = [['Status', e.status], ['ID', e.id], ['From', e.from], ['Scope', e.scope], ['Time', e.time], ['TimeNano', e.timeNano]];
  for (const [k, v] of go) Object.defineProperty(data, k, { value: v ?? '', enumerable: false });
  return data;
}

/**
 * `runtime events`: past events from `--since` (to `--until`), then — without `--until`, or
 * until that time comes — new ones as they are written, until interrupted.
 */
export async function runEvents(o: EventsOptions, signal?: AbortSignal): Promise<void> {
  const ev = loadRuntime().events();
  const root = loadRuntime().runtimeConfig().root;
  const filters = ev.parseEventFilters(o.filter ?? []);
  const now = Date.now();
  const since = o.since !== undefined ? parseEventTime(o.since, '--since', now) : undefined;
  const until = o.until !== undefined ? parseEventTime(o.until, '--until', now) : undefined;
  if (since !== undefined && until !== undefined && until < since) throw new InvalidArgumentError(`--until (${o.until}) is before --since (${o.since}); give an --until after --since`);
  if (o.format !== undefined) renderTemplate(o.format, {}); // a bad template fails before anything is printed
  const print = (e: Events.EngineEvent) => {
    if ((since !== undefined && e.timeNano < since) || (until !== undefined && e.timeNano > until) || !ev.matchEvent(e, filters)) return;
    process.stdout.write(`${o.format !== undefined ? renderTemplate(o.format, templateData(e)) : ev.formatEventLine(e)}\n`);
  };
  // The past is what the log holds up to a cursor, the future what comes after it: split by
  // place, not by time, no event is missed or shown twice (one written while this command
  // started has a time after `now` and is in neither half when split by time).
  let cursor = ev.endCursor(root);
  // As Docker: past events only when --since or --until asks for them.
  if (since !== undefined || until !== undefined) for (const e of ev.readEvents(root, cursor)) print(e);
  if (until !== undefined && until <= now * 1e6) return;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      resolve();
    };
    signal?.addEventListener('abort', stop);
    const poll = () => {
      const next = ev.readEventsSince(root, cursor);
      cursor = next.cursor;
      for (const e of next.events) print(e);
      if (until !== undefined && Date.now() * 1e6 > until) return stop();
      timer = setTimeout(poll, 100);
    };
    poll();
  });
}

/** Registers `events` and `system events`. */
export function registerEvents(runtime: Command): void {
  const define = (cmd: Command) =>
    cmd
      .description('show the engine\'s events (as docker events): past ones from --since, then new ones until interrupted')
      .option('--since <time>', 'show events from this time: RFC 3339, Unix timestamp, or a duration ago (10m)')
      .option('--until <time>', 'stop at this time (same forms); without it, follow new events')
      .option('-f, --filter <filter>', 'type=, event=, container=, image=, label=, network=, volume=, scope= (repeatable)', collect)
      .option('--format <template>', 'a Go template over each event, e.g. {{json .}}')
      .action(async (o: EventsOptions) => {
        const ac = new AbortController();
        const onSignal = () => ac.abort();
        // `on`, not `once`: a `once` listener is gone when signal-exit (proper-lockfile's) checks
        // whether it is the last listener, and it then re-raises the signal and kills us.
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          await runEvents(o, ac.signal);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
  define(runtime.command('events'));
  const system = runtime.commands.find((c) => c.name() === 'system');
  if (system) define(system.command('events'));
}
