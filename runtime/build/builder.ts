import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CdkDockerError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { SIGNALS } from '../../lib/core/linux';
import { familiarReference, formatReference, parseReference } from '../../lib/core/reference';
import type { RuntimeConfig } from '../config';
import { ContainerService } from '../containers/service';
import { containerImageUsers } from '../containers/store';
import { commitContainer, withContainerRoot, ContainerRoot } from '../containers/files';
import { followLog } from '../containers/logs';
import { resolveUser } from '../containers/user';
import { commitImage } from '../images/commit';
import { openDecompressed } from '../images/archive';
import { ImageService } from '../images/service';
import type { ImageRecord } from '../images/store';
import type { ContainerConfig } from '../images/types';
import { humanSize } from '../util/units';
import { applyConfigInstruction, DEFAULT_SHELL } from '../images/instructions';
import { BuildContext, Source, TarItem, sourcesHash, tarOf } from './context';
import { DockerfileError, Instruction, ParsedDockerfile, Stage, parseDockerfile, parseTrigger } from '../dockerfile/dockerfile';
import { BUILD_LABEL, BUILD_OWNER_LABEL, buildTempDir, collectDeadBuilds, selfIdentity } from './leftovers';
import { SubstitutionError, Vars, processWord, processWords, varsOf } from '../dockerfile/words';
import { compareText } from '../../lib/core/canonical';

/**
 * The Dockerfile builder of the built-in runtime, with the classic Docker builder's behaviour:
 * each instruction is a step that makes an image from the previous one — RUN in a real container
 * of the image so far (runc + conmon), COPY/ADD/WORKDIR by writing into a stopped container's
 * root, the others as a new config with an `empty_layer` history entry.
 *
 * Cache (Docker's rules): a step is reused when an image made from the same parent has the same
 * history line (`created_by`), which holds the instruction after substitution, the build args a
 * RUN sees (`|N K=V …`) and, for COPY/ADD, the content hash of the sources. The first miss
 * builds every later step of the stage. Intermediate images are untagged children of their
 * parents: `images` hides them, `images -a` shows them, `rmi` of the result removes them. The
 * steps of a stage FROM scratch descend from one empty image (no layers, no history), so they
 * are found in the cache as any other.
 *
 * Intermediate containers, as the classic builder's: a step that is not taken from the cache
 * runs in a container (` ---> Running in ID`) — RUN, WORKDIR and every metadata instruction (ENV,
 * LABEL, CMD, …, whose container is created and committed without running); COPY and ADD
 * write into a container of their own that is never shown. After each instruction its container
 * is removed (`Removing intermediate container ID`) when it succeeded and `remove` is on (the
 * default), or always with `forceRemove`. A container that stays — that of a failed step by
 * default, every one with `remove: false` — becomes an ordinary container (`ps -a` lists it, the
 * sweep of dead builds leaves it), as Docker's do. Step containers still at work carry the build
 * labels (see leftovers.ts), so `ps` hides them and a killed build's are collected.
 */

/** What `build` takes. */
export interface BuildOptions {
  /** The build context directory. @default none: COPY and ADD of local files fail (`build -` with a Dockerfile on stdin) */
  readonly context?: string;
  /** Path of the Dockerfile. @default `<context>/Dockerfile` */
  readonly dockerfile?: string;
  /** The Dockerfile's text, instead of a file. */
  readonly dockerfileContent?: string;
  /** `NAME[:TAG]` references the result is tagged with. @default untagged */
  readonly tags?: string[];
  /** `--build-arg`: values for declared ARGs (and the predefined proxy args). `undefined` takes the value from this process's environment. */
  readonly buildArgs?: { readonly [name: string]: string | undefined };
  /** The stage to build (its `AS` name). @default the last stage */
  readonly target?: string;
  /** Build every step, reusing nothing. @default false */
  readonly noCache?: boolean;
  /** Labels added to the result. */
  readonly labels?: { readonly [k: string]: string };
  /** The network RUN steps join: `bridge` (the default network), `none`, `host` or a network name. @default "bridge" */
  readonly network?: string;
  /**
   * Remove each intermediate container after its step succeeded (`docker build --rm`). With
   * false, every step container stays, as an ordinary container. @default true
   */
  readonly remove?: boolean;
  /** Remove intermediate containers also when their step failed (`docker build --force-rm`). @default false */
  readonly forceRemove?: boolean;
  /**
   * Receives the build's output as Docker's classic builder prints it: `Step N/M : …` lines,
   * ` ---> …` lines and RUN output (its stderr between `ESC[91m` and `ESC[0m`, as Docker's).
   */
  readonly output?: (text: string) => void;
}

/** One step of a build. */
export interface BuildStep {
  /** 1-based, as `Step N/M`. */
  readonly step: number;
  /** The instruction as written (continuations joined). */
  readonly instruction: string;
  /** Whether the step was taken from the cache. */
  readonly cached: boolean;
  /** The image the step made (or found). */
  readonly imageId: string;
}

export interface BuildResult {
  /** The built image's id (`sha256:…`). */
  readonly imageId: string;
  /** The tags it now has (fully qualified). */
  readonly tags: string[];
  readonly steps: BuildStep[];
  /** Warnings, as printed (unused build args). */
  readonly warnings: string[];
}

/** A step failed (a RUN exited non-zero, a COPY source is missing …): names the Dockerfile line. */
export class BuildError extends CdkDockerError {
  public override readonly code = 'BUILD_FAILED';
  /**
   * @param exitCode the step's exit code, which `build` exits with (as Docker's legacy builder)
   * @param dockerMessage the line Docker's legacy builder prints for it on stderr
   */
  constructor(message: string, public readonly exitCode?: number, public readonly dockerMessage?: string) {
    super(message);
  }
}

/**
 * The build was stopped by a signal (SIGINT, SIGTERM, SIGHUP): its running step container, its
 * temporary files and its unfinished step were removed first. `exitStatus` is the shell's
 * 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as `docker build` exits.
 */
export class BuildInterruptedError extends CdkDockerError {
  public override readonly code = 'BUILD_INTERRUPTED';
  public readonly exitStatus: number;
  constructor(public readonly signal: NodeJS.Signals) {
    super(`build interrupted by ${signal}: its step container and temporary files were removed; run the build again to finish it (finished steps are cached)`);
    this.exitStatus = 128 + (SIGNALS[signal] ?? 0);
  }
}

/** The signals that stop a build cleanly. */
const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** The proxy build args: usable without ARG, not kept in the image history. */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

const OUTPUT_TAIL_LINES = 20;

/** What Docker's classic builder writes around a RUN's stderr output (streamformatter's stderr writer). */
const STDERR_START = '\x1b[91m';
const STDERR_END = '\x1b[0m';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The state of a stage being built. */
interface StageState {
  /** The image so far; undefined while a stage FROM scratch has made no image yet. */
  imageId?: string;
  config: Mutable<ContainerConfig>;
  author?: string;
  /** ARGs declared in the stage, in order, with their values (undefined: no value). */
  args: Map<string, string | undefined>;
  /** Whether CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** Set by the first cache miss. */
  missed: boolean;
}

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);

/** The builder. One instance per runtime configuration. */
export class BuildService {
  private readonly containers: ContainerService;
  private readonly images: ImageService;

  constructor(private readonly config: RuntimeConfig) {
    this.containers = new ContainerService(config);
    this.images = new ImageService(config, containerImageUsers(config));
  }

  /**
   * Builds an image from a Dockerfile; see BuildOptions. Throws DockerfileError, BuildError,
   * NotFoundError, and BuildInterruptedError when SIGINT, SIGTERM or SIGHUP stopped it. First
   * removes what killed builds left (`collectDeadBuilds`).
   */
  public async build(opts: BuildOptions): Promise<BuildResult> {
    const build = new Build(this.containers, this.images, this.config.root, opts);
    const left = await this.collectDeadBuilds();
    for (const p of left.problems) opts.output?.(`[Warning] ${p}\n`);
    return build.run();
  }

  /** Removes the step containers and temporary files of builds whose process died (see leftovers.ts). */
  public collectDeadBuilds(): ReturnType<typeof collectDeadBuilds> {
    return collectDeadBuilds(this.containers, this.config.root);
  }
}

/** One build: its Dockerfile, context, args and output. */
class Build {
  private readonly out: (text: string) => void;
  private readonly parsed: ParsedDockerfile;
  private readonly file: string;
  private readonly context?: BuildContext;
  private readonly buildArgs: Map<string, string>;
  private readonly consumed = new Set<string>();
  private readonly metaArgs = new Map<string, string | undefined>();
  private readonly steps: BuildStep[] = [];
  private readonly results = new Map<number, StageState>();
  private stepNo = 0;
  private totalSteps = 0;
  /** Temporary directories and containers to remove whatever happens. */
  private readonly cleanups: Array<() => Promise<void>> = [];
  /** The signal that stopped the build, once one came. */
  private interrupted?: NodeJS.Signals;
  /** The RUN step container running now, killed by a signal. */
  private running?: string;
  /** The intermediate containers of the instruction being dispatched (shown as `Running in`). */
  private readonly intermediate: string[] = [];
  /** Intermediate containers that stay after the build, as ordinary containers. */
  private readonly kept = new Set<string>();
  /** This process (`PID STARTTIME`), recorded on step containers. */
  private readonly owner = selfIdentity();

  constructor(
    private readonly svc: ContainerService,
    private readonly imageService: ImageService,
    private readonly root: string,
    private readonly opts: BuildOptions,
  ) {
    this.out = opts.output ?? (() => undefined);
    if (opts.context !== undefined) {
      let st: fs.Stats;
      try {
        st = fs.statSync(opts.context);
      } catch {
        throw new NotFoundError(`unable to prepare context: path "${opts.context}" not found`);
      }
      if (!st.isDirectory()) throw new InvalidArgumentError(`unable to prepare context: "${opts.context}" is not a directory`);
      this.context = new BuildContext(fs.realpathSync(opts.context));
    }
    let text = opts.dockerfileContent;
    this.file = opts.dockerfile ? path.basename(opts.dockerfile) : 'Dockerfile';
    if (text === undefined) {
      const file = opts.dockerfile ?? (opts.context !== undefined ? path.join(opts.context, 'Dockerfile') : undefined);
      if (!file) throw new InvalidArgumentError('no Dockerfile: give a context directory, a Dockerfile path or its content');
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch {
        throw new NotFoundError(`unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${path.resolve(file)}: no such file or directory`);
      }
    }
    this.parsed = parseDockerfile(text, this.file);
    this.buildArgs = new Map();
    for (const [k, v] of Object.entries(opts.buildArgs ?? {})) {
      const value = v ?? process.env[k];
      if (value !== undefined) this.buildArgs.set(k, value);
    }
    for (const t of opts.tags ?? []) {
      const r = parseReference(t);
      if (r.digest) throw new InvalidArgumentError(`invalid tag "${t}": a tag cannot have a digest; give NAME[:TAG]`);
    }
  }

  private fail(ins: Instruction, message: string): never {
    throw new DockerfileError(this.file, ins.line, ins.keyword, message);
  }

  /** Substitutes variables in one word, turning substitution errors into Dockerfile errors. */
  private word(ins: Instruction, w: string, vars: Vars): string {
    try {
      return processWord(w, vars, this.parsed.escape);
    } catch (e) {
      if (e instanceof SubstitutionError) this.fail(ins, e.message);
      throw e;
    }
  }

  private words(ins: Instruction, w: string, vars: Vars): string[] {
    try {
      return processWords(w, vars, this.parsed.escape);
    } catch (e) {
      if (e instanceof SubstitutionError) this.fail(ins, e.message);
      throw e;
    }
  }

  /**
   * A signal stops the build: the running step container is killed at once, the step stops, and
   * `run` removes the build's containers and temporary files before it throws
   * BuildInterruptedError. A second signal leaves at once (the next build collects the rest).
   */
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.interrupted) process.exit(128 + (SIGNALS[signal] ?? 0));
    this.interrupted = signal;
    this.killRunning();
  };

  private killRunning(): void {
    if (this.interrupted && this.running) void this.svc.kill(this.running, 'KILL').catch(() => undefined);
  }

  /** Throws BuildInterruptedError once a signal came (checked between steps). */
  private checkInterrupted(): void {
    if (this.interrupted) throw new BuildInterruptedError(this.interrupted);
  }

  public async run(): Promise<BuildResult> {
    for (const s of STOP_SIGNALS) process.on(s, this.onSignal);
    try {
      return await this.runStages();
    } catch (e) {
      // Whatever the step made of its stop (a RUN killed by SIGKILL exits 137), the signal is the cause.
      if (this.interrupted) throw new BuildInterruptedError(this.interrupted);
      throw e;
    } finally {
      for (const c of this.cleanups.reverse()) await c().catch(() => undefined);
      for (const s of STOP_SIGNALS) process.off(s, this.onSignal);
    }
  }

  private async runStages(): Promise<BuildResult> {
    const { stages } = this.parsed;
    // Docker's legacy builder: the size of the context's tar as the CLI sends it, its last progress
    // update. A Dockerfile on stdin without a context (`build -`) goes as a tar of that file alone.
    const sent = this.context ? contextTarSize(this.context) : this.opts.dockerfileContent !== undefined ? tarSize([Buffer.byteLength(this.opts.dockerfileContent)]) : undefined;
    if (sent !== undefined) this.out(`Sending build context to Docker daemon  ${humanSize(sent).padStart(7)}\r\r\n`);
    // Meta ARGs: usable in FROM lines.
    for (const ins of this.parsed.metaArgs) {
      const vars: Vars = (n) => this.metaArgs.get(n);
      for (const p of ins.pairs ?? []) {
        const name = this.word(ins, p.name, vars);
        const def = p.value !== undefined ? this.word(ins, p.value, vars) : undefined;
        this.metaArgs.set(name, this.buildArgs.get(name) ?? def);
        if (this.buildArgs.has(name)) this.consumed.add(name);
      }
    }
    let target = stages[stages.length - 1];
    if (this.opts.target !== undefined) {
      const t = stages.find((s) => s.name === this.opts.target!.toLowerCase());
      if (!t) throw new NotFoundError(`failed to reach build target ${this.opts.target} in Dockerfile: no stage is named "${this.opts.target}" (stages: ${stages.map((s) => s.name ?? String(s.index)).join(', ')})`);
      target = t;
    }
    // --label: as Docker 20.10, one LABEL step per label at the end, sorted by key, its value as
    // given (escaped here character by character, so that nothing in it is substituted).
    const literal = (text: string) => text.replace(/[^A-Za-z0-9_.-]/g, (c) => `${this.parsed.escape}${c}`);
    const extra: Instruction[] = Object.entries(this.opts.labels ?? {})
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => ({ keyword: 'LABEL', line: 0, original: `LABEL ${k}=${v}`, args: '', flags: {}, pairs: [{ name: literal(k), value: literal(v) }] }));
    const needed = this.neededStages(target);
    this.totalSteps = needed.reduce((n, s) => n + 1 + s.instructions.length, 0) + extra.length;
    for (const stage of needed) {
      const st = await this.buildStage(stage, stage === target ? extra : []);
      this.results.set(stage.index, st);
    }
    const final = this.results.get(target.index)!;
    const imageId = final.imageId ?? (await this.materialize(final));
    this.checkInterrupted();
    const warnings: string[] = [];
    const unused = [...this.buildArgs.keys()].filter((k) => !this.consumed.has(k) && !PROXY_ARGS.includes(k)).sort();
    if (unused.length) {
      const w = `[Warning] One or more build-args [${unused.join(' ')}] were not consumed`;
      warnings.push(w);
      this.out(`${w}\n`);
    }
    this.out(`Successfully built ${short(imageId)}\n`);
    const tags: string[] = [];
    for (const t of this.opts.tags ?? []) {
      await this.imageService.store.tag(imageId, t);
      tags.push(formatReference(parseReference(t)));
      this.out(`Successfully tagged ${familiarReference(parseReference(t))}\n`);
    }
    return { imageId, tags, steps: this.steps, warnings };
  }

  /** A stage's FROM as an earlier stage, or undefined for an image. */
  private stageRef(name: string, before: number): Stage | undefined {
    const lower = name.toLowerCase();
    return this.parsed.stages.find((s) => s.index < before && (s.name === lower || (/^\d+$/.test(name) && s.index === Number(name))));
  }

  private fromName(stage: Stage): string {
    return this.word(stage.from, stage.from.args, (n) => this.metaArgs.get(n));
  }

  /** The stages the target needs (its FROM chain and COPY --from sources), in file order. */
  private neededStages(target: Stage): Stage[] {
    const need = new Set<number>();
    const visit = (s: Stage) => {
      if (need.has(s.index)) return;
      need.add(s.index);
      const base = this.stageRef(this.fromName(s), s.index);
      if (base && !/^\d+$/.test(this.fromName(s))) visit(base);
      for (const ins of s.instructions) {
        const from = ins.flags.from;
        if (from !== undefined && ins.keyword === 'COPY') {
          const ref = this.stageRef(from, s.index);
          if (ref) visit(ref);
        }
      }
    };
    visit(target);
    return this.parsed.stages.filter((s) => need.has(s.index));
  }

  private step(ins: Instruction): number {
    this.checkInterrupted();
    this.stepNo++;
    this.out(`Step ${this.stepNo}/${this.totalSteps} : ${ins.original}\n`);
    return this.stepNo;
  }

  private async buildStage(stage: Stage, extra: Instruction[]): Promise<StageState> {
    const from = stage.from;
    const stepNo = this.step(from);
    const baseName = this.fromName(stage);
    let state: StageState;
    const ref = /^\d+$/.test(baseName) ? undefined : this.stageRef(baseName, stage.index);
    if (ref) {
      const r = this.results.get(ref.index)!;
      state = { imageId: r.imageId, config: { ...r.config }, author: r.author, args: new Map(), cmdSet: false, missed: false };
    } else if (baseName.toLowerCase() === 'scratch') {
      state = { imageId: undefined, config: {}, args: new Map(), cmdSet: false, missed: false };
    } else {
      const image = await this.baseImage(from, baseName);
      const config = this.imageService.store.config(image);
      state = { imageId: image.id, config: { ...(config.config ?? {}) }, author: config.author || undefined, args: new Map(), cmdSet: false, missed: false };
    }
    // ONBUILD triggers of the base run now, once, as part of the FROM step; the result does not keep them.
    const triggers = state.config.OnBuild ?? [];
    if (triggers.length) {
      this.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      state.config.OnBuild = undefined;
      for (const t of triggers) {
        const ins = parseTrigger(t, this.file, from.line);
        if (['ONBUILD', 'FROM', 'MAINTAINER'].includes(ins.keyword)) this.fail(from, `${ins.keyword} isn't allowed as an ONBUILD trigger (in the base image ${baseName})`);
        await this.dispatch(state, ins, from);
      }
    }
    // Each step ends with the image it left: none yet in a stage FROM scratch (Docker prints ` ---> `).
    const result = () => this.out(` ---> ${state.imageId ? short(state.imageId) : ''}\n`);
    result();
    this.steps.push({ step: stepNo, instruction: from.original, cached: false, imageId: state.imageId ?? '' });
    for (const ins of [...stage.instructions, ...extra]) {
      const n = this.step(ins);
      const cached = await this.dispatch(state, ins);
      result();
      this.steps.push({ step: n, instruction: ins.original, cached, imageId: state.imageId ?? '' });
    }
    return state;
  }

  /** The base image of a FROM: from the store, else pulled. */
  private async baseImage(ins: Instruction, name: string): Promise<ImageRecord> {
    let ref: string;
    try {
      ref = formatReference(parseReference(name));
    } catch (e) {
      this.fail(ins, `invalid reference format: "${name}" (${(e as Error).message})`);
    }
    const found = this.imageService.store.tryResolve(ref) ?? this.imageService.store.tryResolve(name);
    if (found) return found;
    try {
      this.out(`Pulling ${familiarReference(parseReference(ref))}\n`);
      return await this.imageService.pull(ref);
    } catch (e) {
      this.fail(ins, `base image ${name} is not in the image store and could not be pulled: ${(e as Error).message}`);
    }
  }

  /** Variables for substitution: the stage's ARGs with values, overridden by ENV. */
  private vars(state: StageState): Vars {
    const args = [...state.args].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    return varsOf(args, state.config.Env ?? []);
  }

  /**
   * Dispatches one instruction; returns whether it came from the cache. `trigger`: the FROM an
   * ONBUILD trigger runs under. Then its intermediate container goes or stays (Docker's rules:
   * removed after success with `remove`, always with `forceRemove`).
   */
  private async dispatch(state: StageState, ins: Instruction, trigger?: Instruction): Promise<boolean> {
    let succeeded = false;
    try {
      const cached = await this.dispatchInstruction(state, ins, trigger);
      succeeded = true;
      return cached;
    } finally {
      await this.settleIntermediate(succeeded);
    }
  }

  /** Removes or keeps the intermediate containers of the instruction just dispatched. */
  private async settleIntermediate(succeeded: boolean): Promise<void> {
    for (const id of this.intermediate.splice(0)) {
      // A build stopped by a signal removes its containers itself (run's cleanups), as Docker's cancel.
      if (this.interrupted) continue;
      try {
        if (this.opts.forceRemove || (succeeded && this.opts.remove !== false)) {
          await this.removeContainer(id);
          this.out(`Removing intermediate container ${short(id)}\n`);
        } else {
          await this.keepContainer(id);
        }
      } catch (e) {
        // After a failed step the build fails with that step's error; the container goes with the build's cleanups.
        if (succeeded) throw e;
      }
    }
  }

  /** An intermediate container that stays: an ordinary container from now on (listed by `ps -a`, never swept). */
  private async keepContainer(id: string): Promise<void> {
    const { [BUILD_LABEL]: _step, [BUILD_OWNER_LABEL]: _owner, ...labels } = this.svc.record(id).Config.Labels ?? {};
    await this.svc.update(id, { labels });
    this.kept.add(id);
  }

  private async dispatchInstruction(state: StageState, ins: Instruction, trigger?: Instruction): Promise<boolean> {
    const vars = this.vars(state);
    const c = state.config;
    const label = trigger ? { ...ins, line: trigger.line } : ins;
    try {
      const ctx = { word: (w: string) => this.word(ins, w, vars), words: (w: string) => this.words(ins, w, vars), fail: (m: string) => this.fail(ins, m) };
      const text = applyConfigInstruction(c, ins, ctx, state);
      if (text !== undefined) return ins.keyword === 'WORKDIR' ? this.workdir(state, text) : this.commitMeta(state, text);
      switch (ins.keyword) {
        case 'ARG': {
          const shown: string[] = [];
          for (const p of ins.pairs ?? []) {
            const name = this.word(ins, p.name, vars);
            const def = p.value !== undefined ? this.word(ins, p.value, vars) : undefined;
            let value = def;
            if (this.buildArgs.has(name)) {
              value = this.buildArgs.get(name);
              this.consumed.add(name);
            } else if (def === undefined && this.metaArgs.has(name)) {
              value = this.metaArgs.get(name);
            }
            state.args.set(name, value);
            shown.push(def !== undefined ? `${name}=${def}` : name);
          }
          return this.commitMeta(state, `ARG ${shown.join(' ')}`);
        }
        case 'MAINTAINER':
          state.author = ins.args;
          return this.commitMeta(state, `MAINTAINER ${ins.args}`);
        case 'RUN':
          return this.runStep(state, label);
        case 'COPY':
        case 'ADD':
          return this.copyStep(state, label, vars);
        case 'FROM':
          this.fail(ins, 'FROM is not allowed here');
          break;
        default:
          this.fail(ins, `unknown instruction: ${ins.keyword}`);
      }
    } catch (e) {
      if (e instanceof DockerfileError || e instanceof BuildError || e instanceof BuildInterruptedError) throw e;
      if (e instanceof CdkDockerError && !(e instanceof NotFoundError && ins.keyword === 'RUN')) throw new DockerfileError(this.file, label.line, ins.keyword, e.message);
      throw e;
    }
    return false;
  }

  // --- committing and the cache -------------------------------------------------------------

  /** The shell a step's commit comment names (`/bin/sh -c #(nop) …`), as Docker's: the stage's SHELL. */
  private shell(state: StageState): string[] {
    return state.config.Shell ?? DEFAULT_SHELL;
  }

  /** The cached child of the state's image made by `createdBy`, if any (and caching is on). */
  private cached(state: StageState, createdBy: string): string | undefined {
    if (this.opts.noCache || state.missed) return undefined;
    const store = this.imageService.store;
    // A stage FROM scratch that has made no image yet: the children of the empty image.
    const parent = state.imageId ?? this.scratchImage()?.id;
    if (!parent) return undefined;
    const parentHistory = store.config(store.resolve(parent)).history?.length ?? 0;
    for (const r of store.children(parent).sort((a, b) => compareText(b.created, a.created))) {
      const h = store.config(r).history ?? [];
      if (h.length === parentHistory + 1 && h[h.length - 1].created_by === createdBy) return r.id;
    }
    return undefined;
  }

  /** Takes a cached step: the state moves to the cached image (its config is the same by construction). */
  private useCache(state: StageState, id: string): boolean {
    this.out(' ---> Using cache\n');
    state.imageId = id;
    const config = this.imageService.store.config(this.imageService.store.resolve(id));
    state.config = { ...(config.config ?? {}) };
    return true;
  }

  private done(state: StageState, record: ImageRecord): boolean {
    state.missed = true;
    state.imageId = record.id;
    return false;
  }

  private cleanConfig(c: ContainerConfig): ContainerConfig {
    return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as ContainerConfig;
  }

  /**
   * A step that changes only the config: as Docker's, a container is created for it (never
   * started) and committed as an image with the same layers and an `empty_layer` history entry.
   */
  private async commitMeta(state: StageState, text: string): Promise<boolean> {
    const cmd = [...this.shell(state), '#(nop) ', text];
    const createdBy = cmd.join(' ');
    const hit = this.cached(state, createdBy);
    if (hit) return this.useCache(state, hit);
    await this.stepContainer(state, { cmd, env: state.config.Env });
    const record = await commitImage(this.imageService.store, { baseImage: state.imageId, layer: undefined, config: this.cleanConfig(state.config), createdBy, author: state.author });
    return this.done(state, record);
  }

  /** The empty image (no layers, no history, no config) the steps of a stage FROM scratch are made from, if there is one. */
  private scratchImage(): ImageRecord | undefined {
    const store = this.imageService.store;
    return store.list().find((r) => {
      if (r.parent || r.repoTags.length) return false;
      const c = store.config(r);
      return c.rootfs.diff_ids.length === 0 && (c.history ?? []).length === 0 && Object.keys(c.config ?? {}).length === 0;
    });
  }

  /**
   * The image of a stage FROM scratch that has made none yet: the empty image, made once. (Such
   * a stage has no config of its own yet: each instruction makes an image; the step being
   * dispatched commits its config into its own image.)
   */
  private async materialize(state: StageState): Promise<string> {
    if (state.imageId) return state.imageId;
    const record = this.scratchImage() ?? (await commitImage(this.imageService.store, { baseImage: undefined, layer: undefined, config: {}, createdBy: undefined }));
    state.imageId = record.id;
    return record.id;
  }

  /** A stopped container of the state's image, removed when the build ends (unless kept). */
  private async buildContainer(state: StageState, opts: { cmd?: string[]; env?: readonly string[]; network?: string } = {}): Promise<string> {
    const image = await this.materialize(state);
    const record = await this.svc.create({
      image,
      cmd: opts.cmd ?? ['/bin/sh'],
      entrypoint: [],
      env: [...(opts.env ?? [])],
      user: state.config.User ?? '',
      workingDir: state.config.WorkingDir ?? '',
      networkMode: opts.network ?? 'none',
      noHealthcheck: true,
      labels: { [BUILD_LABEL]: 'true', [BUILD_OWNER_LABEL]: this.owner },
    });
    this.cleanups.push(async () => {
      if (this.kept.has(record.Id)) return;
      await this.svc.remove(record.Id, { force: true, volumes: true }).catch((e: unknown) => (e instanceof NotFoundError ? undefined : Promise.reject(e)));
    });
    return record.Id;
  }

  /** The intermediate container of a step (` ---> Running in ID`); it goes or stays after the instruction (settleIntermediate). */
  private async stepContainer(state: StageState, opts: { cmd: string[]; env?: readonly string[]; network?: string }): Promise<string> {
    const id = await this.buildContainer(state, opts);
    this.intermediate.push(id);
    this.out(` ---> Running in ${short(id)}\n`);
    return id;
  }

  private async removeContainer(id: string): Promise<void> {
    await this.svc.remove(id, { force: true, volumes: true });
  }

  /** Commits a build container's changes as the state's next image. */
  private async commitLayer(state: StageState, ctr: string, createdBy: string): Promise<boolean> {
    const record = await commitContainer(this.svc, ctr, { config: this.cleanConfig(state.config), createdBy, author: state.author });
    return this.done(state, record);
  }

  /** WORKDIR: the directory is made in the step's container (Docker's comment has one blank after `#(nop)`). */
  private async workdir(state: StageState, text: string): Promise<boolean> {
    const cmd = [...this.shell(state), `#(nop) ${text}`];
    const createdBy = cmd.join(' ');
    const hit = this.cached(state, createdBy);
    if (hit) return this.useCache(state, hit);
    const dir = state.config.WorkingDir!;
    const ctr = await this.stepContainer(state, { cmd, env: state.config.Env });
    const made = await withContainerRoot(this.svc, ctr, async (root) => {
      const r = root.resolve(dir);
      if (r.stat) return false;
      fs.mkdirSync(r.host, { recursive: true, mode: 0o755 });
      return true;
    });
    if (made) return this.commitLayer(state, ctr, createdBy);
    const record = await commitImage(this.imageService.store, { baseImage: state.imageId, layer: undefined, config: this.cleanConfig(state.config), createdBy, author: state.author });
    return this.done(state, record);
  }

  // --- RUN ------------------------------------------------------------------------------------

  private async runStep(state: StageState, ins: Instruction): Promise<boolean> {
    const c = state.config;
    const argv = ins.json ?? [...(c.Shell ?? DEFAULT_SHELL), ins.args];
    if (argv.length === 0 || (ins.json === undefined && ins.args === '')) this.fail(ins, 'RUN requires at least one argument');
    // Build args the command sees: declared ones with a value, unless ENV sets the same name.
    const envNames = new Set((c.Env ?? []).map((e) => e.split('=')[0]));
    const args = [...state.args].filter(([k, v]) => v !== undefined && !envNames.has(k)).map(([k, v]) => `${k}=${v}`);
    const proxies = PROXY_ARGS.filter((k) => this.buildArgs.has(k) && !state.args.has(k)).map((k) => `${k}=${this.buildArgs.get(k)}`);
    for (const k of PROXY_ARGS) if (this.buildArgs.has(k)) this.consumed.add(k);
    const createdBy = `${args.length ? `|${args.length} ${args.join(' ')} ` : ''}${argv.join(' ')}`;
    const hit = this.cached(state, createdBy);
    if (hit) return this.useCache(state, hit);
    const ctr = await this.stepContainer(state, { cmd: argv, env: [...args, ...proxies].filter((a) => !envNames.has(a.split('=')[0])), network: this.opts.network ?? 'bridge' });
    const tail: string[] = [];
    let partial = '';
    const keep = (text: string) => {
      const lines = (partial + text).split('\n');
      partial = lines.pop()!;
      tail.push(...lines);
      if (tail.length > OUTPUT_TAIL_LINES) tail.splice(0, tail.length - OUTPUT_TAIL_LINES);
    };
    let finished = false;
    let code = 0;
    try {
      this.checkInterrupted();
      try {
        await this.svc.start(ctr, { attachedBy: process.pid });
      } catch (e) {
        this.checkInterrupted();
        throw new BuildError(`${this.file}:${ins.line}: ${ins.keyword}: the command '${argv.join(' ')}' could not start: ${(e as Error).message}`, (e as { exitCode?: number }).exitCode ?? 1);
      }
      // A signal that came while it started kills it now.
      this.running = ctr;
      this.killRunning();
      const waiting = this.svc.wait(ctr).then((x) => {
        code = x;
        finished = true;
      });
      await followLog(this.svc.logPath(ctr), 0, (l) => {
        // As Docker's classic builder: output as written (no newline added), stderr in red.
        this.out(l.stream === 'stderr' ? `${STDERR_START}${l.text}${STDERR_END}` : l.text);
        keep(l.text);
      }, () => finished);
      await waiting;
    } finally {
      this.running = undefined;
    }
    this.checkInterrupted();
    if (partial) tail.push(partial);
    // A failed step's container stays, or goes with --force-rm (settleIntermediate).
    if (code !== 0) {
      const output = tail.length ? `\n${tail.map((l) => `  ${l}`).join('\n')}` : '';
      throw new BuildError(`${this.file}:${ins.line}: ${ins.original}: the command '${argv.join(' ')}' returned a non-zero code: ${code}${output}`, code, `The command '${argv.join(' ')}' returned a non-zero code: ${code}`);
    }
    return this.commitLayer(state, ctr, createdBy);
  }

  // --- COPY and ADD ---------------------------------------------------------------------------

  private async copyStep(state: StageState, ins: Instruction, vars: Vars): Promise<boolean> {
    const add = ins.keyword === 'ADD';
    const words = (ins.json ?? ins.args.split(/\s+/)).map((w) => this.word(ins, w, vars));
    if (words.length < 2) this.fail(ins, `${ins.keyword} requires at least two arguments, but only one was provided. Destination could not be determined.`);
    const destArg = words[words.length - 1];
    const srcArgs = words.slice(0, -1);
    const chown = ins.flags.chown !== undefined ? this.word(ins, ins.flags.chown, vars) : undefined;
    const chmod = ins.flags.chmod !== undefined ? parseInt(ins.flags.chmod, 8) : undefined;
    if (chmod !== undefined && (!/^[0-7]{3,4}$/.test(ins.flags.chmod) || Number.isNaN(chmod))) this.fail(ins, `invalid --chmod "${ins.flags.chmod}": give octal permissions such as 755`);
    const from = ins.flags.from !== undefined ? this.word(ins, ins.flags.from, vars) : undefined;
    if (from !== undefined && add) this.fail(ins, 'ADD does not take --from; use COPY --from');
    const workdir = state.config.WorkingDir || '/';
    const destDirSyntax = destArg.endsWith('/') || destArg.endsWith('/.') || destArg === '.';
    const dest = path.posix.resolve(workdir, destArg);

    // Sources: in the context, another stage or image, or URLs (ADD).
    let sources: Source[] = [];
    let keyPart: string;
    let fromImage: string | undefined;
    if (from !== undefined) {
      const stage = this.stageRef(from, Infinity);
      if (stage) {
        const r = this.results.get(stage.index);
        if (!r) this.fail(ins, `COPY --from=${from}: the stage is not built before this one (a stage can only copy from earlier stages)`);
        fromImage = await this.materialize(r);
      } else {
        fromImage = (await this.baseImage(ins, from)).id;
      }
      keyPart = `from:${fromImage} ${JSON.stringify(srcArgs)}`;
    } else {
      for (const s of srcArgs) {
        if (add && /^https?:\/\//.test(s)) {
          sources.push(await this.download(ins, s, destDirSyntax));
          continue;
        }
        if (!this.context) this.fail(ins, `${ins.keyword} failed: no build context (the Dockerfile came from stdin); build with a context directory to copy ${s}`);
        try {
          sources.push(...this.context.sources(s, ins.keyword));
        } catch (e) {
          if (e instanceof CdkDockerError) this.fail(ins, e.message);
          throw e;
        }
      }
      keyPart = sourcesHash(sources);
    }
    const multiple = srcArgs.length > 1 || sources.length > 1;
    if (multiple && !destDirSyntax) this.fail(ins, `When using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
    const flagText = [chown !== undefined ? `--chown=${chown} ` : '', chmod !== undefined ? `--chmod=${ins.flags.chmod} ` : ''].join('');
    const createdBy = `${this.shell(state).join(' ')} #(nop) ${ins.keyword} ${flagText}${keyPart} in ${destArg} `;
    const hit = this.cached(state, createdBy);
    if (hit) return this.useCache(state, hit);

    const ctr = await this.buildContainer(state);
    const write = async (root: ContainerRoot, srcRoot?: ContainerRoot) => {
      const owner = chown !== undefined ? ownerOf(root.rootfs, chown) : undefined;
      if (srcRoot) sources = srcArgs.flatMap((a) => imageSources(srcRoot, a, ins));
      if (sources.length > 1 && !destDirSyntax) this.fail(ins, `When using ${ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
      const target = root.resolve(dest);
      const destIsDir = destDirSyntax || sources.length > 1 || !!target.stat?.isDirectory();
      const ensureDir = (dir: string) => {
        const r = root.resolve(dir);
        if (r.stat && !r.stat.isDirectory()) this.fail(ins, `cannot copy to ${dir}: it is a file in the image, not a directory`);
        if (!r.stat) {
          fs.mkdirSync(r.host, { recursive: true, mode: 0o755 });
          if (owner) fs.chownSync(r.host, owner.uid, owner.gid);
        }
      };
      for (const s of sources) {
        if (add && !s.isDir && !s.remote && (await isArchive(s.host))) {
          ensureDir(dest);
          await root.extract(openDecompressed(s.host), dest);
          continue;
        }
        const item = (e: Source['entries'][number], name: string): TarItem => ({
          name,
          type: e.type,
          mode: chmod !== undefined ? chmod : e.stat.mode & 0o7777,
          uid: owner?.uid ?? 0,
          gid: owner?.gid ?? 0,
          mtime: e.stat.mtime,
          linkname: e.linkname,
          host: e.type === 'file' ? e.host : undefined,
        });
        if (s.isDir) {
          ensureDir(dest);
          await root.extract(tarOf(s.entries.map((e) => item(e, e.rel))), dest);
        } else if (destIsDir) {
          ensureDir(dest);
          await root.extract(tarOf([item(s.entries[0], path.posix.basename(s.rel))]), dest);
        } else {
          if (target.stat?.isDirectory()) this.fail(ins, `cannot overwrite directory ${dest} with a file`);
          ensureDir(path.posix.dirname(dest));
          await root.extract(tarOf([item(s.entries[0], path.posix.basename(dest))]), path.posix.dirname(dest));
        }
      }
    };
    if (fromImage) {
      const src = await this.buildContainer({ imageId: fromImage, config: {}, args: new Map(), cmdSet: false, missed: false });
      await withContainerRoot(this.svc, src, (srcRoot) => withContainerRoot(this.svc, ctr, (root) => write(root, srcRoot)));
      await this.removeContainer(src);
    } else {
      await withContainerRoot(this.svc, ctr, (root) => write(root));
    }
    // COPY and ADD write into a container of their own that Docker's builder does not have: never shown, always removed.
    const cached = await this.commitLayer(state, ctr, createdBy);
    await this.removeContainer(ctr);
    return cached;
  }

  /** ADD URL: downloads into a temporary directory (removed with the build); never extracted. */
  private async download(ins: Instruction, url: string, destIsDir: boolean): Promise<Source> {
    const dir = buildTempDir(this.root);
    this.cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const name = destIsDir ? decodeURIComponent(new URL(url).pathname.split('/').filter(Boolean).pop() ?? '') : 'download';
    if (!name) this.fail(ins, `cannot determine a filename from the URL ${url}; give a destination file name (without a trailing /)`);
    const file = path.join(dir, name);
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'follow' });
    } catch (e) {
      this.fail(ins, `cannot download ${url}: ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) this.fail(ins, `cannot download ${url}: HTTP ${res.status} ${res.statusText}`);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), fs.createWriteStream(file, { mode: 0o600 }));
    fs.chmodSync(file, 0o600);
    const modified = res.headers.get('last-modified');
    if (modified && Number.isFinite(Date.parse(modified))) fs.utimesSync(file, new Date(modified), new Date(modified));
    const stat = fs.statSync(file);
    return { rel: name, host: file, isDir: false, remote: true, entries: [{ rel: '', host: file, stat, type: 'file' }] };
  }
}

/** `--chown=user[:group]` against the image's /etc/passwd and /etc/group (a user alone: gid = uid, as Docker). */
function ownerOf(rootfs: string, spec: string): { uid: number; gid: number } {
  const [user, group] = spec.split(':');
  const u = resolveUser(rootfs, user);
  if (group === undefined) return { uid: u.uid, gid: /^\d+$/.test(user) ? u.uid : u.gid };
  const g = resolveUser(rootfs, `${user}:${group}`);
  return { uid: u.uid, gid: g.gid };
}

/** COPY --from sources: a path (or a wildcard in its last component) in another image's root. */
function imageSources(root: ContainerRoot, arg: string, ins: Instruction): Source[] {
  const clean = path.posix.normalize(`/${arg}`);
  const base = path.posix.basename(clean);
  let paths = [clean];
  if (/[*?[]/.test(base)) {
    const dir = root.resolve(path.posix.dirname(clean));
    const re = new RegExp(`^${base.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    paths = dir.stat?.isDirectory() ? fs.readdirSync(dir.host).filter((n) => re.test(n)).sort().map((n) => path.posix.join(dir.ctr, n)) : [];
    if (paths.length === 0) throw new NotFoundError(`${ins.keyword} failed: no source files were specified: "${arg}" matches nothing in the source image`);
  }
  return paths.map((p) => {
    const r = root.resolve(p);
    if (!r.stat) throw new NotFoundError(`${ins.keyword} failed: stat ${arg}: file does not exist in the source image`);
    const st = fs.statSync(r.host);
    if (!st.isDirectory()) return { rel: p, host: r.host, isDir: false, entries: [{ rel: '', host: r.host, stat: st, type: 'file' as const }] };
    const entries: Source['entries'] = [];
    const walk = (rel: string) => {
      for (const name of fs.readdirSync(path.join(r.host, rel)).sort()) {
        const sub = rel ? `${rel}/${name}` : name;
        const host = path.join(r.host, sub);
        const s = fs.lstatSync(host);
        if (s.isDirectory()) {
          entries.push({ rel: sub, host, stat: s, type: 'directory' });
          walk(sub);
        } else if (s.isSymbolicLink()) entries.push({ rel: sub, host, stat: s, type: 'symlink', linkname: fs.readlinkSync(host) });
        else if (s.isFile()) entries.push({ rel: sub, host, stat: s, type: 'file' });
      }
    };
    walk('');
    return { rel: p, host: r.host, isDir: true, entries };
  });
}

/** Whether a local file is a tar archive ADD unpacks: plain tar, or gzip, bzip2 or xz compressed. */
async function isArchive(file: string): Promise<boolean> {
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, 512, 0);
  fs.closeSync(fd);
  if (n >= 262 && head.subarray(257, 262).toString('latin1') === 'ustar') return true;
  const gzip = head[0] === 0x1f && head[1] === 0x8b;
  const bzip2 = head.subarray(0, 3).toString('latin1') === 'BZh';
  const xz = head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (!gzip && !bzip2 && !xz) return false;
  // Compressed: a tar only if the decompressed start has the ustar magic.
  const start = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const s = openDecompressed(file);
    const finish = () => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    };
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size >= 512) finish();
    });
    s.on('end', finish);
    s.on('error', finish);
  });
  return start.length >= 262 && start.subarray(257, 262).toString('latin1') === 'ustar';
}

/**
 * Bytes of the context as a tar (Go's archive/tar, as the docker CLI sends it): a 512-byte
 * header per entry, file content padded to 512, two zero blocks at the end.
 */
function contextTarSize(context: BuildContext): number {
  return tarSize(context.files().map((f) => {
    const st = fs.lstatSync(path.join(context.dir, f));
    return st.isFile() ? st.size : 0;
  }));
}

/** Bytes of a tar of entries with these content sizes. */
function tarSize(sizes: number[]): number {
  return sizes.reduce((n, size) => n + 512 + Math.ceil(size / 512) * 512, 1024);
}
