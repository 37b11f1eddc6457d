import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordEvent } from '../events';
import { readOomKilled } from './cgroups';
import type { ContainerContext } from './context';
import { stopHealthLoop } from './health';
import { syncContainerJsonLog } from './output';
import { joinsNetworks } from './network';
import { unmountAll } from './rootfs';
import { pidAlive } from './runc';
import type { ContainerRecord, ContainerState } from './types';

/**
 * A container's exits: noticing them (conmon's exit file, a monitor that died), recording them
 * once (the state, Docker's `die`, what the run used torn down) and what its restart policy
 * decides. Whoever notices first does it: conmon's exit command, `stop`, `kill`, `wait`, `ps` …
 */

/**
 * Brings the recorded state in line with reality: a container recorded as running whose
 * process is gone (its exit file is written, or its monitor died) is finalized. Call under the
 * container's lock.
 */
export async function refresh(ctx: ContainerContext, id: string): Promise<ContainerState> {
  const state = ctx.store.state(id);
  if (state.Status !== 'running' && state.Status !== 'paused') return state;
  const exited = fs.existsSync(ctx.exitFile(id));
  if (!exited && pidAlive(state.MonitorPid ?? 0)) return state;
  await finalizeLocked(ctx, id);
  return ctx.store.state(id);
}

/** The container's state, brought up to date under its lock (see `refresh`). */
export function currentState(ctx: ContainerContext, id: string): Promise<ContainerState> {
  return ctx.store.locked(id, () => refresh(ctx, id));
}

/**
 * Whether a container may hold network state to undo: it joins networks, or its namespace is
 * still mounted (its last network was disconnected while it ran).
 */
export function mayHoldNetwork(ctx: ContainerContext, record: ContainerRecord): boolean {
  return joinsNetworks(record) || fs.existsSync(path.join(ctx.config.runRoot, 'netns', record.Id));
}

/**
 * Records a container's exit and tears down what its run used (runc state, overlay mount),
 * once: whoever comes first (the exit command, `stop`, `wait`, `ps`) does it. Decides whether
 * the restart policy wants it back (Status `restarting`). Call under the container's lock.
 */
export async function finalizeLocked(ctx: ContainerContext, id: string): Promise<void> {
  const state = ctx.store.state(id);
  if (state.Status !== 'running' && state.Status !== 'paused') return;
  let exitCode = 255;
  try {
    const text = fs.readFileSync(ctx.exitFile(id), 'utf8').trim();
    if (/^-?\d+$/.test(text)) exitCode = Number(text);
  } catch {
    // The monitor died without writing it (kill -9, reboot): Docker reports 255 then.
  }
  stopHealthLoop(state.HealthPid);
  syncContainerJsonLog(ctx, id);
  const oomKilled = readOomKilled(id);
  ctx.event('die', ctx.store.record(id), { exitCode: String(exitCode) });
  // As Docker, a stopped container holds no address: they go back to the networks. The network
  // teardown needs only the namespace, which outlives the container: it runs beside runc's delete
  // and the unmount.
  const detached = mayHoldNetwork(ctx, ctx.store.record(id)) ? ctx.networking.detach(id).catch(() => undefined) : undefined;
  await ctx.runc.delete(id).catch(() => undefined);
  await unmountAll(ctx.rootfs(id));
  await detached;
  const record = ctx.store.record(id);
  for (const m of record.Mounts) if (m.Type === 'volume' && m.Name) recordEvent(ctx.config.root, 'volume', 'unmount', m.Name, { container: id, driver: 'local' });
  const restart = wantsRestart(record, state, exitCode);
  ctx.store.writeState(id, {
    ...state,
    Status: restart ? 'restarting' : 'exited',
    Pid: 0,
    ExitCode: exitCode,
    OOMKilled: oomKilled,
    FinishedAt: new Date().toISOString(),
    MonitorPid: undefined,
    HealthPid: undefined,
    RestartCount: state.RestartCount,
    Health: state.Health ? { ...state.Health, Status: 'unhealthy' } : undefined,
  });
}

/** Whether the restart policy wants the container back after it exited with `exitCode`. */
function wantsRestart(record: ContainerRecord, state: ContainerState, exitCode: number): boolean {
  if (state.StoppedByUser) return false;
  const p = record.HostConfig.RestartPolicy;
  switch (p.Name) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return exitCode !== 0 && (p.MaximumRetryCount === 0 || state.RestartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

/** Docker's back-off: 100 ms doubling per restart up to 1 min; reset when the last run lasted 10 s. */
export function backoffMs(state: ContainerState): number {
  const ran = Date.parse(state.FinishedAt) - Date.parse(state.StartedAt);
  if (Number.isFinite(ran) && ran >= 10_000) return 100;
  return Math.min(100 * 2 ** state.RestartCount, 60_000);
}

/** Whether `id`'s exit file appeared within `timeoutMs`. */
export async function waitExitFile(ctx: ContainerContext, id: string, timeoutMs: number): Promise<boolean> {
  await exitOrTimeout(ctx, id, timeoutMs);
  return fs.existsSync(ctx.exitFile(id));
}

/**
 * Resolves when conmon writes `id`'s exit file or after `ms`: woken by inotify on the exit
 * directory, or by polling every 50 ms where inotify is not available.
 */
export function exitOrTimeout(ctx: ContainerContext, id: string, ms: number): Promise<void> {
  const file = ctx.exitFile(id);
  return new Promise((resolve) => {
    let watcher: fs.FSWatcher | undefined;
    let poll: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      clearInterval(poll);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      watcher = fs.watch(ctx.exitDir(), (_event, name) => {
        if (name === id) done();
      });
    } catch {
      poll = setInterval(() => fs.existsSync(file) && done(), 50);
    }
    // Armed first, then checked: an exit written in between is not missed.
    if (fs.existsSync(file)) done();
  });
}
