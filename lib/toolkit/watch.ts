import type { FSWatcher } from 'chokidar';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import pc from 'picocolors';
import { tarStream, TarHeader } from '../core/tar';
import type { Driver, ObservedContainer } from '../drivers/types';
import { LABELS } from '../drivers/types';
import { dockerignore, patternMatcher } from '../core/dockerignore';
import { CdkDockerError, InvalidArgumentError, PlanValidationError, ValidationError } from '../core/errors';
import { MANIFEST_FILE, readAssembly } from '../plan/io';
import type { ContainerResource, DevelopWatchRule, Plan } from '../plan/types';
import { apply, checkParallelism, DeployOptions } from './deploy';
import { resolveLazy, StackEngine } from './engine';
import { loadConfig, WatchConfig } from './config';
import { AppFailedError } from './synth';
import { stackPathOf } from './observe';
import { planDir } from './plans';

/**
 * `cdk-docker watch`, as `cdk watch` and `docker compose watch`: synthesize and apply, then follow
 * the app's sources and every input file of the plans, and apply each change once it settles.
 *
 * Terms
 * - The *app's sources* are the files under the project directory (where cdk-docker.json is),
 *   but for the plans directory, `node_modules`, `.git` and other dot-files.
 * - The *inputs* of a plan are the files it content-hashes: build contexts (what .dockerignore
 *   leaves in them), bind-mounted files, env files, secret and config files, image archives.
 * - A *develop rule* (a container's `develop.watch`) claims the changes under its path first:
 *   `sync` copies them into the container's running replicas through the driver
 *   (`copyToContainer`; deleted files are removed with `rm -rf` in the container, as Compose
 *   does), `sync+restart` then restarts them, `rebuild` applies (its path is in the image's build
 *   context, so the image is rebuilt and the container replaced). A change a sync rule claims is
 *   not applied, nor one that a rule's ignore patterns leave alone.
 * - A *batch* is the set of changes that arrive until none has come for `debounceMs`. One batch
 *   is carried out at a time (syncs, then one apply with the diff printed); what changes meanwhile
 *   is the next batch.
 *
 * A failing app or apply keeps what runs (the last good state), says why, and watching goes on.
 * Aborting `signal` (the CLI's Ctrl-C) ends the watch once the batch in progress is done; the
 * stack keeps running.
 *
 * Files are watched with chokidar: Node 20's recursive fs.watch on Linux walks the whole tree with
 * one watcher per file and no way to leave node_modules out, and reports every existing file when
 * it starts; chokidar watches per directory with an ignore filter and copes with atomic saves.
 */

export interface WatchOptions extends DeployOptions {
  /** Stream the stacks' container logs, each line prefixed by its container. @default true */
  readonly logs?: boolean;
  /** Changes carried out at once by each apply. @default 4 */
  readonly parallelism?: number;
  /** Quiet time after the last change before a batch is carried out, in ms. @default 300 */
  readonly debounceMs?: number;
  /** Ends the watch (the stack keeps running). */
  readonly signal?: AbortSignal;
}

/** One container resource's develop rule, as a batch groups its changes. */
export interface SyncRule {
  readonly stack: string;
  readonly resource: ContainerResource;
  readonly rule: DevelopWatchRule;
  readonly ignored: (rel: string) => boolean;
}

/** What a batch asks for. */
export interface Work {
  readonly syncs: Map<SyncRule, Set<string>>;
  /** The files that ask for an apply (app sources, plan inputs, rebuild rules). */
  readonly apply: string[];
}

/** Runs the watch until `signal` aborts; resolves once everything it started has stopped. */
export async function watch(options: WatchOptions): Promise<void> {
  checkParallelism(options.parallelism);
  const debounceMs = options.debounceMs ?? 300;
  if (!Number.isFinite(debounceMs) || debounceMs < 0) throw new InvalidArgumentError(`debounce ${debounceMs} ms: give a number of milliseconds of 0 or more`);
  const dir = path.resolve(options.dir ?? process.cwd());
  const outdir = await planDir(options.output, dir);
  const engine = await resolveLazy(options.engine);
  const session = new WatchSession({ ...options, dir, debounceMs }, outdir, engine);
  await session.run();
}

class WatchSession {
  private readonly out: NodeJS.WritableStream & { readonly isTTY?: boolean };
  private readonly color: boolean;
  private readonly stop = new AbortController();
  private plans: Plan[] = [];
  private pending = new Set<string>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private watcher?: FSWatcher;
  private roots: string[] = [];
  private readonly logs?: LogStreams;
  /** cdk-docker.json's `watch` as last read well (read again for each batch: it may have changed). */
  private watchConfig: WatchConfig = {};

  constructor(
    private readonly options: WatchOptions & { readonly dir: string; readonly debounceMs: number },
    private readonly outdir: string,
    private readonly engine: StackEngine,
  ) {
    this.out = options.out ?? process.stdout;
    this.color = options.color ?? false;
    if (options.logs !== false) this.logs = new LogStreams(engine.driver, this.out, this.color, this.stop.signal);
  }

  private get driver(): Driver {
    return this.engine.driver;
  }

  /** The stacks watched: those asked for, else those the last good synth made. */
  private stackNames(): string[] {
    return this.options.stacks?.length ? [...this.options.stacks] : this.plans.map((p) => p.stack);
  }

  public async run(): Promise<void> {
    const stopped = new Promise<void>((resolve) => {
      if (this.options.signal?.aborted) resolve();
      this.options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    let watching = false;
    try {
      // What ran before the watch began shows only its new output.
      if (this.logs) await this.logs.seed(this.options.stacks?.length ? this.options.stacks : await this.driver.listStacks());
      await this.startWatcher();
      // The first apply is a batch like the others: changes made meanwhile come after it.
      await this.kick(() => this.applyNow());
      watching = true;
      if (!this.options.signal?.aborted) {
        const shown = this.roots.map((r) => (within(r, this.options.dir) ? path.relative(this.options.dir, r) || '.' : r));
        this.out.write(`\n${this.paint(pc.bold, 'Watching for changes')} in ${shown.join(', ')} (Ctrl-C to stop; the stack keeps running)\n`);
      }
      await stopped;
    } finally {
      if (this.timer) clearTimeout(this.timer);
      this.pending.clear();
      await this.watcher?.close();
      await this.running;
      this.stop.abort();
      await this.logs?.closed();
      if (watching) this.out.write('Stopped watching; the stack keeps running.\n');
    }
  }

  private paint(f: (s: string) => string, s: string): string {
    return this.color ? f(s) : s;
  }

  // --- files ----------------------------------------------------------------------------------

  private async startWatcher(): Promise<void> {
    const { watch: chokidar } = await import('chokidar');
    this.roots = this.wantedRoots();
    const written = synthOutput(this.options.dir, this.outdir);
    const own = ownOutputFiles();
    this.watcher = chokidar(this.roots.map((r) => this.realRoot(r)), {
      ignoreInitial: true,
      persistent: true,
      // A symlink is a change of its own (synced as a link, as Compose syncs it), never a way into
      // the directory it names: a link to /etc must not make watch copy the host's files.
      followSymlinks: false,
      // Never walked: dependencies, version control, the plans synth writes, the file this
      // command's own output goes to (`cdk-docker watch > watch.log` must not apply each line).
      ignored: (p: string) => {
        const base = path.basename(p);
        return base === 'node_modules' || base === '.git' || written(p) || own.has(p);
      },
    });
    this.watcher.on('all', (_event: string, file: string) => this.changed(this.fromReal(path.resolve(file))));
    this.watcher.on('error', (e: unknown) => this.out.write(`${this.paint(pc.yellow, 'Warning:')} watching files: ${(e as Error).message ?? String(e)}\n`));
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  /** The project directory, and each input or develop path outside it (outermost only). */
  private wantedRoots(): string[] {
    const paths = [this.options.dir];
    for (const plan of this.plans) {
      const inputs = planInputs(plan);
      paths.push(...inputs.files, ...inputs.contexts);
      for (const r of developRules(plan)) paths.push(r.rule.path);
    }
    const sorted = [...new Set(paths)].sort((a, b) => a.length - b.length);
    const roots: string[] = [];
    // A path under a root is watched with it, unless a symlink leads it elsewhere (symlinks are not followed).
    const real = (p: string): string => {
      try {
        return fs.realpathSync(p);
      } catch {
        return p;
      }
    };
    for (const p of sorted) if (!roots.some((r) => within(p, r) && within(real(p), real(r)))) roots.push(p);
    return roots.sort();
  }

  /** After a good synth: watch the new plans' inputs too (and no longer the old ones'). */
  private updateRoots(): void {
    if (!this.watcher) return;
    const next = this.wantedRoots();
    const added = next.filter((r) => !this.roots.includes(r));
    const removed = this.roots.filter((r) => !next.includes(r));
    if (removed.length) this.watcher.unwatch(removed.map((r) => this.realRoot(r)));
    if (added.length) this.watcher.add(added.map((r) => this.realRoot(r)));
    this.roots = next;
  }

  /** Where each watched root really is (chokidar, not following symlinks, sees nothing inside a symlinked root). */
  private readonly reals = new Map<string, string>();

  private realRoot(root: string): string {
    let real = root;
    try {
      real = fs.realpathSync(root);
    } catch {
      // not there (yet): watched as named
    }
    this.reals.set(root, real);
    return real;
  }

  /** A changed path under a root's real path, as under the root (the path the plans name). */
  private fromReal(file: string): string {
    let best: [string, string] | undefined;
    for (const [root, real] of this.reals) if (real !== root && within(file, real) && (!best || real.length > best[1].length)) best = [root, real];
    return best ? path.join(best[0], path.relative(best[1], file)) : file;
  }

  private changed(file: string): void {
    if (this.stop.signal.aborted || this.options.signal?.aborted) return;
    this.pending.add(file);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.kick(), this.options.debounceMs);
  }

  /** Starts carrying out the pending changes (after `first`), unless a batch is in progress (it takes them next). */
  private kick(first?: () => Promise<void>): Promise<void> {
    this.timer = undefined;
    if (this.running) return this.running;
    // Started after `running` is set: a batch that finds nothing to do clears it as it ends.
    const running = Promise.resolve().then(async () => {
      try {
        if (first) await first();
        while (this.pending.size > 0 && !this.options.signal?.aborted) {
          const batch = [...this.pending].sort();
          this.pending = new Set();
          await this.carryOut(batch);
        }
      } finally {
        this.running = undefined;
      }
    });
    this.running = running;
    return running;
  }

  /** cdk-docker.json's `watch` now; the last good one while the file does not read (a save in progress). */
  private readSources(): WatchConfig {
    try {
      this.watchConfig = loadConfig(this.options.dir).watch ?? {};
    } catch {
      // keep the last good one: the apply that follows reports the file's problem
    }
    return this.watchConfig;
  }

  private async carryOut(files: string[]): Promise<void> {
    const work = sortChanges(this.options.dir, this.outdir, this.plans, files, this.readSources());
    for (const [r, changed] of work.syncs) {
      try {
        await this.sync(r, [...changed].sort());
      } catch (e) {
        this.out.write(`${this.paint(pc.red, 'Error:')} ${r.resource.path}: sync failed: ${messageOf(e)}\n`);
      }
    }
    if (work.apply.length) {
      const shown = work.apply.slice(0, 3).map((f) => path.relative(this.options.dir, f) || f);
      this.out.write(`\n${this.paint(pc.bold, 'Changed:')} ${shown.join(', ')}${work.apply.length > 3 ? ` and ${work.apply.length - 3} more` : ''}\n`);
      await this.applyNow();
    }
  }

  // --- apply ----------------------------------------------------------------------------------

  /** Synthesizes and applies; a failure keeps what runs and is reported. */
  private async applyNow(): Promise<void> {
    this.logs?.hold(Boolean(this.out.isTTY));
    try {
      await apply({ ...this.options, engine: this.engine, out: this.out, color: this.color, autoApprove: true, confirm: undefined, plan: undefined, targets: undefined, parallelism: this.options.parallelism });
    } catch (e) {
      // Ctrl-C on a terminal reaches the app too: its end is no error of the app.
      if (this.options.signal?.aborted) this.out.write('Interrupted: what was applied stays.\n');
      else {
        this.out.write(`${this.paint(pc.red, 'Error:')} ${messageOf(e)}\n`);
        // A failing app (or a plan it made that is not valid) changed nothing; a failing apply stopped where it failed.
        const appFailed = e instanceof AppFailedError || e instanceof PlanValidationError || e instanceof ValidationError;
        this.out.write(appFailed ? 'The stack keeps its last good state. Fix the error and save: watching for changes.\n' : 'The apply stopped there. Fix the error and save to apply again: watching for changes.\n');
      }
    } finally {
      // The plans of a good synth, even when the apply then failed; an app that failed wrote none.
      try {
        this.plans = readAssembly(this.outdir, this.options.stacks ?? []);
      } catch {
        // keep the last good ones
      }
      this.updateRoots();
      this.logs?.release();
    }
    await this.refreshLogs();
  }

  private async refreshLogs(): Promise<void> {
    if (!this.logs) return;
    try {
      await this.logs.refresh(this.stackNames());
    } catch (e) {
      this.out.write(`${this.paint(pc.yellow, 'Warning:')} following the logs: ${messageOf(e)}\n`);
    }
  }

  // --- sync -----------------------------------------------------------------------------------

  /** Copies `files` (changed under the rule's path) into the resource's running replicas; removes deleted ones there. */
  private async sync(r: SyncRule, files: string[]): Promise<void> {
    const target = r.rule.target!;
    const toContainer = (host: string): string => {
      const rel = toPosix(path.relative(r.rule.path, host));
      return rel === '' ? target : path.posix.join(target, rel);
    };
    const entries = new Map<string, { header: Partial<TarHeader> & { name: string }; data?: Buffer }>();
    const removed: string[] = [];
    const add = (host: string): void => {
      const rel = toPosix(path.relative(r.rule.path, host));
      if (rel !== '' && r.ignored(rel)) return;
      // Only what lies under the rule's path itself: nothing reached through a symlinked directory in it.
      if (throughSymlink(r.rule.path, host)) return;
      let st: fs.Stats;
      try {
        st = fs.lstatSync(host);
      } catch {
        removed.push(toContainer(host));
        return;
      }
      const name = toContainer(host).slice(1);
      const header = { name, mode: st.mode & 0o7777, mtime: st.mtime, uid: 0, gid: 0 };
      if (st.isDirectory()) {
        entries.set(name, { header: { ...header, type: 'directory' } });
        let children: string[] = [];
        try {
          children = fs.readdirSync(host);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CdkDockerError(`cannot read ${host} to sync it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); fix its permissions or add it to the rule's ignore`);
        }
        for (const child of children) add(path.join(host, child));
      } else if (st.isSymbolicLink()) {
        entries.set(name, { header: { ...header, type: 'symlink', linkname: fs.readlinkSync(host) } });
      } else if (st.isFile()) {
        let data: Buffer;
        try {
          data = fs.readFileSync(host);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          // Gone since it was seen: removed in the container too.
          if (code === 'ENOENT') removed.push(toContainer(host));
          else throw new CdkDockerError(`cannot read ${host} to sync it (${code ?? (e as Error).message}); fix its permissions or add it to the rule's ignore`);
          return;
        }
        entries.set(name, { header: { ...header, type: 'file', size: data.length }, data });
      }
    };
    for (const f of files) add(f);
    const replicas = (await this.driver.observe(r.stack)).containers.filter((c) => c.labels[LABELS.path] === r.resource.path && (c.status === 'running' || c.status === 'restarting'));
    if (replicas.length === 0) {
      this.out.write(`${r.resource.path}: not running, nothing synced (apply starts it)\n`);
      return;
    }
    const names = [...entries.keys()].sort();
    const tarOf = (): Readable => {
      const pack = tarStream().pack();
      for (const n of names) {
        const e = entries.get(n)!;
        if (e.data) pack.entry(e.header, e.data);
        else pack.entry(e.header);
      }
      pack.finalize();
      return pack as unknown as Readable;
    };
    for (const c of replicas) {
      if (names.length) await this.driver.copyToContainer(c.id, '/', tarOf());
      if (removed.length) {
        const rm = await this.driver.exec(c.id, ['rm', '-rf', '--', ...removed]);
        if (rm.exitCode !== 0) this.out.write(`${this.paint(pc.yellow, 'Warning:')} ${stackPathOf(c)}: could not remove ${removed.join(', ')}${rm.error ? ` (${rm.error})` : ` (rm exited ${rm.exitCode})`}\n`);
      }
      const what = [names.length ? `synced ${listPaths(names.map((n) => `/${n}`))}` : '', removed.length ? `removed ${listPaths(removed)}` : ''].filter(Boolean).join(', ');
      this.out.write(`${stackPathOf(c)}: ${what}\n`);
      if (r.rule.action === 'sync+restart') {
        await this.driver.stopContainer(c.id);
        await this.driver.startContainer(c.id);
        this.out.write(`${stackPathOf(c)}: restarted\n`);
      }
    }
    if (r.rule.action === 'sync+restart') await this.refreshLogs();
  }
}

/**
 * Sorts a batch's changed files (absolute paths) into syncs and an apply, by the plans of the
 * last good synth (see the module comment): each container's first develop rule whose path
 * holds a file (and does not ignore it) takes it; a file no sync rule took asks for an apply when
 * a rebuild rule took it, or, unless a rule's ignore patterns leave it alone, when it is a plan
 * input or one of the app's sources.
 */
export function sortChanges(dir: string, outdir: string, plans: Plan[], files: string[], sources: WatchConfig = {}): Work {
  const syncs = new Map<SyncRule, Set<string>>();
  const applyFiles: string[] = [];
  const rules = plans.flatMap(developRules);
  const relevant = relevance(dir, outdir, plans, sources);
  for (const file of files) {
    let synced = false;
    let rebuild = false;
    let ignored = false;
    const claimed = new Set<ContainerResource>();
    for (const r of rules) {
      if (claimed.has(r.resource) || !within(file, r.rule.path)) continue;
      const rel = toPosix(path.relative(r.rule.path, file));
      if (rel !== '' && r.ignored(rel)) {
        ignored = true;
        continue;
      }
      claimed.add(r.resource);
      if (r.rule.action === 'rebuild') rebuild = true;
      else {
        synced = true;
        if (!syncs.has(r)) syncs.set(r, new Set());
        syncs.get(r)!.add(file);
      }
    }
    // A change a rule ignores (and none takes) is left alone, as Compose leaves it.
    if (rebuild || (!synced && !ignored && relevant(file))) applyFiles.push(file);
  }
  return { syncs, apply: applyFiles };
}

/** `a`, `a and b`, or `N files (first, …)`. */
function listPaths(paths: string[]): string {
  if (paths.length <= 2) return paths.join(' and ');
  return `${paths.length} files (${paths[0]}, …)`;
}

function messageOf(e: unknown): string {
  return e instanceof CdkDockerError ? e.message : e instanceof Error ? `${e.message} (unexpected; please report it)` : String(e);
}

/** Whether a directory between `root` and `file` (both absolute, `file` under `root`) is a symlink. */
function throughSymlink(root: string, file: string): boolean {
  let dir = path.dirname(file);
  while (dir.length > root.length && within(dir, root)) {
    try {
      if (fs.lstatSync(dir).isSymbolicLink()) return true;
    } catch {
      return false;
    }
    dir = path.dirname(dir);
  }
  return false;
}

function toPosix(p: string): string {
  return p.split(path.sep).join('/');
}

/**
 * Whether synth wrote `p`: anything under the plans directory, or, when that directory holds
 * the project (`-o .`), the plans and the manifest only.
 */
function synthOutput(dir: string, outdir: string): (p: string) => boolean {
  if (!within(dir, outdir)) return (p) => within(p, outdir);
  return (p) => path.dirname(p) === outdir && (path.basename(p) === MANIFEST_FILE || /\.plan\.(json|yaml)$/.test(p));
}

/** The regular files this process's stdout and stderr write to (real paths): its own output, never a source. */
function ownOutputFiles(): Set<string> {
  const out = new Set<string>();
  for (const fd of [1, 2]) {
    try {
      if (fs.fstatSync(fd).isFile()) out.add(fs.realpathSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed, or not a file
    }
  }
  return out;
}

/** True when `p` is `dir` or under it. */
function within(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith(path.sep) ? dir : `${dir}${path.sep}`);
}

/** The develop rules of a plan's containers, in the plan's order (each container's rules in its order). */
function developRules(plan: Plan): SyncRule[] {
  const out: SyncRule[] = [];
  for (const id of Object.keys(plan.resources).sort()) {
    const r = plan.resources[id];
    if (r.type !== 'container' || !r.spec.develop) continue;
    for (const rule of r.spec.develop.watch) {
      const ignored = patternMatcher(rule.ignore);
      out.push({ stack: plan.stack, resource: r, rule, ignored });
    }
  }
  return out;
}

/** The files and build contexts a plan content-hashes. */
function planInputs(plan: Plan): { files: string[]; contexts: string[] } {
  const files: string[] = [];
  const contexts: string[] = [];
  for (const r of Object.values(plan.resources)) {
    if (r.type === 'image' && r.spec.source === 'build') {
      contexts.push(r.spec.context);
      files.push(path.resolve(r.spec.context, r.spec.dockerfile));
    } else if (r.type === 'image' && r.spec.source === 'archive') {
      files.push(r.spec.path);
    } else if (r.type === 'container') {
      for (const f of r.spec.envFiles) files.push(f.path);
      for (const m of r.spec.mounts) if (m.type === 'bind' && m.sha256 !== undefined) files.push(m.source);
      for (const s of Object.values(r.spec.secretEnv)) if (s.source === 'file') files.push(s.from);
      for (const s of r.spec.secrets ?? []) if (s.secret.source === 'file') files.push(s.secret.from);
      for (const c of r.spec.configs ?? []) if (c.source === 'file') files.push(c.file);
    }
  }
  return { files, contexts };
}

/**
 * Whether a changed file asks for an apply: a plan's input file; a file of a build context that
 * its .dockerignore keeps (read afresh: it may have changed); else one of the app's sources —
 * narrowed by cdk-docker.json's `watch.include` and `watch.exclude` (`sources`).
 */
function relevance(dir: string, outdir: string, plans: Plan[], sources: WatchConfig): (file: string) => boolean {
  const include = sources.include && patternMatcher(sources.include);
  const exclude = sources.exclude && patternMatcher(sources.exclude);
  const files = new Set<string>();
  const contexts = new Set<string>();
  for (const plan of plans) {
    const inputs = planInputs(plan);
    for (const f of inputs.files) files.add(f);
    for (const c of inputs.contexts) contexts.add(c);
  }
  const matchers = new Map<string, (rel: string) => boolean>();
  const written = synthOutput(dir, outdir);
  return (file) => {
    if (files.has(file)) return true;
    let ignoredInContext = false;
    for (const c of contexts) {
      if (!within(file, c)) continue;
      const rel = toPosix(path.relative(c, file));
      if (rel === '.dockerignore') return true;
      if (!matchers.has(c)) {
        try {
          matchers.set(c, dockerignore(c));
        } catch {
          matchers.set(c, () => false);
        }
      }
      if (!matchers.get(c)!(rel)) return true;
      // A context that holds the project (`.`) does not hide the app's own sources.
      if (!within(dir, c)) ignoredInContext = true;
    }
    if (ignoredInContext || !within(file, dir) || written(file)) return false;
    const rel = path.relative(dir, file).split(path.sep);
    if (rel.some((s) => s.startsWith('.') || s === 'node_modules')) return false;
    const posix = rel.join('/');
    return (!include || include(posix)) && !exclude?.(posix);
  };
}

/** A log time as a key that sorts as the instants do (RFC 3339 in UTC, nine fraction digits). */
function timeKey(time: string | undefined): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(time ?? '');
  if (m) return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
  const ms = Date.parse(time ?? '');
  return Number.isFinite(ms) ? timeKey(new Date(ms).toISOString()) : '';
}

/** How long after a follow ended the container is looked at again. */
const RECHECK_MS = 700;

const PALETTE = [pc.cyan, pc.yellow, pc.green, pc.magenta, pc.blue, pc.red];

/**
 * The stacks' logs, followed per container and printed as `path | line` (as `docker compose up`):
 * each running container is followed until it stops; `refresh` picks up new and restarted ones.
 * A container followed again after a restart shows only what comes after the last line shown.
 */
class LogStreams {
  private readonly follows = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** The time key of the last line shown, and how many were shown at that time, per container id. */
  private readonly shown = new Map<string, { readonly key: string; readonly count: number }>();
  private readonly colours = new Map<string, (s: string) => string>();
  private width = 0;
  private held?: string[];
  private multi = false;

  constructor(
    private readonly driver: Driver,
    private readonly out: NodeJS.WritableStream,
    private readonly color: boolean,
    private readonly signal: AbortSignal,
  ) {}

  /** What runs already shows only what it writes from now on. */
  public async seed(stacks: string[]): Promise<void> {
    const now = timeKey(new Date().toISOString());
    for (const stack of stacks) for (const c of (await this.driver.observe(stack)).containers) this.shown.set(c.id, { key: now, count: 0 });
  }

  /** Follows every running container of `stacks` not followed yet. */
  public async refresh(stacks: string[]): Promise<void> {
    this.multi = stacks.length > 1;
    for (const stack of stacks) {
      for (const c of (await this.driver.observe(stack)).containers) {
        if (this.signal.aborted) return;
        if (this.follows.has(c.id) || (c.status !== 'running' && c.status !== 'restarting')) continue;
        this.follow(stack, c);
      }
    }
  }

  /** While an apply draws its progress on a terminal, lines wait. */
  public hold(yes: boolean): void {
    if (yes) this.held ??= [];
  }

  public release(): void {
    const lines = this.held ?? [];
    this.held = undefined;
    for (const l of lines) this.out.write(l);
  }

  public async closed(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.follows.values()]);
    this.release();
  }

  private follow(stack: string, c: ObservedContainer): void {
    const who = this.multi ? `${stack}/${stackPathOf(c)}` : stackPathOf(c);
    this.width = Math.max(this.width, who.length);
    if (!this.colours.has(who)) this.colours.set(who, PALETTE[this.colours.size % PALETTE.length]);
    // What was shown of it before: lines up to that time, and as many at that very time (one
    // read of the engine stamps several lines alike), are skipped; everything after is shown.
    const before = this.shown.get(c.id);
    let skipAtLast = before?.count ?? 0;
    let caughtUp = before === undefined;
    const done = this.driver
      .logs(c.id, { follow: true, timestamps: true, signal: this.signal }, (line) => {
        const key = timeKey(line.time);
        if (!caughtUp) {
          if (key < before!.key) return;
          if (key === before!.key && skipAtLast > 0) {
            skipAtLast--;
            return;
          }
          caughtUp = true;
        }
        const last = this.shown.get(c.id);
        this.shown.set(c.id, { key, count: last?.key === key ? last.count + 1 : 1 });
        this.print(who, line.text);
      })
      .catch(() => undefined) // gone (replaced, removed): its successor is followed on refresh
      .finally(() => {
        this.follows.delete(c.id);
        // Stopped: restarted by its policy or a sync+restart, it is followed again.
        if (!this.signal.aborted) this.later(stack, c.id);
      });
    this.follows.set(c.id, done);
  }

  /** Looks at a container whose follow ended again in a moment, and follows it if it runs. */
  private later(stack: string, id: string): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.signal.aborted || this.follows.has(id)) return;
      void this.driver
        .observe(stack)
        .then((o) => {
          const c = o.containers.find((x) => x.id === id);
          if (c && !this.signal.aborted && !this.follows.has(id) && (c.status === 'running' || c.status === 'restarting')) this.follow(stack, c);
        })
        .catch(() => undefined);
    }, RECHECK_MS);
    this.timers.add(timer);
  }

  private print(who: string, text: string): void {
    const label = `${who.padEnd(this.width)} |`;
    const line = `${this.color ? this.colours.get(who)!(label) : label} ${text.endsWith('\n') ? text : `${text}\n`}`;
    if (this.held) this.held.push(line);
    else this.out.write(line);
  }
}
