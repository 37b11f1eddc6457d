import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { CdkDockerError, ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { cgroupsPath } from './cgroups';
import type { ContainerContext } from './context';
import { execEventCommand } from './exec';
import { currentState } from './exit';
import { healthArgv, healthTimings, nextHealth } from './health';
import { listContainers } from './query';
import { pidAlive, runcMessage } from './runc';
import { sampleStats, StatsRow, statsRow, StatsSample } from './stats';
import type { HealthState } from './types';

/**
 * What a running container does, looked at from outside: its healthcheck (run once per interval
 * by its health loop, recorded with Docker's rules and events), its resource counters (`stats`)
 * and its processes (`top`).
 */

/**
 * Runs the container's healthcheck once (what the health loop calls, and
 * `runtime healthcheck run`) and records the result; returns the new health.
 */
export async function runHealthcheck(ctx: ContainerContext, nameOrId: string): Promise<HealthState> {
  const id = ctx.store.resolve(nameOrId);
  const record = ctx.store.record(id);
  const argv = healthArgv(record.Config.Healthcheck);
  if (!argv) throw new InvalidArgumentError(`container ${record.Name} has no healthcheck`);
  const state = await currentState(ctx, id);
  if (state.Status !== 'running') throw new ConflictError(`container ${record.Name} is not running`);
  const timings = healthTimings(record.Config.Healthcheck!);
  const start = new Date();
  // Docker runs the probe as an exec, with its events.
  const execId = randomBytes(32).toString('hex');
  ctx.event(`exec_create: ${execEventCommand(argv)}`, record, { execID: execId });
  ctx.event(`exec_start: ${execEventCommand(argv)}`, record, { execID: execId });
  const result = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = ctx.runc.spawn(['exec', id, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (d: Buffer) => {
      if (output.length < 8192) output += d.toString('utf8');
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: -1, output: `Health check exceeded timeout (${timings.timeout / 1000}s)` });
    }, timings.timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      const failedToStart = /level=error|exec failed/.test(output);
      if (!failedToStart) ctx.event('exec_die', record, { execID: execId, exitCode: String(code ?? -1) });
      resolve({ code: code ?? -1, output: failedToStart ? runcMessage(output) : output });
    });
  });
  return ctx.store.locked(id, () => {
    const now = ctx.store.state(id);
    if (now.Status !== 'running') return now.Health ?? { Status: 'unhealthy', FailingStreak: 0, Log: [] };
    const inStartPeriod = Date.now() - Date.parse(now.StartedAt) < timings.startPeriod;
    const health = nextHealth(now.Health, { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: result.code, Output: result.output }, inStartPeriod, timings.retries);
    ctx.store.patchState(id, { Health: health });
    if (health.Status !== now.Health?.Status) ctx.event(`health_status: ${health.Status}`, record);
    return health;
  });
}

/** One reading of a container's resource counters; no sample when it is not running. */
function readStats(ctx: ContainerContext, id: string): { name: string; sample?: StatsSample } {
  const record = ctx.store.record(id);
  const state = ctx.store.state(id);
  const running = (state.Status === 'running' || state.Status === 'paused') && pidAlive(state.MonitorPid ?? 0);
  return { name: record.Name, sample: running ? sampleStats(cgroupsPath(id), state.Pid, record.HostConfig.NetworkMode === 'host') : undefined };
}

/** What `stats` reads. */
export interface StatsStreamOptions {
  /** Without names: every container, not only the running ones. */
  readonly all?: boolean;
  /** A reading every interval until the consumer stops; otherwise one. @default false */
  readonly stream?: boolean;
  /** @default 1000 */
  readonly intervalMs?: number;
}

/**
 * `stats`: a row per container (those named, or the running ones — all with `all`), one interval
 * after the first reading (CPU % needs two, as Docker's first line does), then, with `stream`,
 * every interval, the containers picked again each time.
 */
export async function* statsStream(ctx: ContainerContext, names: readonly string[], opts: StatsStreamOptions = {}): AsyncGenerator<Array<{ readonly id: string; readonly row: StatsRow }>> {
  const pick = async () => (names.length ? names.map((n) => ctx.store.resolve(n)) : (await listContainers(ctx, opts.all)).map((r) => r.id));
  const read = (ids: string[]) => new Map(ids.map((id) => [id, readStats(ctx, id)]));
  let previous = new Map([...read(await pick())].map(([id, r]) => [id, r.sample]));
  for (;;) {
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
    const ids = await pick();
    const now = read(ids);
    yield ids.map((id) => ({ id, row: statsRow(id, now.get(id)!.name, previous.get(id), now.get(id)!.sample) }));
    if (!opts.stream) return;
    previous = new Map([...now].map(([id, r]) => [id, r.sample]));
  }
}

/** The processes of a container as `top` shows them: ps's titles and a row per process. */
export interface TopResult {
  readonly titles: string[];
  readonly processes: string[][];
}

/**
 * `top`: `ps PS_ARGS` (default `-ef`) on the host, the rows of the container's processes kept.
 * As dockerd: the titles split on blanks, the last column keeps the rest of the line (the command).
 */
export async function topContainer(ctx: ContainerContext, nameOrId: string, psArgs: readonly string[] = []): Promise<TopResult> {
  const id = ctx.store.resolve(nameOrId);
  const state = await currentState(ctx, id);
  if (state.Status !== 'running' && state.Status !== 'paused') throw new ConflictError(`container ${id} is not running`);
  const mine = new Set(await ctx.runc.pids(id));
  const text = await new Promise<string>((resolve, reject) => {
    execFile('ps', psArgs.length ? [...psArgs] : ['-ef'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new CdkDockerError(`ps ${psArgs.join(' ')} failed: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
  const [header = '', ...lines] = text.trimEnd().split('\n');
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new InvalidArgumentError('the ps options must show a PID column');
  const processes = lines
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => mine.has(Number(f[pidCol])))
    .map((f) => [...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  return { titles, processes };
}
