import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { CdkDockerError } from '../../lib/core/errors';
import { findHelper } from '../host';
import { runcMessage } from './runc';

/** Where conmon puts things for one container. */
export interface ConmonOptions {
  readonly id: string;
  readonly name: string;
  readonly bundle: string;
  readonly runcBinary: string;
  readonly runcRoot: string;
  /** Directory conmon writes `<id>` into, holding the exit code. */
  readonly exitDir: string;
  readonly logPath: string;
  readonly logSizeMax: number;
  /** k8s-file (also for json-file, converted by logs.ts) or none. */
  readonly logDriver?: 'k8s-file' | 'json-file' | 'none';
  readonly terminal: boolean;
  /** Keep a pipe to the container's stdin open (`-i`): attach clients write into it. */
  readonly stdin?: boolean;
  /** With `stdin`: the container's stdin stays open when an attach client ends its input (Docker's StdinOnce=false). */
  readonly leaveStdinOpen?: boolean;
  /** The program conmon runs after the container exits, and its arguments. */
  readonly exitCommand: string[];
  /** Environment for conmon and, through it, the exit command. */
  readonly env: NodeJS.ProcessEnv;
}

/** Raised when runc could not create the container (a missing executable, a bad mount, …). */
export class ContainerCreateError extends CdkDockerError {
  public override readonly code = 'CREATE_FAILED';
  constructor(message: string, public readonly exitCode: number) {
    super(message);
  }
}

/**
 * Starts conmon for a container (conmon runs `runc create` and then monitors the container:
 * stdio into the k8s-file log, the exit code into the exit dir, then the exit command). Resolves
 * with the container's pid and conmon's once runc created it; the caller then runs `runc start`.
 * conmon daemonizes, so nothing of it stays attached to this process.
 */
export async function startConmon(o: ConmonOptions): Promise<{ pid: number; conmonPid: number }> {
  const conmon = findHelper('conmon', o.env);
  if (!conmon) throw new CdkDockerError('conmon is not installed: the built-in runtime monitors containers with it; install it with `apt-get install conmon` (or run `cdk-docker doctor`)');
  const pidFile = `${o.bundle}/pidfile`;
  const conmonPidFile = `${o.bundle}/conmon.pid`;
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.id,
    '-n', o.name,
    '-r', o.runcBinary,
    '--runtime-arg', '--root',
    '--runtime-arg', o.runcRoot,
    '-b', o.bundle,
    '-p', pidFile,
    '-P', conmonPidFile,
    '-l', o.logDriver === 'none' ? 'none' : `k8s-file:${o.logPath}`,
    '--log-size-max', String(o.logSizeMax),
    '--exit-dir', o.exitDir,
    '--socket-dir-path', `${o.bundle}/sockets`,
    '--log-level', 'error',
    ...(o.terminal ? ['-t'] : []),
    ...(o.stdin ? ['-i', ...(o.leaveStdinOpen ? ['--leave-stdin-open'] : [])] : []),
    '--exit-command', o.exitCommand[0],
    ...o.exitCommand.slice(1).flatMap((a) => ['--exit-command-arg', a]),
  ];
  fs.mkdirSync(`${o.bundle}/sockets`, { recursive: true, mode: 0o700 });
  const { data, output } = await runConmon(conmon, args, o.env, 'the container');
  if (!data.data || data.data < 0) {
    throw new ContainerCreateError(runcMessage(data.message ?? output) || 'the OCI runtime failed to create the container', exitCodeFor(data.message ?? ''));
  }
  const conmonPid = Number(fs.readFileSync(conmonPidFile, 'utf8').trim());
  return { pid: data.data, conmonPid };
}

/** What a detached exec under conmon needs (see `startConmonExec`). */
export interface ConmonExecOptions {
  readonly id: string;
  readonly execId: string;
  readonly name: string;
  /** The container's bundle (runc finds the container by id; conmon wants the bundle). */
  readonly bundle: string;
  /** The exec's own directory: process spec, pid files, exit dir, sockets. */
  readonly dir: string;
  /** The OCI process to run (runc exec --process). */
  readonly process: object;
  readonly terminal: boolean;
  readonly runcBinary: string;
  readonly runcRoot: string;
  /** conmon writes `<dir>/exits/<id>` (named by the container's id) when the process ends. */
  readonly exitCommand: string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Starts a detached exec (`exec -d`) under conmon, as podman does: conmon runs `runc exec
 * --process`, waits for the process, writes its exit code into `<dir>/exits/` and then runs the
 * exit command (which records Docker's `exec_die`). Resolves with the process's pid once it runs;
 * rejects with a ContainerCreateError (runc's words) when it could not be started.
 */
export async function startConmonExec(o: ConmonExecOptions): Promise<number> {
  const conmon = findHelper('conmon', o.env);
  if (!conmon) throw new CdkDockerError('conmon is not installed: the built-in runtime monitors containers with it; install it with `apt-get install conmon` (or run `cdk-docker doctor`)');
  fs.mkdirSync(`${o.dir}/exits`, { recursive: true, mode: 0o700 });
  fs.mkdirSync(`${o.dir}/sockets`, { recursive: true, mode: 0o700 });
  fs.writeFileSync(`${o.dir}/process.json`, JSON.stringify(o.process), { mode: 0o600 });
  const args = [
    '--api-version', '1',
    '-c', o.id,
    '-u', o.execId,
    '-n', o.name,
    '-r', o.runcBinary,
    '--runtime-arg', '--root',
    '--runtime-arg', o.runcRoot,
    '-b', o.bundle,
    '-p', `${o.dir}/pidfile`,
    '-P', `${o.dir}/conmon.pid`,
    '-l', 'none',
    '--exit-dir', `${o.dir}/exits`,
    '--socket-dir-path', `${o.dir}/sockets`,
    '--log-level', 'error',
    ...(o.terminal ? ['-t'] : []),
    '--exec',
    '--exec-process-spec', `${o.dir}/process.json`,
    '--exit-command', o.exitCommand[0],
    ...o.exitCommand.slice(1).flatMap((a) => ['--exit-command-arg', a]),
  ];
  const { data, output } = await runConmon(conmon, args, o.env, 'the process');
  if (!data.data || data.data < 0) throw new ContainerCreateError(runcMessage(data.message ?? output) || 'the OCI runtime failed to start the process', exitCodeFor(data.message ?? ''));
  return data.data;
}

/**
 * Runs conmon (which daemonizes) and reads its first message on the sync pipe (fd 3): the
 * container's or exec's pid, or -1 and runc's words. Lets go of conmon's pipes afterwards so
 * that this process can exit while conmon runs on.
 */
async function runConmon(conmon: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<{ data: { data?: number; message?: string }; output: string }> {
  const child = spawn(conmon, args, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    env: { ...env, _OCI_SYNCPIPE: '3' },
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const sync = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const message = await new Promise<string>((resolve, reject) => {
    let text = '';
    sync.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      if (text.includes('\n')) resolve(text);
    });
    sync.on('end', () => resolve(text));
    sync.on('error', reject);
    child.on('error', (e) => reject(new CdkDockerError(`cannot run conmon: ${e.message}`)));
  });
  // conmon keeps our pipes open for its lifetime; let go of them so this process can exit.
  for (const s of [child.stdout, child.stderr, sync]) (s as { destroy(): void } | null)?.destroy();
  child.unref();
  try {
    return { data: JSON.parse(message.split('\n')[0]) as { data?: number; message?: string }, output };
  } catch {
    throw new CdkDockerError(`conmon failed to start ${what}: ${output.trim() || message.trim() || 'no output'}`);
  }
}

/** Docker's exit codes for a container that could not start: 127 not found, 126 not executable. */
export function exitCodeFor(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return 127;
  if (/permission denied|exec format error/i.test(message)) return 126;
  return 125;
}
