import * as fs from 'node:fs';
import * as path from 'node:path';
import { CdkDockerError } from '../../lib/core/errors';
import { mergeEnv } from '../../lib/core/env';
import { recordEvent } from '../events';
import { findHelper } from '../host';
import { cgroupsPath } from './cgroups';
import { bootSeen, markBootSeen } from './boot';
import { ContainerCreateError, startConmon } from './conmon';
import type { ContainerContext } from './context';
import { refresh } from './exit';
import { healthArgv, healthTimings, startHealthLoop } from './health';
import { DEFAULT_LOG_SIZE_MAX } from './logs';
import { ContainerNetworkSetup, networkFor, writeNetworkFiles } from './network-files';
import { mountRootfs, unmountAll } from './rootfs';
import { buildSpec, ensureMtab, ociSpecJson } from './spec';
import type { ContainerRecord, OciMount } from './types';
import { defaultEnv, resolveInRoot, resolveUser } from './user';

/**
 * Starting a container: its root filesystem mounted (overlay of the image's layers and its own
 * changes), its OCI spec written (Docker's defaults, its mounts and network files), then conmon
 * runs `runc create` and monitors it, and `runc start` lets it go. Also the start again of
 * containers after a reboot.
 */

/** What `start -a` hooks into (see attach.ts): the moment between create and start. */
export interface StartHooks {
  /** Called once conmon created the container (its attach socket in `bundle` is up), before it starts. */
  readonly beforeStart?: (bundle: string) => Promise<void>;
}

/**
 * Whether the container's stdin closes when an attached client's input ends: Docker's StdinOnce
 * (set by `create -i` and a foreground `run -i`), which the daemon applies only without a terminal.
 */
export function stdinOnce(record: ContainerRecord): boolean {
  return record.Config.OpenStdin && (record.Config.StdinOnce ?? false) && !record.Config.Tty;
}

/**
 * Starts a created or exited container; resolves once it runs. `attachedBy`: the pid of a
 * process that waits for the exit and records it itself (a foreground `run`, `start -a`), so
 * conmon's exit command only has work to do if that process is gone by then; such a start is
 * attached, as Docker's event log says (`attach` before `start`).
 */
export async function startContainer(ctx: ContainerContext, nameOrId: string, opts: { attachedBy?: number } & StartHooks = {}): Promise<void> {
  await restoreIfRebooted(ctx);
  const id = ctx.store.resolve(nameOrId);
  if (opts.attachedBy !== undefined) ctx.event('attach', ctx.store.record(id));
  await ctx.store.locked(id, async () => {
    const state = await refresh(ctx, id);
    if (state.Status === 'running' || state.Status === 'paused') return;
    ctx.store.patchState(id, { StoppedByUser: false });
    await startLocked(ctx, id, opts.attachedBy, opts);
  });
}

/**
 * conmon's exit command for `id`: the engine's `exited` hook (record the exit, apply the restart
 * policy, auto-remove) — unless a live process claimed the exit (ContainerContext.claimExit).
 */
function exitCommand(ctx: ContainerContext, id: string): string[] {
  const command = ctx.hookCommand('exited', id);
  // Claimed when the claimer is alive: its /proc stat exists and its state is not Z (zombie) or X.
  return ['/bin/sh', '-c', `c=$(cat '${ctx.exitClaimFile(id)}' 2>/dev/null); s=; [ -n "$c" ] && s=$(cat "/proc/$c/stat" 2>/dev/null); case "\${s##*) }" in ""|Z*|X*) exec "$0" "$@";; esac`, ...command];
}

/** Creates the bundle and starts the container under conmon. Call under the container's lock. */
export async function startLocked(ctx: ContainerContext, id: string, attachedBy?: number, hooks: StartHooks = {}): Promise<void> {
  const record = ctx.store.record(id);
  const bundle = ctx.store.bundleDir(id);
  const rootfs = ctx.rootfs(id);
  fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
  fs.rmSync(ctx.exitFile(id), { force: true });
  // A restart policy needs the exit command; otherwise an attached CLI records the exit itself.
  if (attachedBy && record.HostConfig.RestartPolicy.Name === 'no') ctx.claimExit(id, attachedBy);
  else ctx.releaseExit(id);
  const image = ctx.images.resolve(record.ImageId);
  const layers = ctx.images.chainIds(image).map((c) => ctx.images.layerDiffDir(c));
  await mountRootfs(layers, ctx.store.containerDir(id), rootfs);
  // netavark's setup runs beside the container's creation; whatever fails, it has settled (and
  // undone itself if it failed) before anything is cleaned up here.
  let networkSettled: Promise<unknown> = Promise.resolve();
  try {
    const network = await networkFor(ctx, record);
    networkSettled = network.ready.then(
      () => undefined,
      (e: unknown) => e ?? new Error('network setup failed'),
    );
    const spec = await specFor(ctx, record, rootfs, network);
    fs.writeFileSync(path.join(bundle, 'config.json'), ociSpecJson(spec));
    await ctx.runc.delete(id); // a stale runc record from a crash would block create
    let started: { pid: number; conmonPid: number };
    try {
      started = await startConmon({
        id,
        name: record.Name,
        bundle,
        runcBinary: ctx.runc.binary,
        runcRoot: ctx.runc.stateDir,
        exitDir: ctx.exitDir(),
        logPath: ctx.logPath(id),
        logSizeMax: record.HostConfig.LogMaxSize ?? DEFAULT_LOG_SIZE_MAX,
        logDriver: record.HostConfig.LogDriver,
        terminal: record.Config.Tty,
        stdin: record.Config.OpenStdin,
        // Docker's StdinOnce (create -i, run -i without -d): the container's stdin closes when an attached client's input ends.
        leaveStdinOpen: !stdinOnce(record),
        exitCommand: exitCommand(ctx, id),
        env: ctx.childEnv(),
      });
    } catch (e) {
      if (e instanceof ContainerCreateError) {
        ctx.store.patchState(id, { ExitCode: e.exitCode, Error: e.message });
      }
      throw e;
    }
    const networkFailure = await networkSettled;
    if (networkFailure) throw networkFailure;
    await hooks.beforeStart?.(bundle);
    await ctx.runc.start(id);
    const probe = healthArgv(record.Config.Healthcheck);
    const healthPid = probe ? startHealthLoop(ctx.hookCommand('healthcheck', id), started.conmonPid, healthTimings(record.Config.Healthcheck!).interval, ctx.childEnv()) : undefined;
    ctx.store.patchState(id, {
      HealthPid: healthPid,
      Status: 'running',
      Pid: started.pid,
      MonitorPid: started.conmonPid,
      ExitCode: 0,
      Error: '',
      OOMKilled: false,
      StartedAt: new Date().toISOString(),
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: probe ? { Status: 'starting', FailingStreak: 0, Log: [] } : undefined,
    });
    ctx.event('start', record);
  } catch (e) {
    await networkSettled;
    await ctx.runc.delete(id).catch(() => undefined);
    await ctx.networking.detach(id).catch(() => undefined);
    await unmountAll(rootfs);
    throw e;
  }
}

/** The OCI spec of a container about to start (volumes mounted and copied up, files for /etc written). */
async function specFor(ctx: ContainerContext, record: ContainerRecord, rootfs: string, network: ContainerNetworkSetup): Promise<object> {
  const user = resolveUser(rootfs, record.Config.User || undefined);
  const mounts: OciMount[] = [];
  ensureMtab(rootfs);
  for (const f of writeNetworkFiles(ctx, record, network)) {
    mounts.push({ destination: f.destination, type: 'bind', source: f.source, options: ['rbind', 'rprivate', record.HostConfig.ReadonlyRootfs ? 'ro' : 'rw'] });
  }
  for (const m of record.Mounts) {
    if (m.Type === 'tmpfs') {
      mounts.push({ destination: m.Destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.RW ? ['rw'] : ['ro']), ...(m.Options ?? [])] });
      continue;
    }
    let source = m.Source;
    if (m.Type === 'volume' && m.Name) {
      source = await ctx.volumes.mount(m.Name);
      // The image's content at the destination, resolved in the container's scope: a symlink in
      // the image (`/data -> /etc`) must never make copy-up read, or move, a host directory.
      if (!(m.Options ?? []).includes('nocopy')) await ctx.volumes.copyUp(m.Name, resolveInRoot(rootfs, m.Destination));
    }
    const propagation = (m.Options ?? []).find((o) => /^r?(private|shared|slave)$/.test(o)) ?? 'rprivate';
    mounts.push({ destination: m.Destination, type: 'bind', source, options: ['rbind', propagation, m.RW ? 'rw' : 'ro'] });
    if (m.Type === 'volume' && m.Name) recordEvent(ctx.config.root, 'volume', 'mount', m.Name, { container: record.Id, destination: m.Destination, driver: 'local', propagation: propagation === 'rprivate' ? '' : propagation, 'read/write': String(m.RW) });
  }
  // Secrets and configs: read-only binds of the files create wrote, last (over any other mount).
  (record.Files ?? []).forEach((f, i) => {
    const source = path.join(ctx.store.containerDir(record.Id), 'files', String(i));
    if (!fs.existsSync(source)) throw new CdkDockerError(`container ${record.Name}: its file for ${f.Target} is missing from ${source}; remove the container and create it again`);
    mounts.push({ destination: f.Target, type: 'bind', source, options: ['rbind', 'rprivate', 'ro', 'nosuid', 'nodev', 'noexec'] });
  });
  let args = [record.Path, ...record.Args];
  if (record.HostConfig.Init) {
    const init = findHelper('catatonit') ?? findHelper('tini-static') ?? findHelper('tini');
    if (!init) throw new CdkDockerError('--init needs catatonit or tini; install one with `apt-get install catatonit`');
    mounts.push({ destination: '/sbin/docker-init', type: 'bind', source: init, options: ['rbind', 'rprivate', 'ro'] });
    args = ['/sbin/docker-init', '--', ...args];
  }
  const security = record.HostConfig.SecurityOpt;
  return buildSpec({
    id: record.Id,
    rootfs,
    readonlyRootfs: record.HostConfig.ReadonlyRootfs,
    args,
    env: defaultEnv(network.linkEnv.length ? mergeEnv(network.linkEnv, record.Config.Env) : record.Config.Env, user, record.Config.Hostname, record.Config.Tty),
    cwd: record.Config.WorkingDir || '/',
    user,
    hostname: record.Config.Hostname,
    tty: record.Config.Tty,
    capAdd: record.HostConfig.CapAdd,
    capDrop: record.HostConfig.CapDrop,
    privileged: record.HostConfig.Privileged,
    noNewPrivileges: security.some((s) => /^no-new-privileges(=true|:true)?$/.test(s)),
    seccomp: !security.includes('seccomp=unconfined'),
    memory: record.HostConfig.Memory,
    nanoCpus: record.HostConfig.NanoCpus,
    pidsLimit: record.HostConfig.PidsLimit ?? 0,
    cgroupsPath: cgroupsPath(record.Id),
    shmSize: record.HostConfig.ShmSize,
    mounts,
    netns: network.netns,
    pidHost: record.HostConfig.PidMode === 'host',
    ipcHost: record.HostConfig.IpcMode === 'host',
    sysctls: record.HostConfig.Sysctls ?? {},
    ulimits: record.HostConfig.Ulimits ?? [],
    devices: record.HostConfig.Devices ?? [],
  });
}

/**
 * After a reboot the run dir is empty and every container that was running is gone: mark them
 * exited and start again those whose policy says so (`always`; `unless-stopped` unless a user
 * stopped it). Runs once per boot, from whichever command comes first, or from `runtime restore`.
 */
export async function restoreIfRebooted(ctx: ContainerContext, force = false): Promise<string[]> {
  if (bootSeen(ctx) && !force) return [];
  const restarted: string[] = [];
  for (const r of ctx.store.records()) {
    const state = ctx.store.state(r.Id);
    const wasUp = state.Status === 'running' || state.Status === 'paused' || state.Status === 'restarting';
    if (wasUp) {
      await ctx.store.locked(r.Id, async () => {
        const now = await refresh(ctx, r.Id);
        if (now.Status === 'running' || now.Status === 'paused') return; // force: still alive
        if (now.Status === 'restarting') ctx.store.patchState(r.Id, { Status: 'exited' });
      });
    }
    const policy = r.HostConfig.RestartPolicy.Name;
    const after = ctx.store.state(r.Id);
    if (after.Status === 'exited' && wasUp && (policy === 'always' || (policy === 'unless-stopped' && !after.StoppedByUser))) {
      await ctx.store.locked(r.Id, () => startLocked(ctx, r.Id)).then(
        () => restarted.push(r.Name),
        () => undefined,
      );
    }
  }
  markBootSeen(ctx);
  return restarted;
}
