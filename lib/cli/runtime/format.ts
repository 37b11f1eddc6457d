/** Table and time formatting shared by the `runtime` commands, as Docker prints them. */

import * as readline from 'node:readline';
import { CdkDockerError, InvalidArgumentError } from '../../core/errors';
import { compileTemplate } from '../../template';
import { humanDuration } from '../../core/duration';

/**
 * Left-aligned columns as Docker's formatter prints them: Go's tabwriter with a minimum cell
 * width of `minWidth` (10; `top` uses 20) and a padding of 3, the last column not padded.
 */
export function table(header: string[], rows: string[][], minWidth = 10): string {
  return tabwrite([header, ...rows], minWidth);
}

/** Go's `tabwriter.NewWriter(out, minWidth, 1, 3, ' ', 0)` over rows of cells (widths in runes). */
export function tabwrite(rows: string[][], minWidth = 10): string {
  const len = (c: string) => [...c].length;
  const columns = Math.max(0, ...rows.map((r) => r.length - 1));
  const widths: number[] = [];
  for (let i = 0; i < columns; i++) widths.push(Math.max(minWidth, ...rows.filter((r) => i < r.length - 1).map((r) => len(r[i] ?? '') + 3)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(Math.max(0, widths[i] - len(c))))).join('');
  return rows.map((r) => `${line(r)}\n`).join('');
}

/** "2 hours ago", "About a minute ago", as Docker's units.HumanDuration. */
export function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'N/A';
  return `${humanDuration(now - t)} ago`;
}

/** The 12-hex short form of an id. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * Renders a Docker `--format` template (Go's text/template with Docker's functions, see
 * template.ts) for one object. Templates are parsed once and kept, so rendering a list
 * parses once. Throws InvalidArgumentError for a bad template.
 */
export function renderTemplate(template: string, data: unknown): string {
  let compiled = compiled_.get(template);
  if (!compiled) {
    if (compiled_.size >= 64) compiled_.clear();
    compiled = compileTemplate(template);
    compiled_.set(template, compiled);
  }
  return compiled(data);
}
const compiled_ = new Map<string, (data: unknown) => string>();

/**
 * Applies `fn` to each of `names` as Docker's commands on several objects do: what `fn`
 * returns is printed (by default the name), each failure is an `Error:` line on stderr, the
 * others still run, and the exit code is 1 if any failed. Unexpected errors propagate.
 */
export async function eachName(names: string[], fn: (name: string) => Promise<string | void>): Promise<void> {
  let failed = false;
  for (const n of names) {
    try {
      const text = await fn(n);
      process.stdout.write(text ?? `${n}\n`);
    } catch (e) {
      if (!(e instanceof CdkDockerError)) throw e;
      process.stderr.write(`Error: ${e.message}\n`);
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}

/** `KEY=VALUE` arguments (`KEY` alone means an empty value, as Docker's map options). */
export function keyValues(flag: string, args: string[] | undefined): { [key: string]: string } | undefined {
  if (!args) return undefined;
  const map: { [key: string]: string } = {};
  for (const arg of args) {
    const i = arg.indexOf('=');
    const key = i < 0 ? arg : arg.slice(0, i);
    if (key.length === 0) throw new InvalidArgumentError(`invalid ${flag} "${arg}": empty name (use ${flag} KEY=VALUE)`);
    map[key] = i < 0 ? '' : arg.slice(i + 1);
  }
  return map;
}

/** Asks on stdout, reads a line on stdin; only "y" (any case) confirms, as Docker's prompt. */
export async function confirm(question: string): Promise<boolean> {
  process.stdout.write(`${question} [y/N] `);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const answer = await new Promise<string>((resolve) => {
    rl.once('line', resolve);
    rl.once('close', () => resolve(''));
  });
  rl.close();
  return answer.trim().toLowerCase() === 'y';
}

/**
 * `inspect` of several objects as Docker prints it: a JSON array of those found (or a line per
 * object with `--format`), then an `Error:` line for each one not found, exit 1 if any.
 */
export async function printInspect<T>(refs: string[], get: (ref: string) => T | Promise<T>, format: string | undefined): Promise<void> {
  const render = format ? compileTemplate(format) : undefined; // a bad template fails before any lookup, as Docker's
  const found: T[] = [];
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      found.push(await get(ref));
    } catch (e) {
      if (!(e instanceof CdkDockerError)) throw e;
      errors.push(e.message);
    }
  }
  if (render) process.stdout.write(found.map((x) => `${render(x)}\n`).join(''));
  else process.stdout.write(`${JSON.stringify(found, undefined, 4)}\n`);
  for (const m of errors) process.stderr.write(`Error: ${m}\n`);
  if (errors.length) process.exitCode = 1;
}

/** Go's time.Time.String() of a local time: `2026-12-04 18:00:00 +0000 UTC`. */
export function goTimeString(iso: string): string {
  const d = new Date(iso);
  const off = -d.getTimezoneOffset();
  const local = new Date(d.getTime() + off * 60_000).toISOString();
  const sign = off < 0 ? '-' : '+';
  const hhmm = `${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}${String(Math.abs(off) % 60).padStart(2, '0')}`;
  const zone = off === 0 ? 'UTC' : new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? `${sign}${hhmm}`;
  return `${local.slice(0, 10)} ${local.slice(11, 19)} ${sign}${hhmm} ${zone}`;
}

/**
 * Output of a Docker `--format`: `table …` prints a header line (the fields' `headers`) and
 * aligns the tab-separated cells as Docker's tabwriter; any other template is one line per
 * object. `\t` and `\n` written in the flag are a tab and a newline, as Docker's.
 */
export function renderFormatted(format: string, objects: object[], headers: { [field: string]: unknown }): string {
  const m = /^table(?:\s+|$)(.*)$/s.exec(format);
  const template = (m ? m[1] : format).trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  if (!m) return objects.map((x) => `${renderTemplate(template, x)}\n`).join('');
  const lines = [renderTemplate(template, headers), ...objects.map((x) => renderTemplate(template, x))];
  return tabwrite(lines.join('\n').split('\n').map((l) => l.split('\t')));
}

