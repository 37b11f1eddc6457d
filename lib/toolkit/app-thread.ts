/**
 * A TypeScript app run in a worker thread of the CLI rather than in a Node process of its own:
 * the thread starts in a fraction of a process's time (no exec, no second Node boot) and runs
 * beside the CLI, which meanwhile loads the engine and observes the stacks of the last synth.
 *
 * The thread is to the app what a child process would be: its own module registry (it loads the
 * `cdk-docker` the project installed), its own copy of the environment with CDK_DOCKER_OUTDIR
 * set, `process.argv` as `node ENTRY`, `process.exit()` ending the thread, an uncaught error
 * ending it with code 1, and the run over when the app has nothing left to do. Its stdout and
 * stderr go where a child's would. What a thread cannot do is `process.chdir()`, so it runs only
 * when the project is this process's working directory (else ./ts-app's child).
 * CDK_DOCKER_APP_RUNNER=node runs the child instead.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describeAppError } from '../core/app-run';

/** Whether the app in `dir` can run in a thread here (see above). */
export function canRunInThread(dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CDK_DOCKER_APP_RUNNER !== 'node' && path.resolve(process.cwd()) === dir;
}

/** What the thread runs (./app-worker): the entry, the project and output directories, the app's environment. */
export interface AppRun {
  readonly entry: string;
  readonly dir: string;
  readonly outdir: string;
  readonly env: NodeJS.ProcessEnv;
}

const WORKER = path.join(__dirname, 'app-worker.js');

let ready: { worker: Worker; exited: boolean } | undefined;

/**
 * Starts a thread for the app ahead of time, to wait for its run: a command that will run its
 * app calls this first thing, and the thread's own start (~30 ms) then happens while the command
 * parses its arguments and loads its modules. It does not keep the process alive; unused, it
 * ends with the process.
 */
export function startAppThread(): void {
  if (ready && !ready.exited) return;
  const worker = new Worker(WORKER, { stdout: true, stderr: true });
  const state = { worker, exited: false };
  worker.unref();
  worker.on('error', () => undefined); // reported by the run that takes it, if one does
  worker.once('exit', () => (state.exited = true));
  ready = state;
}

/**
 * Runs `entry` in a worker thread (the one started ahead, if there is one) with
 * CDK_DOCKER_OUTDIR=`outdir`, its output going to `out`; resolves to its exit code once the
 * thread has ended.
 */
export function runAppInThread(entry: string, dir: string, outdir: string, out: NodeJS.WritableStream): Promise<number> {
  const run: AppRun = { entry, dir, outdir, env: { ...process.env, CDK_DOCKER_OUTDIR: outdir } };
  let worker: Worker;
  if (ready && !ready.exited) {
    worker = ready.worker;
    worker.ref();
    worker.postMessage(run);
  } else {
    worker = new Worker(WORKER, { workerData: run, env: run.env, stdout: true, stderr: true });
  }
  ready = undefined;
  return new Promise<number>((resolve) => {
    // Both streams end when the thread does: its exit code is reported once they have.
    let pending = 3;
    let code = 1;
    const settle = () => {
      if (--pending === 0) resolve(code);
    };
    for (const stream of [worker.stdout, worker.stderr]) {
      stream.on('data', (d: Buffer) => out.write(d));
      stream.on('end', settle);
    }
    // An error the thread's start (./app-worker) and the library's handler did not report.
    worker.on('error', (err) => out.write(describeAppError(err)));
    worker.on('exit', (c) => {
      code = c;
      settle();
    });
  });
}
