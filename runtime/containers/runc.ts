import { execFile, spawn, SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import { pidAlive } from '../../lib/core/process';
import { CdkDockerError } from '../../lib/core/errors';
import { findHelper } from '../host';

export { pidAlive };
/** runc's view of a container (`runc state`). */
export interface RuncState {
  readonly id: string;
  readonly pid: number;
  readonly status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  readonly bundle: string;
}

/** A failed runc command; `stderr` holds runc's own words. */
export class RuncError extends CdkDockerError {
  public override readonly code = 'RUNC';
  constructor(message: string, public readonly stderr: string) {
    super(message);
  }
}

/**
 * runc with a private state directory (`<runRoot>/runc`), so the engine's containers never mix
 * with another runc user's.
 */
export class Runc {
  public readonly binary: string;

  constructor(public readonly stateDir: string) {
    const found = findHelper('runc');
    if (!found) throw new CdkDockerError('runc is not installed: the built-in runtime runs containers with it; install it with `apt-get install runc` (or run `cdk-docker doctor`)');
    this.binary = found;
  }

  /** The global arguments every call starts with. */
  public globalArgs(): string[] {
    return ['--root', this.stateDir];
  }

  public run(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(this.binary, [...this.globalArgs(), ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: process.env }, (err, stdout, stderr) => {
        if (err) reject(new RuncError(`runc ${args[0]} failed: ${runcMessage(stderr) || err.message}`, stderr));
        else resolve(stdout);
      });
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** runc's state of `id`, or undefined when runc does not know it. */
  public async state(id: string): Promise<RuncState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id])) as RuncState;
    } catch (e) {
      if (e instanceof RuncError && /does not exist|not exist|no such/i.test(e.stderr)) return undefined;
      throw e;
    }
  }

  public async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  public async kill(id: string, signal: string, all = false): Promise<void> {
    await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
  }

  public async delete(id: string): Promise<void> {
    // runc keeps a directory per container it knows; without one there is nothing to delete.
    if (!fs.existsSync(`${this.stateDir}/${id}`)) return;
    try {
      await this.run(['delete', '--force', id]);
    } catch (e) {
      if (e instanceof RuncError && /does not exist|not exist/i.test(e.stderr)) return;
      throw e;
    }
  }

  /** Changes the cgroup limits of a running or paused container (`runc update -r -`). */
  public async update(id: string, resources: object): Promise<void> {
    await this.run(['update', '--resources', '-', id], JSON.stringify(resources));
  }

  public async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  public async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** Host pids of every process in the container. */
  public async pids(id: string): Promise<number[]> {
    return JSON.parse((await this.run(['ps', '--format', 'json', id])) || '[]') as number[];
  }

  /** Spawns `runc ARGS` (for exec and foreground runs that need live stdio). */
  public spawn(args: string[], opts: SpawnOptions): ReturnType<typeof spawn> {
    return spawn(this.binary, [...this.globalArgs(), ...args], { env: process.env, ...opts });
  }
}

/** The message of runc's last log line (`time="…" level=error msg="…"`), or its raw stderr. */
export function runcMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const last = lines[lines.length - 1] ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  return (m ? m[1].replace(/\\"/g, '"').replace(/\\\\/g, '\\') : last).trim();
}

export function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', env: process.env }, (err, stdout, stderr) => (err ? reject(new CdkDockerError(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout)));
  });
}
