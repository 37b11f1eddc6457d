import { familiarReference, parseReference } from '../../lib/core/reference';
import type { RuntimeConfig } from '../config';
import { recordImageEvent } from '../events';
import type { ImageRecord } from '../images/store';
import { bindContext, ContainerContext } from './context';
import type * as Create from './create';
import type { CreateOptions } from './create';
import type * as Exec from './exec';
import type { ExecOptions, ExecResult } from './exec';
import { currentState } from './exit';
import type * as Files from './files';
import type { CommitContainerOptions } from './files';
import type * as HealthStats from './health-stats';
import type { StatsStreamOptions, TopResult } from './health-stats';
import type * as Lifecycle from './lifecycle';
import type * as Logs from './logs';
import type { LogDriver, LogLine } from './logs';
import type * as NetworkFiles from './network-files';
import type * as Output from './output';
import type { ReadLogsOptions } from './output';
import { ContainerListFilters, ContainerSummary, inspectContainer, listContainers } from './query';
import { restoreIfRebooted } from './restore';
import type * as Start from './start';
import type { StartHooks } from './start';
import type { StatsRow } from './stats';
import type { ContainerRecord, ContainerState, HealthState, RestartPolicyName } from './types';

export type { CreateOptions } from './create';
export type { ContainerListFilters, ContainerSummary } from './query';
export type { StartHooks } from './start';

/** How `exec` runs a command (Docker's exec options); each stream is a stream, 'inherit' (this process's) or none. */
export type ExecRequest = ExecOptions;

// The parts are loaded on first use: a listing (`ps`, an apply's observation) needs only the
// context, query.ts and exit.ts, and pays for nothing else (~12 ms of modules).
const part = {
  create: () => require('./create') as typeof Create,
  exec: () => require('./exec') as typeof Exec,
  files: () => require('./files') as typeof Files,
  healthStats: () => require('./health-stats') as typeof HealthStats,
  lifecycle: () => require('./lifecycle') as typeof Lifecycle,
  logs: () => require('./logs') as typeof Logs,
  networkFiles: () => require('./network-files') as typeof NetworkFiles,
  output: () => require('./output') as typeof Output,
  start: () => require('./start') as typeof Start,
};

/**
 * The containers half of the built-in runtime, as one facade over its parts: create.ts,
 * start.ts (the OCI spec, conmon), exit.ts and lifecycle.ts (exits, restart policies, stop, kill,
 * rm …), query.ts (ps, inspect), network-files.ts (/etc/hosts and resolv.conf, connect),
 * health-stats.ts (healthchecks, stats, top), exec.ts, output.ts (logs), files.ts (cp, diff,
 * export, commit) and attach.ts. No daemon: every method does its work in the calling process
 * and leaves the container to conmon; conmon's exit command (runtime/hook.ts) records the exit
 * and applies the restart policy. Its stores stay private: callers get the methods below.
 */
export class ContainerService {
  private readonly ctx: ContainerContext;

  constructor(config: RuntimeConfig) {
    this.ctx = new ContainerContext(config);
    bindContext(this, this.ctx);
  }

  // --- records and states ---------------------------------------------------------------------

  /** The id of the container named `nameOrId` (a name, a full id or a unique id prefix), as Docker resolves it. */
  public resolve(nameOrId: string): string {
    return this.ctx.store.resolve(nameOrId);
  }

  /** As `resolve`, undefined when there is no such container. */
  public tryResolve(nameOrId: string): string | undefined {
    return this.ctx.store.tryResolve(nameOrId);
  }

  /** What `create` decided for container `id`. */
  public record(id: string): ContainerRecord {
    return this.ctx.store.record(id);
  }

  public tryRecord(id: string): ContainerRecord | undefined {
    return this.ctx.store.tryRecord(id);
  }

  /** Every container's record. */
  public records(): ContainerRecord[] {
    return this.ctx.store.records();
  }

  /** The recorded state of container `id`, as it is (see `currentState`). */
  public state(id: string): ContainerState {
    return this.ctx.store.state(id);
  }

  /** The state of container `id` brought up to date first: an exit that happened is recorded. */
  public currentState(id: string): Promise<ContainerState> {
    return currentState(this.ctx, id);
  }

  // --- logs -----------------------------------------------------------------------------------

  /** conmon's k8s-file log of container `id`. */
  public logPath(id: string): string {
    return this.ctx.logPath(id);
  }

  /** The log driver of a container (`none` has nothing to read). */
  public logDriver(id: string): LogDriver {
    return part.output().logDriverOf(this.ctx, id);
  }

  /** Where Docker's json-file log of a `--log-driver json-file` container is: `<container dir>/<id>-json.log`. */
  public jsonLogPath(id: string): string {
    return this.ctx.jsonLogPath(id);
  }

  /** Brings a json-file container's `<id>-json.log` up to date with conmon's log. */
  public syncJsonLog(id: string): void {
    part.output().syncContainerJsonLog(this.ctx, id);
  }

  /** `logs`: the container's output lines that `opts` picks, then (`follow`) new ones while it runs. */
  public logs(nameOrId: string, opts: ReadLogsOptions, onLine: (line: LogLine) => void): Promise<void> {
    return part.output().readContainerLogs(this.ctx, nameOrId, opts, onLine);
  }

  // --- lifecycle ------------------------------------------------------------------------------

  public create(opts: CreateOptions): Promise<ContainerRecord> {
    return part.create().createContainer(this.ctx, opts);
  }

  /**
   * Starts a created or exited container; resolves once it runs. `attachedBy`: the pid of a
   * process that waits for the exit and records it itself (a foreground `run`, `start -a`).
   */
  public start(nameOrId: string, opts: { attachedBy?: number } & StartHooks = {}): Promise<void> {
    return part.start().startContainer(this.ctx, nameOrId, opts);
  }

  /**
   * `run` after `create`: runs `start` (a start, or an attach that starts) and, when the container
   * could not be started, cleans up as Docker's run does — one that could not be set up at all
   * (a port taken: no exit code) or an `--rm` one is removed; one whose process failed to start
   * stays, exited. Rethrows the failure.
   */
  public async runAndCleanUp<T>(id: string, start: () => Promise<T>): Promise<T> {
    try {
      return await start();
    } catch (e) {
      const code = (e as { exitCode?: number }).exitCode;
      if (this.tryRecord(id)?.HostConfig.AutoRemove || code === undefined) await this.remove(id, { force: true, volumes: true }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A foreground `run` (no -d, -i or -t) of a started container: its output to `onLine` as it
   * comes until it exits, then an `--rm` container removed; resolves with its exit code.
   */
  public async followRun(id: string, onLine: (line: LogLine) => void): Promise<number> {
    let finished = false;
    let code = 0;
    const waiting = this.wait(id).then((c) => {
      code = c;
      finished = true;
    });
    await part.logs().followLog(this.logPath(id), 0, onLine, () => finished);
    await waiting;
    await this.removeIfAutoRemove(id);
    return code;
  }

  /** Removes an `--rm` container that exited (after an attached run, whose CLI holds the exit); others stay. */
  public async removeIfAutoRemove(id: string): Promise<void> {
    if (this.tryRecord(id)?.HostConfig.AutoRemove) await part.lifecycle().removeIfExists(this.ctx, id);
  }

  /** Sends STOPSIGNAL, waits up to `timeout` seconds, then SIGKILL; resolves once it has exited. */
  public stop(nameOrId: string, timeout?: number): Promise<void> {
    return part.lifecycle().stopContainer(this.ctx, nameOrId, timeout);
  }

  /** Sends a signal (default SIGKILL); a container waiting to restart stays exited. */
  public kill(nameOrId: string, signal = 'KILL'): Promise<void> {
    return part.lifecycle().killContainer(this.ctx, nameOrId, signal);
  }

  public restart(nameOrId: string, timeout?: number): Promise<void> {
    return part.lifecycle().restartContainer(this.ctx, nameOrId, timeout);
  }

  /** Waits until the container is not running (nor restarting) and returns its exit code. */
  public wait(nameOrId: string): Promise<number> {
    return part.lifecycle().waitContainer(this.ctx, nameOrId);
  }

  /** Removes a container (`force` stops it first; `volumes` removes its anonymous volumes). */
  public remove(nameOrId: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return part.lifecycle().removeContainer(this.ctx, nameOrId, opts);
  }

  /** `rm -f -v` of an auto-removed container, unless someone (its exit command) removed it first. */
  public removeIfExists(id: string): Promise<void> {
    return part.lifecycle().removeIfExists(this.ctx, id);
  }

  public rename(nameOrId: string, newName: string): Promise<void> {
    return part.lifecycle().renameContainer(this.ctx, nameOrId, newName);
  }

  /**
   * Docker's `update` (and the labels, which Docker cannot change): the restart policy counts
   * from the next exit; limits apply at once to a running container and from its next start.
   */
  public update(
    nameOrId: string,
    change: { restart?: { name: RestartPolicyName; maxRetries?: number }; memory?: number; nanoCpus?: number; pidsLimit?: number; labels?: { readonly [k: string]: string } },
  ): Promise<void> {
    return part.lifecycle().updateContainer(this.ctx, nameOrId, change);
  }

  public pause(nameOrId: string): Promise<void> {
    return part.lifecycle().pauseContainer(this.ctx, nameOrId);
  }

  public unpause(nameOrId: string): Promise<void> {
    return part.lifecycle().unpauseContainer(this.ctx, nameOrId);
  }

  /** After a reboot: marks the containers that ran exited and starts again those whose policy says so. */
  public restoreIfRebooted(force = false): Promise<string[]> {
    return restoreIfRebooted(this.ctx, force);
  }

  // --- the engine's callbacks (runtime/hook.ts) -----------------------------------------------

  /** conmon's exit command: record the exit, then restart (after the back-off) or remove. */
  public exited(id: string): Promise<void> {
    return part.lifecycle().exited(this.ctx, id);
  }

  /** A detached exec ended (its conmon's exit command): records Docker's `exec_die`. */
  public detachedExecExited(id: string, execId: string): void {
    part.exec().detachedExecExited(this.ctx, id, execId);
  }

  /** Runs the container's healthcheck once and records the result; returns the new health. */
  public runHealthcheck(nameOrId: string): Promise<HealthState> {
    return part.healthStats().runHealthcheck(this.ctx, nameOrId);
  }

  // --- queries --------------------------------------------------------------------------------

  /**
   * `ps`: running and paused containers (all with `all`, or when filtering by status or exit
   * code, as Docker), newest first, matching `filters`; with `size`, their sizes too.
   */
  public list(all = false, filters: ContainerListFilters = {}, opts: { size?: boolean } = {}): Promise<ContainerSummary[]> {
    return listContainers(this.ctx, all, filters, opts);
  }

  /** Docker-like `inspect` JSON of a container. */
  public inspect(nameOrId: string): Promise<object> {
    return inspectContainer(this.ctx, nameOrId);
  }

  /** `runtime port`: the published ports of a running container. */
  public ports(nameOrId: string): Promise<Array<{ container: string; host: string }>> {
    return part.networkFiles().publishedPorts(this.ctx, nameOrId);
  }

  /** `top`: the container's processes as `ps PS_ARGS` shows them (default `-ef`). */
  public top(nameOrId: string, psArgs: readonly string[] = []): Promise<TopResult> {
    return part.healthStats().topContainer(this.ctx, nameOrId, psArgs);
  }

  /** `stats`: a reading of each container (see health-stats.ts statsStream). */
  public stats(names: readonly string[], opts: StatsStreamOptions = {}): AsyncGenerator<Array<{ readonly id: string; readonly row: StatsRow }>> {
    return part.healthStats().statsStream(this.ctx, names, opts);
  }

  // --- networks -------------------------------------------------------------------------------

  /** `network connect`: joins one more network, at once when running, else from the next start. */
  public connect(network: string, nameOrId: string, opts: { aliases?: string[]; ip?: string } = {}): Promise<void> {
    return part.networkFiles().connectContainer(this.ctx, network, nameOrId, opts);
  }

  /** `network disconnect`: leaves a network (the next one becomes the primary, or none). */
  public disconnect(network: string, nameOrId: string): Promise<void> {
    return part.networkFiles().disconnectContainer(this.ctx, network, nameOrId);
  }

  // --- exec and commit ------------------------------------------------------------------------

  /**
   * Runs `argv` in a running container (Docker's `exec`, with its exec_create/exec_start/exec_die
   * events): resolves with its exit code once it ended, or once it started with `detach`.
   */
  public exec(nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return part.exec().execInContainer(this.ctx, nameOrId, argv, opts);
  }

  /** The id of a container that can take an exec now (running, not paused), or Docker's refusal. */
  public ensureRunning(nameOrId: string): string {
    return part.exec().ensureRunning(this.ctx, nameOrId);
  }

  /**
   * `commit`: a new image from the container (see files.ts commitContainer), with Docker's events:
   * the image's `tag` when a reference is given, then the container's `commit`.
   */
  public commit(nameOrId: string, opts: CommitContainerOptions = {}): Promise<ImageRecord> {
    const record = this.record(this.resolve(nameOrId));
    const ref = opts.ref !== undefined ? familiarReference(parseReference(opts.ref)) : '';
    return part.files().commitContainer(this, nameOrId, opts, (image) => {
      if (ref) recordImageEvent(this.ctx.config.root, 'tag', image.id, ref, this.ctx.images.config(image).config?.Labels);
      this.ctx.event('commit', record, { comment: opts.message ?? '', imageID: image.id, imageRef: ref });
    });
  }
}
