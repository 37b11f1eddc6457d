import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConflictError, InvalidArgumentError } from '../../lib/core/errors';
import { mergeEnv } from '../../lib/core/env';
import { ContainerCreateError, startConmonExec } from './conmon';
import type { ContainerContext } from './context';
import { runcMessage } from './runc';
import type { ContainerRecord } from './types';
import { resolveUser } from './user';

/**
 * `exec`: a command in a running container, as Docker runs it — runc exec in the container's
 * namespaces and cgroup, with the container's process settings (capabilities, seccomp, user)
 * unless the options say otherwise — and Docker's events for it: `exec_create: CMD`,
 * `exec_start: CMD` and, once it ends, `exec_die` with its exit code (none when it could not
 * start). An attached exec is runc's child here; a detached one (`-d`) runs under a conmon of its
 * own, whose exit command (runtime/hook.ts) records its end.
 */

/** How to run the command. */
export interface ExecOptions {
  /** `K=V` added to the container's environment (later ones win). */
  readonly env?: readonly string[];
  /** An absolute path in the container. @default the container's working directory */
  readonly workdir?: string;
  /** `user`, `uid`, `user:group` or `uid:gid`. @default the container's user */
  readonly user?: string;
  /** A pseudo-terminal for the command. @default false */
  readonly tty?: boolean;
  /** Start it and return at once; its output is dropped (Docker's `exec -d`). @default false */
  readonly detach?: boolean;
  /** Its input: this process's own (`inherit`, a terminal stays one), a stream, or none (end of file). */
  readonly stdin?: NodeJS.ReadableStream | 'inherit';
  /** Where its output goes: this process's own, a stream, or nowhere (absent). */
  readonly stdout?: NodeJS.WritableStream | 'inherit';
  readonly stderr?: NodeJS.WritableStream | 'inherit';
}

/** How an exec ended. */
export interface ExecResult {
  /** The command's exit code (0 for a detached one that started); 126 when it could not be started, as Docker's. */
  readonly exitCode: number;
  /** Why it could not be started (runc's words: a missing executable …). */
  readonly error?: string;
}

/** Docker's exit code of an exec that could not be started. */
const EXEC_START_FAILED = 126;

/** The id of a container that can take an exec now (running, not paused), or Docker's refusal. */
export function ensureRunning(ctx: ContainerContext, nameOrId: string): string {
  const id = ctx.store.resolve(nameOrId);
  const s = ctx.store.state(id).Status;
  if (s === 'paused') throw new ConflictError(`Container ${id} is paused, unpause the container before exec`);
  if (s !== 'running') throw new ConflictError(`Container ${id} is not running`);
  return id;
}

/** Docker's text of an exec in its events: the command and its arguments after one blank (`/x ` without arguments). */
export function execEventCommand(argv: readonly string[]): string {
  return `${argv[0]} ${argv.slice(1).join(' ')}`;
}

/** Where a detached exec keeps its files while it runs: `<runRoot>/execs/<exec id>`. */
function execDir(ctx: ContainerContext, execId: string): string {
  return path.join(ctx.config.runRoot, 'execs', execId);
}

/** Runs `argv` in a running container; resolves when it ended (attached) or started (`detach`). */
export async function execInContainer(ctx: ContainerContext, nameOrId: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  if (argv.length === 0) throw new InvalidArgumentError(`exec in ${nameOrId}: give a command to run`);
  for (const e of opts.env ?? []) {
    if (e.split('=')[0] === '') throw new InvalidArgumentError(`invalid environment variable "${e}" for exec in ${nameOrId}: use NAME=value`);
  }
  if (opts.workdir !== undefined && opts.workdir !== '' && !path.posix.isAbsolute(opts.workdir)) {
    throw new InvalidArgumentError(`the working directory '${opts.workdir}' is invalid, it needs to be an absolute path`);
  }
  const id = ensureRunning(ctx, nameOrId);
  const record = ctx.store.record(id);
  const user = opts.user !== undefined && opts.user !== '' ? resolveUser(ctx.rootfs(id), opts.user) : undefined;
  const execId = randomBytes(32).toString('hex');
  const shown = execEventCommand(argv);
  ctx.event(`exec_create: ${shown}`, record, { execID: execId });
  ctx.event(`exec_start: ${shown}`, record, { execID: execId });
  if (opts.detach) return execDetached(ctx, record, execId, argv, opts, user);

  const args = ['exec'];
  if (opts.tty) args.push('--tty');
  for (const e of opts.env ?? []) args.push('--env', e);
  if (opts.workdir) args.push('--cwd', opts.workdir);
  if (user) {
    args.push('--user', `${user.uid}:${user.gid}`);
    for (const g of user.additionalGids) args.push('--additional-gids', String(g));
  }
  args.push(id, ...argv);
  const stdin = opts.stdin;
  const child = ctx.runc.spawn(args, { stdio: [stdin === 'inherit' ? 'inherit' : stdin ? 'pipe' : 'ignore', opts.stdout === 'inherit' ? 'inherit' : opts.stdout ? 'pipe' : 'ignore', 'pipe'] });
  if (stdin && stdin !== 'inherit' && child.stdin) stdin.pipe(child.stdin);
  child.stdin?.on('error', () => undefined);
  if (child.stdout && opts.stdout && opts.stdout !== 'inherit') child.stdout.pipe(opts.stdout, { end: false });
  const stderr = opts.stderr === 'inherit' ? process.stderr : opts.stderr;
  // runc's own complaints (the command cannot start) are told apart from the command's stderr.
  let runcError = '';
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    if (/level=|exec failed/.test(text)) runcError += text;
    else stderr?.write(d);
  });
  const code = await new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status) => resolve(status ?? 1));
  });
  if (stdin && stdin !== 'inherit' && child.stdin) stdin.unpipe(child.stdin);
  if (runcError) return { exitCode: EXEC_START_FAILED, error: runcMessage(runcError) };
  ctx.event('exec_die', record, { execID: execId, exitCode: String(code) });
  return { exitCode: code };
}

/** `exec -d`: the command under a conmon of its own (see the module comment). */
async function execDetached(
  ctx: ContainerContext,
  record: ContainerRecord,
  execId: string,
  argv: readonly string[],
  opts: ExecOptions,
  user: ReturnType<typeof resolveUser> | undefined,
): Promise<ExecResult> {
  const bundle = ctx.store.bundleDir(record.Id);
  // The container's own process settings, as runc exec takes them when no --process is given.
  const base = (JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: { env?: string[]; cwd: string; user: object } }).process;
  const proc = {
    ...base,
    terminal: opts.tty ?? false,
    args: [...argv],
    env: mergeEnv(base.env ?? [], [...(opts.env ?? [])]),
    cwd: opts.workdir || base.cwd,
    user: user ? { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) } : base.user,
  };
  const dir = execDir(ctx, execId);
  try {
    await startConmonExec({
      id: record.Id,
      execId,
      name: record.Name,
      bundle,
      dir,
      process: proc,
      terminal: opts.tty ?? false,
      runcBinary: ctx.runc.binary,
      runcRoot: ctx.runc.stateDir,
      exitCommand: ctx.hookCommand('exec-exited', record.Id, execId),
      env: ctx.childEnv(),
    });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    if (e instanceof ContainerCreateError) return { exitCode: EXEC_START_FAILED, error: e.message };
    throw e;
  }
  return { exitCode: 0 };
}

/**
 * A detached exec ended (its conmon's exit command): Docker's `exec_die` with its exit code,
 * unless it never started (no exit file); then its directory goes.
 */
export function detachedExecExited(ctx: ContainerContext, id: string, execId: string): void {
  if (!/^[0-9a-f]{64}$/.test(id) || !/^[0-9a-f]{64}$/.test(execId)) throw new InvalidArgumentError(`exec-exited: container and exec ids are 64 hex digits, not ${JSON.stringify(id)} ${JSON.stringify(execId)}`);
  const dir = execDir(ctx, execId);
  let code: string | undefined;
  try {
    code = fs.readFileSync(path.join(dir, 'exits', id), 'utf8').trim();
  } catch {
    // It could not be started: no exit to report.
  }
  const record = ctx.store.tryRecord(id);
  if (record && code !== undefined && /^-?\d+$/.test(code)) ctx.event('exec_die', record, { execID: execId, exitCode: code });
  fs.rmSync(dir, { recursive: true, force: true });
}
