import * as fs from 'node:fs';
import { ConflictError, InvalidArgumentError, NotFoundError } from '../../lib/core/errors';
import { signalName, SIGNALS } from '../../lib/core/linux';
import { removeCgroups } from './cgroups';
import type { ContainerContext } from './context';
import { backoffMs, exitOrTimeout, finalizeLocked, mayHoldNetwork, refresh, waitExitFile } from './exit';
import { unmountAll } from './rootfs';
import { pidAlive } from './runc';
import { hostFacts, limitResources } from './spec';
import { startContainer, startLocked } from './start';
import type { RestartPolicyName } from './types';

/**
 * A container's life after create: the restart policy at each exit (conmon's exit command),
 * stop, kill, restart, wait, remove, rename, update, pause and unpause, with Docker's rules and
 * events.
 */

/** `stop`'s wait before SIGKILL when neither the command nor the container says (Docker's 10 s). */
const DEFAULT_STOP_TIMEOUT = 10;

/** Called by conmon's exit command: record the exit, then restart (after the back-off) or remove. */
export async function exited(ctx: ContainerContext, id: string): Promise<void> {
  if (!ctx.store.tryRecord(id)) return;
  let delay = 0;
  await ctx.store.locked(id, async () => {
    // Not finalizeLocked: the exit command of a run that `stop` already recorded can come
    // after a new `start`; refresh leaves a run whose monitor lives and has no exit file alone.
    await refresh(ctx, id);
    const state = ctx.store.state(id);
    if (state.Status === 'restarting') delay = backoffMs(state);
  });
  const record = ctx.store.tryRecord(id);
  if (!record) return;
  if (ctx.store.state(id).Status !== 'restarting') {
    if (record.HostConfig.AutoRemove) await removeIfExists(ctx, id).catch(() => undefined);
    return;
  }
  await restartWait(ctx, id, delay);
  await ctx.store.locked(id, async () => {
    const state = ctx.store.state(id);
    // A user may have stopped or removed it meanwhile.
    if (!ctx.store.tryRecord(id) || state.Status !== 'restarting' || state.StoppedByUser) return;
    ctx.store.patchState(id, { RestartCount: state.RestartCount + 1 });
    try {
      await startLocked(ctx, id);
    } catch (e) {
      ctx.store.patchState(id, { Status: 'exited', Error: (e as Error).message });
    }
  });
}

/**
 * Waits out the back-off of a container waiting to restart, or less: as soon as it is not
 * waiting any more (`kill`, `stop`, `rm`, a `start` by hand), so this process — conmon's exit
 * command — and the conmon waiting for it end then, not a minute later. Woken by inotify on the
 * container's directory (its state file is replaced on each change), and every 200 ms.
 */
function restartWait(ctx: ContainerContext, id: string, ms: number): Promise<void> {
  const waiting = () => {
    if (!ctx.store.tryRecord(id)) return false;
    const state = ctx.store.state(id);
    return state.Status === 'restarting' && !state.StoppedByUser;
  };
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
      resolve();
    };
    const check = () => {
      if (!waiting()) done();
    };
    const timer = setTimeout(done, ms);
    const poll = setInterval(check, 200);
    try {
      watcher = fs.watch(ctx.store.containerDir(id), check);
      watcher.on('error', done);
    } catch {
      // Gone already, or no inotify: the poll sees it.
    }
    check();
  });
}

/** Sends STOPSIGNAL, waits up to `timeout` seconds, then SIGKILL; resolves once it has exited. */
export async function stopContainer(ctx: ContainerContext, nameOrId: string, timeout?: number): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    if (state.Status === 'restarting') {
      ctx.store.patchState(id, { Status: 'exited', StoppedByUser: true });
      return;
    }
    ctx.store.patchState(id, { StoppedByUser: true });
    if (state.Status !== 'running' && state.Status !== 'paused') return;
    const record = ctx.store.record(id);
    // This process records the exit (an --rm container is left to its exit command, which removes it).
    if (!record.HostConfig.AutoRemove) ctx.claimExit(id);
    if (state.Status === 'paused') await ctx.runc.resume(id).catch(() => undefined);
    const seconds = timeout ?? record.Config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    if (seconds !== 0) {
      ctx.event('kill', record, { signal: String(normalizeSignalNumber(signalName(record.Config.StopSignal)) ?? '') });
      await ctx.runc.kill(id, signalName(record.Config.StopSignal)).catch(() => undefined);
      if (await waitExitFile(ctx, id, seconds * 1000)) {
        await finalizeLocked(ctx, id);
        ctx.event('stop', record);
        return;
      }
    }
    ctx.event('kill', record, { signal: '9' });
    await ctx.runc.kill(id, 'SIGKILL', true).catch(() => undefined);
    await waitExitFile(ctx, id, 10_000);
    await finalizeLocked(ctx, id);
    ctx.event('stop', record);
  });
}

/** Sends a signal (default SIGKILL). */
export async function killContainer(ctx: ContainerContext, nameOrId: string, signal = 'KILL'): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  const sig = signalName(signal);
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    // As Docker: a container waiting to restart gets no signal; it stays exited, no more restarts.
    if (state.Status === 'restarting') {
      ctx.store.patchState(id, { Status: 'exited', StoppedByUser: true });
      return;
    }
    if (state.Status !== 'running' && state.Status !== 'paused') {
      throw new ConflictError(`cannot kill container: ${nameOrId}: container ${id} is not running`);
    }
    if (sig === 'SIGKILL' || sig === signalName(ctx.store.record(id).Config.StopSignal)) ctx.store.patchState(id, { StoppedByUser: true });
    if (sig === 'SIGKILL' && !ctx.store.record(id).HostConfig.AutoRemove) ctx.claimExit(id);
    ctx.event('kill', ctx.store.record(id), { signal: String(normalizeSignalNumber(sig) ?? sig) });
    await ctx.runc.kill(id, sig, sig === 'SIGKILL');
    if (sig === 'SIGKILL' && (await waitExitFile(ctx, id, 10_000))) await finalizeLocked(ctx, id);
  });
}

/** Waits until the container is not running (nor restarting) and returns its exit code. */
export async function waitContainer(ctx: ContainerContext, nameOrId: string): Promise<number> {
  const id = ctx.store.resolve(nameOrId);
  for (;;) {
    if (!ctx.store.tryRecord(id)) return ctx.lastExitCodes.get(id) ?? 0;
    let state = ctx.store.state(id);
    if (state.Status === 'running' || state.Status === 'paused') {
      if (fs.existsSync(ctx.exitFile(id)) || !pidAlive(state.MonitorPid ?? 0)) {
        state = await ctx.store.locked(id, () => refresh(ctx, id));
      }
    }
    if (state.Status === 'exited' || state.Status === 'created' || state.Status === 'dead') return state.ExitCode;
    // The exit file wakes us at once; the timeout notices what other commands did (a restart, an rm).
    await exitOrTimeout(ctx, id, 100);
  }
}


export async function restartContainer(ctx: ContainerContext, nameOrId: string, timeout?: number): Promise<void> {
  await stopContainer(ctx, nameOrId, timeout);
  await startContainer(ctx, nameOrId);
  ctx.event('restart', ctx.store.record(ctx.store.resolve(nameOrId)));
}

/** Removes a container (`force` stops it first; `volumes` removes its anonymous volumes). */
export async function removeContainer(ctx: ContainerContext, nameOrId: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    if (state.Status === 'restarting' && !opts.force) {
      throw new ConflictError(`You cannot remove a restarting container ${id}. Stop the container before attempting removal or force remove`);
    }
    if ((state.Status === 'running' || state.Status === 'paused') && !opts.force) {
      throw new ConflictError(
        `cannot remove container "/${ctx.store.record(id).Name}": container is ${state.Status}: stop the container before removing or force remove`,
      );
    }
    if (state.Status === 'running' || state.Status === 'paused') {
      ctx.store.patchState(id, { StoppedByUser: true });
      ctx.claimExit(id);
      ctx.event('kill', ctx.store.record(id), { signal: '9' });
      await ctx.runc.kill(id, 'SIGKILL', true).catch(() => undefined);
      await waitExitFile(ctx, id, 10_000);
      await finalizeLocked(ctx, id);
    }
    const record = ctx.store.record(id);
    ctx.lastExitCodes.set(id, ctx.store.state(id).ExitCode);
    await ctx.runc.delete(id).catch(() => undefined);
    if (mayHoldNetwork(ctx, record)) await ctx.networking.detach(id).catch(() => undefined);
    await unmountAll(ctx.store.bundleDir(id));
    await ctx.store.namesLocked(() => ctx.store.delete(id));
    ctx.event('destroy', record);
    fs.rmSync(ctx.exitFile(id), { force: true });
    ctx.releaseExit(id);
    removeCgroups(id);
    if (opts.volumes) {
      for (const m of record.Mounts) {
        if (m.Type === 'volume' && m.Anonymous && m.Name) await ctx.volumes.remove(m.Name).catch(() => undefined);
      }
    }
  });
}

/** `rm -f -v` of an auto-removed container, unless someone (its exit command) removed it first. */
export async function removeIfExists(ctx: ContainerContext, id: string): Promise<void> {
  if (!ctx.store.tryRecord(id)) return;
  try {
    await removeContainer(ctx, id, { force: true, volumes: true });
  } catch (e) {
    if (!(e instanceof NotFoundError)) throw e;
  }
}

export async function renameContainer(ctx: ContainerContext, nameOrId: string, newName: string): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  await ctx.store.namesLocked(() => {
    ctx.store.checkNameFree(newName, id);
    const before = ctx.store.record(id);
    ctx.store.writeRecord({ ...before, Name: newName });
    ctx.event('rename', { ...before, Name: newName }, { oldName: `/${before.Name}` });
  });
}

/**
 * Docker's `update` (and the labels, which Docker cannot change): rewrites the container's
 * record under its lock. The restart policy counts from the next exit; memory, CPU and pids
 * limits take effect on the next start (a running container keeps the cgroup limits it
 * started with). `labels` replaces all the labels. 0 for a limit means unlimited.
 */
export async function updateContainer(
ctx: ContainerContext,
nameOrId: string,
change: { restart?: { name: RestartPolicyName; maxRetries?: number }; memory?: number; nanoCpus?: number; pidsLimit?: number; labels?: { readonly [k: string]: string } },
): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  if (change.restart && change.restart.name !== 'on-failure' && change.restart.maxRetries) {
    throw new InvalidArgumentError(`maximum retry count cannot be used with restart policy '${change.restart.name}'; use on-failure:N`);
  }
  if (change.memory !== undefined && change.memory > 0 && change.memory < 6 * 1024 * 1024) throw new InvalidArgumentError('Minimum memory limit allowed is 6MB');
  await ctx.store.locked(id, async () => {
    const record = ctx.store.record(id);
    if (change.restart && change.restart.name !== 'no' && record.HostConfig.AutoRemove) {
      throw new ConflictError(`Conflicting options: container ${record.Name} is removed when it exits (--rm); it cannot have the restart policy ${change.restart.name}`);
    }
    const h = record.HostConfig;
    const HostConfig = {
      ...h,
      RestartPolicy: change.restart ? { Name: change.restart.name, MaximumRetryCount: change.restart.maxRetries ?? 0 } : h.RestartPolicy,
      Memory: change.memory ?? h.Memory,
      NanoCpus: change.nanoCpus ?? h.NanoCpus,
      PidsLimit: change.pidsLimit === undefined ? h.PidsLimit : change.pidsLimit || undefined,
    };
    const limitsChanged = HostConfig.Memory !== h.Memory || HostConfig.NanoCpus !== h.NanoCpus || (HostConfig.PidsLimit ?? 0) !== (h.PidsLimit ?? 0);
    const status = limitsChanged ? (await refresh(ctx, id)).Status : undefined;
    if (status === 'running' || status === 'paused') {
      // A running container gets the new limits now, as `docker update` does; the next start
      // builds them from the record anyway.
      const limits = { memory: HostConfig.Memory, nanoCpus: HostConfig.NanoCpus, pidsLimit: HostConfig.PidsLimit ?? 0 };
      try {
        await ctx.runc.update(id, limitResources(limits, hostFacts(), true));
      } catch (e) {
        throw new ConflictError(`cannot update the limits of running container ${record.Name}: ${(e as Error).message}; stop it, or choose a limit above what it uses now`);
      }
    }
    ctx.store.writeRecord({ ...record, Config: change.labels ? { ...record.Config, Labels: { ...change.labels } } : record.Config, HostConfig });
  });
}

export async function pauseContainer(ctx: ContainerContext, nameOrId: string): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    if (state.Status === 'paused') throw new ConflictError(`Container ${id} is already paused`);
    if (state.Status !== 'running') throw new ConflictError(`Container ${id} is not running`);
    await ctx.runc.pause(id);
    ctx.store.patchState(id, { Status: 'paused' });
    ctx.event('pause', ctx.store.record(id));
  });
}

export async function unpauseContainer(ctx: ContainerContext, nameOrId: string): Promise<void> {
  const id = ctx.store.resolve(nameOrId);
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    if (state.Status !== 'paused') throw new ConflictError(`Container ${id} is not paused`);
    await ctx.runc.resume(id);
    ctx.store.patchState(id, { Status: 'running' });
    ctx.event('unpause', ctx.store.record(id));
  });
}

function normalizeSignalNumber(signal: string): number | undefined {
  return (SIGNALS as { [k: string]: number })[signal];
}
