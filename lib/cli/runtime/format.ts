/** Table and time formatting shared by the `runtime` commands, as Docker prints them. */

import { CdkDockerError } from '../../util/errors';

/** Left-aligned columns separated by three spaces (Docker's tabwriter look). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** "2 hours ago", "About a minute ago", as Docker's units.HumanDuration. */
export function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t) || t <= 0) return 'N/A';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  let text: string;
  if (s < 1) text = 'Less than a second';
  else if (s === 1) text = '1 second';
  else if (s < 60) text = `${s} seconds`;
  else if (s < 120) text = 'About a minute';
  else if (s < 3600) text = `${Math.floor(s / 60)} minutes`;
  else if (s < 7200) text = 'About an hour';
  else if (s < 172800) text = `${Math.floor(s / 3600)} hours`;
  else if (s < 86400 * 14) text = `${Math.floor(s / 86400)} days`;
  else if (s < 86400 * 60) text = `${Math.floor(s / (86400 * 7))} weeks`;
  else if (s < 86400 * 365 * 2) text = `${Math.floor(s / (86400 * 30))} months`;
  else text = `${Math.floor(s / (86400 * 365))} years`;
  return `${text} ago`;
}

/** The 12-hex short form of an id. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/**
 * A small subset of Go templates for `--format`: `{{.Field.Sub}}`, `{{json .Field}}`, and text
 * around them.
 */
export function renderTemplate(template: string, data: unknown): string {
  return template.replace(/\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}/g, (_m, json: string | undefined, p: string) => {
    let v: unknown = data;
    for (const key of p.split('.').filter(Boolean)) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
    if (json) return JSON.stringify(v ?? null);
    if (v === undefined || v === null) return '<no value>';
    if (Array.isArray(v)) return `[${v.join(' ')}]`;
    if (typeof v === 'object') return `map[${Object.entries(v).map(([k, x]) => `${k}:${typeof x === 'object' ? JSON.stringify(x) : x}`).join(' ')}]`;
    return String(v);
  });
}

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
