import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError, PlanValidationError, ValidationError } from '../../lib/core/errors';
import type { World } from './canary';

/**
 * What every fuzz case asserts, whatever the ingest path: the problems found, one line each
 * (empty: the case passed). Callers throw them together so fast-check shrinks on any of them.
 */

/** Substrings a message to a user never has (a stack frame, a stringified object, a missing value). */
const BAD_IN_MESSAGE: Array<[RegExp, string]> = [
  [/\n\s+at /, 'a stack frame ("    at ")'],
  [/\[object Object\]/, '"[object Object]"'],
  [/\bundefined\b/, '"undefined"'],
  [/\bNaN\b/, '"NaN"'],
];

/**
 * A rejection must be a CdkDockerError with one clear line. PlanValidationError and
 * ValidationError are, by design, a first line followed by one "  - problem" line each: those
 * lines are held to the same rules.
 */
export function rejectionProblems(e: unknown, world: World): string[] {
  const problems: string[] = [];
  if (!(e instanceof CdkDockerError)) {
    const err = e as Error | undefined;
    problems.push(`rejected with ${err?.constructor?.name ?? typeof e}, not a CdkDockerError: ${String(err?.stack ?? err).split('\n').slice(0, 4).join(' | ')}`);
    return problems;
  }
  problems.push(...messageProblems(e.message, world, e instanceof PlanValidationError || e instanceof ValidationError));
  return problems;
}

/** Checks one user-facing text (an error message, or a CLI's stderr). */
export function messageProblems(message: string, world: World, listAllowed = false): string[] {
  const problems: string[] = [];
  const text = message.replace(/\n$/, '');
  if (text.trim() === '') problems.push('the message is empty');
  const lines = text.split('\n');
  if (lines.length > 1 && !(listAllowed && lines.slice(1).every((l) => /^ {2}\S/.test(l)))) {
    problems.push(`the message is ${lines.length} lines, not one: ${JSON.stringify(text.slice(0, 300))}`);
  }
  for (const [re, what] of BAD_IN_MESSAGE) if (re.test(text)) problems.push(`the message contains ${what}: ${JSON.stringify(text.slice(0, 300))}`);
  for (const f of world.forbidden) if (text.includes(f)) problems.push(`the message discloses a canary (its content or sha256 ${f.slice(0, 12)}…): ${JSON.stringify(text.slice(0, 300))}`);
  return problems;
}

/** The canary tree is byte-identical and unread. */
export function canaryProblems(world: World): string[] {
  const changes = world.changes();
  return changes.length ? [`the canary tree next to the state root changed (created, changed or read):\n    ${changes.slice(0, 12).join('\n    ')}`] : [];
}

/** Mounts under W (a failed ingest mounts nothing; a container test unmounts what it mounted). */
export function mountProblems(world: World): string[] {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && (m === world.dir || m.startsWith(`${world.dir}/`)));
  return mounts.length ? [`mounts left under the world: ${mounts.join(', ')}`] : [];
}

/** Live children of this process (a tar, zstd or gzip left running after the call returned). */
export function liveChildren(): string[] {
  const out: string[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(after[1]) === process.pid && after[0] !== 'Z') out.push(`${p} ${fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()}`);
    } catch {
      // gone
    }
  }
  return out;
}

export async function childProblems(): Promise<string[]> {
  const deadline = Date.now() + 3_000;
  let left = liveChildren();
  while (left.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = liveChildren();
  }
  return left.length ? [`processes left running: ${left.join('; ')}`] : [];
}

/**
 * The state root after a case: only legitimate results — the store's directories, blobs whose
 * content matches their name, complete unpacked layers (with their `size`), an index whose every
 * record has its manifest, config, layer blobs and unpacked layers. No temporary files, no
 * ingest leftovers, no lock, no half record. `extra` are other allowed paths (relative to root).
 */
export function rootProblems(root: string, extra: RegExp[] = []): string[] {
  const problems: string[] = [];
  const images = path.join(root, 'images');
  const allowedDirs = new Set(['images', 'images/blobs', 'images/blobs/sha256', 'images/ingest', 'images/layers']);
  const visit = (rel: string): void => {
    const abs = path.join(root, rel);
    for (const name of fs.readdirSync(abs)) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, r));
      if (extra.some((re) => re.test(r))) continue;
      if (allowedDirs.has(r) && st.isDirectory()) {
        visit(r);
        continue;
      }
      let m = /^images\/blobs\/sha256\/([a-f0-9]{64})$/.exec(r);
      if (m && st.isFile()) {
        const sum = createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex');
        if (sum !== m[1]) problems.push(`blob ${r} does not hash to its name (it is ${sum.slice(0, 12)}…)`);
        continue;
      }
      m = /^images\/layers\/([a-f0-9]{64})$/.exec(r);
      if (m && st.isDirectory()) {
        if (!fs.existsSync(path.join(root, r, 'size')) || !fs.existsSync(path.join(root, r, 'diff'))) problems.push(`layer directory ${r} is incomplete (no size or diff)`);
        continue;
      }
      if (r === 'images/index.json' && st.isFile()) {
        problems.push(...indexProblems(images));
        continue;
      }
      if (/^images\/ingest\/w-\d+-\d+$/.test(r) && Number(r.split('-')[1]) === process.pid) {
        // This process's working directory (removed at its exit) may stay while empty; files or
        // claims in it mean ingest work still under way after the call returned.
        const inside = filesUnder(path.join(root, r));
        if (inside.length) problems.push(`left in the state root: ${r}/ holds ${inside.slice(0, 4).join(', ')} (this process's ingest work was still under way after the call returned)`);
      } else problems.push(`left in the state root: ${r}${st.isDirectory() ? '/' : ''}`);
    }
  };
  if (fs.existsSync(root)) visit('');
  return problems;
}

function indexProblems(images: string): string[] {
  let index: { images?: Record<string, { id: string; manifestDigest: string }> };
  try {
    index = JSON.parse(fs.readFileSync(path.join(images, 'index.json'), 'utf8'));
  } catch (e) {
    return [`images/index.json is not readable JSON: ${(e as Error).message}`];
  }
  const problems: string[] = [];
  const blob = (d: string) => path.join(images, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  for (const r of Object.values(index.images ?? {})) {
    try {
      const manifest = JSON.parse(fs.readFileSync(blob(r.manifestDigest), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
      for (const l of manifest.layers) if (!fs.existsSync(blob(l.digest))) problems.push(`record ${r.id} names layer blob ${l.digest}, which is not stored`);
      let chain = '';
      for (const d of config.rootfs.diff_ids) {
        chain = chain ? `sha256:${createHash('sha256').update(`${chain} ${d}`).digest('hex')}` : d;
        if (!/^sha256:[a-f0-9]{64}$/.test(chain) || !fs.existsSync(path.join(images, 'layers', chain.slice(7), 'size'))) problems.push(`record ${r.id} needs layer ${chain}, which is not unpacked`);
      }
    } catch (e) {
      problems.push(`record ${r.id} is half written: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Runs `fn` with a deadline: a hang is a finding, not a stuck test run. */
export async function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; hung?: true }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ hung: true }>((resolve) => {
    timer = setTimeout(() => resolve({ hung: true }), ms);
  });
  try {
    return await Promise.race([
      fn().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
    void what;
  }
}

/** Files (not directories) under `dir`, relative. */
function filesUnder(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(dir, rel))) {
    const r = rel ? `${rel}/${name}` : name;
    if (fs.lstatSync(path.join(dir, r)).isDirectory()) out.push(...filesUnder(dir, r));
    else out.push(r);
  }
  return out;
}
